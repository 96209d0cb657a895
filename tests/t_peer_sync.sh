#!/bin/bash
# SPDX-License-Identifier: MIT
# Both peers start probing at the same moment, synchronised by the measured RTT.
# Two port-restricted NATs, 5 ms wires (20 ms RTT direct, 40 ms through the relay);
# times are compared on the shared CLOCK_MONOTONIC (each peer's `started` clock_ms plus
# an event's t_ms).
# 1. Default first round (eager): the listener starts on the offer, the connector on
#    the listener's signed address record (with its SERVER_INFO), before the answer
#    could arrive; both go direct. 1b: with --no-addr-record, the connector starts on
#    the answer or the listener's first probe.
# 2. --first-punch sync: the listener waits one relay leg estimated from both sides'
#    relay RTTs; both start within SYNC_TOL_MS of each other.
# 3. Later rounds (after the direct path dies and while it heals): the connector
#    starts half its measured relay round trip after its offer, the listener on
#    receipt; every such pair of punch events is within SYNC_TOL_MS.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
t_require_root
t_require nft
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
SYNC_TOL_MS=${SYNC_TOL_MS:-5}
LAB=$(t_lab_name ps)
PEER_LAB_LIMIT=90
peer_lab_up peer_sync.lua 3340 || { t_done; exit; }
A=$("$PEER" keygen a.key)

# abs NAME PATTERN: clock_ms + t_ms of the first event matching PATTERN (ms, shared clock).
abs() {
	awk -v pat="$2" -F'"t_ms":' '
		/"event":"started"/ {match($0, /"clock_ms":[0-9.]+/); c = substr($0, RSTART + 11, RLENGTH - 11)}
		$0 ~ pat {split($2, a, ","); printf "%.3f\n", c + a[1]; exit}' "$T_TMP/$1.out"
}
# field NAME PATTERN KEY: KEY's value in the first event matching PATTERN.
field() { grep -m1 -E "$2" "$T_TMP/$1.out" | sed -n "s/.*\"$3\":\(\"[^\"]*\"\|[0-9.]*\).*/\1/p" | tr -d '"'; }
within() { # A B TOL: |A - B| <= TOL, both given
	[ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {d = a - b; if (d < 0) d = -d; exit !(d <= t)}'
}
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a - b}'; }
run_pair() { # TAG ARGS...: a listener on pa1 and a connector on pb1, both pinging
	local tag=$1
	shift
	lab_peer_bg "l$tag" pa1 40 --key "$T_TMP/a.key" --relay "$LAB_SRV:3340" --listen "$@"
	wait_event "l$tag" '"event":"relay_connected"' 5
	lab_peer_bg "c$tag" pb1 40 --relay "$LAB_SRV:3340" --connect "$A" "$@"
}
P1='"event":"punch","attempt":1,'

# --- 1. eager first round ---
run_pair 1 --ping 3
wait_pid "$c1_PID" 20
t_is $? 0 "eager: connector exits 0" "$(show c1 | tail -5)"
wait_pid "$l1_PID" 10
t_is $? 0 "eager: listener exits 0"
t_is "$(count c1 '"kind":"direct"')$(count l1 '"kind":"direct"')" 11 "eager: both go direct"
t_is "$(field l1 "$P1" start)" offer "eager: the listener starts on the offer"
# The listener's signed address record came with the connector's SERVER_INFO: its first
# probe leaves before the listener's answer (sent at the listener's round start, one relay
# leg, 20 ms, away) can have arrived.
t_is "$(field c1 "$P1" start)" record "eager: the connector starts on the listener's address record" "$(events c1 punch)"
tl=$(abs l1 "$P1") tc=$(abs c1 "$P1")
t_ok "$(awk -v l="$tl" -v c="$tc" 'BEGIN {exit !(c != "" && l != "" && c < l + 15)}'; echo $?)" \
	"eager: the connector probes before the answer can arrive: connector - listener = $(diff_ms "$tc" "$tl") ms (< 15; the answer takes 20)"
echo "# eager round 1: listener starts $(diff_ms "$(abs c1 "$P1")" "$(abs l1 "$P1")") ms before the connector"

# --- 1b. eager, without address records: the connector waits for the answer or a probe ---
run_pair 1b --ping 1 --no-addr-record
wait_pid "$c1b_PID" 20
t_is $? 0 "no record: connector exits 0" "$(show c1b | tail -5)"
wait_pid "$l1b_PID" 10
t_ok "$(grep -qE "$P1.*\"start\":\"(answer|probe)\"" c1b.out; echo $?)" \
	"no record: the connector starts on the answer or the listener's first probe" "$(events c1b punch)"

# --- 2. synchronised first round ---
run_pair 2 --ping 3 --first-punch sync
wait_pid "$c2_PID" 20
t_is $? 0 "sync: connector exits 0" "$(show c2 | tail -5)"
wait_pid "$l2_PID" 10
t_is $? 0 "sync: listener exits 0"
t_is "$(count c2 '"kind":"direct"')$(count l2 '"kind":"direct"')" 11 "sync: both go direct"
t_is "$(field l2 "$P1" start)" rtt "sync: the listener starts on its timer" "$(events l2 punch)"
wait_ms=$(field l2 "$P1" delay_ms)
t_ok "$(awk -v d="$wait_ms" 'BEGIN {exit !(d >= 12 && d <= 40)}'; echo $?)" \
	"sync: the listener waits one relay leg (20 ms here): $wait_ms ms"
t_is "$(field c2 "$P1" start)" answer "sync: the connector starts on the answer"
tl=$(abs l2 "$P1") tc=$(abs c2 "$P1")
within "$tl" "$tc" "$SYNC_TOL_MS"
t_ok $? "sync: both start round 1 together: listener - connector = $(diff_ms "$tl" "$tc") ms (tolerance $SYNC_TOL_MS)"

# --- 3. later rounds: the path dies, heals, and is punched again ---
run_pair 3 --ping 200 --ping-interval 50
wait_event c3 '"event":"path","kind":"direct"' 10 && wait_event l3 '"event":"path","kind":"direct"' 5
t_ok $? "rounds: both go direct" "$(show c3 | tail -5)"
timeout 10 "$NATLAB" exec "$LAB" pa -- nft -f - <<'NFT'
table ip natlab_sync_test {
	chain block_udp {
		type filter hook forward priority -10; policy accept;
		meta l4proto udp drop
	}
}
NFT
t_ok $? "UDP through NAT pa dropped"
wait_event c3 '"event":"punch","attempt":3,' 10
t_ok $? "rounds: the connector punches again while the path is down"
timeout 10 "$NATLAB" exec "$LAB" pa -- nft delete table ip natlab_sync_test
t_ok $? "drop removed"
for _ in $(seq 100); do
	[ "$(count c3 '"event":"path","kind":"direct"')" -gt 1 ] && break
	sleep 0.1
done
t_ok "$([ "$(count c3 '"event":"path","kind":"direct"')" -gt 1 ]; echo $?)" \
	"rounds: direct again after the drop is removed" "$(events c3 punch | tail -3)"
pairs=0 bad=""
while read -r line; do
	id=$(sed -n 's/.*"punch_id":\([0-9]*\).*/\1/p' <<<"$line")
	att=$(sed -n 's/.*"attempt":\([0-9]*\).*/\1/p' <<<"$line")
	[ "$att" -ge 2 ] || continue
	pairs=$((pairs + 1))
	start=$(field c3 "\"punch_id\":$id," start)
	lstart=$(field l3 "\"punch_id\":$id," start)
	tc=$(abs c3 "\"punch_id\":$id,") tl=$(abs l3 "\"punch_id\":$id,")
	echo "# round $att: connector start=$start delay $(field c3 "\"punch_id\":$id," delay_ms) ms, listener start=$lstart, listener - connector = $(diff_ms "$tl" "$tc") ms"
	if [ "$start" != rtt ] || [ "$lstart" != offer ] || ! within "$tl" "$tc" "$SYNC_TOL_MS"; then
		bad="$bad round $att"
	fi
done < <(events c3 punch)
t_ok "$([ "$pairs" -ge 2 ]; echo $?)" "rounds: $pairs later rounds seen"
t_is "$bad" "" "rounds: each later round starts on the connector's RTT timer and the listener's receipt, within $SYNC_TOL_MS ms"
kill "$c3_PID" "$l3_PID" 2>/dev/null
wait "$c3_PID" "$l3_PID" 2>/dev/null
t_is "$(cat c1.err l1.err c2.err l2.err c3.err l3.err | grep -cE 'runtime error|Sanitizer')" 0 "no sanitizer reports"
t_done
