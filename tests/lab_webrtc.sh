#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A third-party stack across the whole matrix (docs/adapters.md, Results): a WebRTC data
# channel (libwebrtc through Node's @roamhq/wrtc, coturn as its STUN and TURN server),
# brought in as docs/ci-example.md brings in a stack of one's own (adapters/mystack.lua in
# a library directory named by NATLAB_LIB), run as two shards and merged. Every cell must
# reach what the adapter's expectation table says, the wire must agree with ICE's
# selected pair in every cell, the RTTs must be those of the path taken, and report diff
# must pass the report against itself and fail it against a last report where a cell did
# better; without its npm module it fails saying how to install it. Two cells at a time:
# about 55 s on an idle 2-core machine, 115 s beside four busy loops.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
t_require node
t_require turnserver
modules=${NATLAB_WEBRTC_MODULES:-/opt/natlab-webrtc}
NODE_PATH=$modules/node_modules node -e 'require("@roamhq/wrtc")' 2>/dev/null ||
	t_skip_all "@roamhq/wrtc does not load from $modules/node_modules (scripts/install-deps.sh installs it)"
cd "$T_TMP" || exit 1

# docs/ci-example.md's layout: the stack's adapter in ci/natlab-lib/adapters, natlab's
# library linked beside it. This stack is the shipped webrtc adapter under a new name.
mkdir -p ci/natlab-lib/adapters lib/adapters
cat >ci/natlab-lib/adapters/mystack.lua <<'LUA'
local p2p = require("p2p")
require("adapters")
local ad = {}
for k, v in pairs(p2p.adapters.webrtc) do ad[k] = v end
ad.name = "mystack"
return ad
LUA
ln -sf "$SRC"/scenarios/lib/*.lua lib/ && ln -sf "$SRC"/scenarios/lib/adapters/* lib/adapters/ &&
	cp ci/natlab-lib/adapters/* lib/adapters/
t_ok $? "a library directory as docs/ci-example.md makes one"

for s in 1 2; do
	NATLAB_LIB=$T_TMP/lib "$NATLAB" run "$SRC/scenarios/matrix.lua" --param adapter=mystack \
		--param webrtc_modules="$modules" --shard "$s/2" --jobs 2 --pcap none --out "out/shard$s" \
		>"shard$s.tap" 2>"shard$s.err"
	t_ok $? "shard $s/2: every cell as the adapter's table expects" \
		"$(grep -v '^ok' "shard$s.tap"; tail -5 "shard$s.err")"
done
(cd out && "$NATLAB" report merge shard1 shard2 --out . >/dev/null 2>../merge.err)
t_ok $? "report merge joins the shards" "$(cat merge.err)"
R=out/report.json

t_is "$(jq -c .summary "$R")" '{"cells":38,"passed":38,"failed":0,"direct_rate":0.6052631578947368}' \
	"38 cells, all as expected, 23 direct"
t_is "$(jq -c '[.cells[] | select(.outcome == "relay") | .name] | sort' "$R")" \
	'["cgnat/symmetric-sequential","cgnat/udp-blocked","full-cone/udp-blocked","none/udp-blocked","port-restricted-cone/symmetric","port-restricted-cone/symmetric-sequential","port-restricted-cone/udp-blocked","restricted-cone/udp-blocked","symmetric-sequential/symmetric-sequential","symmetric/cgnat","symmetric/symmetric","symmetric/symmetric-sequential","symmetric/udp-blocked","udp-blocked/symmetric-sequential","udp-blocked/udp-blocked"]' \
	"through TURN exactly in the table's 15 cells"
t_is "$(jq -c '[.cells[] | select(.wire.runs != .runs or .wire.disagree != 0 or .wire.direct != .direct
	or .wire.relayed != .relay) | .name]' "$R")" '[]' \
	"the wire (nftables counters on the NAT boxes) agrees with ICE's selected pair in every cell"
t_is "$(jq -c '[.cells[] | select(.direct > 0 and (.time_to_direct_ms == null or .wire.switch_ms == null)) | .name]' "$R")" \
	'[]' "every direct cell has a time to direct and a switch seen on the wire"
# Lower bounds only, which load cannot break: 5 ms wires make 20 ms between two internet
# attachments, and the relay doubles it; two hosts behind one NAT or one CGN (its
# hairpin) meet without crossing a delayed wire.
t_is "$(jq -c '[.cells[] | select(.direct > 0 and (.name | startswith("same-") | not)
	and .rtt_direct_ms.p50 < 19) | .name]' "$R")" '[]' "direct RTTs are the 20 ms path's"
t_is "$(jq -c '[.cells[] | select(.relay > 0 and .rtt_relay_ms.p50 < 38) | .name]' "$R")" \
	'[]' "relayed RTTs are two legs' (TURN on the relay host)"
t_is "$(jq -c '[.cells[] | select(.name | startswith("same-")) | .rtt_direct_ms.p50 < 10]' "$R")" \
	"[true,true]" "same-nat and same-cgn: direct without crossing the internet"
t_is "$(grep -c '<testcase' out/junit.xml),$(grep -c '<failure' out/junit.xml)" "38,0" \
	"junit.xml: 38 testcases, none failed"
t_is "$(jq -r '.cells[] | select(.name == "symmetric/symmetric") | .reproduce' "$R")" \
	"natlab run '$SRC/scenarios/matrix.lua' '--filter' 'symmetric/symmetric' '--seed' '1' '--param' 'adapter=mystack' '--param' 'webrtc_modules=$modules'" \
	"a cell's reproduce command names the adapter"

# The gate: the report against itself, then against a last report where
# symmetric/symmetric went direct.
"$NATLAB" report diff out out >diff0.out 2>&1
t_ok $? "report diff: no regression against itself" "$(cat diff0.out)"
mkdir -p last
jq '(.cells[] | select(.name == "symmetric/symmetric")) |= (.outcome = "direct" | .direct = 1
	| .relay = 0 | .direct_rate = 1)' "$R" >last/report.json
"$NATLAB" report diff last out >diff1.out 2>&1
t_is $? 1 "report diff fails the pipeline when a cell got worse"
grep -q '^REGRESSION symmetric/symmetric: outcome direct -> relay$' diff1.out
t_ok $? "and names the cell and what got worse" "$(cat diff1.out)"

# Without its module, the stack says how to install it, and the cell fails naming the log.
"$NATLAB" run "$SRC/scenarios/matrix.lua" --param adapter=webrtc --param webrtc_modules="$T_TMP/none" \
	--filter 'none/none' --out out/nomod --pcap none >nomod.tap 2>&1
t_is $? 1 "webrtc without @roamhq/wrtc fails its cell"
t_is "$(jq -r '.cells[0].reached' out/nomod/report.json)" \
	"listener exited with status 3 before it was ready; see logs/hb-webrtc-listen.log" "naming the side and its log"
grep -q 'does not load from NODE_PATH .*: run scripts/install-deps.sh' out/nomod/cells/none_none/logs/hb-webrtc-listen.log
t_ok $? "which says how to install it" "$(cat out/nomod/cells/none_none/logs/hb-webrtc-listen.log)"
t_done
