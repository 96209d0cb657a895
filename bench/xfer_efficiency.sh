#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: natlab-peer's transfer efficiency, bytes sent for each byte delivered.
# Two peers and two relays on loopback; one transfer of SIZE (default 300M) per case:
#   direct       undisturbed, over the direct path
#   relay        undisturbed, through relay A (--relay-only)
#   stall-direct the receiving peer SIGSTOPped for 0.5 s STALL_AT s into the transfer
#   stall-relay  relay A SIGSTOPped for 0.5 s STALL_AT s into the transfer
#   failover     relay A killed (-9) FAIL_AT s into the transfer; relay B takes over
# Printed per case: the payload ratio (transfer payload bytes the sender put on a path,
# first sends and resends, over the bytes delivered: the sender's transfer_done `sent`
# / `bytes`; target <= 1.05), the resent bytes and timeouts, the receiver's duplicate
# bytes, the sealed ratio (the sender's exit bytes_direct + bytes_relay, which add the
# 58-byte message and seal header per 1216-byte chunk and the ACKs coming back, over
# the bytes delivered), and the goodput. Needs no root; run from the top of the
# repository after building. RUNS (default 1) repeats every case.
set -euo pipefail
cd "$(dirname "$0")/.."
NATLAB_BIN=$(cd "${NATLAB_BIN:-build/bin}" && pwd)
SIZE=${SIZE:-300M} RUNS=${RUNS:-1} STALL_AT=${STALL_AT:-1} FAIL_AT=${FAIL_AT:-3}
T_TMP=$(mktemp -d)
T_PIDS=()
tmp=$T_TMP
cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
# relay_start (a natlab-relay on 127.0.0.1 with a STUN port), as the tests start it.
. tests/lib/peer.sh

# field FILE EVENT-PATTERN KEY: a numeric field of the first matching event.
field() { grep -E "$2" "$1" | head -1 | sed -n "s/.*\"$3\":\([0-9.]*\).*/\1/p"; }

run_case() {
	local name=$1 la lpid cpid relays extra=() sent bytes resent to dup bd br mbit
	relays="127.0.0.1:$RA_PORT,127.0.0.1:$RB_PORT"
	[ "$name" = direct ] || [ "$name" = stall-direct ] || extra=(--relay-only)
	la=$tmp/$name.l.out
	timeout 120 "$PEER" --key "$tmp/a.key" --relay "$relays" --stun "127.0.0.1:$RA_STUN" \
		--bind 127.0.0.1 --listen "${extra[@]}" >"$la" 2>/dev/null &
	lpid=$!
	T_PIDS+=("$lpid")
	timeout 120 "$PEER" --key "$tmp/b.key" --relay "$relays" --stun "127.0.0.1:$RA_STUN" \
		--bind 127.0.0.1 --connect "$A" --transfer "$SIZE" "${extra[@]}" >"$tmp/$name.c.out" 2>/dev/null &
	cpid=$!
	T_PIDS+=("$cpid")
	case $name in
	stall-direct | stall-relay | failover)
		for _ in $(seq 200); do
			grep -q '"event":"connected"' "$tmp/$name.c.out" 2>/dev/null && break
			sleep 0.05
		done
		;;
	esac
	case $name in
	stall-direct) sleep "$STALL_AT"; kill -STOP "$lpid" && sleep 0.5; kill -CONT "$lpid" || true ;;
	stall-relay) sleep "$STALL_AT"; kill -STOP "$RA_PID" && sleep 0.5; kill -CONT "$RA_PID" || true ;;
	failover) sleep "$FAIL_AT"; kill -9 "$RA_PID" || true; wait "$RA_PID" 2>/dev/null || true ;;
	esac
	wait "$cpid" || true
	wait "$lpid" || true
	sent=$(field "$tmp/$name.c.out" '"transfer_done","role":"sender"' sent)
	bytes=$(field "$tmp/$name.c.out" '"transfer_done","role":"sender"' bytes)
	resent=$(field "$tmp/$name.c.out" '"transfer_done","role":"sender"' retransmitted)
	to=$(field "$tmp/$name.c.out" '"transfer_done","role":"sender"' timeouts)
	mbit=$(field "$tmp/$name.c.out" '"transfer_done","role":"sender"' mbit_s)
	dup=$(field "$la" '"transfer_done","role":"receiver"' duplicates)
	bd=$(field "$tmp/$name.c.out" '"event":"exit"' bytes_direct)
	br=$(field "$tmp/$name.c.out" '"event":"exit"' bytes_relay)
	if [ -z "$bytes" ] || [ "$bytes" = 0 ]; then
		printf '%-13s transfer failed (see %s)\n' "$name" "$tmp/$name.c.out"
		FAILED=1
		return
	fi
	# A natlab-peer from before the counters (for a baseline) has no sent field.
	awk -v n="$name" -v s="${sent:-?}" -v b="$bytes" -v r="${resent:-?}" -v t="${to:-?}" \
		-v d="${dup:-?}" -v bd="${bd:-0}" -v br="${br:-0}" -v m="$mbit" 'BEGIN {
		printf "%-13s payload %s  resent %s B  timeouts %s  duplicates %s B  sealed %.4f  %.0f Mbit/s\n",
			n, s == "?" ? "?" : sprintf("%.4f", s / b), r, t, d, (bd + br) / b, m }'
}

A=$("$PEER" keygen "$tmp/a.key")
"$PEER" keygen "$tmp/b.key" >/dev/null
FAILED=0
echo "transfer of $SIZE on loopback; payload = sent / delivered (target <= 1.05)"
for _ in $(seq "$RUNS"); do
	for c in direct relay stall-direct stall-relay failover; do
		relay_start RA --no-auth || { echo "xfer_efficiency: natlab-relay does not start" >&2; exit 1; }
		relay_start RB --no-auth || { echo "xfer_efficiency: natlab-relay does not start" >&2; exit 1; }
		run_case "$c"
		kill "$RA_PID" "$RB_PID" 2>/dev/null || true
		wait "$RA_PID" "$RB_PID" 2>/dev/null || true
	done
done
exit "$FAILED"
