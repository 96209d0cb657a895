-- SPDX-License-Identifier: MIT
-- The example topology of DESIGN.md: a public server with two addresses, a home
-- behind a port-restricted NAT, and a home behind a CPE stacked under a carrier NAT.
local lab   = natlab.lab{ name = "demo", seed = 7 }
local inet  = lab:internet{}
local srv   = lab:host{ name = "srv", net = inet, addrs = 2 }
local home  = lab:nat{ name = "home", net = inet, profile = "port-restricted-cone" }
local isp   = lab:nat{ name = "isp", net = inet, profile = "cgnat" }
local cpe   = lab:nat{ name = "cpe", net = isp, profile = "port-restricted-cone" }
local alice = lab:host{ name = "alice", net = home }
local bob   = lab:host{ name = "bob", net = cpe }
lab:up()

print("srv", srv.addrs[1], srv.addrs[2])
print("alice", alice.addr, "behind", home.addr)
print("bob", bob.addr, "behind", cpe.addr, "behind", isp.addr)
