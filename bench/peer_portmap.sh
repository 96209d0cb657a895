#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: time to direct with a port mapping against hole punching, in the same cell
# and the same run (issue 17): port-restricted-cone x symmetric, the symmetric box
# answering PCP (bench/peer_portmap.lua). "mapped": natlab-peer maps its socket by PCP
# and offers the mapped address; "punched": --no-portmap, birthday probing against the
# symmetric side. RUNS runs each (default 20, --jobs 2), interleaved by natlab run;
# prints each way's direct count, median and p90 time to direct (the connector's
# relay_connected to its direct path, as the matrix reports it) and the ratio of the
# medians. Run as root from the top of the repository after building.
set -euo pipefail
cd "$(dirname "$0")/.."
NATLAB=${NATLAB_BIN:-build/bin}/natlab
RUNS=${RUNS:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$NATLAB" run bench/peer_portmap.lua --repeat "$RUNS" --jobs 2 --pcap none --out "$tmp/out" \
	>/dev/null 2>"$tmp/err" || true
pct() { sort -n "$1" | awk -v q="$2" '{v[NR] = $1} END {if (!NR) {print "-"; exit} i = int(q * NR + 0.999999); if (i < 1) i = 1; printf "%.0f\n", v[i]}'; }
printf '%-8s %8s %8s %8s\n' way direct "p50 ms" "p90 ms"
for way in mapped punched; do
	: >"$tmp/$way"
	for d in "$tmp"/out/cells/"$way"-*/; do
		jq -r '.results[] | select(.outcome == "direct") | .time_to_direct_ms' "$d/report.json" \
			>>"$tmp/$way" 2>/dev/null || true
	done
	n=$(ls -d "$tmp"/out/cells/"$way"-*/ 2>/dev/null | wc -l)
	printf '%-8s %4s/%-3s %8s %8s\n' "$way" "$(wc -l <"$tmp/$way")" "$n" "$(pct "$tmp/$way" 0.5)" "$(pct "$tmp/$way" 0.9)"
done
awk -v m="$(pct "$tmp/mapped" 0.5)" -v p="$(pct "$tmp/punched" 0.5)" 'BEGIN {
	if (m > 0 && p > 0) printf "median time to direct: mapped %d ms = %.3f x punched %d ms (%.1fx faster)\n", m, m / p, p, p / m }'
