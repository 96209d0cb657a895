-- SPDX-License-Identifier: MIT
-- Relays and peers in scenarios: start natlab-relay and natlab-peer inside lab hosts
-- and turn the peer's JSON events (docs/events.md) into results.
--
--   local p2p = require("p2p")
--   local relay = p2p.relay(srv)                        -- on a public host
--   local r = p2p.connect(alice, bob, relay, { ping = 5 })
--   expect_eq(r.path, "direct", "alice and bob punch through")
local M = {}

local RELAY_PORT = 7000
local STUN_PORT = 3478

-- Starts natlab-relay on host (no auth) with STUN on port 3478 (RFC 5780 when the host
-- has two addresses). Returns { proc, addr = "ip:port", host }.
function M.relay(host, opts)
	opts = opts or {}
	local port = opts.port or RELAY_PORT
	local args = { natlab.bin("natlab-relay"), "--listen", host.addr .. ":" .. port,
		"--stun", host.addr .. ":" .. STUN_PORT, "--no-auth",
		name = opts.name or "relay", json = true }
	if #host.addrs >= 2 then
		args[#args + 1] = "--stun-alt"
		args[#args + 1] = host.addrs[2]
	end
	local proc = host:spawn(args)
	local ready = proc:wait_event{ match = { event = "ready" }, timeout = opts.timeout or "5s" }
	if not ready then
		error("natlab-relay on " .. host.name .. " did not start; see its log", 2)
	end
	return { proc = proc, addr = host.addr .. ":" .. port, host = host }
end

local function peer_args(relay, opts)
	local args = { natlab.bin("natlab-peer"), "--relay", relay.addr,
		"--timeout", tostring(opts.timeout_s or 20) }
	for _, flag in ipairs{ "ping", "transfer", "hold" } do
		if opts[flag] then
			args[#args + 1] = "--" .. flag
			args[#args + 1] = tostring(opts[flag])
		end
	end
	if opts.no_relay then args[#args + 1] = "--no-relay" end
	if opts.relay_only then args[#args + 1] = "--relay-only" end
	if opts.first_punch then
		args[#args + 1] = "--first-punch"
		args[#args + 1] = opts.first_punch
	end
	return args
end

-- Starts a listening peer on host; returns { proc, key }.
function M.listen(host, relay, opts)
	opts = opts or {}
	local args = peer_args(relay, opts)
	args[#args + 1] = "--listen"
	args.name, args.json = opts.name or "peer-listen", true
	local proc = host:spawn(args)
	local started = proc:wait_event{ match = { event = "started" }, timeout = "5s" }
	if not started then
		error("natlab-peer on " .. host.name .. " did not start; see its log", 2)
	end
	proc:wait_event{ match = { event = "relay_connected" }, timeout = "5s" }
	return { proc = proc, key = started.key, host = host }
end

-- Connects a peer on host to a listener; returns the connector's proc.
function M.dial(host, relay, listener, opts)
	opts = opts or {}
	local args = peer_args(relay, opts)
	args[#args + 1] = "--connect"
	args[#args + 1] = listener.key
	args.name, args.json = opts.name or "peer-connect", true
	return host:spawn(args)
end

-- Sums up a peer's events: the path it ended on, when it went direct, RTT samples by
-- path, transfer results, the last step it reached and any error.
function M.summary(proc)
	local s = { path = nil, time_to_direct_ms = nil, rtt = { direct = {}, relay = {} },
		punches = 0, last_event = nil }
	local t_relay
	for _, ev in ipairs(proc.events or {}) do
		if ev.event ~= "exit" then s.last_event = ev.event end
		if ev.event == "relay_connected" and not t_relay then t_relay = ev.t_ms end
		if ev.event == "punch" then s.punches = s.punches + 1 end
		if ev.event == "path" and ev.kind ~= "none" then
			s.path = ev.kind
			if ev.kind == "direct" and not s.time_to_direct_ms and t_relay then
				s.time_to_direct_ms = ev.t_ms - t_relay
			end
		end
		if ev.event == "rtt" and ev.source == "ping" and s.rtt[ev.path] then
			table.insert(s.rtt[ev.path], ev.ms)
		end
		if ev.event == "transfer_done" then s.transfer = { bytes = ev.bytes, ok = ev.ok } end
		if ev.event == "error" then s.error = ev.reason end
		if ev.event == "exit" then
			s.exit = ev.code
			s.bytes_direct, s.bytes_relay = ev.bytes_direct, ev.bytes_relay
		end
	end
	return s
end

-- Runs a listener on b and a connector on a, both through relay, with the workload of
-- opts (ping = N, transfer = bytes, ...), and returns the connector's summary plus
-- `status` (its exit code) and `listener` (the listener's summary).
function M.connect(a, b, relay, opts)
	opts = opts or {}
	local listener = M.listen(b, relay, opts)
	local dialer = M.dial(a, relay, listener, opts)
	local status = dialer:wait{ timeout = opts.timeout or "30s" }
	listener.proc:wait{ timeout = "5s" }
	if listener.proc.exited == false then listener.proc:kill() end
	local s = M.summary(dialer)
	s.status = status
	s.listener = M.summary(listener.proc)
	return s
end

return M
