#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `natlab probe` measures TCP beside UDP: every profile (and a CPE under a CGN) measures
# as declared for both, TCP field by field against the profile table (mapping,
# filtering, port preservation); the web-only firewall lets the probe's TCP through on
# web ports and blocks it elsewhere; every probe ends in bounded time; bad ports are
# refused with a message.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq

cat >"$T_TMP/tcp.lua" <<'LUA'
local lab = natlab.lab{}
local inet = lab:internet{}
lab:host{ name = "srv", net = inet, addrs = 2 }
local nats = {}
for _, pn in ipairs{ { "none", "pub" }, { "full-cone", "full" }, { "restricted-cone", "rest" },
	{ "port-restricted-cone", "prc" }, { "symmetric", "sym" }, { "cgnat", "cgn" },
	{ "udp-blocked", "blk" } } do
	nats[pn[2]] = lab:nat{ name = pn[2], net = inet, profile = pn[1] }
	lab:host{ name = "h" .. pn[2], net = nats[pn[2]] }
end
local cpe = lab:nat{ name = "cpe", net = nats.cgn, profile = "port-restricted-cone" }
lab:host{ name = "hcpe", net = cpe }
lab:up()
LUA
L=$(t_lab_name p)
t_up "$L" "$T_TMP/tcp.lua"
t_ok $? "lab is up" "$(cat "$T_TMP/up-$L.log")"

EIM=endpoint-independent EIF=endpoint-independent
ADF=address-dependent APD=address-and-port-dependent
# host: TCP status, mapping, filtering, port preserved, nat, mapped port in the CGN's
# block for this subscriber (what the profiles declare)
declare -A WANT=(
	[hpub]="ok $EIM $EIF true false null"
	[hfull]="ok $EIM $EIF true true null"
	[hrest]="ok $EIM $ADF true true null"
	[hprc]="ok $EIM $APD true true null"
	[hsym]="ok $APD $APD false true null"
	[hcgn]="ok $EIM $APD false true true"
	[hblk]="ok $EIM $APD true true null"
	[hcpe]="ok $EIM $APD false true true"
)
for h in hpub hfull hrest hprc hsym hcgn hblk hcpe; do
	start=$(date +%s%N)
	"$NATLAB" probe "$L" "$h" >"$T_TMP/$h.json" 2>"$T_TMP/$h.err"
	rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	t_ok $(( ms > 10000 )) "$h: probed in bounded time ($ms ms)"
	t_is "$(jq -r '.tcp | "\(.status) \(.mapping) \(.filtering) \(.port_preserved) \(.nat) \(.port_in_block)"' "$T_TMP/$h.json")" \
		"${WANT[$h]}" "$h: TCP measured as the profile declares" 
	t_is "$(jq -c '[.udp_match, .tcp.match, .match]' "$T_TMP/$h.json")" '[true,true,true]' \
		"$h: UDP and TCP match the declaration" "$(cat "$T_TMP/$h.err")"
	t_is "$rc" 0 "$h: exit 0"
done
t_is "$(jq -c '[.declared.port_block, .declared.tcp.port_preserved, .declared.tcp.port_in_block]' "$T_TMP/hcpe.json")" \
	'[[3072,5119],false,true]' "hcpe: cpe is the CGN's second subscriber: its block, for TCP too"
t_is "$(jq -c '.declared.port_block' "$T_TMP/hcgn.json")" '[1024,3071]' "hcgn: the first subscriber's block"
t_is "$(jq -r '.udp' "$T_TMP/hblk.json")" blocked "hblk: UDP blocked beside TCP measured"

"$NATLAB" probe "$L" hblk --tcp-ports 0 >"$T_TMP/blk0.json" 2>&1
t_is "$?" 0 "hblk, kernel-picked TCP ports: exit 0"
t_is "$(jq -c '[.tcp.status, .declared.tcp.status, .tcp.match]' "$T_TMP/blk0.json")" \
	'["blocked","blocked",true]' "hblk: TCP to ports other than 80 and 443 is blocked, as declared"

"$NATLAB" probe "$L" hprc --tcp-ports 80 >"$T_TMP/bad" 2>&1
t_is "$?" 1 "--tcp-ports with one port is refused"
t_ok "$(grep -q -- '--tcp-ports wants two different ports' "$T_TMP/bad"; echo $?)" \
	"the message says what --tcp-ports wants" "$(cat "$T_TMP/bad")"
# A port the responder cannot have: a listener of our own on the server's first address.
SRV=$("$NATLAB" ls "$L" --json | jq -r '.nodes[] | select(.name == "srv") | .addrs[0]')
"$NATLAB" exec "$L" srv -- python3 -c "
import socket, time
s = socket.socket(); s.bind(('$SRV', 8443)); s.listen(); time.sleep(5)" &
T_PIDS+=($!)
sleep 0.5
"$NATLAB" probe "$L" hprc --tcp-ports 8443,8080 >"$T_TMP/busy" 2>&1
t_is "$?" 1 "a TCP port in use on the server fails the probe"
t_ok "$(grep -q 'TCP responder on "srv" could not bind ports 8443 and 8080' "$T_TMP/busy"; echo $?)" \
	"the message names the responder, the server and the ports" "$(cat "$T_TMP/busy")"
t_done
