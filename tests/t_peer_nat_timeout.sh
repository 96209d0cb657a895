#!/bin/bash
# SPDX-License-Identifier: MIT
# Keepalives hold a direct path open across NATs whose UDP mappings die after 30 s of
# silence (port-restricted, udp_timeout = "30s"), for 90 s: three times the timeout.
# The connector pings once every 30 s only, so only keepalives keep the mappings; each
# ping must still come back over the direct path. Any fallback to the relay must be
# re-punched within 1 s. Midway, the NAT's conntrack entry of the peers' flow is read:
# it exists past the 30 s timeout and never has more than 30 s left.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
t_require_root
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
LAB=$(t_lab_name pt)
PEER_LAB_LIMIT=130
t_up "$LAB" "$SRC/tests/peer_nat_timeout.lua"
t_ok $? "lab up" "$(cat "$T_TMP/up-$LAB.log" 2>/dev/null)"
cd "$T_TMP" || exit 1
for n in pa pb; do
	t_is "$("$NATLAB" exec "$LAB" "$n" -- sysctl -n net.netfilter.nf_conntrack_udp_timeout \
		net.netfilter.nf_conntrack_udp_timeout_stream | tr '\n' ' ')" "30 30 " \
		"NAT $n: conntrack UDP timeouts are 30 s"
done
lab_relay_start srv 3340
t_ok $? "relay up on $LAB_SRV" "$(cat relay.err)"
A=$("$PEER" keygen a.key)
lab_peer_bg l pa1 120 --key "$T_TMP/a.key" --relay "$LAB_SRV:3340" --listen
lab_peer_bg c pb1 120 --relay "$LAB_SRV:3340" --connect "$A" --ping 4 --ping-interval 30000 --hold 5

wait_event c '"event":"path","kind":"direct"' 10 && wait_event l '"event":"path","kind":"direct"' 5
t_ok $? "both peers go direct" "$(show c | tail -5)"
PA=$("$NATLAB" ls "$LAB" | awk '$1 == "pa" {print $NF}')
PB=$("$NATLAB" ls "$LAB" | awk '$1 == "pb" {print $NF}')

# 45 s in (past one whole timeout), the flow between the NATs is still tracked in pa,
# with at most 30 s to live.
sleep 45
ct=$("$NATLAB" exec "$LAB" pa -- cat /proc/net/nf_conntrack | grep -E "^ipv4 +2 +udp .* dst=$PB " | grep -v 'dport=3478 ')
ttl=$(awk '{print $5}' <<<"$ct" | sort -n | tail -1)
t_ok "$([ -n "$ttl" ] && [ "$ttl" -le 30 ] && [ "$ttl" -ge 25 ]; echo $?)" \
	"45 s in, NAT pa still tracks the direct flow to $PB, ${ttl:-no} s left (<= 30)" "$ct"

wait_pid "$c_PID" 70
t_is $? 0 "connector exits 0 after 90 s" "$(show c | tail -5)"
wait_pid "$l_PID" 10
t_is $? 0 "listener exits 0"
t_is "$(count c '"event":"rtt".*"source":"ping"')" 4 "all 4 pings, 30 s apart, answered"
t_is "$(count c '"event":"rtt".*"path":"direct","source":"ping","seq":[123]\b')" 3 \
	"the pings at 30, 60 and 90 s came back over the direct path"
span=$(awk -F'"t_ms":' '/"kind":"direct"/ && d == "" {split($2, a, ","); d = a[1]}
	/"event":"exit"/ {split($2, a, ","); e = a[1]} END {printf "%d", (e - d) / 1000}' c.out)
t_ok "$([ "$span" -ge 90 ]; echo $?)" "the session lasted ${span} s after going direct (>= 90)"
# Every relay path event after the first direct one is followed by a direct one < 1 s later.
for who in c l; do
	worst=$(awk -F'"t_ms":' '
		/"event":"path"/ {split($2, a, ","); t = a[1]}
		/"event":"path","kind":"direct"/ {if (down != "") {g = t - down; if (g > w) w = g; down = ""} seen = 1}
		/"event":"path","kind":"relay"/ && seen {if (down == "") down = t; n++}
		/"event":"exit"/ {split($2, a, ","); if (down != "") {g = a[1] - down; if (g > w) w = g}}
		END {printf "%d %d", n, w}' "$who.out")
	read -r falls gap <<<"$worst"
	t_ok "$([ "$gap" -le 1000 ]; echo $?)" "$who: $falls fallbacks after going direct; longest time on the relay ${gap} ms (<= 1000)"
done
t_is "$(cat c.err l.err | grep -cE 'runtime error|Sanitizer')" 0 "no sanitizer reports"
t_done
