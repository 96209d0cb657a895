#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (issues 6 and 18): wall time of the whole NAT matrix (scenarios/matrix.lua:
# every pair of its eight profiles + same-NAT + same-CGN; 2 workers, each reusing its lab for
# cells of one shape, NATs reset: docs/scenarios.md; NATLAB_ARGS=--no-reuse a lab per cell) with
# --jobs 2, and where each cell's time went (report.json's cells[].phases_ms: process
# start, lab up, relay ready, peers ready, first direct path, workload, stop, NAT
# measurement, teardown, exit; docs/reports.md), medians over cells and runs. Issue 18's
# target: 30 cells in <= 10 s, counted at the same cost per cell for the cells there are
# now (38: 12.7 s). Baseline in the same run, interleaved run by run: the matrix with
# `--param speed=off` (the workloads and NAT probe waits before issue 18: pings 100 ms
# apart, natlab probe's default waits, the connector started once the listener is at
# the relay), printed as a ratio; or, with BASELINE_TREE=DIR, another built tree's
# natlab on its own scenarios/matrix.lua (e.g. `git archive main` built there: the code
# before, C changes included; its report may have no phases); and the sum of the cells'
# times over --jobs (the wall time if the pool packed cells perfectly). Cells with a
# hard-NAT attempt (birthday probing, prediction: up to 8 s each) count like any other.
# RUNS matrix runs each (default 3); BASELINE=0 skips the baseline. PCAP: the runs'
# --pcap (default failed, natlab run's own default and the main job's: every cell captures
# and keeps the files of a failed one; none: no captures, as this benchmark ran before).
# Run as root from the top of the repository after building.
set -euo pipefail
cd "$(dirname "$0")/.."
NATLAB=${NATLAB:-build/bin/natlab}
RUNS=${RUNS:-3}
BASELINE=${BASELINE:-1}
JOBS=2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

modes=new
[ "$BASELINE" = 1 ] && modes="new old"
for i in $(seq "$RUNS"); do
	for mode in $modes; do
		args=() bin=$NATLAB scenario=scenarios/matrix.lua
		# NATLAB_ARGS: more words for this code's runs (e.g. --no-reuse), split on spaces.
		# shellcheck disable=SC2206
		[ "$mode" = new ] && args=(${NATLAB_ARGS:-})
		if [ "$mode" = old ] && [ -n "${BASELINE_TREE:-}" ]; then
			bin=$BASELINE_TREE/build/bin/natlab scenario=$BASELINE_TREE/scenarios/matrix.lua
		elif [ "$mode" = old ]; then
			args=(--param speed=off)
		fi
		out="$tmp/$mode$i"
		t0=$(date +%s.%N)
		if ! "$bin" run "$scenario" --jobs "$JOBS" --pcap "${PCAP:-failed}" --out "$out" "${args[@]}" >/dev/null 2>&1; then
			echo "run $i ($mode): some cells were not as expected:" >&2
			jq -r '.cells[] | select(.pass | not) | "  \(.name): \(.reached)"' "$out/report.json" >&2 || true
		fi
		echo "$(date +%s.%N) $t0" | awk '{ printf "%.3f\n", $1 - $2 }' >>"$tmp/wall-$mode"
		jq -r '[.cells[].seconds.samples[]] | add' "$out/report.json" >>"$tmp/sum-$mode"
		jq -r '.cells[].seconds.samples[]' "$out/report.json" >>"$tmp/cell-$mode"
		jq -r '.cells[] | select(.rtt_direct_ms.p50 != null) | .rtt_direct_ms.p50' "$out/report.json" >>"$tmp/rtt-$mode"
		jq -r '.summary | "\(.passed)/\(.cells)"' "$out/report.json" >>"$tmp/passed-$mode"
		jq -r '.cells | length' "$out/report.json" >"$tmp/ncells"
		# "RUN PHASE MS", one line per phase of every cell's run.
		jq -r --arg r "$i" '.cells[] | (.phases_ms // {}) | to_entries[] | "\($r) \(.key) \(.value.samples[])"' \
			"$out/report.json" >>"$tmp/phases-$mode"
	done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ncells=$(cat "$tmp/ncells")
target=$(awk -v n="$ncells" 'BEGIN { printf "%.1f", 10 * n / 30 }')
for mode in $modes; do
	wall=$(median <"$tmp/wall-$mode")
	sum=$(median <"$tmp/sum-$mode")
	cell=$(median <"$tmp/cell-$mode")
	rtt=$(median <"$tmp/rtt-$mode")
	echo "$wall" >"$tmp/w-$mode"
	printf '%s: matrix, %d cells, --jobs %d, %d runs: median wall %.2f s (target <= %s s = 10 s x %d/30: %s); cells as expected: %s\n' \
		"$([ "$mode" = new ] && echo "this code" || echo "baseline (${BASELINE_TREE:---param speed=off})")" "$ncells" "$JOBS" "$RUNS" "$wall" "$target" "$ncells" \
		"$(awk -v w="$wall" -v t="$target" 'BEGIN { print (w <= t) ? "met" : "NOT met" }')" "$(tr '\n' ' ' <"$tmp/passed-$mode")"
	printf '  sum of the cells'"'"' times %.1f s / %d jobs = %.2f s: wall = %.2f x that; time per cell median %.2f s = %.0f x its RTT (%.1f ms)\n' \
		"$sum" "$JOBS" "$(awk -v s="$sum" -v j="$JOBS" 'BEGIN { print s / j }')" \
		"$(awk -v s="$sum" -v j="$JOBS" -v w="$wall" 'BEGIN { print w / (s / j) }')" "$cell" \
		"$(awk -v c="$cell" -v r="$rtt" 'BEGIN { print c * 1000 / r }')" "$rtt"
	echo "  where a cell's time went (ms; median over the cells that have the phase and the runs; total: over all cells, median over runs):"
	awk -v runs="$RUNS" '
		{ k = $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		  vals[k] = vals[k] " " $3; tot[k, $1] += $3 }
		END {
			for (i = 1; i <= n; i++) {
				k = order[i]; m = split(substr(vals[k], 2), v, " ")
				# insertion sort: small arrays
				for (a = 2; a <= m; a++) { x = v[a]; b = a - 1; while (b > 0 && v[b] > x) { v[b + 1] = v[b]; b-- } v[b + 1] = x }
				med = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
				r = 0; for (j = 1; j <= runs; j++) t[++r] = tot[k, j] + 0
				for (a = 2; a <= r; a++) { x = t[a]; b = a - 1; while (b > 0 && t[b] > x) { t[b + 1] = t[b]; b-- } t[b + 1] = x }
				tmed = (r % 2) ? t[(r + 1) / 2] : (t[r / 2] + t[r / 2 + 1]) / 2
				printf "    %-12s median %7.1f  (%3d samples)  total %6.2f s\n", k, med, m, tmed / 1000
			}
		}' "$tmp/phases-$mode"
done
if [ "$BASELINE" = 1 ]; then
	awk -v n="$(cat "$tmp/w-new")" -v o="$(cat "$tmp/w-old")" \
		'BEGIN { printf "wall time ratio, this code / baseline, same run: %.2f (%.2f s / %.2f s)\n", n / o, n, o }'
fi
