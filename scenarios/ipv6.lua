-- SPDX-License-Identifier: MIT
-- The example topology, dual-stack (docs/scenarios.md, "IPv6"): a public server with two
-- addresses of each family, a home behind a v6 firewall, a home behind a CPE under a
-- carrier NAT (IPv4 NATted twice, IPv6 routed and filtered), an IPv6-only mobile network
-- and a home behind NPTv6. bench/topology_updown.sh times it against its IPv4-only twin
-- (natlab.params.ipv6 = "off").
local v6 = natlab.params.ipv6 ~= "off"
local lab   = natlab.lab{ name = "demo6", seed = 7 }
local inet  = lab:internet{ ipv6 = v6 }
local srv   = lab:host{ name = "srv", net = inet, addrs = 2 }
local home  = lab:nat{ name = "home", net = inet, profile = v6 and "v6-firewall" or "home-router" }
local isp   = lab:nat{ name = "isp", net = inet, profile = "cgnat" }
local cpe   = lab:nat{ name = "cpe", net = isp, profile = "port-restricted-cone" }
local mob   = lab:nat{ name = "mob", net = inet, profile = "mobile-cgn", ipv6 = v6 and "only" or nil }
local npt   = lab:nat{ name = "npt", net = inet, profile = v6 and "nptv6" or "home-router" }
local alice = lab:host{ name = "alice", net = home }
local bob   = lab:host{ name = "bob", net = cpe }
local phone = lab:host{ name = "phone", net = mob }
local dave  = lab:host{ name = "dave", net = npt }
lab:up()

print("srv", srv.addrs[1], srv.addrs[2], srv.addr6)
for _, h in ipairs{ alice, bob, phone, dave } do
	print(h.name, h.addr, h.addr6, "behind", h.net.name)
end
