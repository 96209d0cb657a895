#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (issue 14): the cost of the wire's verdict (nftables counters on the NAT
# boxes, read every 20-100 ms while the peers run) on the main job's wall time. Runs
# the matrix (30 cells, --jobs 2) RUNS times with the counters and RUNS times without
# (--param wire=off), alternating so that load from elsewhere falls on both, and prints
# the ratio of the medians (target <= 1.05). Run as root from the top of the repository,
# under the suite lock on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
NATLAB=${NATLAB:-build/bin/natlab}
RUNS=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for i in $(seq "$RUNS"); do
	for mode in on off; do
		t0=$(date +%s.%N)
		"$NATLAB" run scenarios/matrix.lua --jobs 2 --pcap none --param "wire=$mode" \
			--out "$tmp/$mode$i" >/dev/null 2>&1 ||
			echo "run $i ($mode): some cells were not as expected" >&2
		echo "$(date +%s.%N) $t0" | awk '{ printf "%.3f\n", $1 - $2 }' >>"$tmp/$mode"
	done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
on=$(median <"$tmp/on")
off=$(median <"$tmp/off")
printf 'matrix wall time, %d runs each: with wire counters %.2f s, without %.2f s: ratio %.3f (target <= 1.05): %s\n' \
	"$RUNS" "$on" "$off" "$(awk -v a="$on" -v b="$off" 'BEGIN { print a / b }')" \
	"$(awk -v a="$on" -v b="$off" 'BEGIN { print (a / b <= 1.05) ? "met" : "NOT met" }')"
