-- SPDX-License-Identifier: MIT
-- Topology for t_peer_nat_timeout.sh: two port-restricted NATs whose UDP mappings live
-- 30 s without traffic, one peer host behind each, and the relay host srv.
local lab  = natlab.lab{ name = "peertimeout" }
local inet = lab:internet{}
lab:host{ name = "srv", net = inet }
local pa = lab:nat{ name = "pa", net = inet, profile = "port-restricted-cone", udp_timeout = "30s" }
local pb = lab:nat{ name = "pb", net = inet, profile = "port-restricted-cone", udp_timeout = "30s" }
lab:host{ name = "pa1", net = pa }
lab:host{ name = "pb1", net = pb }
lab:up()
