-- SPDX-License-Identifier: MIT
-- Topology for t_peer_v6_lab.sh: a dual-stack lab (IPv6 on the internet and every LAN),
-- a public relay host, and two symmetric NATs with one peer host behind each. IPv4 between
-- the peers needs a hard-NAT technique; IPv6 is routed to each LAN's /64, through each
-- box's stateful IPv6 firewall (filtering6 address-and-port-dependent, the default).
local lab  = natlab.lab{ name = "peerv6" }
local inet = lab:internet{ ipv6 = true }
lab:host{ name = "srv", net = inet, addrs = 2 } -- two of each family: natlab probe --ipv6
local sa = lab:nat{ name = "sa", net = inet, profile = "symmetric" }
local sb = lab:nat{ name = "sb", net = inet, profile = "symmetric" }
lab:host{ name = "a1", net = sa }
lab:host{ name = "b1", net = sb }
-- For natlab probe --ipv6: a box without IPv6 firewall, and one translating its prefix.
local op = lab:nat{ name = "op", net = inet, profile = "v6-open" }
local np = lab:nat{ name = "np", net = inet, profile = "nptv6" }
lab:host{ name = "o1", net = op }
lab:host{ name = "n1", net = np }
lab:up()
