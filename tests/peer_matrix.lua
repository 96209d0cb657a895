-- SPDX-License-Identifier: MIT
-- Topology for t_peer_matrix.sh. Every profile of DESIGN.md's outcome table twice
-- (NAT boxes "<p>a" and "<p>b", one host behind each: "<p>a1", "<p>b1"), so that every
-- cell, a profile against itself included, pairs two different boxes. "none" is a
-- public host; "cgnat" is a CGN with a port-restricted CPE under it (host behind the
-- CPE). Plus two hosts behind one port-restricted NAT (same-NAT) and a second CPE under
-- CGN "cga" (same-CGN). The relay runs on srv.
local lab  = natlab.lab{ name = "peermatrix" }
local inet = lab:internet{}
lab:host{ name = "srv", net = inet }
lab:host{ name = "noa1", net = inet }
lab:host{ name = "nob1", net = inet }
local profiles = {
	{ "fu", "full-cone" },
	{ "rc", "restricted-cone" },
	{ "pr", "port-restricted-cone" },
	{ "sy", "symmetric" },
	{ "ub", "udp-blocked" },
}
for _, p in ipairs(profiles) do
	for _, side in ipairs{ "a", "b" } do
		local nat = lab:nat{ name = p[1] .. side, net = inet, profile = p[2] }
		lab:host{ name = p[1] .. side .. "1", net = nat }
	end
end
local cgn = {}
for _, side in ipairs{ "a", "b" } do
	cgn[side] = lab:nat{ name = "cg" .. side, net = inet, profile = "cgnat" }
	local cpe = lab:nat{ name = "cg" .. side .. "c", net = cgn[side], profile = "port-restricted-cone" }
	lab:host{ name = "cg" .. side .. "1", net = cpe }
end
local cpe2 = lab:nat{ name = "cgac2", net = cgn.a, profile = "port-restricted-cone" }
lab:host{ name = "cga2", net = cpe2 }
local same = lab:nat{ name = "sn", net = inet, profile = "port-restricted-cone" }
lab:host{ name = "sn1", net = same }
lab:host{ name = "sn2", net = same }
lab:up()
