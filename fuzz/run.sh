#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang and runs each for a bounded time, starting
# from fuzz/corpus/<target>; a crash, leak or failed property fails the script (exit 1:
# no target starts after it, those running finish) and leaves the input in
# build-fuzz/fuzz/crash-<target>-* and the whole output in build-fuzz/fuzz/log-<target>.txt
# (the last 60 lines printed). Prints each target's execution count.
# usage: fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]   (default 30, every target; CI: 60)
# NATLAB_FUZZ_JOBS targets run at a time (default 2: this machine's cores; CI's 9 x 60 s
# take 5 min so).
# Targets: frame (relay frames, messages, tokens), stun, turn (TURN messages and
# ChannelData), seal (sealed packets), peer
# (the peer's messages: offers and candidate lists, probes, pings, transfer), units
# (durations, integers, rates), json (JSON lines into Lua values), portmap (PCP and
# NAT-PMP answers from a gateway), record (signed address records).
set -euo pipefail
secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame stun turn seal peer units json portmap record)
src=$(cd "$(dirname "$0")/.." && pwd)
build=${NATLAB_FUZZ_BUILD:-$src/build-fuzz}
jobs=${NATLAB_FUZZ_JOBS:-2}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: NATLAB_FUZZ_JOBS=$jobs: expected a count of 1 or more" >&2; exit 2; }
command -v clang >/dev/null || { echo "fuzz: clang not found (apt-get install clang)" >&2; exit 77; }
CC=clang cmake -S "$src" -B "$build" -DNATLAB_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}"
# One target for $secs s from a copy of its corpus; the whole output is kept, since a
# failure's report (stack, kind) is in it, not in its last line. Status: the fuzzer's.
run_target() {
	local t=$1 corpus rc=0
	corpus=$(mktemp -d)
	cp "$src/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
	"$build/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=5 \
		-artifact_prefix="$build/fuzz/crash-$t-" "$corpus" >"$build/fuzz/log-$t.txt" 2>&1 || rc=$?
	rm -rf "$corpus"
	return "$rc"
}
# $jobs targets at a time (each one process, one core); after a failure none is started,
# the running ones finish (within $secs), and every failure is reported.
declare -A running=()
next=0 failed=0
while :; do
	while [ ${#running[@]} -lt "$jobs" ] && [ "$next" -lt ${#targets[@]} ] && [ "$failed" = 0 ]; do
		t=${targets[next]}
		next=$((next + 1))
		echo "fuzz_$t: ${secs}s"
		run_target "$t" &
		running[$!]=$t
	done
	[ ${#running[@]} -gt 0 ] || break
	rc=0
	wait -n -p pid "${!running[@]}" || rc=$?
	t=${running[$pid]}
	unset "running[$pid]"
	log="$build/fuzz/log-$t.txt"
	if [ "$rc" != 0 ]; then
		tail -n 60 "$log"
		echo "fuzz_$t failed: whole output in $log" >&2
		failed=$((failed + 1))
	else
		echo "fuzz_$t: $(tail -n 1 "$log")"
	fi
done
[ "$failed" = 0 ]
