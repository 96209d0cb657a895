#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# natlab-relay against coturn's TURN relay, same machine, same run, loopback only:
# 1200-byte packets between two clients (delivered pps, RTT p50/p99, latency added over
# direct UDP), plain and over TLS (natlab-relay's --tls-listen port against TURN over
# TLS, one self-signed certificate for both), then 10,000 idle natlab-relay clients
# (relay RSS per client).
# usage: bench/relay_vs_coturn.sh [BUILD_DIR] [SECONDS]   (build with RelWithDebInfo)
# Targets (issue 4): pps ratio >= 1.0; bytes per idle client <= 8192.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
secs=${2:-3}
idle=${NATLAB_BENCH_IDLE:-10000}
command -v turnserver >/dev/null || { echo "relay_vs_coturn: turnserver missing (apt-get install coturn)" >&2; exit 77; }
[ -x "$build/bin/natlab-relay" ] || { echo "relay_vs_coturn: no $build/bin/natlab-relay (build first)" >&2; exit 1; }
work=$(mktemp -d /tmp/relay_bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cc -O2 -I "$src/include" -I "$src/proto/include" "$src/bench/relay_bench.c" \
	"$build/proto/libnatlab_tls.a" "$build/proto/libnatlab_proto.a" \
	$(pkg-config --libs libsodium openssl) -lpthread -o "$work/relay_bench"
# One self-signed pair for both servers' TLS ports; the clients pin it.
"$build/bin/natlab-relay" tls-cert "$work/tls" --name 127.0.0.1 >/dev/null
ulimit -n "$(ulimit -Hn)"

start_natlab() {
	"$build/bin/natlab-relay" --no-auth --listen 127.0.0.1:0 --rate 0 --source-rate 0 \
		--tls-listen 127.0.0.1:0 --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
		--max-clients $((idle + 100)) >"$work/ready" 2>"$work/relay.log" &
	pids+=($!)
	relay_pid=$!
	for _ in $(seq 50); do [ -s "$work/ready" ] && break; sleep 0.1; done
	natlab_addr=$(sed 's/.*"listen":"\([^"]*\)".*/\1/' "$work/ready")
	natlab_tls=$(sed 's/.*"tls_listen":"\([^"]*\)".*/\1/' "$work/ready")
	: >"$work/ready"
}

port=$((30000 + ($$ % 1000) * 2))
timeout 300 turnserver -n -z --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port=$port \
	--tls-listening-port=$((port + 1)) --cert="$work/tls.crt" --pkey="$work/tls.key" \
	--allow-loopback-peers --no-dtls --no-cli --log-file=stdout --simple-log \
	--min-port=$((port + 2000)) --max-port=$((port + 2100)) >"$work/turnserver.log" 2>&1 &
pids+=($!)
start_natlab
sleep 1

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
median() { sort -n | sed -n 2p; } # of three
# Latency: three alternating rounds per system (this box is shared; one round can hit a
# scheduling hiccup), the median of each percentile kept. Throughput: one run each.
for round in 1 2 3; do
	timeout 60 "$work/relay_bench" direct >>"$work/direct"
	timeout 60 "$work/relay_bench" natlab "$natlab_addr" 0 >>"$work/natlab"
	timeout 60 "$work/relay_bench" turn 127.0.0.1:$port 0 >>"$work/turn"
	timeout 60 "$work/relay_bench" natlab-tls "$natlab_tls" 0 "$work/tls.crt" >>"$work/natlab-tls"
	timeout 60 "$work/relay_bench" turn-tls 127.0.0.1:$((port + 1)) 0 "$work/tls.crt" >>"$work/turn-tls"
done
pps_ours=$(timeout 60 "$work/relay_bench" natlab "$natlab_addr" "$secs")
pps_theirs=$(timeout 60 "$work/relay_bench" turn 127.0.0.1:$port "$secs")
pps_ours_tls=$(timeout 60 "$work/relay_bench" natlab-tls "$natlab_tls" "$secs" "$work/tls.crt")
pps_theirs_tls=$(timeout 60 "$work/relay_bench" turn-tls 127.0.0.1:$((port + 1)) "$secs" "$work/tls.crt")
summary() { # file pps-line
	echo "pps=$(field pps "$2") rtt_p50_us=$(sed -n 's/.*rtt_p50_us=\([0-9.]*\).*/\1/p' "$1" | median)" \
		"rtt_p99_us=$(sed -n 's/.*rtt_p99_us=\([0-9.]*\).*/\1/p' "$1" | median)"
}
direct=$(summary "$work/direct" "pps=0")
ours=$(summary "$work/natlab" "$pps_ours")
theirs=$(summary "$work/turn" "$pps_theirs")
ours_tls=$(summary "$work/natlab-tls" "$pps_ours_tls")
theirs_tls=$(summary "$work/turn-tls" "$pps_theirs_tls")
d50=$(field rtt_p50_us "$direct")
d99=$(field rtt_p99_us "$direct")

report() { # name line
	local pps=$(field pps "$2") p50=$(field rtt_p50_us "$2") p99=$(field rtt_p99_us "$2")
	printf "%-14s %10.0f pps   rtt p50 %7.1f us  p99 %7.1f us   added p50 %7.1f us  p99 %7.1f us\n" \
		"$1" "$pps" "$p50" "$p99" "$(echo "$p50 - $d50" | bc -l)" "$(echo "$p99 - $d99" | bc -l)"
}
echo "1200-byte packets, loopback, ${secs}s; rtt = median of 3 rounds x 5000 (direct UDP rtt p50 $d50 us, p99 $d99 us)"
report natlab-relay "$ours"
report coturn-turn "$theirs"
report natlab-tls "$ours_tls"
report coturn-turn-tls "$theirs_tls"
ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo "ratio pps natlab/coturn:            $(ratio "$(field pps "$ours")" "$(field pps "$theirs")")  (target >= 1.0)"
echo "ratio added p50 natlab/coturn:      $(ratio "$(echo "$(field rtt_p50_us "$ours") - $d50" | bc -l)" "$(echo "$(field rtt_p50_us "$theirs") - $d50" | bc -l)")  (lower is better)"
echo "ratio added p99 natlab/coturn:      $(ratio "$(echo "$(field rtt_p99_us "$ours") - $d99" | bc -l)" "$(echo "$(field rtt_p99_us "$theirs") - $d99" | bc -l)")  (lower is better)"
echo "ratio pps natlab-tls/natlab:         $(ratio "$(field pps "$ours_tls")" "$(field pps "$ours")")  (the cost of TLS)"
echo "ratio pps natlab-tls/coturn-tls:     $(ratio "$(field pps "$ours_tls")" "$(field pps "$theirs_tls")")  (target >= 1.0)"

# A fresh relay, so the idle measurement is not inflated by the throughput run's buffers.
kill "$relay_pid"; wait "$relay_pid" 2>/dev/null || true
start_natlab
sleep 0.3
mem=$(timeout 120 "$work/relay_bench" idle "$natlab_addr" "$idle" "$relay_pid")
echo "idle: $mem"
echo "ratio bytes per idle client / 8192:  $(ratio "$(field bytes_per_client "$mem")" 8192)  (target <= 1.0)"
