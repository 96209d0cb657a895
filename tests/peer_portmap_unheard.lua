-- SPDX-License-Identifier: MIT
-- For t_peer_portmap_unheard.sh: gateways grant natlab-peer's mapping requests, NAT-PMP
-- on g1 and PCP on g2, but their answers never reach the peers (dropped on the box's way
-- out). A peer holds no mapping then; when it stops it deletes what its unanswered
-- requests made, or the gateway would hold it for its lease (two hours).
local p2p = require("p2p")

local lab = natlab.lab{}
-- miniupnpd maps nothing on a reserved WAN address: a public prefix (lab traffic never
-- leaves its namespaces).
local inet = lab:internet{ prefix = "20.0.0.0/16" }
local srv = lab:host{ name = "srv", net = inet }
local g1 = lab:nat{ name = "g1", net = inet, profile = "port-restricted-cone", natpmp = true }
local h1 = lab:host{ name = "h1", net = g1 }
local g2 = lab:nat{ name = "g2", net = inet, profile = "port-restricted-cone", pcp = true }
local h2 = lab:host{ name = "h2", net = g2 }
lab:up()
local relay = p2p.relay(srv, { port = 443 })

-- nft in a gateway's namespace: natlab exec, from the host behind it (only hosts spawn),
-- privileged.
local function nft(host, gw, args, name)
	local cmd = { natlab.bin("natlab"), "exec", lab.name, gw.name, "--", "nft",
		privileged = true, name = name }
	for _, a in ipairs(args) do cmd[#cmd + 1] = a end
	local p = host:spawn(cmd)
	return p:wait{ timeout = "5s" }, p.lines
end
-- The gateway's mappings: miniupnpd's rules naming a port, in its table.
local function mappings(host, gw)
	local _, lines = nft(host, gw, { "list", "table", "inet", "natlab_portmap" }, "list-" .. gw.name)
	local n = 0
	for _, l in ipairs(lines) do
		if l:match("dport") then n = n + 1 end
	end
	return n
end

for _, side in ipairs{ { h1, g1, "NAT-PMP" }, { h2, g2, "PCP" } } do
	local h, gw, proto = side[1], side[2], side[3]
	-- NAT-PMP's and PCP's mapping answers both carry 0x81 in their second byte (the
	-- answer to opcode 1); the address and ANNOUNCE answers (0x80) pass, so the probe
	-- finds the daemon.
	expect_eq(nft(h, gw, { "add table inet t; add chain inet t out { type filter hook output " ..
		"priority 0; }; add rule inet t out udp sport 5351 @th,72,8 0x81 drop" }, "drop-" .. gw.name),
		0, gw.name .. ": its answers to mapping requests are dropped")
	local l = p2p.listen(h, relay, { name = "l-" .. h.name, timeout_s = 30 })
	local none = l.proc:wait_event{ match = { event = "portmap_none" }, timeout = "10s" }
	expect(none and none.reason == "no_answer", h.name .. ": heard no answer to its " .. proto ..
		" mapping requests: " .. tostring(none and none.reason))
	local granted = mappings(h, gw)
	expect(granted > 0, gw.name .. ": granted them all the same (" .. granted .. " rules)")
	l.proc:kill()
	expect_eq(l.proc:wait{ timeout = "5s" }, 143, h.name .. ": the peer stops on SIGTERM")
	local left = granted
	for _ = 1, 20 do
		left = mappings(h, gw)
		if left == 0 then break end
		natlab.sleep("100ms")
	end
	expect_eq(left, 0, gw.name .. ": the peer deleted on exit what its unanswered " .. proto ..
		" requests made")
end
