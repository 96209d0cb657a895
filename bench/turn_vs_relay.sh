#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (issue 13): relayed goodput, round trip and time to the first relayed byte
# through coturn (TURN over UDP and over TLS) against natlab-relay, same lab, same run.
# Two natlab-peers behind symmetric NATs (never direct) in tests/peer_turn.lua: natlab-relay
# on srv, coturn on turn; each variant RUNS times (median): a --transfer of BYTES and 20
# pings. Time to the first relayed byte: from the connector's start to its `connected`
# event (natlab-relay: the first sealed packet back through it) or to its `path` event
# naming TURN (--turn-only: the first one back through TURN). Ratios are against
# natlab-relay. Run as root from the top of the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
NATLAB=${NATLAB:-$PWD/build/bin/natlab}
PEER=${PEER:-$PWD/build/bin/natlab-peer}
RELAY=${RELAY:-$PWD/build/bin/natlab-relay}
RUNS=${RUNS:-3}
BYTES=${BYTES:-8M}
command -v turnserver >/dev/null || { echo "turn_vs_relay: coturn is not installed" >&2; exit 77; }
lab=bturn$$
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	"$NATLAB" down "$lab" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
"$NATLAB" up "$OLDPWD/tests/peer_turn.lua" --name "$lab" >up.log 2>&1
addr() { "$NATLAB" ls "$lab" | awk -v h="$1" '$1 == h {print $NF}'; }
SRV=$(addr srv) TURN=$(addr turn)
"$NATLAB" exec "$lab" srv -- "$RELAY" --listen "$SRV:443" --stun "$SRV:3478" --no-auth >relay.out 2>&1 &
pids+=($!)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$TURN" \
	-addext "subjectAltName=IP:$TURN" -days 1 -keyout turn.key -out turn.crt 2>/dev/null
"$NATLAB" exec "$lab" turn -- turnserver -n --listening-ip="$TURN" --relay-ip="$TURN" \
	--listening-port=3478 --tls-listening-port=5349 --cert="$tmp/turn.crt" --pkey="$tmp/turn.key" \
	--use-auth-secret --static-auth-secret=bench --realm=natlab --no-dtls --no-cli \
	--log-file=stdout --simple-log --userdb="$tmp/turn.db" --pidfile="$tmp/turn.pid" >turn.log 2>&1 &
pids+=($!)
sleep 1
A=$("$PEER" keygen a.key)

# run VARIANT ARGS...: one pair; appends "mbit rtt_p50 ttfb_ms" to VARIANT.txt
run() {
	local v=$1
	shift
	"$NATLAB" exec "$lab" sa1 -- timeout 60 "$PEER" --key a.key --relay "$SRV:443" --listen "$@" >l.out 2>l.err &
	local l=$!
	sleep 0.3
	"$NATLAB" exec "$lab" sb1 -- timeout 60 "$PEER" --relay "$SRV:443" --connect "$A" \
		--transfer "$BYTES" --ping 20 --ping-interval 20 "$@" >c.out 2>c.err || true
	wait "$l" || true
	local mbit rtt ttfb
	mbit=$(sed -n 's/.*"transfer_done","role":"sender".*"mbit_s":\([0-9.]*\).*/\1/p' c.out)
	rtt=$(sed -n 's/.*"event":"rtt","ms":\([0-9.]*\),"path":"relay","source":"ping".*/\1/p' c.out |
		sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	if [ "$v" = natlab ]; then
		ttfb=$(sed -n 's/^{"t_ms":\([0-9.]*\),"event":"connected".*/\1/p' c.out | head -1)
	else
		ttfb=$(sed -n 's/^{"t_ms":\([0-9.]*\),"event":"path".*"relay_kind":"turn".*/\1/p' c.out | head -1)
	fi
	echo "${mbit:-0} ${rtt:-0} ${ttfb:-0}" >>"$v.txt"
}
pin=$(openssl x509 -in turn.crt -noout -fingerprint -sha256 | cut -d= -f2)
for i in $(seq "$RUNS"); do
	run natlab
	run turn-udp --turn "$TURN:3478" --turn-secret bench --turn-only
	run turn-tls --turn "$TURN:5349" --turn-transport tls --turn-pin "$pin" --turn-secret bench --turn-only
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$2" '{ print $c }' "$1.txt" | median; }
base_m=$(col natlab 1) base_r=$(col natlab 2) base_t=$(col natlab 3)
printf 'symmetric x symmetric, %s transfers, %d runs (medians), same lab and run\n' "$BYTES" "$RUNS"
for v in natlab turn-udp turn-tls; do
	m=$(col $v 1) r=$(col $v 2) t=$(col $v 3)
	printf '%-9s goodput %7.1f Mbit/s (x%.2f)  ping RTT p50 %6.3f ms (+%.3f ms)  first relayed byte %7.1f ms\n' \
		"$v" "$m" "$(awk -v a="$m" -v b="$base_m" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$r" \
		"$(awk -v a="$r" -v b="$base_r" 'BEGIN { print a - b }')" "$t"
done
