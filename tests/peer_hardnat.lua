-- SPDX-License-Identifier: MIT
-- For t_peer_hardnat.sh: natlab-peer through hard NATs (docs/events.md, "Hard NATs"), one
-- cell per lab as scenarios/matrix.lua builds them (a relay with two addresses, so RFC
-- 5780's OTHER-ADDRESS, 5 ms wires). One side hard (symmetric, random ports) against an
-- easy one goes direct by birthday probing, two sequential allocators by port
-- prediction, also with a neighbour's mappings coming in between; symmetric x symmetric
-- stays on the relay and says why; with --hard-nat
-- off port-restricted x symmetric is the textbook floor again (relay). In the first
-- cell a sampler counts the hard side's UDP sockets (/proc/net/udp) while the peer runs: 256 more
-- while it probes, back to two (the main one and the one the path kept) once direct.
local p2p = require("p2p")

local cell = natlab.cells{
	{ name = "port-restricted-cone/symmetric", a = "port-restricted-cone", b = "symmetric",
	  expected = "direct", technique = "birthday", sockets = true },
	{ name = "symmetric/cgnat", a = "symmetric", b = "cgnat", expected = "direct",
	  technique = "birthday" },
	{ name = "full-cone/symmetric", a = "full-cone", b = "symmetric", expected = "direct" },
	{ name = "symmetric-sequential/symmetric-sequential", a = "symmetric-sequential",
	  b = "symmetric-sequential", expected = "direct", technique = "prediction" },
	-- A neighbour behind the listener's NAT makes a new mapping every 10 ms meanwhile.
	{ name = "noisy:symmetric-sequential/symmetric-sequential", a = "symmetric-sequential",
	  b = "symmetric-sequential", expected = "direct", technique = "prediction", noisy = true },
	{ name = "symmetric/symmetric", a = "symmetric", b = "symmetric", expected = "relay",
	  technique = "none" },
	{ name = "off:port-restricted-cone/symmetric", a = "port-restricted-cone",
	  b = "symmetric", expected = "relay", hard_nat = "off" },
}
local WAN = { delay = "5ms" }
local lab = natlab.lab{ name = "hardnat", seed = 1 }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet, addrs = 2, link = WAN }
local a, b = p2p.side(lab, inet, "a", cell.a, WAN), p2p.side(lab, inet, "b", cell.b, WAN)
local neighbour = cell.noisy and lab:host{ name = "hn", net = b.net }
lab:up()
if neighbour then
	-- bash's /dev/udp: a fresh socket, so a fresh mapping, per datagram.
	neighbour:spawn{ "bash", "-c", "for i in $(seq 3000); do echo x > /dev/udp/" .. srv.addr ..
		"/$((20000 + i)); sleep 0.01; done", name = "noise" }
end

local relay = p2p.relay(srv, { port = 443 })
local sampler
if cell.sockets then
	-- /proc/net/udp lists this host's (namespace's) UDP sockets: the peer's alone. Read
	-- every 10 ms, which ss is too slow for (a path found in 30 ms went unseen).
	sampler = b:spawn{ "sh", "-c", "for i in $(seq 600); do " ..
		"echo \"n=$(($(wc -l < /proc/net/udp) - 1))\"; sleep 0.01; done", name = "udp" }
end
local r = p2p.run(a, b, relay, { ping = 3, hold = cell.sockets and 2 or nil, timeout_s = 20,
	hard_nat = cell.hard_nat })
local outcome = (r.status == 0 and r.outcome) or "fail"
result{ cell = cell.name, outcome = outcome, expected = cell.expected,
	time_to_direct_ms = r.time_to_direct_ms, reached = r.reason or r.error or r.last_event }
expect_eq(outcome, cell.expected, cell.name .. ": " .. cell.expected)

local hc, hl = r.hard_nat, r.listener and r.listener.hard_nat
if cell.technique == "none" then
	for who, h in pairs{ connector = hc, listener = hl } do
		expect(h and h.state == "skipped" and h.technique == "none" and
			tostring(h.reason):match("relay stays"),
			cell.name .. ": the " .. who .. " says why it stays on the relay (" ..
			tostring(h and h.reason) .. ")")
	end
elseif cell.technique then
	local found = (hc and hc.state == "direct" and hc.found) or (hl and hl.state == "direct" and hl.found)
	expect(found and hc.technique == cell.technique and hl.technique == cell.technique,
		cell.name .. ": " .. cell.technique .. " found the path (connector " ..
		tostring(hc and hc.state) .. " " .. tostring(hc and hc.probes) .. " probes, listener " ..
		tostring(hl and hl.state) .. " " .. tostring(hl and hl.probes) .. " probes)")
	-- Within the budget (2000 probes at 400/s, 5 s, and the start): a hit comes at random,
	-- and a 4 s bound missed it 1 time in 400 (e^(-1520 x 256/64512)) though it came.
	expect(r.time_to_direct_ms and r.time_to_direct_ms < 6000,
		cell.name .. ": direct within the budget, 6 s (" .. tostring(r.time_to_direct_ms) .. " ms)")
end
-- The listener's answer carries its NAT type and its relays as TLVs side by side (its
-- type is known before it answers): the connector reads the relay out of it. (The
-- connector's own first offer can go out before it has chosen a home relay.)
if r.nat_type then
	local got = r.peer_relays and r.peer_relays[1]
	expect(got and got:find("relay://" .. relay.addr .. "/", 1, true) == 1,
		cell.name .. ": the connector read the listener's relay from its answer (" ..
		tostring(got) .. ")")
end
if cell.hard_nat == "off" then
	expect(r.nat_type == nil and hc == nil and hl == nil,
		cell.name .. ": --hard-nat off detects nothing and tries nothing")
end
if cell.technique == "birthday" then
	local hard = hc.role == "hard" and hc or hl
	expect_eq(hard.sockets_closed, 255, cell.name .. ": the hard side closed 255 of its 256 sockets")
	expect_eq(hard.sockets_kept, 1, cell.name .. ": and kept the path's")
end
if sampler then
	sampler:wait{ timeout = "15s" }
	local max, last = 0, nil
	for _, l in ipairs(sampler.lines) do
		local n = tonumber(l:match("^n=(%d+)"))
		if n then
			if n > max then max = n end
			if n > 0 then last = n end
		end
	end
	expect(max >= 257, cell.name .. ": the hard side had its 256 extra sockets open (max " .. max .. ")")
	expect_eq(last, 2, cell.name .. ": then two: its own and the path's (the last count while it ran)")
end
