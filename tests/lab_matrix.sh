#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The NAT matrix (scenarios/matrix.lua): run as two shards and merged, every cell must
# match DESIGN.md's table and the wire's verdict must agree with the peer's; --repeat gives counts and a Wilson interval; a cell whose
# expectation is wrong fails, says how far it got and keeps its logs and captures.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
O=$T_TMP/m

for s in 1 2; do
	"$NATLAB" run "$SRC/scenarios/matrix.lua" --jobs 2 --shard "$s/2" --out "$O/shard$s" \
		>"$T_TMP/shard$s.tap" 2>"$T_TMP/shard$s.err"
	t_ok $? "shard $s/2 runs and every cell in it is as expected" "$(grep -v '^ok' "$T_TMP/shard$s.tap")"
done
t_is "$(( $(jq '.cells | length' "$O/shard1/report.json") + $(jq '.cells | length' "$O/shard2/report.json") ))" 38 \
	"the shards split the 38 cells"
(cd "$O" && "$NATLAB" report merge shard1 shard2 --out . >/dev/null 2>"$T_TMP/merge.err")
t_ok $? "report merge joins the shards" "$(cat "$T_TMP/merge.err")"
t_is "$(jq -c .summary "$O/report.json")" '{"cells":38,"passed":38,"failed":0,"direct_rate":0.7368421052631579}' \
	"merged summary: 38 cells, all as expected, 28 of 38 direct"
t_is "$(jq -r '[.cells[] | select(.expected != .outcome)] | length' "$O/report.json")" 0 \
	"every cell's outcome is DESIGN.md's"
t_is "$(jq -c '[.nats[] | [.profile, .measurements == .as_declared and .measurements > 0]] | sort' "$O/report.json")" \
	'[["full-cone",true],["none",true],["port-restricted-cone",true],["port-restricted-cone under cgnat",true],["restricted-cone",true],["symmetric",true],["symmetric-sequential",true],["udp-blocked",true]]' \
	"merged nats[]: every profile measured (RFC 5780, in its diagonal cell) as declared"
t_is "$(jq -c '[.cells[] | select(.wire.runs != .runs or .wire.disagree != 0 or .wire.direct != .direct
	or .wire.relayed != .relay) | .name]' "$O/report.json")" '[]' \
	"the wire's verdict (nftables counters on the NAT boxes) agrees with natlab-peer in every cell"
t_is "$(jq -c '[.cells[] | select(.direct > 0 and .wire.switch_ms == null) | .name]' "$O/report.json")" '[]' \
	"every direct cell has a switch time seen on the wire"
t_is "$(jq -c '[.cells[] | .seeds == [1] and (.reproduce | test("--seed. .1.$"))] | unique' "$O/report.json")" '[true]' \
	"every cell states the seed it ran with and the command that reproduces it"
t_is "$(jq .seed "$O/report.json")" 1 "the report states the seed the cells' labs used (matrix.lua's)"
t_is "$(jq -r '.nats[] | select(.profile == "symmetric") | .measured.mapping' "$O/report.json")" \
	address-and-port-dependent "symmetric: measured mapping in the report"
t_is "$(jq -r '.cells[] | select(.name == "same-cgn") | .outcome' "$O/report.json")" direct \
	"two peers behind one CGN connect directly"
# The fastest sample: a busy machine only ever adds time (the suite under load put the
# p50 at 43 ms), so the minimum is the one that shows the path's own round trip.
rtt=$(jq -r '.cells[] | select(.name == "full-cone/full-cone") | .rtt_direct_ms.samples | min | floor' "$O/report.json")
p50=$(jq -r '.cells[] | select(.name == "full-cone/full-cone") | .rtt_direct_ms.p50 | floor' "$O/report.json")
[ "$rtt" -ge 20 ] && [ "$rtt" -lt 30 ]
t_ok $? "direct RTT is the 20 ms internet RTT (fastest $rtt ms, p50 $p50 ms)"
t_is "$(grep -c '<testcase' "$O/junit.xml")" 38 "junit.xml: one testcase per cell"
[ -s "$O/report.html" ]
t_ok $? "report.html is written"

"$NATLAB" run "$SRC/scenarios/matrix.lua" --repeat 3 --filter 'full-cone/full-cone' --out "$O/rep" \
	>"$T_TMP/rep.tap" 2>/dev/null
t_ok $? "--repeat 3 of one cell"
t_is "$(jq -c '.cells[0] | [.runs, .direct, (.direct_rate_ci95[0] * 100 | floor), .direct_rate_ci95[1]]' "$O/rep/report.json")" \
	"[3,3,43,1]" "3 runs, 3 direct, 95% Wilson interval [0.43, 1]"

# A matrix whose expectation is wrong: the cell fails and keeps what explains it.
sed 's/expected = words\[hard_off and f or h\] }/expected = (profiles[i] == "full-cone" and profiles[j] == "full-cone") and "relay" or words[hard_off and f or h] }/' \
	"$SRC/scenarios/matrix.lua" >"$T_TMP/wrong.lua"
NATLAB_LIB=$SRC/scenarios/lib "$NATLAB" run "$T_TMP/wrong.lua" --filter 'full-cone/full-cone' --out "$O/wrong" \
	>"$T_TMP/wrong.tap" 2>/dev/null
t_is $? 1 "a cell that does not match its expectation fails the run"
grep -q "^not ok 1 - full-cone/full-cone: expected relay" "$T_TMP/wrong.tap"
t_ok $? "with a TAP not ok" "$(cat "$T_TMP/wrong.tap")"
t_is "$(jq -r '.cells[0] | [.pass, .outcome, (.reached != null)] | @csv' "$O/wrong/report.json")" \
	'false,"direct",true' "the report says what happened and how far the peer got"
ls "$O/wrong/cells/full-cone_full-cone/pcap/"*.pcap >/dev/null 2>&1
t_ok $? "the failed cell keeps its captures"
ls "$O/wrong/cells/full-cone_full-cone/logs/"*peer*.log >/dev/null 2>&1
t_ok $? "and its peers' logs"
grep -q 'failures="1"' "$O/wrong/junit.xml"
t_ok $? "junit.xml counts the failure"
t_done
