#!/bin/bash
# SPDX-License-Identifier: MIT
# A stall is not a dead direct path. Two peers on loopback go direct; then both processes
# are stopped for 1.5 s at once (SIGSTOP: a loaded machine that runs neither of them for
# a while, as the main job's hard-NAT cells met it: both peers fell back to the relay at
# the same instant, and a birthday-found path was not found again). After SIGCONT the
# keepalives must be answered and neither peer may leave the direct path. A real death
# (only the listener stopped) must still be noticed by the connector within 1 s, on the
# connector's own clock, and the path must come back once the listener runs again.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
t_require python3

cd "$T_TMP" || exit 1
A=$("$PEER" keygen a.key)
"$PEER" keygen b.key >/dev/null
relay_start R --no-auth || { t_ok 1 "relay starts"; t_done; exit; }
common=(--relay "127.0.0.1:$R_PORT" --stun "127.0.0.1:$R_STUN" --bind 127.0.0.1)

# Started without peer_bg's timeout wrapper: the signals must reach the peers themselves.
# A stopped peer gets SIGCONT on every exit path, or t_cleanup's SIGTERM would wait.
"$PEER" --key a.key "${common[@]}" --listen >la.out 2>la.err &
la=$!
"$PEER" --key b.key "${common[@]}" --connect "$A" --hold 12 >cb.out 2>cb.err &
cb=$!
T_PIDS+=("$la" "$cb")
trap 'kill -CONT "$la" "$cb" 2>/dev/null; t_cleanup' EXIT

# signal_ms SIG SECONDS PID...: SIG to every PID, then SIGCONT to them SECONDS later (0:
# none); prints CLOCK_MONOTONIC in ms (the peers' event clock) when SIG was sent.
signal_ms() {
	python3 - "$@" <<'PY'
import os, signal, sys, time
sig, secs, pids = getattr(signal, sys.argv[1]), float(sys.argv[2]), [int(a) for a in sys.argv[3:]]
for p in pids:
    os.kill(p, sig)
t = time.monotonic() * 1000
if secs > 0:
    time.sleep(secs)
    for p in pids:
        os.kill(p, signal.SIGCONT)
print(int(t))
PY
}
lines() { wc -l <"$1.out"; }
after() { tail -n +"$(($2 + 1))" "$1.out"; } # after NAME LINE: NAME's events since LINE
wait_after() { # wait_after NAME LINE PATTERN SECONDS: until an event since LINE matches
	local i
	for i in $(seq $(($4 * 50))); do
		after "$1" "$2" | grep -qE "$3" && return 0
		sleep 0.02
	done
	return 1
}

wait_event cb '"event":"path","kind":"direct"' 10 && wait_event la '"event":"path","kind":"direct"' 5
t_ok $? "both peers go direct" "$(show cb | tail -5)"
sleep 0.5

# --- both stalled: not a dead path ---
cut_c=$(lines cb) cut_l=$(lines la)
signal_ms SIGSTOP 1.5 "$la" "$cb" >/dev/null
sleep 1.5
t_is "$(after cb "$cut_c" | grep -c '"event":"path"')" 0 \
	"connector stays direct across a 1.5 s stall of both peers" "$(after cb "$cut_c" | cut -c1-160; grep lost cb.err)"
t_is "$(after la "$cut_l" | grep -c '"event":"path"')" 0 \
	"listener stays direct across the stall" "$(after la "$cut_l" | cut -c1-160; grep lost la.err)"

# --- the listener alone stopped: the path is dead for the connector ---
cut_c=$(lines cb)
stop_ms=$(signal_ms SIGSTOP 0 "$la")
wait_after cb "$cut_c" '"event":"path","kind":"relay"' 3
t_ok $? "connector falls back once the listener stops answering" "$(show cb | tail -5)"
cut_r=$(lines cb)
kill -CONT "$la"
clock=$(sed -n 's/.*"event":"started".*"clock_ms":\([0-9.]*\).*/\1/p' cb.out)
fb=$(after cb "$cut_c" | awk -F'"t_ms":' -v c="$clock" -v s="$stop_ms" \
	'/"event":"path","kind":"relay"/ {split($2, a, ","); printf "%d", a[1] + c - s; exit}')
# 700 ms of silence since the last packet, which came at most a keepalive interval
# (200 ms) before the stop: no sooner than 500 ms after it, and within the 1 s contract.
t_ok "$([ -n "$fb" ] && [ "$fb" -ge 500 ] && [ "$fb" -le 1000 ]; echo $?)" \
	"connector falls back 500 ms to 1 s after the listener stopped (${fb:-no} ms)"
wait_after cb "$cut_r" '"event":"path","kind":"direct"' 3
t_ok $? "direct again within 3 s of the listener running again" "$(after cb "$cut_c" | cut -c1-160)"

wait_pid "$cb" 20
t_is $? 0 "connector exits 0" "$(show cb | tail -4)"
wait_pid "$la" 10
t_is $? 0 "listener exits 0" "$(show la | tail -4)"
t_done
