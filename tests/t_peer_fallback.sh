#!/bin/bash
# SPDX-License-Identifier: MIT
# A direct path that dies falls back to the relay within 1 s, and is punched again once
# the network heals. Two peers behind full-cone NATs go direct and ping each other every
# 50 ms; then all UDP through the listener's NAT is dropped (an nft table of our own,
# inside that NAT's namespace). Each peer must report `path` relay within 1 s, measured
# on its own clock from the send time of its last ping answered over the direct path
# (an upper bound on the time since the path died: later pings get no direct answer).
# Re-punching must fail while the drop is in place; after it is removed, a new punch
# round must follow and validate the direct path again.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
t_require_root
t_require nft
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
LAB=$(t_lab_name pf)
PEER_LAB_LIMIT=60
peer_lab_up peer_lab.lua 3340
A=$("$PEER" keygen a.key)
pings=(--ping 300 --ping-interval 50) # 15 s of pings, more than this test needs
lab_peer_bg l fa1 50 --key "$T_TMP/a.key" --relay "$LAB_SRV:3340" --listen "${pings[@]}"
lab_peer_bg c fb1 50 --relay "$LAB_SRV:3340" --connect "$A" "${pings[@]}"
nat() { timeout 10 "$NATLAB" exec "$LAB" fa -- nft "$@"; }
lines() { wc -l <"$T_TMP/$1.out"; }

wait_event c '"event":"path","kind":"direct"' 10 && wait_event l '"event":"path","kind":"direct"' 5
t_ok $? "both peers go direct" "$(show c | tail -5)"
sleep 0.5

# --- the direct path dies ---
# Events are counted from before each nft change, not after it returns: natlab exec can
# take a second to return on a busy machine, and an event in between was missed (the
# suite loop: the connector validated the healed path before heal_c was read, then
# waited 6 s for a second path event).
cut_c=$(lines c) cut_l=$(lines l)
t0=$(date +%s%N)
nat -f - <<'NFT'
table ip natlab_peer_test {
	chain block_udp {
		type filter hook forward priority -10; policy accept;
		meta l4proto udp drop
	}
}
NFT
rc=$?
t_ok "$rc" "UDP through NAT fa dropped (nft, inside the NAT's namespace)"
[ "$rc" = 0 ] || { t_done; exit; }
fb_pat='"event":"path","kind":"relay"'
wait_event_after() { # NAME FROM_LINE PATTERN SECONDS
	local i
	for i in $(seq $(($4 * 50))); do
		tail -n +"$(($2 + 1))" "$T_TMP/$1.out" | grep -qE "$3" && return 0
		sleep 0.02
	done
	return 1
}
wait_event_after c "$cut_c" "$fb_pat" 5
wall_c=$((($(date +%s%N) - t0) / 1000000))
wait_event_after l "$cut_l" "$fb_pat" 5
wall_l=$((($(date +%s%N) - t0) / 1000000))
# fallback NAME FROM_LINE: ms from the send time of the last ping answered over the
# direct path to the relay path event.
fallback() {
	tail -n +"$(($2 + 1))" "$T_TMP/$1.out" | cat <(head -n "$2" "$T_TMP/$1.out") - | awk -F'"t_ms":' -v pat="$fb_pat" '
		/"event":"rtt".*"path":"direct","source":"ping"/ && !done {
			split($2, a, ","); t = a[1]; match($0, /"ms":[0-9.e-]+/)
			sent = t - substr($0, RSTART + 5, RLENGTH - 5)
		}
		$0 ~ pat && NR > from && !done {split($2, a, ","); fb = a[1]; done = 1}
		END {if (fb != "" && sent != "") printf "%d", fb - sent; else print -1}' from="$2"
}
fb_c=$(fallback c "$cut_c")
fb_l=$(fallback l "$cut_l")
t_ok "$([ "$fb_c" -ge 0 ] && [ "$fb_c" -le 1000 ]; echo $?)" \
	"connector falls back to the relay within 1 s: $fb_c ms (harness clock: $wall_c ms after nft started)" "$(show c | tail -8)"
t_ok "$([ "$fb_l" -ge 0 ] && [ "$fb_l" -le 1000 ]; echo $?)" \
	"listener falls back to the relay within 1 s: $fb_l ms (harness clock: $wall_l ms after nft started)" "$(show l | tail -8)"
echo "# fallback_ms connector=$fb_c listener=$fb_l"

# While UDP is dropped, punching goes on and fails: wait for the third round, and let it
# fail (1 s of probes, 0.5 s grace; the next round is 2 s later).
wait_event_after c "$cut_c" '"event":"punch","attempt":3,' 12
t_ok $? "the connector punches again while the path is down (round 3 started)"
sleep 2.2
t_is "$(tail -n +"$((cut_c + 1))" c.out | grep -c '"kind":"direct"')" 0 "no direct path while UDP is dropped"
t_is "$(tail -n +"$((cut_c + 1))" c.out | grep -c '"event":"rtt".*"path":"relay","source":"ping"' | awk '{print ($1 > 10)}')" 1 \
	"pings go on over the relay meanwhile"

# --- the network heals ---
heal_c=$(lines c)
nat delete table ip natlab_peer_test
t_ok $? "drop removed"
wait_event_after c "$heal_c" '"event":"path","kind":"direct"' 6
t_ok $? "the connector is direct again after the drop is removed" "$(show c | tail -6)"
# The round that validates the healed path may have started just before the removal (a
# round lasts 1 s of probes and 0.5 s of grace): the last punch before the first direct
# path event after the removal began at most 1.5 s before it.
after=$(tail -n +"$((heal_c + 1))" c.out)
gap=$(awk -F'"t_ms":' -v heal="$heal_c" '
	/"event":"punch"/ {split($2, a, ","); punch = a[1]}
	NR > heal && /"event":"path","kind":"direct"/ {split($2, a, ","); if (punch != "") printf "%d", a[1] - punch; exit}' c.out)
t_ok "$([ -n "$gap" ] && [ "$gap" -ge 0 ] && [ "$gap" -le 1500 ]; echo $?)" \
	"a punch round validates the path once the drop is removed (${gap:-no} ms after it started)" "$after"
wait_event_after l "$cut_l" '"event":"path","kind":"direct"' 3
t_ok $? "the listener is direct again too"

wait_pid "$c_PID" 40
t_is $? 0 "connector exits 0 (its pings finished across the path changes)" "$(show c | tail -4)"
wait_pid "$l_PID" 10
t_is $? 0 "listener exits 0"
t_is "$(cat c.err l.err | grep -cE 'runtime error|Sanitizer')" 0 "no sanitizer reports"
t_done
