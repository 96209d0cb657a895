-- SPDX-License-Identifier: MIT
-- For bench/peer_portmap.sh: one matrix cell, port-restricted-cone x symmetric (5 ms
-- wires, a relay with two addresses, as scenarios/matrix.lua builds it), whose symmetric
-- box answers PCP, run two ways: "mapped" (natlab-peer asks for a mapping and offers it)
-- and "punched" (--no-portmap: hole punching, birthday probing against the symmetric
-- side). Same lab, same run; only the peers' flag differs.
local p2p = require("p2p")
local cell = natlab.cells{
	{ name = "mapped", expected = "direct" },
	{ name = "punched", expected = "direct", no_portmap = true },
}
local WAN = { delay = "5ms" }
local lab = natlab.lab{ name = "pmbench", seed = 1 }
local inet = lab:internet{ prefix = "20.0.0.0/16" }
local srv = lab:host{ name = "srv", net = inet, addrs = 2, link = WAN }
local a = p2p.side(lab, inet, "a", "port-restricted-cone", WAN)
local b = p2p.side(lab, inet, "b", "symmetric", WAN, { pcp = true })
lab:up()
local relay = p2p.relay(srv, { port = 443 })
local r = p2p.run(a, b, relay, { ping = 3, hold = 1, timeout_s = 20, no_portmap = cell.no_portmap })
local outcome = (r.status == 0 and r.outcome) or "fail"
result{ cell = cell.name, outcome = outcome, expected = cell.expected,
	time_to_direct_ms = r.time_to_direct_ms, hard_nat = r.hard_nat and r.hard_nat.technique }
expect(outcome == "direct" or outcome == "relay", cell.name .. ": " .. outcome)
