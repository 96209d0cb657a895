#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The wire's verdict (scenarios/lib/wire.lua, docs/adapters.md "The wire's verdict") from
# samples made up here: a stack whose data takes the relay for a while after the first
# probes went through (its path validated late, as on a loaded machine) and then goes
# direct is direct, and so is one whose relay connections close after its last direct
# byte; one that punches and keeps its data on the relay is relayed; no direct bytes both
# ways is no switch.
. "$(dirname "$0")/lib/lab.sh"
t_require_root

cat >"$T_TMP/verdict.lua" <<'LUA'
local wire = require("wire")
-- natlab run wants a lab; the verdicts below need none.
local lab = natlab.lab{}
lab:host{ name = "h", net = lab:internet{} }
lab:up()
local relays = { { name = "srv" } }
-- A sample at t_ms with cumulative bytes: direct delivered to a and to b, relay to a and b.
local function s(t, da, db, ra, rb)
	local function v(n) return { bytes = n, packets = n > 0 and 1 or 0 } end
	return { t_ms = t, c = { a_direct_in = v(da), b_direct_in = v(db), a_direct_out = v(db),
		b_direct_out = v(da), a_relay_srv_in = v(ra), b_relay_srv_in = v(rb),
		a_relay_srv_out = v(rb), b_relay_srv_out = v(ra) } }
end

-- Switch at 100 ms; the relay carries 3000 bytes until 300 ms, then the data is direct.
local late = wire.judge({ s(0, 0, 0, 100, 100), s(100, 80, 80, 600, 600), s(300, 200, 200, 2100, 2100),
	s(500, 700, 700, 2150, 2150), s(700, 1200, 1200, 2200, 2200) }, relays)
expect_eq(late.verdict, "direct", "validated late, then direct: direct")
expect(late.relay_after_switch > late.direct_after_switch,
	"(the whole span after the switch carried more by the relay: " .. late.relay_after_switch ..
	" against " .. late.direct_after_switch .. ")")
expect_eq(late.direct_late, 1000, "the second half's direct bytes")
expect_eq(late.relay_late, 100, "the second half's relay bytes")

-- Direct from the switch on; the second half carries little but the relay connections'
-- close, after the last direct byte.
local closing = wire.judge({ s(0, 0, 0, 100, 100), s(100, 80, 80, 600, 600), s(200, 1200, 1200, 700, 700),
	s(400, 1300, 1300, 700, 700), s(700, 1310, 1310, 1000, 1000) }, relays)
expect_eq(closing.verdict, "direct", "direct, then the relay connections close: direct")
expect(closing.relay_late > closing.direct_late, "(the second half carried more by the relay: " ..
	closing.relay_late .. " against " .. closing.direct_late .. ")")

-- Punches, then keeps its data on the relay.
local stays = wire.judge({ s(0, 0, 0, 100, 100), s(100, 80, 80, 600, 600), s(300, 90, 90, 1600, 1600),
	s(500, 100, 100, 2600, 2600), s(700, 110, 110, 3600, 3600) }, relays)
expect_eq(stays.verdict, "relayed", "punched, data kept on the relay: relayed")

-- Nothing after the first half: the span from the switch decides.
local quiet = wire.judge({ s(0, 0, 0, 100, 100), s(100, 80, 80, 600, 600), s(200, 900, 900, 700, 700),
	s(700, 900, 900, 700, 700) }, relays)
expect_eq(quiet.verdict, "direct", "a quiet second half: the switch onwards decides (direct)")
local quiet_relay = wire.judge({ s(0, 0, 0, 100, 100), s(100, 80, 80, 600, 600),
	s(200, 120, 120, 1600, 1600), s(700, 120, 120, 1600, 1600) }, relays)
expect_eq(quiet_relay.verdict, "relayed", "a quiet second half: the switch onwards decides (relayed)")

-- Direct bytes one way only: no switch.
local oneway = wire.judge({ s(0, 0, 0, 100, 100), s(100, 80, 0, 600, 600), s(300, 900, 0, 700, 700) },
	relays)
expect_eq(oneway.verdict, "relayed", "direct bytes one way only: no switch, relayed")
expect_eq(oneway.switch_ms, nil, "and no switch time")
LUA
"$NATLAB" run "$T_TMP/verdict.lua" --pcap none --out "$T_TMP/out" >"$T_TMP/run.out" 2>"$T_TMP/run.err"
t_is $? 0 "every expectation of the scenario holds" "$(cat "$T_TMP/run.out" "$T_TMP/run.err")"
t_done
