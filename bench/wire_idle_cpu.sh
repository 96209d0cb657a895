#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (issue 18, point 5): what the wires' threads cost when nothing crosses them.
# A lab of 10 hosts with wired links (20 ms), kept up by its daemon; the daemon's CPU
# time (all its threads, /proc/PID/task/*/stat) over SECONDS, with the rescue thread
# (natlab/wire_rescue.c) and without it (NATLAB_WIRE_RESCUE=off). Run as root from the top
# of the repository after building.
set -euo pipefail
cd "$(dirname "$0")/.."
NATLAB=${NATLAB:-build/bin/natlab}
SECONDS_IDLE=${SECONDS_IDLE:-20}
tmp=$(mktemp -d)
trap '"$NATLAB" down bwi >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

cat >"$tmp/idle.lua" <<'LUA'
local lab = natlab.lab{ seed = 3 }
local inet = lab:internet{}
for i = 1, 10 do lab:host{ name = "h" .. i, net = inet, link = { delay = "20ms" } } end
lab:up()
LUA
# Clock ticks (USER_HZ) of every thread of process $1.
ticks() { cat /proc/"$1"/task/*/stat | awk '{ s += $14 + $15 } END { print s }'; }
hz=$(getconf CLK_TCK)
for rescue in off on; do
	NATLAB_WIRE_RESCUE=$rescue "$NATLAB" up "$tmp/idle.lua" --name bwi --out "$tmp/out" >/dev/null 2>&1
	pid=$("$NATLAB" ls bwi --json | jq -r .owner_pid)
	sleep 2
	a=$(ticks "$pid")
	sleep "$SECONDS_IDLE"
	b=$(ticks "$pid")
	printf 'rescue %-3s: 10 idle wires, daemon CPU %.2f s over %d s (%.2f%% of one CPU); threads: %s\n' \
		"$rescue" "$(awk -v t=$((b - a)) -v hz="$hz" 'BEGIN { print t / hz }')" "$SECONDS_IDLE" \
		"$(awk -v t=$((b - a)) -v hz="$hz" -v s="$SECONDS_IDLE" 'BEGIN { print 100 * t / hz / s }')" \
		"$(cat /proc/"$pid"/task/*/comm | tr '\n' ' ')"
	"$NATLAB" down bwi >/dev/null 2>&1
done
