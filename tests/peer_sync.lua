-- SPDX-License-Identifier: MIT
-- Topology for t_peer_sync.sh: a public relay host and two port-restricted NATs (the
-- filtering that punishes a probe arriving before the local NAT has opened), one peer
-- host behind each. Every internet attachment is a 5 ms wire: 20 ms RTT between any
-- two, 40 ms through the relay.
local lab  = natlab.lab{ name = "peersync" }
local inet = lab:internet{}
local wire = { delay = "5ms" }
lab:host{ name = "srv", net = inet, link = wire }
local pa = lab:nat{ name = "pa", net = inet, profile = "port-restricted-cone", link = wire }
local pb = lab:nat{ name = "pb", net = inet, profile = "port-restricted-cone", link = wire }
lab:host{ name = "pa1", net = pa }
lab:host{ name = "pb1", net = pb }
lab:up()
