-- SPDX-License-Identifier: MIT
-- Adapters (scenarios/lib/p2p.lua, docs/adapters.md) in one lab: natlab-peer through the
-- adapter path, a stack that lies about its path, the raw UDP pair, and every kind of
-- broken adapter: each fails its connection with the reason and its log, and the next
-- one runs as if nothing happened; and the adapters' expectation tables.
local p2p = require("p2p")
require("adapters")

local lab = natlab.lab{ name = "adapters", seed = 3 }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet, addrs = 2 }
local home = lab:nat{ name = "home", net = inet, profile = "full-cone" }
local office = lab:nat{ name = "office", net = inet, profile = "port-restricted-cone" }
local corp = lab:nat{ name = "corp", net = inet, profile = "symmetric" }
local alice = lab:host{ name = "alice", net = home }
local bob = lab:host{ name = "bob", net = office }
local carol = lab:host{ name = "carol", net = corp }
lab:up()
local relay = p2p.relay(srv)

local r = p2p.run(alice, bob, relay, { adapter = "natlab-peer", ping = 3 })
expect_eq(r.outcome, "direct", "natlab-peer: direct")
expect_eq(r.wire.verdict, "direct", "natlab-peer: the wire saw it direct")
expect(r.agree, "natlab-peer: claim and wire agree")
expect(r.wire.a_to_b.delivered.bytes > 0 and r.wire.b_to_a.delivered.bytes > 0,
	"natlab-peer: direct bytes arrived both ways")
expect(r.wire.switch_ms and r.wire.switch_ms < 1000, "natlab-peer: the wire saw the switch within 1 s")

r = p2p.run(alice, bob, relay, { adapter = "natlab-peer-lying", ping = 3 })
expect_eq(r.claim, "direct", "the liar claims direct")
expect_eq(r.wire.verdict, "relayed", "the wire saw everything go through the relay")
expect_eq(r.agree, false, "claim and wire disagree")
expect_eq(r.wire.bytes_direct, 0, "not one byte went direct")

r = p2p.run(alice, bob, relay, { adapter = "socat" })
expect_eq(r.status, 0, "socat: both datagrams arrived")
expect_eq(r.claim, nil, "socat: no events, no claim")
expect_eq(r.outcome, "direct", "socat full-cone/port-restricted-cone: direct, by the wire")
r = p2p.run(alice, carol, relay, { adapter = "socat" })
expect_eq(r.outcome, "fail", "socat full-cone/symmetric: the symmetric NAT picks another port")
expect(r.reason and r.reason:match("^connector exited with status 1"), "and the reason says so: " .. tostring(r.reason))
-- carol's datagram reached alice; alice's were dropped by corp, and alice's host answered
-- carol's with an ICMP port unreachable (its socket is connected elsewhere): the one
-- packet each side received directly is no connection.
expect_eq(r.wire.verdict, "none", "socat full-cone/symmetric: an ICMP error is no direct delivery")

-- Broken adapters. Each is its own stack, so the lab has nothing left of the last one.
local function broken(name, listen, connect, extra)
	local ad = { name = name, listen = listen, connect = connect or listen }
	for k, v in pairs(extra or {}) do ad[k] = v end
	return ad
end

r = p2p.run(alice, bob, relay, { adapter = broken("missing", { "/nonexistent/stack", "{relay}" }) })
expect_eq(r.outcome, "fail", "a missing command fails")
expect_eq(r.reason, "listener: program \"/nonexistent/stack\": No such file or directory",
	"and says which side and which program")

r = p2p.run(alice, bob, relay, { adapter = broken("quits", { "sh", "-c", "echo bye; exit 4" }, nil,
	{ ready = "^listening" }) })
expect_eq(r.reason, "listener exited with status 4 before it was ready; see logs/bob-quits-listen.log",
	"a stack that exits at once: its status and log")

r = p2p.run(alice, bob, relay, { adapter = broken("garbage",
	{ "sh", "-c", "echo '{\"event\":\"started\"}'; sleep 0.2" },
	{ "sh", "-c", "echo '{\"event\":\"path\",\"kind\":\"direct\"}'; echo 'Segmentation fault (core dumped)'" },
	{ events = true }) })
expect_eq(r.outcome, "fail", "garbage on stdout fails")
expect_eq(r.reason, 'connector: stdout line 2 is not a JSON event ("Segmentation fault (core dumped)"); '
	.. "see logs/alice-garbage-connect.log", "naming the line")

local t = natlab.time()
r = p2p.run(alice, bob, relay, { adapter = broken("hangs", { "sleep", "600" }), timeout = "1s" })
expect(natlab.time() - t < 10, "a stack that never exits is killed after its time-out")
expect_eq(r.reason, "connector: did not exit within 1s, killed; see logs/alice-hangs-connect.log",
	"and the reason says so")

local ok, err = pcall(p2p.run, alice, bob, relay, { adapter = broken("typo", { "x", "{relay_adr}" }) })
expect(ok, "a bad placeholder is not a Lua error")
r = err
expect_eq(r.reason, "p2p: adapter typo: placeholder {relay_adr} in its listen command has no value here",
	"it names the adapter and the placeholder")
ok, err = pcall(p2p.adapter, { name = "x", listen = { "a" }, connect = { "b" }, lisen = 1 })
expect(not ok and err:match('adapter x: unknown key "lisen"'), "an unknown adapter key is an error: " .. tostring(err))

r = p2p.run(alice, bob, relay, { adapter = "natlab-peer", ping = 2 })
expect_eq(r.outcome, "direct", "after all that, natlab-peer still goes direct")

-- Expectation tables (docs/adapters.md): what a stack should reach in a matrix cell.
local function cellof(a, b) return { name = a .. "/" .. b, a = a, b = b } end
local tabled = { name = "tabled", listen = { "a" }, connect = { "b" },
	expect = { default = "relay", ["x/y"] = "direct" } }
expect_eq(p2p.expected(tabled, cellof("x", "y")), "direct", "expect: a cell named in the table")
expect_eq(p2p.expected(tabled, cellof("y", "x")), "direct", "expect: in either order")
expect_eq(p2p.expected(tabled, { name = "same-nat", a = "same-nat", b = "same-nat" }), "relay",
	"expect: the default for a cell it does not name")
expect_eq(p2p.expected("natlab-peer", cellof("none", "none")), nil,
	"natlab-peer declares none: the matrix's own table holds")
expect_eq(p2p.expected("socat", cellof("full-cone", "port-restricted-cone")), "direct",
	"socat: direct between two NATs that keep its port")
expect_eq(p2p.expected("socat", cellof("none", "full-cone")), "fail", "socat: nothing else")
expect_eq(p2p.expected("webrtc", cellof("symmetric", "port-restricted-cone")), "relay",
	"webrtc: its table, either order")
expect_eq(p2p.expected("webrtc", cellof("restricted-cone", "cgnat")), "direct", "webrtc: its default")
ok, err = pcall(p2p.adapter, { name = "x", listen = { "a" }, connect = { "b" },
	expect = { ["a/b"] = "drect" } })
expect(not ok and err:match('adapter x: expect%["a/b"%] is "drect": direct, relay or fail'),
	"a bad outcome in an expect table is an error: " .. tostring(err))
ok, err = pcall(p2p.expected, { name = "x", listen = { "a" }, connect = { "b" },
	expect = function() return "sometimes" end }, cellof("a", "b"))
expect(not ok and err:match('adapter x expects "sometimes" in cell a/b'),
	"so is a bad answer of an expect function: " .. tostring(err))
ok, err = pcall(p2p.adapter, { name = "x", listen = { "a" }, connect = { "b" }, expect = "direct" })
expect(not ok and err:match("adapter x: expect must be a table of cell names or a function"),
	"and an expect that is neither: " .. tostring(err))
