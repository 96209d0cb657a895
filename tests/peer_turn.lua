-- SPDX-License-Identifier: MIT
-- Topology for t_peer_turn.sh: natlab-relay on srv, coturn on turn (both public), and
-- one peer host behind each of a full-cone, two symmetric and a udp-blocked NAT, and a
-- public host far away.
local lab  = natlab.lab{ name = "peerturn" }
local inet = lab:internet{}
lab:host{ name = "srv", net = inet }
lab:host{ name = "turn", net = inet }
-- 150 ms each way: a round trip outlasts the TURN client's first retransmission (200 ms).
lab:host{ name = "far", net = inet, link = { delay = "150ms" } }
local fa = lab:nat{ name = "fa", net = inet, profile = "full-cone" }
local sa = lab:nat{ name = "sa", net = inet, profile = "symmetric" }
local sb = lab:nat{ name = "sb", net = inet, profile = "symmetric" }
local ub = lab:nat{ name = "ub", net = inet, profile = "udp-blocked" }
lab:host{ name = "fa1", net = fa }
lab:host{ name = "sa1", net = sa }
lab:host{ name = "sb1", net = sb }
lab:host{ name = "ub1", net = ub }
lab:up()
