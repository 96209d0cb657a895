#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# natlab-relay fairness under small-frame abuse, loopback only: two honest pairs send
# 1280-byte packets as fast as the relay's per-client rate limit lets them, with no
# flooder and with each kind of flooder (38-byte SENDs aimed at one honest receiver,
# 13-byte PINGs, AUTH churn), alternating in the same run; the honest pairs' goodput
# with each flooder against the baseline of the same round.
# usage: bench/relay_fairness.sh [BUILD_DIR] [SECONDS] [ROUNDS] [-- RELAY_ARGS...]
#   (build with RelWithDebInfo; RELAY_ARGS are added to natlab-relay's command line)
# Target (issue 20): each honest pair loses at most 10% with each kind of flooder.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
secs=${2:-3}
rounds=${3:-3}
shift $(($# < 3 ? $# : 3))
[ "${1:-}" = "--" ] && shift
[ -x "$build/bin/natlab-relay" ] || { echo "relay_fairness: no $build/bin/natlab-relay (build first)" >&2; exit 1; }
work=$(mktemp -d /tmp/relay_fairness.XXXXXX)
relay_pid=
cleanup() { [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cc -O2 -I "$src/include" -I "$src/proto/include" -I "$src/tests" "$src/bench/relay_fairness.c" \
	"$src/tests/relay_harness.c" "$src/tests/tap.c" "$build/proto/libnatlab_tls.a" \
	"$build/proto/libnatlab_proto.a" $(pkg-config --libs libsodium openssl) -lpthread \
	-o "$work/relay_fairness"
"$build/bin/natlab-relay" --no-auth --listen 127.0.0.1:0 "$@" >"$work/ready" 2>"$work/relay.log" &
relay_pid=$!
for _ in $(seq 50); do [ -s "$work/ready" ] && break; sleep 0.1; done
port=$(sed -n 's/.*"listen":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$work/ready")
[ -n "$port" ] || { echo "relay_fairness: the relay did not start" >&2; cat "$work/relay.log" >&2; exit 1; }

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
for round in $(seq "$rounds"); do
	for kind in none send ping auth; do
		line=$(timeout $((secs + 30)) "$work/relay_fairness" "$port" "$secs" "$kind")
		echo "round=$round $line" | tee -a "$work/all" >&2
	done
done
# Per round, each kind against that round's baseline; the median loss over rounds.
awk -v rounds="$rounds" '
{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  r = v["round"]; k = v["kind"]; p1[r, k] = v["pair1_mbit"]; p2[r, k] = v["pair2_mbit"]; ops[r, k] = v["flood_ops"] }
function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return a[int((n + 1) / 2)] }
END {
  worst = 0
  split("send ping auth", kinds, " ")
  for (r = 1; r <= rounds; r++) { b1[r] = p1[r, "none"]; b2[r] = p2[r, "none"] }
  printf "%-6s %12s %12s %9s %9s %12s\n", "kind", "pair1 Mbit/s", "pair2 Mbit/s", "loss1 %", "loss2 %", "flood ops/s"
  printf "%-6s %12.1f %12.1f %9s %9s %12s\n", "none", median(b1, rounds), median(b2, rounds), "-", "-", "-"
  for (k = 1; k <= 3; k++) {
    K = kinds[k]
    for (r = 1; r <= rounds; r++) {
      g1[r] = p1[r, K]; g2[r] = p2[r, K]; o[r] = ops[r, K]
      l1[r] = b1[r] > 0 ? 100 * (1 - p1[r, K] / b1[r]) : 100
      l2[r] = b2[r] > 0 ? 100 * (1 - p2[r, K] / b2[r]) : 100
    }
    m1 = median(l1, rounds); m2 = median(l2, rounds)
    printf "%-6s %12.1f %12.1f %9.1f %9.1f %12.0f\n", K, median(g1, rounds), median(g2, rounds), m1, m2, median(o, rounds) / '"$secs"'
    if (m1 > worst) worst = m1; if (m2 > worst) worst = m2
  }
  printf "worst median loss: %.1f%% (target <= 10%%)\n", worst
  exit worst > 10 ? 3 : 0
}' "$work/all"
