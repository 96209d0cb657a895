-- SPDX-License-Identifier: MIT
-- The adapters natlab ships (docs/adapters.md), by name: `natlab run scenarios/matrix.lua
-- --param adapter=NAME` runs the matrix with one of them (or with adapters/NAME.lua).
--   natlab-peer        the bundled peer (relay, punching, fallback)
--   socat              a raw UDP pair: each side sends to the other's public address on
--                      a fixed port and waits for a datagram back; no relay, no STUN,
--                      so it connects only where both NATs keep its port
--   natlab-peer-lying  natlab-peer --relay-only, its path events rewritten to claim
--                      direct: what the wire's verdict is for
local p2p = require("p2p")
local M = {}
-- webrtc-peer.js sits beside this file, in the library directory.
local WEBRTC_JS = natlab.lib .. "/adapters/webrtc-peer.js"

-- The peer's arguments for a workload, as p2p builds them.
local function peer_cmd(ctx, extra)
	local args = { natlab.bin("natlab-peer"), "--relay", ctx.relay, "--timeout", tostring(ctx.timeout_s) }
	if ctx.ping then
		args[#args + 1] = "--ping"
		args[#args + 1] = tostring(ctx.ping)
	end
	for _, a in ipairs(extra) do args[#args + 1] = a end
	return args
end

-- A shell-quoted command line.
local function sh_words(args)
	local q = {}
	for i, a in ipairs(args) do q[i] = "'" .. a:gsub("'", "'\\''") .. "'" end
	return table.concat(q, " ")
end

local function lying(role_args)
	return function(ctx)
		local extra = { "--relay-only" }
		for _, a in ipairs(role_args(ctx)) do extra[#extra + 1] = a end
		-- sed -u: the events must arrive as they happen, not when the pipe fills.
		return { "sh", "-c", sh_words(peer_cmd(ctx, extra)) ..
			[[ | sed -u 's/"kind":"relay"/"kind":"direct"/']] }
	end
end

p2p.adapters["natlab-peer-lying"] = {
	name = "natlab-peer-lying",
	events = true,
	ready = { event = "relay_connected" },
	listen = lying(function() return { "--listen" } end),
	connect = lying(function(ctx) return { "--connect", ctx.listen.key } end),
}

-- Sends a datagram every 200 ms for 4 s from the fixed port and exits 0 once one from
-- the other side has arrived. socat's UDP: connects its socket, so only the other side's
-- public address and port get through.
local SOCAT = [[
i=0; while [ $i -lt 20 ]; do echo "hello from $0"; sleep 0.2; i=$((i+1)); done |
  socat -T 4 - "UDP:$1:$2,bind=0.0.0.0:$3" | grep -m1 '^hello from']]

-- Its theory (docs/adapters.md, Results): direct where both sides sit behind distinct NATs
-- that map endpoint-independently and keep the port (no random ports, no CGN port
-- block); nothing else. A side on the internet or a hairpin lets the ICMP port
-- unreachable of an early datagram through, which ends socat's connected socket.
local KEEPS_PORT = { ["full-cone"] = true, ["restricted-cone"] = true, ["port-restricted-cone"] = true }

p2p.adapters.socat = {
	name = "socat",
	listen = { "sh", "-c", SOCAT, "{side}", "{peer_public}", "{peer_port}", "{port}" },
	connect = { "sh", "-c", SOCAT, "{side}", "{peer_public}", "{peer_port}", "{port}" },
	expect = function(cell)
		return KEEPS_PORT[cell.a] and KEEPS_PORT[cell.b] and "direct" or "fail"
	end,
}

-- A WebRTC data channel (libwebrtc through Node's @roamhq/wrtc) with coturn as its STUN
-- and TURN server on the relay host: ICE picks the path, its selected candidate pair is
-- the claim. Offer and answer go through files in the run's out dir (no signalling
-- server). Needs node, coturn and `npm install @roamhq/wrtc` in the directory that
-- `--param webrtc_modules=DIR` names (its node_modules), default /opt/natlab-webrtc.
local function webrtc_cmd(ctx)
	local modules = (natlab.params.webrtc_modules or "/opt/natlab-webrtc") .. "/node_modules"
	return { "env", "NODE_PATH=" .. modules, "node", WEBRTC_JS, ctx.side, ctx.out, ctx.relay,
		tostring(ctx.ping or 5), tostring(ctx.timeout_s) }
end

p2p.adapters.webrtc = {
	name = "webrtc",
	events = true,
	ready = { event = "relay_connected" },
	listen = webrtc_cmd,
	connect = webrtc_cmd,
	relay = { "turnserver", "-n", "--listening-ip", "{addr}", "--listening-port", "{port}",
		"--relay-ip", "{addr}", "--external-ip", "{addr}", "--lt-cred-mech", "--user",
		"natlab:natlab", "--realm", "natlab", "--no-tls", "--no-dtls", "--no-cli",
		"--fingerprint", "--log-file", "stdout", "--simple-log", "--allow-loopback-peers",
		"--min-port", "49152", "--max-port", "49999" },
	relay_ready = "IO method %(auth thread%)",
	-- ICE's floor, as measured (docs/adapters.md, Results): through TURN over TCP where
	-- a side blocks UDP, through TURN where a symmetric side meets a side that filters
	-- by port, direct everywhere else, after a start on the TURN pair where both sides
	-- filter.
	expect = {
		default = "direct",
		["none/udp-blocked"] = "relay",
		["full-cone/udp-blocked"] = "relay",
		["restricted-cone/udp-blocked"] = "relay",
		["port-restricted-cone/udp-blocked"] = "relay",
		["symmetric/udp-blocked"] = "relay",
		["cgnat/udp-blocked"] = "relay",
		["udp-blocked/udp-blocked"] = "relay",
		["port-restricted-cone/symmetric"] = "relay",
		["symmetric/symmetric"] = "relay",
		["symmetric/cgnat"] = "relay",
		-- A sequential allocator maps like symmetric (a new port per destination); ICE
		-- does not predict ports.
		["port-restricted-cone/symmetric-sequential"] = "relay",
		["symmetric/symmetric-sequential"] = "relay",
		["cgnat/symmetric-sequential"] = "relay",
		["udp-blocked/symmetric-sequential"] = "relay",
		["symmetric-sequential/symmetric-sequential"] = "relay",
	},
}

-- The adapter called name: a shipped one, else the table that the library file
-- adapters/NAME.lua returns (a directory of your own through NATLAB_LIB, see
-- docs/adapters.md). Checked by p2p.adapter.
function M.get(name)
	if p2p.adapters[name] then return p2p.adapter(name) end
	if not tostring(name):match("^[%w_-]+$") then
		error(("adapters: %q is not an adapter name (letters, digits, - and _)"):format(tostring(name)), 2)
	end
	local ok, ad = pcall(require, "adapters." .. name)
	if not ok then
		local names = {}
		for n in pairs(p2p.adapters) do names[#names + 1] = n end
		table.sort(names)
		error(("adapters: no adapter named %q: shipped are %s, and adapters/%s.lua in the "
			.. "library did not load (%s)"):format(name, table.concat(names, ", "), name, tostring(ad)), 2)
	end
	return p2p.adapter(ad)
end

return M
