#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Verify every NAT profile: bring up one NAT box of every profile
# (scenarios/profiles.lua), classify each from a host behind it with `natlab probe`
# (UDP with RFC 5780, and TCP), compare with the declared profile, and write a report. Exits 0 only if
# every NAT behaves as declared.
set -uo pipefail
cd "$(dirname "$0")/.."
NATLAB=${NATLAB:-build/bin/natlab}
OUT=${1:-out/verify}
LAB=verify$$

if [ ! -x "$NATLAB" ]; then
	echo "verify-nats: $NATLAB is not built; run: cmake -S . -B build && cmake --build build -j2" >&2
	exit 1
fi
mkdir -p "$OUT"
trap '"$NATLAB" down "$LAB" >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM

echo "verify-nats: building the profiles lab" >&2
"$NATLAB" up scenarios/profiles.lua --name "$LAB" >"$OUT/up.log" 2>&1 || {
	cat "$OUT/up.log" >&2
	exit 1
}
hosts=$("$NATLAB" ls "$LAB" --json | jq -r '.nodes[] | select(.kind=="host" and (.addrs | length) == 1) | .name')
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s.%N)
results=()
n=0
total=$(echo "$hosts" | wc -w)
for h in $hosts; do
	n=$((n + 1))
	printf 'verify-nats: [%d/%d] probing from %s\n' "$n" "$total" "$h" >&2
	"$NATLAB" probe "$LAB" "$h" >"$OUT/probe-$h.json" 2>"$OUT/probe-$h.err"
	results+=("$OUT/probe-$h.json")
done
duration=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }")
jq -s --arg started "$started" --arg duration "$duration" '{
	scenario: "scenarios/profiles.lua", started: $started, duration_s: ($duration | tonumber? // 0),
	nats: [ .[] | { host, nats: .declared.nats, declared: .declared,
		measured: { udp, nat, mapping, filtering, hairpin, port_preserved, mapped_address, tcp },
		match } ],
	summary: { nats: length, passed: (map(select(.match)) | length),
		failed: (map(select(.match | not)) | length) } }' "${results[@]}" >"$OUT/report.json"
jq -r '.nats[] | "\(if .match then "ok  " else "FAIL" end) \(.host): udp \(.measured.mapping // "-")/\(.measured.filtering // "-") \(.measured.udp), tcp \(.measured.tcp.mapping // "-")/\(.measured.tcp.filtering // "-") \(.measured.tcp.status) port kept \(.measured.tcp.port_preserved) (declared udp \(.declared.mapping // "-")/\(.declared.filtering // "-") \(.declared.udp), tcp \(.declared.tcp.mapping // "-")/\(.declared.tcp.filtering // "-") \(.declared.tcp.status) port kept \(.declared.tcp.port_preserved))"' "$OUT/report.json"
failed=$(jq .summary.failed "$OUT/report.json")
echo "verify-nats: $(jq .summary.passed "$OUT/report.json")/$(jq .summary.nats "$OUT/report.json") NAT paths behave as declared; report: $OUT/report.json" >&2
[ "$failed" -eq 0 ]
