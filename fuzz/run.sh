#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang and runs each for a bounded time, starting
# from fuzz/corpus/<target>; a crash, leak or failed property stops the script (exit 1)
# and leaves the input in build-fuzz/fuzz/crash-<target>-* and the whole output in
# build-fuzz/fuzz/log-<target>.txt. Prints each target's execution count.
# usage: fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]   (default 30, every target; CI: 60)
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
command -v clang >/dev/null || { echo "fuzz: clang not found (apt-get install clang)" >&2; exit 77; }
CC=clang cmake -S "$src" -B "$build" -DNATLAB_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}"
for t in "${targets[@]}"; do
	corpus=$(mktemp -d)
	cp "$src/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
	echo "fuzz_$t: ${secs}s"
	# The whole output is kept: a failure's report (stack, kind) is in it, not in its last line.
	log="$build/fuzz/log-$t.txt"
	if ! "$build/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=5 \
		-artifact_prefix="$build/fuzz/crash-$t-" "$corpus" >"$log" 2>&1; then
		tail -n 60 "$log"
		echo "fuzz_$t failed: whole output in $log" >&2
		rm -rf "$corpus"
		exit 1
	fi
	tail -n 1 "$log"
	rm -rf "$corpus"
done
