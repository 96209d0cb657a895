#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# NAT state: at a failed expectation and at the end of a run, <out>/nat/ holds what every
# NAT box had: conntrack with original and translated tuples (a CGN's mapping of the
# subscriber's endpoint into its port block, the home router's under it), each rule with
# the packets it matched (an unsolicited packet attributed to the rule that dropped it),
# the learned maps; report.html links them; `natlab ls NAME NAT --mappings` shows the
# same live on a kept lab.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
t_require socat
cd "$T_TMP" || exit 1

L=$(t_lab_name m)
T_LABS+=("$L")
cat >cgn.lua <<EOF
local lab = natlab.lab{ name = "$L" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local isp = lab:nat{ name = "isp", net = inet, profile = "cgnat" }
local cpe = lab:nat{ name = "cpe", net = isp, profile = "port-restricted-cone" }
local bob = lab:host{ name = "bob", net = cpe }
local home = lab:nat{ name = "home", net = inet, profile = "port-restricted-cone" }
lab:up()
local l = srv:spawn{ "socat", "-u", "UDP-RECV:5000", "STDOUT" }
natlab.sleep(0.2)
local p = bob:spawn{ "sh", "-c", "echo hi | socat -u - UDP:" .. srv.addr .. ":5000,sourceport=40000" }
expect_eq(p:wait{ timeout = "5s" }, 0, "bob sends")
expect(l:wait_line{ match = "hi", timeout = "3s" }, "srv gets it")
local u = srv:spawn{ "sh", "-c", "echo unsolicited | socat -u - UDP:" .. home.addr .. ":7777" }
expect_eq(u:wait{ timeout = "5s" }, 0, "srv sends to home unasked")
natlab.sleep(0.1)
expect(false, "stops here")
EOF
"$NATLAB" run cgn.lua --out o --keep-on-failure >o.tap 2>o.err
t_is $? 1 "the run fails at its last expectation"
f=o/nat/fail-4.json
t_ok $([ -s "$f" ] && [ -s o/nat/fail-4.txt ]; echo $?) "the failed expectation left nat/fail-4.json and .txt" "$(ls o/nat 2>&1)"
t_is "$(jq -r .reason "$f")" "expectation 4 failed: stops here at cgn.lua:17" "with the reason"
cpe_wan=$("$NATLAB" ls "$L" --json | jq -r '.nodes[] | select(.name=="cpe") | .addrs[0]')
isp_wan=$("$NATLAB" ls "$L" --json | jq -r '.nodes[] | select(.name=="isp") | .addrs[0]')
bob=$("$NATLAB" ls "$L" --json | jq -r '.nodes[] | select(.name=="bob") | .addrs[0]')
ct='.nats.isp.conntrack[] | select(.proto=="udp" and .original.dst=="198.18.0.2:5000")'
t_is "$(jq -r "$ct | .original.src" "$f")" "$cpe_wan:40000" "CGN conntrack: the original tuple is the subscriber's ($cpe_wan:40000)"
ext=$(jq -r "$ct | .reply.dst" "$f")
port=${ext##*:}
t_is "${ext%:*}" "$isp_wan" "the reply tuple holds the CGN's external address"
t_ok $(( port >= 1024 && port <= 3071 ? 0 : 1 )) "and a port of the subscriber's block 1024-3071 (got $port)"
t_is "$(jq -r "$ct | .mapped" "$f")" "$cpe_wan:40000 -> $ext" "mapped: inside -> outside"
t_is "$(jq -r '.nats.cpe.conntrack[] | select(.proto=="udp") | .mapped' "$f")" "$bob:40000 -> $cpe_wan:40000" \
	"the home router under it: bob's endpoint mapped (port kept) into the CGN's space"
t_is "$(jq -r '.nats.isp.sets.eim_udp[0]' "$f" | sed 's/ expires [^ ]*//')" "$cpe_wan . 40000 : $isp_wan . $port" \
	"the CGN's learned EIM map holds the same mapping"
drop='.nats.home.rules[] | select(.chain=="input" and (.rule | test("udp ct state new drop"))) | .packets'
t_is "$(jq -r "$drop" "$f")" 1 "the unsolicited packet is counted on the rule that dropped it"
t_is "$(jq -r '[.nats.home.rules[] | select(.rule == "comment \"policy drop\"")] | length' "$f")" 1 \
	"the forward chain's policy has a counter of its own"
grep -q "mapped $cpe_wan:40000 -> $ext" o/nat/fail-4.txt
t_ok $? "the .txt says the same to a person"
t_is "$(jq -r .reason o/nat/end.json)" "the end of the run (failed)" "the end of the run has a snapshot too"
grep -q 'href="./nat/fail-4.txt"' o/report.html && grep -q 'href="./nat/end.json"' o/report.html
t_ok $? "report.html links the snapshots"

# Live, on the kept lab.
out=$("$NATLAB" ls "$L" isp --mappings)
t_ok $? "natlab ls NAME NAT --mappings"
echo "$out" | grep -q "mapped $cpe_wan:40000 -> $ext"
t_ok $? "shows the CGN's mapping live" "$out"
t_is "$("$NATLAB" ls "$L" isp --mappings --json | jq -r '.conntrack[] | select(.proto=="udp") | .reply.dst')" "$ext" \
	"and as JSON"
out=$("$NATLAB" ls "$L" bob --mappings 2>&1)
t_is $? 1 "--mappings of a host fails"
echo "$out" | grep -q '"bob" in lab ".*" is a host, not a NAT'
t_ok $? "saying it is not a NAT" "$out"
"$NATLAB" down "$L" >/dev/null 2>&1
t_done
