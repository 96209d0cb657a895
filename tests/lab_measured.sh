#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# report.json's nats[].measured: what `natlab probe` measured through each NAT during
# the run (UDP and TCP), next to what the NAT declares (every knob as built, the
# scenario's overrides named; also in `natlab ls`). A scenario probes a
# port-restricted NAT and a CPE under a CGN (require("natprobe")); the report holds both
# measurements (the CPE's with the path of both NATs), and null for the NAT nobody probed.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq

cat >"$T_TMP/measured.lua" <<'LUA'
local natprobe = require("natprobe")
local lab = natlab.lab{ name = "measured" }
local inet = lab:internet{}
lab:host{ name = "srv", net = inet, addrs = 2 }
local home = lab:nat{ name = "home", net = inet, profile = "port-restricted-cone" }
local isp = lab:nat{ name = "isp", net = inet, profile = "cgnat", udp_timeout = "200s" }
local cpe = lab:nat{ name = "cpe", net = isp, profile = "port-restricted-cone" }
lab:nat{ name = "idle", net = inet, profile = "symmetric" }
local alice = lab:host{ name = "alice", net = home }
local bob = lab:host{ name = "bob", net = cpe }
lab:up()
local a = assert(natprobe.path(lab, alice))
expect(a.udp_match, "home measures as declared for UDP")
expect(a.tcp.match, "home measures as declared for TCP")
local b = assert(natprobe.path(lab, bob))
expect(b.udp_match, "the path through cpe and isp measures as declared for UDP")
expect(b.tcp.match, "the path through cpe and isp measures as declared for TCP")
LUA
"$NATLAB" run "$T_TMP/measured.lua" --out "$T_TMP/out" >"$T_TMP/run.out" 2>"$T_TMP/run.err"
t_is $? 0 "the scenario runs and both paths measure as declared" "$(cat "$T_TMP/run.out" "$T_TMP/run.err")"
R=$T_TMP/out/report.json
nat() { jq -c --arg n "$1" ".nats[] | select(.name == \$n) | $2" "$R"; }
t_is "$(nat home '.measured | [.mapping, .filtering, .hairpin, .udp_match]')" \
	'["endpoint-independent","address-and-port-dependent",true,true]' "home: measured mapping, filtering, hairpin"
t_is "$(nat home '[.declared.mapping, .declared.filtering]')" \
	'["endpoint-independent","address-and-port-dependent"]' "home: declared beside it"
t_is "$(nat home '.measured.host')" '"alice"' "home: measured from alice"
t_is "$(nat cpe '.measured.path | map(.name)')" '["cpe","isp"]' "cpe: the path names both NATs"
t_is "$(nat cpe '.measured | [.mapping, .filtering, .udp_match]')" \
	'["endpoint-independent","address-and-port-dependent",true]' "cpe: measured through the CGN (UDP)"
t_is "$(nat home '.measured.tcp | [.status, .mapping, .filtering, .port_preserved, .match]')" \
	'["ok","endpoint-independent","address-and-port-dependent",true,true]' "home: TCP measured beside UDP"
t_is "$(nat home '.measured.declared.tcp | [.mapping, .filtering, .port_preserved]')" \
	'["endpoint-independent","address-and-port-dependent",true]' "home: TCP declared beside it"
t_is "$(nat cpe '.measured.tcp | [.mapping, .filtering, .port_preserved, .match]')" \
	'["endpoint-independent","address-and-port-dependent",false,true]' \
	"cpe: TCP measured through the CGN (ports from its blocks)"
t_is "$(nat isp '.declared | [.udp_timeout, .port_block, .overrides]')" '[200,2048,["udp_timeout"]]' \
	"isp: declared with every knob as built, the scenario's override named"
t_is "$(nat idle '.declared.overrides')" '[]' "idle: the profile's preset, nothing overridden"
t_is "$(nat cpe '.measured.path | map(.knobs.udp_timeout)')" '[120,200]' \
	"cpe: the measured path carries each NAT's knobs as built"
H=$T_TMP/out/report.html
t_ok "$(grep -q '<b>udp_timeout=200s\*</b>' "$H"; echo $?)" "report.html: every knob, the override marked"
t_ok "$(grep -q 'measured through cpe under isp' "$H"; echo $?)" "report.html: the measured path names its NATs"
t_is "$(nat idle '.measured')" null "idle: not probed, measured null"
t_is "$(nat isp '.measured')" null "isp: not probed on its own, measured null"
t_ok "$(ls "$T_TMP/out/logs" | grep -q '^alice-probe-alice'; echo $?)" "the probe's output is in logs/"

# The CLI on a lab that is up keeps its measurement with the lab until down.
LAB=$(t_lab_name m)
sed '/natprobe\|expect(/d' "$T_TMP/measured.lua" >"$T_TMP/up.lua"
t_up "$LAB" "$T_TMP/up.lua"
t_ok $? "lab up (natlab up)"
t_ok "$("$NATLAB" ls "$LAB" | grep -q '^isp .* udp_timeout=200s\* '; echo $?)" \
	"natlab ls: every knob of the CGN as built, the scenario's override marked"
t_is "$("$NATLAB" ls "$LAB" --json | jq -c '.nodes[] | select(.name == "isp") | .knobs.overrides')" \
	'["udp_timeout"]' "natlab ls --json: the overrides"
"$NATLAB" probe "$LAB" alice --port 0 >/dev/null 2>&1
t_is $? 0 "natlab probe on the lab that is up"
t_ok "$([ -s "/run/natlab/$LAB/measured-home.json" ]; echo $?)" "the measurement is kept with the lab"
"$NATLAB" down "$LAB" >/dev/null 2>&1
t_ok "$([ ! -e "/run/natlab/$LAB" ]; echo $?)" "down removes it with the lab's state"
t_done
