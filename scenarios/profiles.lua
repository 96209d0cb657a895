-- SPDX-License-Identifier: MIT
-- One NAT box of every profile, a host behind each, and a public server with two
-- addresses to answer RFC 5780 probes: the lab that checks every NAT tells the truth.
local lab = natlab.lab{ name = "profiles" }
local inet = lab:internet{}
lab:host{ name = "srv", net = inet, addrs = 2 }
lab:host{ name = "public", net = inet }

local boxes = {
	{ "router", "none" },
	{ "full", "full-cone" },
	{ "restricted", "restricted-cone" },
	{ "portrestr", "port-restricted-cone" },
	{ "symmetric", "symmetric" },
	{ "udpblocked", "udp-blocked" },
}
for _, b in ipairs(boxes) do
	local nat = lab:nat{ name = b[1], net = inet, profile = b[2] }
	lab:host{ name = "h-" .. b[1]:sub(1, 10), net = nat }
end
local isp = lab:nat{ name = "isp", net = inet, profile = "cgnat" }
local cpe = lab:nat{ name = "cpe", net = isp, profile = "port-restricted-cone" }
lab:host{ name = "h-cgnat", net = cpe }
lab:up()
