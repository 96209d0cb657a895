-- SPDX-License-Identifier: MIT
-- For t_peer_portmap_unheard.sh: a gateway grants natlab-peer's NAT-PMP and PCP mapping
-- requests, but their answers never reach the peer (dropped on the box's way out). The
-- peer holds no mapping then; when it stops it deletes what its unanswered requests
-- made, or the gateway would hold them for their lease (two hours).
local p2p = require("p2p")

local lab = natlab.lab{}
-- miniupnpd maps nothing on a reserved WAN address: a public prefix (lab traffic never
-- leaves its namespaces).
local inet = lab:internet{ prefix = "20.0.0.0/16" }
local srv = lab:host{ name = "srv", net = inet }
local gw = lab:nat{ name = "gw", net = inet, profile = "port-restricted-cone", natpmp = true,
	pcp = true }
local h = lab:host{ name = "h", net = gw }
lab:up()
local relay = p2p.relay(srv, { port = 443 })

-- nft in the gateway's namespace: natlab exec, from h (only hosts spawn), privileged.
local function nft(args, name)
	local cmd = { natlab.bin("natlab"), "exec", lab.name, gw.name, "--", "nft",
		privileged = true, name = name }
	for _, a in ipairs(args) do cmd[#cmd + 1] = a end
	local p = h:spawn(cmd)
	return p:wait{ timeout = "5s" }, p.lines
end
-- NAT-PMP's and PCP's mapping answers both carry 0x81 in their second byte (the answer to
-- opcode 1); the address and ANNOUNCE answers (0x80) pass, so the probe finds both.
expect_eq(nft({ "add table inet t; add chain inet t out { type filter hook output " ..
	"priority 0; }; add rule inet t out udp sport 5351 @th,72,8 0x81 drop" }, "nft-drop"), 0,
	"the gateway's answers to mapping requests are dropped")
-- The gateway's mappings: miniupnpd's rules naming a port, in its table.
local function mappings()
	local _, lines = nft({ "list", "table", "inet", "natlab_portmap" }, "nft-list")
	local n = 0
	for _, l in ipairs(lines) do
		if l:match("dport") then n = n + 1 end
	end
	return n
end

local l = p2p.listen(h, relay, { name = "l-h", timeout_s = 30 })
local none = l.proc:wait_event{ match = { event = "portmap_none" }, timeout = "10s" }
expect(none and none.reason == "no_answer",
	"the peer heard no answer to its mapping requests: " .. tostring(none and none.reason))
local granted = mappings()
expect(granted > 0, "the gateway granted them all the same (" .. granted .. " rules)")
l.proc:kill()
expect_eq(l.proc:wait{ timeout = "5s" }, 143, "the peer stops on SIGTERM")
local left = granted
for _ = 1, 20 do
	left = mappings()
	if left == 0 then break end
	natlab.sleep("100ms")
end
expect_eq(left, 0, "the peer deleted on exit what its unanswered requests made")
