#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang and runs each for a bounded time.
# usage: fuzz/run.sh [SECONDS_PER_TARGET]   (default 30; CI uses this)
set -euo pipefail
secs=${1:-30}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${NATLAB_FUZZ_BUILD:-$src/build-fuzz}
command -v clang >/dev/null || { echo "fuzz: clang not found (apt-get install clang)" >&2; exit 77; }
CC=clang cmake -S "$src" -B "$build" -DNATLAB_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2 --target fuzz_frame fuzz_stun fuzz_turn
for t in frame stun turn; do
	corpus=$(mktemp -d)
	cp "$src/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
	echo "fuzz_$t: ${secs}s"
	"$build/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=5 \
		-artifact_prefix="$build/fuzz/crash-$t-" "$corpus" 2>&1 | tail -n 3
	rm -rf "$corpus"
done
