-- SPDX-License-Identifier: MIT
-- IPv6 matrix cells for t_peer_v6_lab.sh through p2p (its relay on both families, the peers
-- asking STUN on both): symmetric x symmetric goes direct over IPv6 where IPv4 cannot
-- (techniques off), and two stateful IPv6 firewalls (v6-firewall, port-restricted on
-- IPv4) go direct over IPv6 although IPv4 would work too: IPv6 is probed first.
local p2p = require("p2p")
local lab = natlab.lab{ name = "v6cells" }
local inet = lab:internet{ ipv6 = true }
local srv = lab:host{ name = "srv", net = inet, addrs = 2 }
local a = p2p.side(lab, inet, "a", "symmetric")
local b = p2p.side(lab, inet, "b", "symmetric")
local c = p2p.side(lab, inet, "c", "v6-firewall")
local d = p2p.side(lab, inet, "d", "v6-firewall")
lab:up()
local relay = p2p.relay(srv)
local r = p2p.connect(a, b, relay, { ping = 3, hard_nat = "off" })
expect_eq(r.path, "direct", "symmetric x symmetric, dual-stack: direct")
expect_eq(r.family, "ipv6", "symmetric x symmetric, dual-stack: over IPv6")
r = p2p.connect(c, d, relay, { ping = 3 })
expect_eq(r.path, "direct", "v6-firewall x v6-firewall: direct")
expect_eq(r.family, "ipv6", "v6-firewall x v6-firewall: over IPv6, probed first")
