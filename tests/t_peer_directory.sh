#!/bin/bash
# SPDX-License-Identifier: MIT
# Home relays and relay discovery by RTT in a lab (docs/relay.md, "Relay directory"):
# a peer given --relay r4,r3,r2,r1 takes r1 (the nearest) as its home. Four relays enroll
# with a directory; they sit 1, 8, 20 and 35 ms (one way) away. Two peers given only
# --directory hold the three nearest (r1, r2, r3), take r1 as their home relay and meet
# through it (--relay-only). When r1 stops, the directory takes it off its list; the
# peers drop it, take r4 to hold three again, choose r2 as their new home, and their
# path moves off r1 while pings go on. Then scenarios/relay_directory.lua runs.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
t_require_root
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
LAB=$(t_lab_name pd)
t_up "$LAB" "$SRC/tests/peer_directory.lua"
t_ok $? "lab up" "$(cat "$T_TMP/up-$LAB.log" 2>/dev/null)"
cd "$T_TMP" || exit 1
addr() { "$NATLAB" ls "$LAB" | awk -v h="$1" '$1 == h {print $NF}'; }
DIRA=$(addr dir)
mkdir -p state
timeout 60 "$NATLAB" exec "$LAB" dir -- "$RELAY" directory --listen "$DIRA:8000" --state "$T_TMP/state" \
	--poll 200 >dir.out 2>dir.err &
T_PIDS+=("$!")
for _ in $(seq 100); do grep -q '"ready"' dir.out && break; sleep 0.05; done
t_ok "$(grep -q '"ready"' dir.out; echo $?)" "directory up on $DIRA:8000" "$(cat dir.err)"
declare -A RA RPID
for r in r1 r2 r3 r4; do
	RA[$r]=$(addr $r)
	tok=$("$RELAY" directory-token --state state)
	timeout 60 "$NATLAB" exec "$LAB" $r -- "$RELAY" --listen "${RA[$r]}:3340" --stun "${RA[$r]}:3478" \
		--metrics "${RA[$r]}:9090" --no-auth --drain 200 --directory "$DIRA:8000" \
		--enroll-token "$tok" --enroll-state "$T_TMP/$r.json" >$r.out 2>$r.err &
	RPID[$r]=$!
	T_PIDS+=("$!")
done
for r in r1 r2 r3 r4; do
	for _ in $(seq 100); do grep -q '"ready"' $r.out && break; sleep 0.05; done
done
t_is "$(cat r1.out r2.out r3.out r4.out | grep -c '"event":"enrolled"')" 4 "four relays enrolled" "$(cat r*.err)"
for _ in $(seq 40); do [ "$(grep -c '"healthy":true' dir.out)" -ge 4 ] && break; sleep 0.05; done

# --relay in reverse order of distance: the home is still the nearest, not the first.
lab_peer_bg o fa1 10 --relay "${RA[r4]}:3340,${RA[r3]}:3340,${RA[r2]}:3340,${RA[r1]}:3340" --listen --relay-only
sleep 2.5
kill "$o_PID" 2>/dev/null
home=$(grep '"event":"home_relay"' o.out | tail -1 | sed -n 's/.*"relay":"\([^"]*\)".*/\1/p')
t_is "$home" "${RA[r1]}:3340" "--relay r4,r3,r2,r1: the home relay is r1, the nearest, not the first" "$(events o home_relay)"
t_ok "$(grep '"event":"home_relay"' o.out | tail -1 | grep -q "\"addrs\":\[\"relay://${RA[r1]}:3340/[0-9a-f]*\",\"relay://${RA[r4]}:3340/"; echo $?)" \
	"its addrs: the home first, then the others in list order"

A=$("$PEER" keygen a.key)
dopts=(--directory "$DIRA:8000" --directory-poll 300 --relay-only)
lab_peer_bg l fa1 40 --key "$T_TMP/a.key" "${dopts[@]}" --listen
sleep 2.5 # the listener settles on its home (keepalive RTT samples every second)
lab_peer_bg c fb1 40 "${dopts[@]}" --connect "$A" --ping 400 --ping-interval 25
wait_event c '"event":"path","kind":"relay"' 10
t_ok $? "the peers meet through a directory relay" "$(show c | grep -v rtt)"
sleep 2.5
for side in l c; do
	held=$(grep '"event":"relay_connected".*"source":"directory"' $side.out | sed -n 's/.*"relay":"\([^"]*\)".*/\1/p' | sort | tr '\n' ' ')
	want=$(printf '%s\n' "${RA[r1]}:3340" "${RA[r2]}:3340" "${RA[r3]}:3340" | sort | tr '\n' ' ')
	t_is "$held" "$want" "$side: holds the three nearest relays (r1, r2, r3), not r4"
	home=$(grep '"event":"home_relay"' $side.out | tail -1 | sed -n 's/.*"relay":"\([^"]*\)".*/\1/p')
	t_is "$home" "${RA[r1]}:3340" "$side: its home relay is the nearest, r1" "$(events $side home_relay | tail -2)"
done
t_ok "$(grep '"event":"home_relay"' l.out | tail -1 | grep -q "\"addr\":\"relay://${RA[r1]}:3340/$A\""; echo $?)" \
	"listener's relay address names r1"
t_ok "$(grep '"event":"path"' c.out | tail -1 | grep -q "\"remote\":\"${RA[r1]}:3340\""; echo $?)" \
	"connector's path is through r1" "$(events c path)"

# --- r1 stops: the directory drops it, the peers move ---
cut_c=$(wc -l <c.out) cut_l=$(wc -l <l.out)
kill "${RPID[r1]}"
for _ in $(seq 80); do
	tail -n +"$((cut_c + 1))" c.out | grep -q '"event":"relay_connected".*"source":"directory"' &&
		tail -n +"$((cut_l + 1))" l.out | grep -q '"event":"relay_connected".*"source":"directory"' && break
	sleep 0.05
done
t_ok "$(grep -q "\"relay\":\"${RA[r1]}:3340\",\"healthy\":false" dir.out; echo $?)" "the directory marks r1 unhealthy" "$(cat dir.out)"
sleep 2.5 # new homes settle on keepalive samples
for side in l c; do
	cut_var=cut_$side
	after=$(tail -n +"$((${!cut_var} + 1))" $side.out)
	t_ok "$(grep -q "\"event\":\"relay_dropped\",\"relay\":\"${RA[r1]}:3340\"" <<<"$after"; echo $?)" "$side: drops r1"
	t_ok "$(grep -q "\"event\":\"relay_connected\",\"relay\":\"${RA[r4]}:3340\".*\"source\":\"directory\"" <<<"$after"; echo $?)" \
		"$side: takes r4 to hold three again" "$(grep relay_ <<<"$after")"
	home=$(grep '"event":"home_relay"' <<<"$after" | tail -1 | sed -n 's/.*"relay":"\([^"]*\)".*/\1/p')
	t_is "$home" "${RA[r2]}:3340" "$side: its home moves to the next nearest, r2" "$(grep home_relay <<<"$after")"
done
t_ok "$(grep '"event":"path"' c.out | tail -1 | grep -vq "\"remote\":\"${RA[r1]}:3340\""; echo $?)" \
	"connector's path moved off r1" "$(events c path)"
wait_pid "$c_PID" 30
t_is $? 0 "connector exits 0 (pings answered across the move)" "$(show c | grep -v rtt | tail -20)"
t_ok "$(events c ping_done | grep -qE '"received":(3[6-9][0-9]|400)'; echo $?)" "at least 360 of 400 pings answered" "$(events c ping_done)"

# The deployment as a scenario (docs/relay.md): it must run as documented.
out=$("$NATLAB" run "$SRC/scenarios/relay_directory.lua" --out "$T_TMP/scenario" --pcap none 2>&1)
t_ok $? "scenarios/relay_directory.lua passes" "$out"
t_done
