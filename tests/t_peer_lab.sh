#!/bin/bash
# SPDX-License-Identifier: MIT
# natlab-peer in a lab: behind two full-cone NATs the peers go direct; behind two
# symmetric NATs they stay on the relay (DESIGN.md, expected outcome per NAT pair) and
# still complete their workloads there. The exit event's per-path byte counters say
# where the traffic went: the transfer direct in the first pair, all of it through the
# relay in the second. The relay's own counter of forwarded frames (/metrics) is the
# independent check that it steps back: once both peers are direct it forwards nothing
# more, while it forwards the symmetric pair's traffic. A ping is answered on the path it
# came on, so each rtt sample is one path both ways (checked through a far relay, where
# the direct path validates while the first ping is still on its way through the relay).
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
t_require_root
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
LAB=$(t_lab_name pe)
t_up "$LAB" "$SRC/tests/peer_lab.lua"
t_ok $? "lab up" "$(cat "$T_TMP/up-$LAB.log" 2>/dev/null)"
cd "$T_TMP" || exit 1
SRV=$("$NATLAB" ls "$LAB" | awk '$1 == "srv" {print $NF}')
A=$("$PEER" keygen a.key)
"$PEER" keygen b.key >/dev/null

timeout 120 "$NATLAB" exec "$LAB" srv -- "$RELAY" --listen "$SRV:3340" --stun "$SRV:3478" --no-auth \
	--metrics "$SRV:9090" >relay.out 2>&1 &
T_PIDS+=("$!")
for _ in $(seq 100); do grep -q '"ready"' relay.out && break; sleep 0.05; done
t_ok "$(grep -q '"ready"' relay.out; echo $?)" "relay up on $SRV"

# forwarded: the relay's frames_forwarded_total, read over HTTP inside the relay's host.
forwarded() {
	timeout 5 "$NATLAB" exec "$LAB" srv -- bash -c 'exec 3<>"/dev/tcp/$0/9090" &&
		printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' "$SRV" |
		awk '$1 == "natlab_relay_frames_forwarded_total" {print $2}'
}

pair() { # pair TAG HOST_A HOST_B ARGS...: listener in A, connector in B
	local tag=$1 ha=$2 hb=$3
	shift 3
	timeout 40 "$NATLAB" exec "$LAB" "$ha" -- "$PEER" --key "$T_TMP/a.key" --relay "${PAIR_RELAY:-$SRV:3340}" --listen >"$T_TMP/l$tag.out" 2>"$T_TMP/l$tag.err" &
	local lpid=$!
	T_PIDS+=("$lpid")
	timeout 40 "$NATLAB" exec "$LAB" "$hb" -- "$PEER" --key "$T_TMP/b.key" --relay "${PAIR_RELAY:-$SRV:3340}" --connect "$A" "$@" >"$T_TMP/c$tag.out" 2>"$T_TMP/c$tag.err"
	local rc=$?
	wait_pid "$lpid" 10
	return $rc
}

pair fc fa1 fb1 --ping 5 --transfer 2M
t_is $? 0 "full-cone x full-cone: connector exits 0"
t_ok "$(count cfc '"event":"path","kind":"direct"' >/dev/null; echo $?)" "full-cone x full-cone: connector goes direct"
t_ok "$(count lfc '"event":"path","kind":"direct"' >/dev/null; echo $?)" "full-cone x full-cone: listener goes direct"
t_ok "$(count cfc '"event":"reflexive","addr":"198\.18\.' >/dev/null; echo $?)" "reflexive address is the NAT's public address"
t_ok "$(count lfc '"transfer_done","role":"receiver","bytes":2000000,"ok":true' >/dev/null; echo $?)" "full-cone x full-cone: transfer verified"
ttd=$(awk -F'"t_ms":' '/"relay_connected"/ && !r {split($2,a,","); r=a[1]} /"kind":"direct"/ && !d {split($2,a,","); d=a[1]} END{if (r != "" && d != "") printf "%.1f", d-r}' "$T_TMP/cfc.out")
t_ok "$([ -n "$ttd" ]; echo $?)" "full-cone x full-cone: time to direct ${ttd} ms after relay_connected"
# exit_bytes NAME FIELD: bytes_direct or bytes_relay of NAME's exit event (empty if none).
exit_bytes() { sed -n "s/.*\"event\":\"exit\".*\"$2\":\([0-9]*\).*/\1/p" "$T_TMP/$1.out"; }
for side in cfc lfc; do
	bd=$(exit_bytes $side bytes_direct) br=$(exit_bytes $side bytes_relay)
	t_ok "$([ -n "$bd" ] && [ "$bd" -gt 2000000 ]; echo $?)" \
		"full-cone x full-cone: $side: the transfer went direct (bytes_direct $bd > 2000000)" "$(events $side exit)"
	t_ok "$([ -n "$br" ] && [ "$br" -gt 0 ] && [ "$br" -lt 20000 ]; echo $?)" \
		"full-cone x full-cone: $side: little through the relay (0 < bytes_relay $br < 20000)" "$(events $side exit)"
done

# The relay steps back: both direct, then 30 pings and a 5 MB transfer, all direct.
timeout 40 "$NATLAB" exec "$LAB" fa1 -- "$PEER" --key "$T_TMP/a.key" --relay "$SRV:3340" --listen >lsb.out 2>lsb.err &
lsb_PID=$!
T_PIDS+=("$lsb_PID")
timeout 40 "$NATLAB" exec "$LAB" fb1 -- "$PEER" --key "$T_TMP/b.key" --relay "$SRV:3340" --connect "$A" \
	--ping 30 --ping-interval 100 --transfer 5M >csb.out 2>csb.err &
csb_PID=$!
T_PIDS+=("$csb_PID")
wait_event csb '"event":"path","kind":"direct"' 10 && wait_event lsb '"event":"path","kind":"direct"' 5
t_ok $? "steps back: both peers direct" "$(show csb | tail -5)"
sleep 0.2
f1=$(forwarded)
wait_pid "$csb_PID" 30
t_is $? 0 "steps back: connector exits 0 (30 pings, 5 MB transfer)" "$(show csb | tail -5)"
wait_pid "$lsb_PID" 10
f2=$(forwarded)
t_is "$(count csb '"event":"rtt".*"source":"ping"')" 30 "steps back: 30 pings answered"
# A ping sent (t_ms - ms) once the path was direct goes direct and is answered direct.
# The first ping goes out over the relay as the session comes up, just before the
# path validates: its answer comes back over the relay and may arrive after the path
# event, so what counts is when each ping was sent, not when its answer arrived.
relay_after=$(awk -F'"t_ms":' '
	/"event":"path","kind":"direct"/ && d == "" {split($2, a, ","); d = a[1]}
	/"event":"rtt".*"path":"relay","source":"ping"/ && d != "" {
		split($2, a, ","); match($0, /"ms":[0-9.e+-]+/); ms = substr($0, RSTART + 5, RLENGTH - 5)
		if (a[1] - ms >= d) n++
	}
	END {print n + 0}' csb.out)
t_is "$relay_after" 0 "steps back: no ping sent after the path went direct was answered through the relay"
t_ok "$([ -n "$f1" ] && [ -n "$f2" ] && [ "$f1" = "$f2" ]; echo $?)" \
	"steps back: the relay forwarded no frame after both went direct (frames_forwarded_total $f1 -> $f2)"

# Through the far relay: the connector's first ping goes out over it as the session
# comes up (the listener's first probe, a few ms ahead of its answer, brings the session
# up); both sides validate the direct path within milliseconds, 40 ms before the ping
# reaches the listener. Answered on the listener's path of the moment, the pong came
# back direct: a sample half relay, half direct, labelled "direct" (about 40 ms). On the
# path the ping came on, it is a relay round trip (4 x 20 ms).
FAR=$("$NATLAB" ls "$LAB" | awk '$1 == "far" {print $NF}')
timeout 60 "$NATLAB" exec "$LAB" far -- "$RELAY" --listen "$FAR:3340" --stun "$FAR:3478" --no-auth >relayfar.out 2>&1 &
T_PIDS+=("$!")
for _ in $(seq 100); do grep -q '"ready"' relayfar.out && break; sleep 0.05; done
t_ok "$(grep -q '"ready"' relayfar.out; echo $?)" "far relay up on $FAR"
PAIR_RELAY="$FAR:3340" pair far fa1 fb1 --ping 3 --ping-interval 200
t_is $? 0 "far relay: connector exits 0" "$(show cfar | tail -5)"
t_ok "$(count cfar '"event":"path","kind":"direct"' >/dev/null; echo $?)" "far relay: connector goes direct"
ping0=$(events cfar rtt | grep '"seq":0')
p0_ms=$(sed -n 's/.*"ms":\([0-9.]*\).*/\1/p' <<<"$ping0")
t_ok "$(grep -q '"path":"relay"' <<<"$ping0" && awk -v m="$p0_ms" 'BEGIN {exit !(m >= 75)}'; echo $?)" \
	"far relay: the first ping, sent over the relay, came back over it (a relay round trip >= 75 ms)" "$ping0"
t_is "$(events cfar rtt | grep -E '"seq":[12]' | grep -c '"path":"direct"')" 2 \
	"far relay: the later pings went direct" "$(events cfar rtt)"

pair sym sa1 sb1 --ping 3 --transfer 1M --timeout 10
t_is $? 0 "symmetric x symmetric: connector exits 0"
t_is "$(count csym '"kind":"direct"')" 0 "symmetric x symmetric: never direct"
t_ok "$(count csym '"event":"punch"' >/dev/null; echo $?)" "symmetric x symmetric: a punch was attempted"
t_is "$(count csym '"event":"rtt".*"path":"relay","source":"ping"')" 3 "symmetric x symmetric: pings over the relay"
t_ok "$(count lsym '"transfer_done","role":"receiver","bytes":1000000,"ok":true' >/dev/null; echo $?)" "symmetric x symmetric: transfer verified over the relay"
for side in csym lsym; do
	bd=$(exit_bytes $side bytes_direct) br=$(exit_bytes $side bytes_relay)
	t_is "$bd" 0 "symmetric x symmetric: $side: bytes_direct 0"
	t_ok "$([ -n "$br" ] && [ "$br" -gt 1000000 ]; echo $?)" \
		"symmetric x symmetric: $side: the transfer went through the relay (bytes_relay $br > 1000000)" "$(events $side exit)"
done
f3=$(forwarded)
t_ok "$([ -n "$f3" ] && [ "$f3" -gt $((f2 + 800)) ]; echo $?)" \
	"control: the relay counted the symmetric pair's frames (frames_forwarded_total $f2 -> $f3)"
t_done
