-- SPDX-License-Identifier: MIT
-- Topology for t_peer_lab.sh: a public relay host, two full-cone NATs and two
-- symmetric NATs, one peer host behind each; and a second relay host far away (20 ms
-- each way on its uplink), so that a message through it is slower than the direct path.
local lab  = natlab.lab{ name = "peerlab" }
local inet = lab:internet{}
lab:host{ name = "srv", net = inet }
lab:host{ name = "far", net = inet, link = { delay = "20ms" } }
local fa = lab:nat{ name = "fa", net = inet, profile = "full-cone" }
local fb = lab:nat{ name = "fb", net = inet, profile = "full-cone" }
local sa = lab:nat{ name = "sa", net = inet, profile = "symmetric" }
local sb = lab:nat{ name = "sb", net = inet, profile = "symmetric" }
lab:host{ name = "fa1", net = fa }
lab:host{ name = "fb1", net = fb }
lab:host{ name = "sa1", net = sa }
lab:host{ name = "sb1", net = sb }
lab:up()
