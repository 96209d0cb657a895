#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: the NAT matrix (scenarios/matrix.lua): every pair of NAT profiles plus
# same-NAT and same-CGN, each cell its own lab, --jobs in parallel; TAP on stdout,
# progress on stderr, and the report's location at the end. Extra arguments go to
# `natlab run` (e.g. --repeat 5, --shard 1/4, --filter 'symmetric*').
set -uo pipefail
cd "$(dirname "$0")/.."
NATLAB=${NATLAB:-build/bin/natlab}
OUT=${OUT:-out/main}

if [ ! -x "$NATLAB" ]; then
	echo "main-job: $NATLAB is not built; run: cmake -S . -B build && cmake --build build -j2" >&2
	exit 1
fi
"$NATLAB" run scenarios/matrix.lua --out "$OUT" "$@"
rc=$?
echo "main-job: report: $OUT/report.html (and report.json, junit.xml; failed cells keep logs and pcaps under $OUT/cells/)" >&2
exit $rc
