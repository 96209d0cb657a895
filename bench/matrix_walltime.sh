#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (issue 6): wall time of the whole NAT matrix (28 profile pairs + same-NAT +
# same-CGN, each cell its own lab) with --jobs 2 (target: at most 60 s), and the time
# per cell (its lab built, relay and peers run, lab torn down) against the cell's own
# network RTT (20 ms between internet attachments, measured by the peers' pings in the
# same run). Medians of RUNS matrix runs. Run as root from the top of the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
NATLAB=${NATLAB:-build/bin/natlab}
RUNS=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for i in $(seq "$RUNS"); do
	t0=$(date +%s.%N)
	"$NATLAB" run scenarios/matrix.lua --jobs 2 --pcap none --out "$tmp/m$i" >/dev/null 2>&1 ||
		echo "run $i: some cells were not as expected (see $tmp/m$i/report.json)" >&2
	echo "$(date +%s.%N) $t0" | awk '{ printf "%.2f\n", $1 - $2 }' >>"$tmp/wall"
	jq -r '.cells[].seconds.p50' "$tmp/m$i/report.json" >>"$tmp/cell"
	jq -r '.cells[] | select(.rtt_direct_ms.p50 != null) | .rtt_direct_ms.p50' "$tmp/m$i/report.json" >>"$tmp/rtt"
	jq -r '.summary | "\(.passed)/\(.cells)"' "$tmp/m$i/report.json" >>"$tmp/passed"
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wall=$(median <"$tmp/wall")
cell=$(median <"$tmp/cell")
rtt=$(median <"$tmp/rtt")
printf 'matrix, 30 cells, --jobs 2, %d runs: median wall time %.1f s (target <= 60 s): %s; cells as expected: %s\n' \
	"$RUNS" "$wall" "$(awk -v w="$wall" 'BEGIN { print (w <= 60) ? "met" : "NOT met" }')" "$(tr '\n' ' ' <"$tmp/passed")"
printf 'time per cell: median %.2f s = %.0f x its network RTT (direct-path RTT p50 %.1f ms)\n' \
	"$cell" "$(awk -v c="$cell" -v r="$rtt" 'BEGIN { print c * 1000 / r }')" "$rtt"
