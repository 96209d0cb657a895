#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bring your own stack (docs/adapters.md): the adapters in one lab (tests/adapters.lua);
# a stack that lies about its path, run as a matrix, is flagged in report.json, TAP,
# junit.xml and report.html; a broken adapter of the user's own (NATLAB_LIB) fails each
# cell with its reason and log while the matrix goes on; the reproduce command of a cell
# reruns it with its seed; report diff gates on the regression between two reports; the
# raw UDP pair's matrix row of full-cone is judged by socat's own expectation table; a
# cell direct in some runs only is marked flaky in every format.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
t_require socat
O=$T_TMP/o

out=$("$NATLAB" run "$SRC/tests/adapters.lua" --out "$O/one" --pcap none 2>&1)
t_ok $? "tests/adapters.lua: every adapter and every broken one behaves" "$(echo "$out" | grep -v '^ok')"

# The liar: natlab-peer --relay-only, its path events rewritten to say direct.
"$NATLAB" run "$SRC/scenarios/matrix.lua" --param adapter=natlab-peer-lying --filter 'full-cone/full-cone' \
	--out "$O/liar" --pcap none >"$T_TMP/liar.tap" 2>"$T_TMP/liar.err"
t_is $? 1 "a lying stack fails the matrix"
t_is "$(jq -c '.cells[0] | [.outcome, .wire.relayed, .wire.disagree, .flags]' "$O/liar/report.json")" \
	'["direct",1,1,["wire_disagrees"]]' "report.json: claimed direct, the wire saw it relayed, flagged"
grep -q '^not ok 1 - full-cone/full-cone: .* \[wire disagrees\]$' "$T_TMP/liar.tap"
t_ok $? "TAP: the cell's line says the wire disagrees" "$(cat "$T_TMP/liar.tap")"
grep -q 'reached "the wire disagrees with the stack in 1 of 1 runs (claimed direct, wire relayed)"' "$T_TMP/liar.tap"
t_ok $? "TAP: and what disagreed"
grep -q 'failure message="[^"]*\[wire disagrees\]"' "$O/liar/junit.xml"
t_ok $? "junit.xml: the failure says so" "$(cat "$O/liar/junit.xml")"
grep -q 'class="flag">!</text>' "$O/liar/report.html" && grep -q 'DISAGREES in 1 runs' "$O/liar/report.html"
t_ok $? "report.html: the cell is marked and its section says it"

# socat by its own table: direct where both NATs keep its port, failed elsewhere (not
# DESIGN.md's table, which would fail the three cells it cannot reach).
"$NATLAB" run "$SRC/scenarios/matrix.lua" --param adapter=socat --filter 'full-cone/*' --jobs 2 \
	--out "$O/socat" --pcap none >"$T_TMP/socat.tap" 2>&1
t_ok $? "socat's row of full-cone: every cell as its table says" "$(grep -v '^ok' "$T_TMP/socat.tap")"
t_is "$(jq -c '[.cells[] | [.name, .expected, .outcome]]' "$O/socat/report.json")" \
	'[["full-cone/full-cone","direct","direct"],["full-cone/restricted-cone","direct","direct"],["full-cone/port-restricted-cone","direct","direct"],["full-cone/symmetric","fail","fail"],["full-cone/cgnat","fail","fail"],["full-cone/udp-blocked","fail","fail"],["full-cone/symmetric-sequential","fail","fail"]]' \
	"direct exactly where both sides keep the port: its table, not DESIGN.md's"
t_is "$(jq -c '[.cells[] | select(.outcome == "direct") | .wire.direct == .runs] | unique' "$O/socat/report.json")" \
	'[true]' "and the wire saw those direct"

# The same cell with the honest peer agrees with the wire.
"$NATLAB" run "$SRC/scenarios/matrix.lua" --filter 'full-cone/full-cone' --seed 5 --out "$O/honest" \
	--pcap none >"$T_TMP/honest.tap" 2>&1
t_ok $? "natlab-peer in the same cell passes"
t_is "$(jq -c '.cells[0] | [.wire.direct, .wire.disagree, .seed, .seeds]' "$O/honest/report.json")" \
	'[1,0,5,[5]]' "the wire agrees; the cell states the seed it ran with"
repro=$(jq -r '.cells[0].reproduce' "$O/honest/report.json")
t_is "$repro" "natlab run '$SRC/scenarios/matrix.lua' '--filter' 'full-cone/full-cone' '--seed' '5'" \
	"the cell's reproduce command"
(eval "${repro/natlab/\"\$NATLAB\"}" --out "$O/again" --pcap none >/dev/null 2>&1)
t_ok $? "which reruns the cell"
t_is "$(jq -c '[.cells[0].name, .seed, .cells[0].outcome]' "$O/again/report.json")" \
	'["full-cone/full-cone",5,"direct"]' "with the same seed and outcome"

# A broken adapter of the user's own: a library dir with adapters/hangs.lua.
mkdir -p "$T_TMP/lib/adapters"
ln -s "$SRC"/scenarios/lib/*.lua "$T_TMP/lib/"
cat >"$T_TMP/lib/adapters/hangs.lua" <<'LUA'
return { name = "hangs", listen = { "sleep", "600" }, connect = { "sleep", "600" } }
LUA
sed 's/, timeout_s = 20,/, timeout_s = 20, timeout = "2s",/' \
	"$SRC/scenarios/matrix.lua" >"$T_TMP/matrix-short.lua"
NATLAB_LIB=$T_TMP/lib "$NATLAB" run "$T_TMP/matrix-short.lua" --param adapter=hangs \
	--filter 'full-cone/[fr]*' --jobs 2 --out "$O/hangs" --pcap none >"$T_TMP/hangs.tap" 2>&1
t_is $? 1 "a stack that never exits fails the matrix"
t_is "$(jq -c '[.cells[] | [.name, .failed, .reached]]' "$O/hangs/report.json")" \
	'[["full-cone/full-cone",1,"connector: did not exit within 2s, killed; see logs/ha-hangs-connect.log"],["full-cone/restricted-cone",1,"connector: did not exit within 2s, killed; see logs/ha-hangs-connect.log"]]' \
	"each cell fails with the reason and its log, and the matrix goes on"
true &&
	[ -e "$O/hangs/cells/full-cone_full-cone/logs/ha-hangs-connect.log" ]
t_ok $? "the log named is there"

# A flaky stack: socat that fails in whichever of two runs comes second (mkdir is
# atomic), so the cell goes direct in 1 of 2 runs. Every format marks it.
cat >"$T_TMP/lib/adapters/flip.lua" <<LUA
local p2p = require("p2p")
require("adapters")
local socat = p2p.adapters.socat
local connect = { "sh", "-c", 'mkdir "\$0" 2>/dev/null || exit 1; exec "\$@"', "$T_TMP/flipped" }
for _, a in ipairs(socat.connect) do connect[#connect + 1] = a end
return { name = "flip", listen = socat.listen, connect = connect }
LUA
NATLAB_LIB=$T_TMP/lib "$NATLAB" run "$SRC/scenarios/matrix.lua" --param adapter=flip --repeat 2 \
	--filter 'full-cone/full-cone' --jobs 2 --out "$O/flip" --pcap none >"$T_TMP/flip.tap" 2>&1
t_is $? 1 "a cell direct in 1 of 2 runs fails"
t_is "$(jq -c '.cells[0] | [.direct, .failed, .flaky, .flags]' "$O/flip/report.json")" '[1,1,true,["flaky"]]' \
	"report.json: flaky"
grep -q '^not ok 1 - full-cone/full-cone: expected direct, direct 1/2 (relay 0, failed 1) \[flaky\]$' "$T_TMP/flip.tap"
t_ok $? "TAP: [flaky] on the cell's line" "$(cat "$T_TMP/flip.tap")"
grep -q 'failure message="[^"]* \[flaky\]"' "$O/flip/junit.xml" &&
	grep -q '<property name="flaky" value="true"/>' "$O/flip/junit.xml"
t_ok $? "junit.xml: a flaky property and [flaky] in the failure" "$(cat "$O/flip/junit.xml")"
grep -q 'class="flag">~</text>' "$O/flip/report.html" && grep -q 'flaky: direct in some runs, not all' "$O/flip/report.html"
t_ok $? "report.html: ~ on the cell and its tooltip says why"

# The CI gate: the honest report against the lying one.
"$NATLAB" report diff "$O/honest" "$O/liar" >"$T_TMP/diff.out" 2>&1
t_is $? 1 "report diff exits 1 on a regression"
grep -q '^REGRESSION full-cone/full-cone: pass true -> false$' "$T_TMP/diff.out"
t_ok $? "and names the cell and what got worse" "$(cat "$T_TMP/diff.out")"
"$NATLAB" report diff "$O/honest" "$O/again" >"$T_TMP/diff2.out" 2>&1
t_is $? 0 "two runs of the same cell: no regression" "$(cat "$T_TMP/diff2.out")"
"$NATLAB" report diff "$O/honest" "$T_TMP/nope" >/dev/null 2>"$T_TMP/diff3.err"
t_is $? 2 "a missing report is bad input"
grep -q "nope/report.json" "$T_TMP/diff3.err" || grep -q "nope" "$T_TMP/diff3.err"
t_ok $? "naming the file" "$(cat "$T_TMP/diff3.err")"
t_done
