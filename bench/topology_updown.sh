#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (issue 2): up + down of a two-NAT topology (two NATed hosts, one public
# host, the default internet path of hops routers) with natlab, against the same
# topology built by a script of plain `ip` and `nft` commands (the baseline), measured
# in the same run; medians of RUNS runs and the ratio natlab / baseline (target: at most
# 1.0). Then the scale (issue 18): up + down of 10, 50 and 250 port-restricted NATs with
# 4 hosts each (1000 hosts at the top), medians of SCALE_RUNS runs: wall and CPU time
# (natlab's user + system) per size, the cost per node (NAT box or host) and the ratio of
# that cost at 250 NATs to the cost at 10 (target <= 1.3: linear), the 1000-host lab's
# up + down (target <= 5 s), each size's wall time counting the kernel's teardown after
# `natlab down` returned (until a new namespace is made at once again), and split into
# up, down and that teardown; memory per lab (the RSS of the daemon that keeps it, and the
# kernel's: Slab + Percpu + page tables in /proc/meminfo, before and after, which other
# work on the machine blurs) and per wire (50 hosts with `link = {}` against 50 without).
# Then dual stack against IPv4 only, alternating in the same run (issue 16):
# scenarios/ipv6.lua (five NATs, one IPv6-only, one NPTv6) and its IPv4-only twin, and
# the 50-NAT lab with and without IPv6, as ratios dual / IPv4.
# With BASELINE_TREE=DIR (another checkout, built in DIR/build, e.g. main's), the scale
# runs alternate with that tree's natlab, run for run, and print its medians and the
# ratio this code / baseline per size (the same run, so the same load).
# Run as root from the top of the repository after building; SCALE_SIZES="10 50" runs fewer.
set -euo pipefail
cd "$(dirname "$0")/.."
NATLAB=${NATLAB:-build/bin/natlab}
RUNS=${RUNS:-9}
tmp=$(mktemp -d)
trap '"$NATLAB" down bscale >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

cat >"$tmp/two.lua" <<'LUA'
local lab = natlab.lab{}
local inet = lab:internet{}
lab:host{ name = "srv", net = inet }
local a = lab:nat{ name = "nata", net = inet, profile = "full-cone" }
local b = lab:nat{ name = "natb", net = inet, profile = "port-restricted-cone" }
lab:host{ name = "ha", net = a }
lab:host{ name = "hb", net = b }
lab:up()
LUA
# The baseline gets natlab's own rulesets and hop count, so both build the same thing.
"$NATLAB" up "$tmp/two.lua" --name bref >/dev/null 2>&1
for n in nata natb; do "$NATLAB" exec bref "$n" -- nft list ruleset >"$tmp/$n.nft"; done
hops=$("$NATLAB" ls bref --json | jq '.internet.hops')
"$NATLAB" down bref >/dev/null 2>&1
if [ "$hops" -lt 2 ]; then
	echo "topology_updown: the baseline builds a backbone of 2 or more hops, natlab's default is $hops" >&2
	exit 1
fi

baseline() { # the same namespaces, links, addresses, routes, sysctls and rulesets
	local p=bb last=$((hops - 1)) k
	for n in internet srv nata natb ha hb; do ip netns add $p.$n; ip -n $p.$n link set lo up; done
	ip -n $p.internet link add core type bridge
	ip -n $p.internet link set core up
	ip -n $p.internet addr add 198.18.0.1/16 dev core noprefixroute
	ip netns exec $p.internet sysctl -qw net.ipv4.ip_forward=1
	# The backbone: a chain of routers behind the core, the last one on the core bridge.
	for k in $(seq 1 $last); do
		ip netns add $p.hop$k
		ip -n $p.hop$k link set lo up
		ip -n $p.hop$k addr add 198.19.0.$k/32 dev lo
		ip netns exec $p.hop$k sysctl -qw net.ipv4.ip_forward=1
		if [ "$k" = 1 ]; then
			ip -n $p.internet link add bb0 up type veth peer name in netns $p.hop1
		else
			ip -n $p.hop$((k - 1)) link add out up type veth peer name in netns $p.hop$k
		fi
		ip -n $p.hop$k link set in up
	done
	ip -n $p.internet link add bbfab master core up type veth peer name fab netns $p.hop$last
	ip -n $p.hop$last link set fab up
	ip -n $p.internet route add default via 198.19.0.1 dev bb0 onlink src 198.18.0.1
	for k in $(seq 1 $((last - 1))); do
		ip -n $p.hop$k route add default via 198.19.0.$((k + 1)) dev out onlink src 198.19.0.$k
	done
	ip -n $p.hop$last route add 198.18.0.0/16 dev fab src 198.19.0.$last
	for x in "srv eth0 198.18.0.2" "nata wan 198.18.0.3" "natb wan 198.18.0.4"; do
		set -- $x
		ip -n $p.internet link add p-$1 master core up type veth peer name "$2" netns $p.$1
		ip -n $p.$1 link set "$2" up
		ip -n $p.$1 addr add "$3/16" dev "$2" noprefixroute
		ip -n $p.$1 route add default via 198.18.0.1 dev "$2" onlink
	done
	for x in "nata 10.1.0 ha" "natb 10.2.0 hb"; do
		set -- $x
		ip netns exec $p.$1 sysctl -qw net.ipv4.ip_forward=1
		ip -n $p.$1 link add lan type bridge
		ip -n $p.$1 link set lan up
		ip -n $p.$1 addr add "$2.1/24" dev lan
		ip -n $p.$1 link add p-$3 master lan up type veth peer name eth0 netns $p.$3
		ip -n $p.$3 link set eth0 up
		ip -n $p.$3 addr add "$2.2/24" dev eth0
		ip -n $p.$3 route add default via "$2.1"
		ip netns exec $p.$1 nft -f "$tmp/$1.nft"
		ip netns exec $p.$1 sysctl -qw net.netfilter.nf_conntrack_udp_timeout=120
	done
	for n in internet srv nata natb ha hb $(seq -f hop%g 1 $last); do ip netns del $p.$n; done
}

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$tmp/natlab.t"
: >"$tmp/base.t"
for i in $(seq 1 "$RUNS"); do
	t=$(now)
	"$NATLAB" up "$tmp/two.lua" --name bn >/dev/null 2>&1
	"$NATLAB" down bn >/dev/null 2>&1
	echo "$(now) - $t" | awk '{print ($1 - $3) * 1000}' FS='[ ]' >>"$tmp/natlab.t"
	t=$(now)
	baseline
	echo "$(now) - $t" | awk '{print ($1 - $3) * 1000}' FS='[ ]' >>"$tmp/base.t"
done
n_ms=$(median <"$tmp/natlab.t")
b_ms=$(median <"$tmp/base.t")
printf 'two-NAT up+down (%d hops), median of %d: natlab %.1f ms, ip/nft script %.1f ms, ratio %.3fx (target <= 1.0x)\n' \
	"$hops" "$RUNS" "$n_ms" "$b_ms" "$(awk "BEGIN { print $n_ms / $b_ms }")"

# The scale: scenarios/big.lua with $1 NATs (of 4 hosts each); $2 = 1 gives each host a wire.
scale_lua() {
	sed -e "s/for n = 1, 50 do/for n = 1, $1 do/" \
		-e "$([ "${2:-0}" = 1 ] && echo 's/net = nat }/net = nat, link = {} }/' || echo 's/^//')" \
		scenarios/big.lua
}
# Prints "wall_ms cpu_ms" of one command (CPU: its user + system time, children included).
timed() {
	/usr/bin/time -o "$tmp/time" -f '%e %U %S' "$@" >/dev/null 2>&1
	awk '{ printf "%.1f %.1f\n", $1 * 1000, ($2 + $3) * 1000 }' "$tmp/time"
}
# The kernel's teardown after `natlab down` returned: the namespaces are destroyed in the
# background (cleanup_net holds the RTNL lock while it unregisters their devices, and each
# bridge's unregistering waits in rcu_barrier()), and a new namespace waits for it. Prints
# the ms from down's return until a new namespace is made at once (under 50 ms) three
# times in a row, 100 ms apart (the teardown starts a few ms after down returns): part of
# the lab's cost, which the next run's up would otherwise pay.
settle() {
	local t0 t1 fast=0 first=0 d
	t0=$(date +%s%N)
	for _ in $(seq 600); do
		t1=$(date +%s%N)
		unshare -n true
		d=$((($(date +%s%N) - t1) / 1000000))
		if [ "$d" -lt 50 ]; then
			[ "$fast" = 0 ] && first=$t1
			fast=$((fast + 1))
			[ "$fast" = 3 ] && break
		else
			fast=0
		fi
		sleep 0.1
	done
	echo $(((first - t0) / 1000000))
}
kmem_kb() { awk '/^(Slab|Percpu|PageTables):/ { s += $2 } END { print s }' /proc/meminfo; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
owner() { awk '{ print $1 }' "/run/natlab/$1/owner"; }

SCALE_RUNS=${SCALE_RUNS:-3}
SCALE_SIZES=${SCALE_SIZES:-10 50 250}
declare -A per_node
for nats in $SCALE_SIZES; do
	scale_lua "$nats" >"$tmp/scale$nats.lua"
	nodes=$((nats * 5))
	: >"$tmp/w$nats"
	: >"$tmp/c$nats"
	: >"$tmp/bw$nats"
	: >"$tmp/bc$nats"
	: >"$tmp/split$nats"
	for i in $(seq "$SCALE_RUNS"); do
		for side in "" ${BASELINE_TREE:+b}; do
			bin=$NATLAB
			[ "$side" = b ] && bin=$BASELINE_TREE/build/bin/natlab
			read -r uw uc < <(timed "$bin" up "$tmp/scale$nats.lua" --name bscale)
			read -r dw dc < <(timed "$bin" down bscale)
			sw=$(settle)
			echo "$uw + $dw + $sw" | bc >>"$tmp/${side}w$nats"
			echo "$uc + $dc" | bc >>"$tmp/${side}c$nats"
			[ -z "$side" ] && echo "$uw $dw $sw" >>"$tmp/split$nats"
		done
	done
	w=$(median <"$tmp/w$nats")
	c=$(median <"$tmp/c$nats")
	per_node[$nats]=$(awk -v w="$w" -v n="$nodes" 'BEGIN { print w / n }')
	printf '%d NATs + %d hosts up+down, median of %d: %.0f ms wall (%.2f ms per node), %.0f ms CPU (%.2f ms per node)\n' \
		"$nats" $((nats * 4)) "$SCALE_RUNS" "$w" "${per_node[$nats]}" "$c" \
		"$(awk -v c="$c" -v n="$nodes" 'BEGIN { print c / n }')"
	printf '  of which, medians: up %.0f ms, down %.0f ms, the kernel'"'"'s teardown after down %.0f ms\n' \
		"$(cut -d' ' -f1 "$tmp/split$nats" | median)" "$(cut -d' ' -f2 "$tmp/split$nats" | median)" \
		"$(cut -d' ' -f3 "$tmp/split$nats" | median)"
	if [ -n "${BASELINE_TREE:-}" ]; then
		bw=$(median <"$tmp/bw$nats")
		bc=$(median <"$tmp/bc$nats")
		printf '  baseline (%s), same runs: %.0f ms wall, %.0f ms CPU; this code / baseline: wall %.2f, CPU %.2f\n' \
			"$BASELINE_TREE" "$bw" "$bc" "$(awk -v a="$w" -v b="$bw" 'BEGIN { print a / b }')" \
			"$(awk -v a="$c" -v b="$bc" 'BEGIN { print a / b }')"
	fi
done
# The marginal cost per node between sizes: the fixed cost of a run (process, Lua, report,
# daemon) is in every size's figure and weighs most on the smallest.
prev=
for nats in $SCALE_SIZES; do
	if [ -n "$prev" ]; then
		printf 'marginal cost per node, %d -> %d NATs: %.2f ms\n' "$prev" "$nats" \
			"$(awk -v a="$(median <"$tmp/w$nats")" -v b="$(median <"$tmp/w$prev")" \
				-v n=$(((nats - prev) * 5)) 'BEGIN { print (a - b) / n }')"
	fi
	prev=$nats
done
if [ -n "${per_node[10]:-}" ] && [ -n "${per_node[250]:-}" ]; then
	r=$(awk -v a="${per_node[250]}" -v b="${per_node[10]}" 'BEGIN { print a / b }')
	printf 'cost per node at 250 NATs / at 10: %.2f (target <= 1.3): %s\n' "$r" \
		"$(awk -v r="$r" 'BEGIN { print (r <= 1.3) ? "met" : "NOT met" }')"
	printf '1000-host lab up+down: %.0f ms (target <= 5000 ms): %s\n' "$(median <"$tmp/w250")" \
		"$(awk -v w="$(median <"$tmp/w250")" 'BEGIN { print (w <= 5000) ? "met" : "NOT met" }')"
fi

# Memory: the 50-NAT lab, without wires and with one per host.
for link in 0 1; do
	scale_lua 50 "$link" >"$tmp/mem$link.lua"
	k0=$(kmem_kb)
	"$NATLAB" up "$tmp/mem$link.lua" --name bmem >/dev/null 2>&1
	sleep 1
	rss[$link]=$(rss_kb "$(owner bmem)")
	kmem[$link]=$(($(kmem_kb) - k0))
	"$NATLAB" down bmem >/dev/null 2>&1
done
printf 'memory, 50 NATs + 200 hosts: daemon RSS %d KiB; kernel %d KiB (%.1f KiB per namespace; blurred by other work on the machine)\n' \
	"${rss[0]}" "${kmem[0]}" "$(awk -v k="${kmem[0]}" 'BEGIN { print k / 251 }')"
printf 'memory per wire (200 wires): daemon %.1f KiB; kernel %.1f KiB (blurred likewise)\n' \
	"$(awk -v a="${rss[1]}" -v b="${rss[0]}" 'BEGIN { print (a - b) / 200 }')" \
	"$(awk -v a="${kmem[1]}" -v b="${kmem[0]}" 'BEGIN { print (a - b) / 200 }')"

# Dual stack against IPv4 only: the same topologies, IPv6 on or off, alternating.
sed 's/^local v6 = .*/local v6 = true/' scenarios/ipv6.lua >"$tmp/ds.lua"
sed 's/^local v6 = .*/local v6 = false/' scenarios/ipv6.lua >"$tmp/v4.lua"
sed 's/lab:internet{}/lab:internet{ ipv6 = true }/' scenarios/big.lua >"$tmp/bigds.lua"
grep -q 'ipv6 = true' "$tmp/bigds.lua" || { echo "topology_updown: big.lua's internet changed" >&2; exit 1; }
updown() { # updown FILE NAME: one up + down, milliseconds
	local t
	t=$(now)
	"$NATLAB" up "$1" --name "$2" >/dev/null 2>&1 || { echo "topology_updown: $1 failed" >&2; exit 1; }
	"$NATLAB" down "$2" >/dev/null 2>&1
	echo "$(now) - $t" | awk '{print ($1 - $3) * 1000}' FS='[ ]'
}
: >"$tmp/ds.t"
: >"$tmp/v4.t"
for i in $(seq 1 "$RUNS"); do
	updown "$tmp/ds.lua" bds >>"$tmp/ds.t"
	updown "$tmp/v4.lua" bv4 >>"$tmp/v4.t"
done
d_ms=$(median <"$tmp/ds.t")
v_ms=$(median <"$tmp/v4.t")
printf 'scenarios/ipv6.lua up+down, median of %d: dual stack %.1f ms, IPv4 only %.1f ms, ratio %.3fx\n' \
	"$RUNS" "$d_ms" "$v_ms" "$(awk "BEGIN { print $d_ms / $v_ms }")"
: >"$tmp/bigds.t"
: >"$tmp/bigv4.t"
for i in 1 2 3; do
	updown "$tmp/bigds.lua" bbds >>"$tmp/bigds.t"
	updown scenarios/big.lua bbv4 >>"$tmp/bigv4.t"
done
d_ms=$(median <"$tmp/bigds.t")
v_ms=$(median <"$tmp/bigv4.t")
printf '50 NATs + 200 hosts up+down, median of 3: dual stack %.0f ms, IPv4 only %.0f ms, ratio %.3fx\n' \
	"$d_ms" "$v_ms" "$(awk "BEGIN { print $d_ms / $v_ms }")"
