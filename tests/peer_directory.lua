-- SPDX-License-Identifier: MIT
-- Topology for t_peer_directory.sh: a relay directory, four relays at different
-- distances (one-way delay on each relay's uplink: 1, 8, 20 and 35 ms), and two peers
-- behind full-cone NATs.
local lab  = natlab.lab{ name = "peerdir" }
local inet = lab:internet{}
lab:host{ name = "dir", net = inet }
lab:host{ name = "r1", net = inet, link = { delay = "1ms" } }
lab:host{ name = "r2", net = inet, link = { delay = "8ms" } }
lab:host{ name = "r3", net = inet, link = { delay = "20ms" } }
lab:host{ name = "r4", net = inet, link = { delay = "35ms" } }
local fa = lab:nat{ name = "fa", net = inet, profile = "full-cone" }
local fb = lab:nat{ name = "fb", net = inet, profile = "full-cone" }
lab:host{ name = "fa1", net = fa }
lab:host{ name = "fb1", net = fb }
lab:up()
