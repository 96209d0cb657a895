-- SPDX-License-Identifier: MIT
-- Relays and peers in scenarios: start natlab-relay and natlab-peer inside lab hosts
-- and turn the peer's JSON events (docs/events.md) into results.
--
--   local p2p = require("p2p")
--   local relay = p2p.relay(srv)                        -- on a public host
--   local r = p2p.connect(alice, bob, relay, { ping = 5 })
--   expect_eq(r.path, "direct", "alice and bob punch through")
local wire = require("wire")
local turn = require("turn")
local M = {}

local RELAY_PORT = 7000
local STUN_PORT = 3478

-- Starts natlab-relay on host (no auth) with STUN on port 3478 (RFC 5780 when the host
-- has two addresses), or the relay of opts.adapter when it brings one (see M.adapter).
-- A host with IPv6 (host.addr6) gets the relay protocol and STUN on its IPv6 address too.
-- Returns { proc, addr = "ip:port", host }, and with IPv6 addr6 = "[v6]:port" and stun
-- (both STUN addresses, the peers' --stun).
function M.relay(host, opts)
	opts = opts or {}
	if opts.adapter and M.adapter(opts.adapter).relay then return M.adapter_relay(host, opts) end
	local port = opts.port or RELAY_PORT
	local args = { natlab.bin("natlab-relay"), "--listen", host.addr .. ":" .. port,
		"--stun", host.addr .. ":" .. STUN_PORT, "--no-auth",
		name = opts.name or "relay", json = true }
	if #host.addrs >= 2 then
		args[#args + 1] = "--stun-alt"
		args[#args + 1] = host.addrs[2]
	end
	local v6 = host.addr6 and ("[" .. host.addr6 .. "]")
	if v6 then
		for _, a in ipairs{ "--listen", v6 .. ":" .. port, "--stun", v6 .. ":" .. STUN_PORT } do
			args[#args + 1] = a
		end
		if #host.addrs6 >= 2 then
			args[#args + 1] = "--stun-alt"
			args[#args + 1] = host.addrs6[2]
		end
	end
	local proc = host:spawn(args)
	local ready = proc:wait_event{ match = { event = "ready" }, timeout = opts.timeout or "5s" }
	if not ready then
		error("natlab-relay on " .. host.name .. " did not start; see its log", 2)
	end
	natlab.mark("relay_ready")
	return { proc = proc, addr = host.addr .. ":" .. port, host = host,
		addr6 = v6 and (v6 .. ":" .. port),
		stun = v6 and (host.addr .. ":" .. STUN_PORT .. "," .. v6 .. ":" .. STUN_PORT) }
end

local function peer_args(relay, opts, host)
	-- An IPv6-only host reaches a dual-stack relay over IPv6.
	local via = host and not host.addr and relay.addr6 or relay.addr
	local args = { natlab.bin("natlab-peer"), "--relay", via,
		"--timeout", tostring(opts.timeout_s or 20) }
	-- The workload's options with a value: opts.ping_interval is --ping-interval.
	for _, key in ipairs{ "ping", "ping_interval", "transfer", "hold", "hold_direct" } do
		if opts[key] then
			args[#args + 1] = "--" .. key:gsub("_", "-")
			args[#args + 1] = tostring(opts[key])
		end
	end
	if opts.no_relay then args[#args + 1] = "--no-relay" end
	if opts.relay_only then args[#args + 1] = "--relay-only" end
	if opts.first_punch then
		args[#args + 1] = "--first-punch"
		args[#args + 1] = opts.first_punch
	end
	-- hard_nat = "off": no NAT type detection, no birthday probing or prediction.
	if opts.hard_nat then
		args[#args + 1] = "--hard-nat"
		args[#args + 1] = opts.hard_nat
	end
	-- A dual-stack relay: a reflexive address of each family.
	if relay.stun then
		args[#args + 1] = "--stun"
		args[#args + 1] = relay.stun
	end
	-- no_portmap: never ask the gateway for a port mapping; portmap_lease: seconds asked;
	-- portmap_gateway: the address asked instead of the default route's gateway.
	if opts.no_portmap then args[#args + 1] = "--no-portmap" end
	for _, o in ipairs{ "portmap_lease", "portmap_gateway" } do
		if opts[o] then
			args[#args + 1] = "--" .. o:gsub("_", "-")
			args[#args + 1] = tostring(opts[o])
		end
	end
	return args
end

-- One side of a matrix cell on net: a NAT box "nat<tag>" of profile with link, and host
-- "h<tag>" behind it; for "cgnat", a CGN "isp<tag>" (with link) and a port-restricted
-- CPE "cpe<tag>" under it. knobs (optional): more NAT knobs for the box (the CGN for
-- cgnat, e.g. { pcp = true }); with knobs.no_cpe the host sits on the CGN itself, as a
-- mobile carrier's subscriber does. Returns the host.
function M.side(lab, net, tag, profile, link, knobs)
	local function box(t)
		for k, v in pairs(knobs or {}) do if k ~= "no_cpe" then t[k] = v end end
		return lab:nat(t)
	end
	if profile == "cgnat" then
		local isp = box{ name = "isp" .. tag, net = net, profile = "cgnat", link = link }
		if knobs and knobs.no_cpe then return lab:host{ name = "h" .. tag, net = isp } end
		local cpe = lab:nat{ name = "cpe" .. tag, net = isp, profile = "port-restricted-cone" }
		return lab:host{ name = "h" .. tag, net = cpe }
	end
	local nat = box{ name = "nat" .. tag, net = net, profile = profile, link = link }
	return lab:host{ name = "h" .. tag, net = nat }
end

-- Starts a listening peer on host; returns { proc, key }.
function M.listen(host, relay, opts)
	opts = opts or {}
	local args = peer_args(relay, opts, host)
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
	local args = peer_args(relay, opts, host)
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
			-- Which relay carried the traffic: "turn/tls", "natlab/tcp", ...
			if ev.kind == "relay" then
				s.relay_via = (ev.relay_kind or "natlab") .. "/" .. (ev.transport or "tcp")
			end
			s.family = ev.family -- "ipv4"/"ipv6" (natlab-peer), nil for other stacks
			if ev.kind == "direct" and not s.time_to_direct_ms and t_relay then
				s.time_to_direct_ms = ev.t_ms - t_relay
			end
		end
		if ev.event == "rtt" and ev.source == "ping" and s.rtt[ev.path] then
			table.insert(s.rtt[ev.path], ev.ms)
		end
		if ev.event == "transfer_done" then s.transfer = { bytes = ev.bytes, ok = ev.ok } end
		-- Hard NATs: the NAT type detected, and the last state of the technique's attempt.
		if ev.event == "nat_type" then s.nat_type = ev.type end
		if ev.event == "hard_nat" then s.hard_nat = ev end
		-- The relays the peer announced in its last offer or answer, its home first.
		if ev.event == "candidates" and ev.side == "remote" and ev.relays then
			s.peer_relays = ev.relays
		end
		if ev.event == "error" then s.error = ev.reason end
		if ev.event == "exit" then
			s.exit = ev.code
			s.bytes_direct, s.bytes_relay = ev.bytes_direct, ev.bytes_relay
		end
	end
	return s
end


--[[
Adapters: any stack that can be started by command joins a cell (docs/adapters.md).
An adapter is a table:
  name     what it is called in logs and reports (required)
  listen   the command of the side that waits (b), connect the side that dials (a):
           a list of strings with placeholders, or a function(ctx) returning that list
  relay    optional: the stack's own relay, started by p2p.relay(host, { adapter = }),
           ready when a stdout line matches relay_ready (a Lua pattern), if given
  ready    optional: when the connector may start: a table of event fields the listener
           prints (needs events), or a Lua pattern for one of its stdout lines
  events   true if it prints JSON Lines events (natlab-peer's names) on stdout: then
           every non-empty stdout line must be a JSON object
  expect   optional: the outcome (direct, relay or fail) the stack should reach in a
           matrix cell: a function(cell) or a table of cell names ("a/b" in either
           order, "same-nat") with an optional default; see M.expected
Placeholders, in `{}`: relay (ip:port of the relay), relay_addr, relay_port, self (this
side's address), peer (the other side's address), peer_public (the other side's public
address: the WAN of the outermost NAT above it), port and peer_port (this and the other
side's UDP/TCP port for stacks that need fixed ports: 40001 for the listener, 40002 for
the connector), timeout_s, ping, transfer, hold (the workload), out (the run's out dir),
side (listen or connect), bin:NAME (natlab.bin(NAME)), listen.FIELD (connector only: the
first value of FIELD in the listener's events, or listen.line: its ready line).
]]
local ADAPTER_KEYS = { name = true, listen = true, connect = true, relay = true, ready = true,
	events = true, relay_ready = true, expect = true }
local OUTCOMES = { direct = true, relay = true, fail = true }
local LISTEN_PORT, CONNECT_PORT = 40001, 40002

M.adapters = {}

-- Checks an adapter table (or looks up a shipped one by name) and returns it.
function M.adapter(ad)
	if type(ad) == "string" then
		local found = M.adapters[ad]
		if not found then
			local names = {}
			for n in pairs(M.adapters) do names[#names + 1] = n end
			table.sort(names)
			error(("p2p: no adapter named %q (shipped: %s; or pass an adapter table)")
				:format(ad, table.concat(names, ", ")), 3)
		end
		return found
	end
	if type(ad) ~= "table" then error("p2p: an adapter is a name or a table, got " .. type(ad), 3) end
	for k in pairs(ad) do
		if not ADAPTER_KEYS[k] then error(("p2p: adapter %s: unknown key %q"):format(tostring(ad.name), tostring(k)), 3) end
	end
	if type(ad.name) ~= "string" then error("p2p: an adapter needs a name", 3) end
	for _, k in ipairs{ "listen", "connect" } do
		if type(ad[k]) ~= "table" and type(ad[k]) ~= "function" then
			error(("p2p: adapter %s: %q must be a command (a list of strings) or a function"):format(ad.name, k), 3)
		end
	end
	if type(ad.expect) == "table" then
		for cell, v in pairs(ad.expect) do
			if not OUTCOMES[v] then
				error(("p2p: adapter %s: expect[%q] is %q: direct, relay or fail")
					:format(ad.name, tostring(cell), tostring(v)), 3)
			end
		end
	elseif ad.expect ~= nil and type(ad.expect) ~= "function" then
		error(("p2p: adapter %s: expect must be a table of cell names or a function(cell)"):format(ad.name), 3)
	end
	return ad
end

-- The outcome adapter ad (a name or a table) declares for a matrix cell ({ name, a, b }):
-- its expect function's answer, or its expect table's entry for the cell's name, for
-- "b/a", else its default. nil when it declares none: the matrix's own table holds.
function M.expected(ad, cell)
	ad = M.adapter(ad)
	local e, v = ad.expect, nil
	if type(e) == "function" then
		v = e(cell)
	elseif type(e) == "table" then
		v = e[cell.name]
		if v == nil and cell.a and cell.b then v = e[cell.b .. "/" .. cell.a] end
		if v == nil then v = e.default end
	end
	if v ~= nil and not OUTCOMES[v] then
		error(("p2p: adapter %s expects %q in cell %s: direct, relay or fail")
			:format(ad.name, tostring(v), tostring(cell.name)), 2)
	end
	return v
end

-- A duration as natlab takes them ("500ms", "30s", "2m" or seconds) in seconds.
local UNITS = { ms = 0.001, s = 1, m = 60 }
local function seconds(d)
	if type(d) == "number" then return d end
	local n, u = tostring(d):match("^([%d.]+)(%a*)$")
	if not n or (u ~= "" and not UNITS[u]) then error(("p2p: %q is not a duration"):format(tostring(d)), 3) end
	return tonumber(n) * (UNITS[u] or 1)
end

-- The outermost public address of a host: the WAN of the last translating NAT above it.
local function public_addr(host)
	local addr, n = host.addr, host.net
	while n and n.kind == "nat" do
		if n.profile ~= "none" then addr = n.addr end
		n = n.net
	end
	return addr
end

local function expand(ad, what, argv, ctx)
	if type(argv) == "function" then argv = argv(ctx) end
	local out = {}
	for i, arg in ipairs(argv) do
		out[i] = tostring(arg):gsub("{([%w_.:%-]+)}", function(key)
			local v
			if key:sub(1, 4) == "bin:" then
				v = natlab.bin(key:sub(5))
			elseif key:sub(1, 7) == "listen." then
				v = ctx.listen and ctx.listen[key:sub(8)]
			else
				v = ctx[key]
			end
			if v == nil then
				error(("p2p: adapter %s: placeholder {%s} in its %s command has no value here")
					:format(ad.name, key, what), 0)
			end
			return tostring(v)
		end)
	end
	return out
end

local function context(self, other, relay, opts, side, port, peer_port)
	local ra, rp = relay.addr:match("^(.*):(%d+)$")
	return { relay = relay.addr, relay_addr = ra, relay_port = rp, self = self.addr,
		peer = other.addr, peer_public = public_addr(other), port = port, peer_port = peer_port,
		timeout_s = opts.timeout_s or 20, ping = opts.ping, transfer = opts.transfer,
		hold = opts.hold, out = natlab.out, side = side, opts = opts,
		-- A dual-stack relay (p2p.relay in a lab with IPv6): its IPv6 address and both
		-- STUN servers, for natlab-peer; nil otherwise.
		relay6 = relay.addr6, stun = relay.stun }
end

local function log_of(host, name)
	return "logs/" .. host.name .. "-" .. name .. ".log"
end

-- Spawns one side; on a bad placeholder returns nil and the reason.
local function spawn_side(ad, what, host, ctx)
	local ok, argv = pcall(expand, ad, what, ad[what], ctx)
	if not ok then return nil, argv end
	if #argv == 0 then return nil, ("p2p: adapter %s: its %s command is empty"):format(ad.name, what) end
	local name = ad.name .. "-" .. what
	argv.name, argv.json = name, ad.events and true or false
	local sok, proc = pcall(host.spawn, host, argv)
	if not sok then
		-- A program that does not exist is refused by spawn itself, by name.
		local missing = tostring(proc):match("host:spawn: (.*program .*)$")
		if missing then
			return nil, ("%s: %s"):format(what == "listen" and "listener" or "connector", missing)
		end
		return nil, ("adapter %s: %s: %s"):format(ad.name, what, proc)
	end
	return proc, nil, log_of(host, name)
end

-- Why a process that should still run has exited, in words.
local function exited_why(proc, what, log)
	if proc.status == 127 then
		return ("%s: command not found (exit 127); see %s"):format(what, log)
	end
	return ("%s exited with status %s before it was ready; see %s"):format(what, tostring(proc.status), log)
end

-- Waits until the listener is ready (ad.ready); returns nil or the reason it is not.
local function wait_ready(ad, proc, log, timeout)
	if not ad.ready then
		natlab.sleep("50ms")
		if proc.exited then return nil, exited_why(proc, "listener", log) end
		return {}
	end
	local got
	if type(ad.ready) == "table" then
		got = proc:wait_event{ match = ad.ready, timeout = timeout }
	else
		local line = proc:wait_line{ match = ad.ready, timeout = timeout }
		got = line and { line = line }
	end
	if got then return got end
	if proc.exited then return nil, exited_why(proc, "listener", log) end
	return nil, ("listener: not ready within %s (waiting for %s); see %s"):format(tostring(timeout),
		type(ad.ready) == "table" and "an event like that" or ("a line matching " .. ad.ready), log)
end

-- With events, every non-empty stdout line is a JSON object; returns the first that is not.
local function garbage(proc)
	for i, l in ipairs(proc.lines or {}) do
		if l:match("%S") then
			local v = natlab.json_decode(l)
			if type(v) ~= "table" then return i, l end
		end
	end
end

-- The first value of each field over the listener's events: what {listen.FIELD} says.
local function listener_fields(proc, ready)
	local f = {}
	for _, ev in ipairs(proc.events or {}) do
		for k, v in pairs(ev) do
			if f[k] == nil and type(v) ~= "table" then f[k] = v end
		end
	end
	for k, v in pairs(ready) do f[k] = f[k] == nil and v or f[k] end
	return f
end

-- Stops proc after up to grace for it to exit by itself (a wait without a time-out
-- would wait as long as the scenario may run).
local function stop(proc, grace)
	if not proc or proc.exited then return end
	if grace then proc:wait{ timeout = grace } end
	if not proc.exited then
		proc:kill()
		if not proc:wait{ timeout = "2s" } and not proc.exited then proc:kill(9) end
	end
end

-- The CLOCK_MONOTONIC ms of proc's first event named event, or nil.
local function event_clock(proc, event)
	local clock
	for _, ev in ipairs(proc and proc.events or {}) do
		if ev.event == "started" then clock = ev.clock_ms end
		if clock and ev.event == event and ev.t_ms then return clock + ev.t_ms end
	end
end

-- The connector's phases for report.json (natlab.mark), on the peers' clocks: both sides
-- registered at the relay (the later relay_connected of the two), the connector's first
-- direct path, the end of its workload (its exit event). A mark that would come before
-- the one marked last is left out: the phase before it then spans both.
local function mark_phases(proc, listener)
	local clock, last = nil, -1
	local marks = {}
	local lready = event_clock(listener, "relay_connected")
	for _, ev in ipairs(proc.events or {}) do
		if ev.event == "started" then clock = ev.clock_ms end
		local name = (ev.event == "relay_connected" and "peers_ready") or
			(ev.event == "path" and ev.kind == "direct" and "direct") or
			(ev.event == "exit" and ev.t_ms and "workload") or nil
		local t = clock and ev.t_ms and clock + ev.t_ms
		if name == "peers_ready" and t and lready and lready > t then t = lready end
		if t and name and not marks[name] and t > last then
			marks[name] = true
			last = t
			natlab.mark(name, t)
		end
	end
	return marks.workload
end

-- The stack's claim (its last path event) against the wire's verdict.
local WIRE_WORD = { direct = "direct", relayed = "relay", none = "fail" }

--[[
Runs one cell's connection with an adapter: the listener on b, the connector on a,
through relay (p2p.relay's table), the workload of opts (ping, transfer, hold,
timeout_s, and timeout for the connector's whole run, default "30s"), counting the wire
between them (opts.wire = false: not). Never raises for what the stack does: a missing
command, an early exit, garbage on stdout or a hang make `outcome` "fail" with `reason`
naming the side and its log. Returns the connector's summary (M.summary when it prints
events) plus: adapter, status (the connector's exit status or nil), claim (its last path
kind, or nil), wire (wire.lua's verdict), outcome (direct/relay/fail: the claim when
there is one, else the wire's), agree (false when claim and wire differ), reason,
logs ({ listen = , connect = }), listener (the listener's summary).
]]
function M.run(a, b, relay, opts)
	opts = opts or {}
	local ad = M.adapter(opts.adapter or "natlab-peer")
	local r = { adapter = ad.name, logs = {}, rtt = { direct = {}, relay = {} }, punches = 0 }
	-- A TURN server relays too: the wire counts what goes through its host as relayed.
	local w = opts.wire ~= false and wire.watch(a, b, { relay.host, opts.turn and opts.turn.host }) or nil
	local lctx = context(b, a, relay, opts, "listen", LISTEN_PORT, CONNECT_PORT)
	local listener, why, llog = spawn_side(ad, "listen", b, lctx)
	local dialer, clog, ready
	r.logs.listen = llog
	if listener then
		-- opts.ready: when the connector may start, instead of the adapter's own ready.
		local rad = opts.ready and setmetatable({ ready = opts.ready }, { __index = ad }) or ad
		ready, why = wait_ready(rad, listener, llog, opts.ready_timeout or "5s")
	end
	if ready then
		local cctx = context(a, b, relay, opts, "connect", CONNECT_PORT, LISTEN_PORT)
		cctx.listen = listener_fields(listener, ready)
		dialer, why, clog = spawn_side(ad, "connect", a, cctx)
		r.logs.connect = clog
		if dialer and not ad.events then natlab.mark("peers_ready") end
	end
	if dialer then
		local t0 = natlab.time()
		local t_end = t0 + seconds(opts.timeout or "30s")
		-- Counters are read every 20 ms while a switch is likely (the first 2 s), then
		-- every 100 ms: one read of two boxes takes about 1 ms. The wait between reads
		-- ends when the connector exits, not a period later.
		while not dialer.exited and natlab.time() < t_end do
			if w then w:sample() end
			dialer:wait{ timeout = opts.sample or (natlab.time() - t0 < 2 and 0.02 or 0.1) }
		end
		if not (ad.events and mark_phases(dialer, listener)) then natlab.mark("workload") end
		if not dialer.exited then
			why = ("connector: did not exit within %s, killed; see %s"):format(tostring(opts.timeout or "30s"), clog)
			stop(dialer)
		end
	end
	stop(listener, "5s")
	if w then
		w:sample()
		r.wire = w:verdict()
	end
	if dialer then
		if ad.events then
			for k, v in pairs(M.summary(dialer)) do r[k] = v end
			r.claim = r.path
			local n, line = garbage(dialer)
			if n and not why then
				why = ("connector: stdout line %d is not a JSON event (%q); see %s"):format(n, line:sub(1, 80), clog)
			end
		end
		r.status = dialer.status
		if not why and r.status ~= 0 then
			why = ("connector exited with status %s%s; see %s"):format(tostring(r.status),
				r.error and (" (" .. r.error .. ")") or "", clog)
		end
	end
	if listener and ad.events then r.listener = M.summary(listener) end
	if why then
		r.outcome, r.reason = "fail", why
	elseif r.claim then
		r.outcome = r.claim
	elseif r.wire then
		r.outcome = WIRE_WORD[r.wire.verdict]
		if r.outcome == "fail" then r.reason = "connector exited 0, but the wire saw no traffic between the sides" end
	else
		r.outcome = "fail"
		r.reason = "connector exited 0, but neither its events nor the wire say how it connected"
	end
	if r.wire then
		r.wire.claim = r.claim
		r.agree = r.claim == nil or WIRE_WORD[r.wire.verdict] == r.claim
		r.wire.agree = r.agree
	end
	-- The listener stopped, the wire's last counters read.
	natlab.mark("stop")
	return r
end

-- Starts an adapter's own relay on host: its `relay` command with the placeholders addr,
-- addr2 (second address or nil), port (opts.port or 7000), bin:NAME, out.
function M.adapter_relay(host, opts)
	local ad = M.adapter(opts.adapter)
	local port = opts.port or RELAY_PORT
	local ctx = { addr = host.addr, addr2 = host.addrs[2], port = port, out = natlab.out,
		relay = host.addr .. ":" .. port }
	local rad = { name = ad.name, relay = ad.relay, ready = ad.relay_ready }
	local proc, why, log = spawn_side(rad, "relay", host, ctx)
	if not proc then error(why, 2) end
	local ready, rwhy = wait_ready(rad, proc, log, opts.timeout or "5s")
	if not ready then error(("adapter %s: its relay on %s: %s"):format(ad.name, host.name, rwhy), 2) end
	natlab.mark("relay_ready")
	return { proc = proc, addr = host.addr .. ":" .. port, host = host }
end

-- With opts.turn (turn.server's table): the TURN arguments for one side, over
-- opts.turn_transport (a transport for both, or { listen = , connect = }, default udp);
-- opts.turn_only: data never through natlab-relay (--turn-only); opts.turn_byte_cap:
-- --turn-byte-cap.
local function turn_args(args, opts, side)
	if not opts.turn then return args end
	local t = opts.turn_transport
	if type(t) == "table" then t = t[side] end
	for _, a in ipairs(turn.peer_args(opts.turn, t)) do args[#args + 1] = a end
	if opts.turn_only then args[#args + 1] = "--turn-only" end
	if opts.turn_byte_cap then
		args[#args + 1] = "--turn-byte-cap"
		args[#args + 1] = tostring(opts.turn_byte_cap)
	end
	return args
end

-- natlab-peer, as an adapter like any other.
M.adapters["natlab-peer"] = {
	name = "natlab-peer",
	events = true,
	ready = { event = "relay_connected" },
	listen = function(ctx)
		local args = turn_args(peer_args({ addr = ctx.relay, addr6 = ctx.relay6, stun = ctx.stun },
			ctx.opts, { addr = ctx.self }), ctx.opts, "listen")
		args[#args + 1] = "--listen"
		return args
	end,
	connect = function(ctx)
		local args = turn_args(peer_args({ addr = ctx.relay, addr6 = ctx.relay6, stun = ctx.stun },
			ctx.opts, { addr = ctx.self }), ctx.opts, "connect")
		args[#args + 1] = "--connect"
		args[#args + 1] = ctx.listen.key
		return args
	end,
}

-- Runs natlab-peer between a (connector) and b (listener): M.run with the natlab-peer
-- adapter unless opts.adapter names another.
function M.connect(a, b, relay, opts)
	return M.run(a, b, relay, opts)
end

return M
