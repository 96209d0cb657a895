#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# natlab-relay against coturn's TURN relay like for like (issue 18), same machine, same
# run, inside a network namespace of its own (loopback only; removed at exit):
#  - TCP: natlab-relay's --listen port against TURN over TCP (the allocation's control
#    connection carries ChannelData, RFC 8656 framing with padding); TLS: natlab-relay's
#    --tls-listen port against TURN over TLS, one self-signed certificate for both.
#    1200-byte packets A -> relay -> B: the highest rate delivered with no loss (pps,
#    relay_bench --search) and the round trip added over direct UDP (p50, p99 of 5000).
#    Like for like: on both relays A and B are clients over one stream each; with
#    coturn each holds an allocation with a channel to the other's relayed address (the
#    server carries the packets between the two allocations over UDP, as TURN does
#    between two of its clients). Also measured, not a target: coturn with B as A's
#    plain UDP peer (coturn-*-udppeer: one leg less of stream and TLS work for coturn).
#    ROUNDS rounds of searches and 3 x ROUNDS of latency (this box is shared: one
#    round can hit a scheduling hiccup), the systems alternating within each round;
#    medians printed, then ratios.
#  - IDLE authenticated clients (tokens of an issuer key) held by a fresh natlab-relay,
#    spread over 200 source addresses in 127.1.0.0/16: relay RSS growth per client and
#    setup time; then the same for clients on the TLS port (information, no target).
# usage: bench/relay_vs_coturn.sh [BUILD_DIR] [SECONDS_PER_STEP] [ROUNDS]
#   env NATLAB_BENCH_IDLE=N (default 100000; 0 skips), NATLAB_BENCH_IDLE_TLS=N (2000),
#   run as root, RelWithDebInfo build.
# Targets (issue 18): delivered pps natlab/coturn >= 2.0 over TCP and over TLS, added
# p99 no higher than coturn's; <= 2048 relay bytes per idle client.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
secs=${2:-1}
rounds=${3:-3}
idle=${NATLAB_BENCH_IDLE:-100000}
command -v turnserver >/dev/null || { echo "relay_vs_coturn: turnserver missing (apt-get install coturn)" >&2; exit 77; }
[ -x "$build/bin/natlab-relay" ] || { echo "relay_vs_coturn: no $build/bin/natlab-relay (build first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "relay_vs_coturn: run as root (it makes a network namespace)" >&2; exit 1; }
work=$(mktemp -d /tmp/relay_bench.XXXXXX)
ns=relaybench$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
# (background processes are started with ip netns exec directly: it execs, so $! is
# theirs)
in_ns() { ip netns exec "$ns" "$@"; }

cc -O2 -I "$src/include" -I "$src/proto/include" "$src/bench/relay_bench.c" \
	"$build/proto/libnatlab_tls.a" "$build/proto/libnatlab_proto.a" \
	$(pkg-config --libs libsodium openssl) -lpthread -o "$work/relay_bench"
# One self-signed pair for both servers' TLS ports; the clients pin it.
"$build/bin/natlab-relay" tls-cert "$work/tls" --name 127.0.0.1 >/dev/null
# The idle clients need a descriptor each, here and in the relay: this shell only. A
# hard limit we cannot raise (no CAP_SYS_RESOURCE, as in some containers) caps the
# count, said so in the output.
want_fds=$((idle + 1024))
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge "$want_fds" ] ||
	ulimit -Hn "$want_fds" 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
	echo "relay_vs_coturn: RLIMIT_NOFILE is capped at $(ulimit -Hn) here (raising it needs" \
		"CAP_SYS_RESOURCE): $((idle)) idle clients reduced to $(($(ulimit -Hn) - 1024))" >&2
	idle=$(($(ulimit -Hn) - 1024))
fi

wait_ready() { # file
	for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
	echo "relay_vs_coturn: natlab-relay did not start:" >&2
	cat "$work/relay.log" >&2
	exit 1
}
ip netns exec "$ns" "$build/bin/natlab-relay" --no-auth --listen 127.0.0.1:0 --rate 0 --source-rate 0 \
	--tls-listen 127.0.0.1:0 --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
	>"$work/ready" 2>"$work/relay.log" &
pids+=($!)
relay_pid=$!
wait_ready "$work/ready"
natlab_addr=$(sed 's/.*"listen":"\([^"]*\)".*/\1/' "$work/ready")
natlab_tls=$(sed 's/.*"tls_listen":"\([^"]*\)".*/\1/' "$work/ready")

port=3478
ip netns exec "$ns" timeout 1800 turnserver -n -z --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 \
	--listening-port=$port --tls-listening-port=$((port + 1)) --cert="$work/tls.crt" \
	--pkey="$work/tls.key" --allow-loopback-peers --no-dtls --no-cli --log-file=stdout \
	--simple-log --pidfile="$work/turnserver.pid" --min-port=49152 --max-port=49252 \
	>"$work/turnserver.log" 2>&1 &
pids+=($!)
sleep 1

# How each system is run (words split: no spaces in these paths).
declare -A sys=(
	[direct]="direct"
	[natlab-tcp]="natlab $natlab_addr"
	[coturn-tcp]="turn-tcp 127.0.0.1:$port"
	[natlab-tls]="natlab-tls $natlab_tls --cert $work/tls.crt"
	[coturn-tls]="turn-tls 127.0.0.1:$((port + 1)) --cert $work/tls.crt"
	[coturn-tcp-udppeer]="turn-tcp 127.0.0.1:$port --udp-peer"
	[coturn-tls-udppeer]="turn-tls 127.0.0.1:$((port + 1)) --cert $work/tls.crt --udp-peer"
)
run() { # out-file system extra-args...
	local out=$1 name=$2
	shift 2
	# shellcheck disable=SC2086
	if ! in_ns timeout 300 "$work/relay_bench" ${sys[$name]} "$@" >>"$work/$out" 2>>"$work/$out.err"; then
		echo "relay_vs_coturn: $name failed:" >&2
		tail -5 "$work/$out.err" >&2
		return 1
	fi
}
# Latency in pairs: natlab-relay and coturn take turns, one round trip each (--baton), so
# load from the rest of this shared machine falls on both alike; each pairing keeps
# natlab's samples of its own (NAME.lat.vs-OTHER).
lat_pair() { # natlab-system coturn-system
	rm -f "$work/b1" "$work/b2"
	mkfifo "$work/b1" "$work/b2"
	run "$1.lat.vs-$2" "$1" --seconds 0 --baton "$work/b1,$work/b2" &
	local a=$!
	run "$2.lat" "$2" --seconds 0 --baton "$work/b2,$work/b1" &
	local b=$!
	printf b >"$work/b1"
	wait "$a" && wait "$b"
}
for round in $(seq $((rounds * 3))); do
	run direct.lat direct
	for t in tcp tls; do
		lat_pair natlab-$t coturn-$t
		lat_pair natlab-$t coturn-$t-udppeer
	done
done
echo "latency rounds done" >&2
# Searches: rounds alternate the systems.
for round in $(seq "$rounds"); do
	for s in natlab-tcp coturn-tcp natlab-tls coturn-tls coturn-tcp-udppeer coturn-tls-udppeer; do
		run "$s" "$s" --pings 0 --seconds "$secs" --search
	done
	echo "search round $round of $rounds done" >&2
done

med() { # file key: the median of key=value over the file's lines
	sed -n "s/.*\b$2=\([0-9.]*\).*/\1/p" "$1" |
		sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
d50=$(med "$work/direct.lat" rtt_p50_us)
d99=$(med "$work/direct.lat" rtt_p99_us)
printf '1200-byte packets, loopback of a namespace; medians of %s searches (%s s per step) and of %s x 5000 round trips\n' "$rounds" "$secs" $((rounds * 3))
printf 'pps = highest rate delivered with no loss; direct UDP rtt p50 %.1f us, p99 %.1f us\n' "$d50" "$d99"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
row() { # name latency-file
	local p50 p99
	p50=$(med "$2" rtt_p50_us) p99=$(med "$2" rtt_p99_us)
	printf '%-32s %7.0f pps (runs: %s)  rtt p50 %7.1f p99 %7.1f us  added p50 %7.1f p99 %7.1f us\n' \
		"$1" "$(med "$work/${1%% *}" pps)" "$(sed -n 's/^pps=\([0-9]*\) steps.*/\1/p' "$work/${1%% *}" | paste -sd,)" \
		"$p50" "$p99" "$(minus "$p50" "$d50")" "$(minus "$p99" "$d99")"
}
for t in tcp tls; do
	for c in coturn-$t coturn-$t-udppeer; do
		row "natlab-$t (rtt paired with $c)" "$work/natlab-$t.lat.vs-$c"
		row "$c" "$work/$c.lat"
	done
done
for t in tcp tls; do
	for c in coturn-$t coturn-$t-udppeer; do
		[ "$c" = coturn-$t ] && target=">= 2.0" p99target="<= 1.0" || target="no target: not like for like" p99target=$target
		n=$work/natlab-$t.lat.vs-$c
		echo "ratio pps natlab-$t/$c: $(ratio "$(med "$work/natlab-$t" pps)" "$(med "$work/$c" pps)")  ($target)"
		echo "ratio added p99 natlab-$t/$c: $(ratio "$(minus "$(med "$n" rtt_p99_us)" "$d99")" "$(minus "$(med "$work/$c.lat" rtt_p99_us)" "$d99")")  ($p99target)"
		echo "ratio added p50 natlab-$t/$c: $(ratio "$(minus "$(med "$n" rtt_p50_us)" "$d50")" "$(minus "$(med "$work/$c.lat" rtt_p50_us)" "$d50")")  (lower is better)"
	done
done
echo "ratio pps natlab-tls/natlab-tcp: $(ratio "$(med "$work/natlab-tls" pps)" "$(med "$work/natlab-tcp" pps)")  (the cost of TLS)"

[ "$idle" -gt 0 ] || exit 0
# A fresh relay for each idle measurement, so the figure is not inflated by earlier
# buffers; tokens required, limits opened for one bench host posing as many.
"$build/bin/natlab-relay" keygen "$work/issuer" >/dev/null
idle_run() { # clients extra-relay_bench-args...
	local n=$1 mem
	shift
	kill "$relay_pid"
	wait "$relay_pid" 2>/dev/null || true
	: >"$work/ready"
	ip netns exec "$ns" "$build/bin/natlab-relay" --issuer-key "$work/issuer.pub" \
		--listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 --tls-cert "$work/tls.crt" \
		--tls-key "$work/tls.key" --max-clients $((n + 100)) --max-handshakes 2048 \
		--source-handshakes 2048 --source-rate 0 --handshake-timeout 30000 \
		>"$work/ready" 2>"$work/relay.log" &
	pids+=($!)
	relay_pid=$!
	wait_ready "$work/ready"
	sleep 0.3
	natlab_addr=$(sed 's/.*"listen":"\([^"]*\)".*/\1/' "$work/ready")
	natlab_tls=$(sed 's/.*"tls_listen":"\([^"]*\)".*/\1/' "$work/ready")
	[ $# -gt 0 ] && natlab_addr=$natlab_tls
	mem=$(in_ns timeout 600 "$work/relay_bench" idle "$natlab_addr" --clients "$n" --pid "$relay_pid" \
		--sources 200 --window 1024 --issuer "$work/issuer" "$@")
	echo "idle: $mem"
	echo "relay bytes per idle$([ $# -gt 0 ] && echo " TLS") client: $(sed -n 's/.*bytes_per_client=\([0-9.-]*\).*/\1/p' <<<"$mem")" \
		"($([ $# -gt 0 ] && echo "no target" || echo "target <= 2048")); setup $(sed -n 's/.*setup_s=\([0-9.]*\).*/\1/p' <<<"$mem") s"
}
idle_run "$idle"
idle_tls=${NATLAB_BENCH_IDLE_TLS:-2000}
[ "$idle_tls" -gt 0 ] && idle_run "$idle_tls" --cert "$work/tls.crt"
exit 0
