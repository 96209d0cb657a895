#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A lab's whole life: up, ls, exec, down; failures and signals during up; kill -9 of
# natlab mid-build then cleanup; a dual-stack lab up and down. Throughout, the root
# namespace must not change: links, addresses, routes (IPv4 and IPv6), nftables ruleset
# and the sysctls labs set (IPv4 and IPv6) are compared before/after.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq

root_snapshot() {
	{
		ip -o link show | sed 's/^[0-9]*: //'
		ip -o addr show
		ip route show table all
		ip -6 route show table all
		ip -6 neigh show
		nft list ruleset
		for k in net.ipv4.ip_forward net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter \
			net.ipv4.conf.all.send_redirects net.ipv6.conf.all.disable_ipv6 \
			net.netfilter.nf_conntrack_udp_timeout net.netfilter.nf_conntrack_udp_timeout_stream \
			net.bridge.bridge-nf-call-iptables net.ipv6.conf.default.disable_ipv6 \
			net.ipv6.conf.all.forwarding net.ipv6.conf.default.forwarding \
			net.ipv6.conf.all.accept_dad net.ipv6.conf.default.accept_dad \
			net.ipv6.conf.all.accept_ra net.ipv6.conf.default.accept_ra \
			net.ipv6.conf.all.autoconf net.ipv6.conf.default.autoconf \
			net.ipv6.conf.default.router_solicitations \
			net.ipv6.conf.all.keep_addr_on_down net.ipv6.conf.default.keep_addr_on_down; do
			sysctl -n "$k" 2>/dev/null | sed "s/^/$k=/"
		done
	} 2>&1
}
lab_leftovers() { # namespaces, state and processes of lab $1
	ip netns list 2>/dev/null | grep "^nl-$1\." || true
	[ -e "/run/natlab/$1" ] && echo "state dir /run/natlab/$1"
	for p in /proc/[0-9]*; do
		ns=$(readlink "$p/ns/net" 2>/dev/null) || continue
		for f in /run/netns/nl-"$1".*; do
			[ -e "$f" ] && [ "$(stat -L -c %i "$f")" = "$(echo "$ns" | tr -dc 0-9)" ] && echo "process ${p#/proc/}"
		done
	done
}

before=$(root_snapshot)
L=$(t_lab_name a)
t_up "$L" "$SRC/scenarios/example.lua"
t_ok $? "example lab is up" "$(cat "$T_TMP/up-$L.log")"
json=$("$NATLAB" ls "$L" --json)
t_is "$(echo "$json" | jq -r '.status')" up "ls --json: status up"
t_is "$(echo "$json" | jq '.nodes | length')" 7 "ls --json: 7 nodes"
t_is "$(echo "$json" | jq -r '.nodes[] | select(.name=="alice") | .addrs[0]')" 10.1.0.2 "alice has 10.1.0.2"
t_is "$(echo "$json" | jq -r '.nodes[] | select(.name=="cpe") | .net')" isp "cpe sits on isp"
t_is "$("$NATLAB" ls --json | jq -r ".[] | select(.name==\"$L\") | .status")" up "ls lists the lab"
hops=$(echo "$json" | jq '.internet.hops')
nns=$((7 + hops - 1))
t_is "$(ip netns list 2>/dev/null | grep -c "^nl-$L\.")" "$nns" "one namespace per node and per backbone router ($hops hops), named after the lab"
t_is "$(ip netns list 2>/dev/null | grep -cE "^nl-$L\.internet\.hop[0-9]+( |\$)")" "$((hops - 1))" "backbone routers are nl-LAB.internet.hopK"
t_is "$("$NATLAB" exec "$L" home -- ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\n' ' ')" \
	"lan lo p-alice wan " "NAT box has lo, wan, lan and a port per host"

"$NATLAB" exec "$L" alice -- ping -c 1 -W 2 198.18.0.2 >/dev/null
t_ok $? "alice reaches srv through her NAT"
"$NATLAB" exec "$L" bob -- ping -c 1 -W 2 198.18.0.3 >/dev/null
t_ok $? "bob reaches srv's second address through two NATs"
"$NATLAB" exec "$L" srv -- ping -c 1 -W 1 10.1.0.2 >/dev/null 2>&1
t_ok $(( $? == 0 )) "srv cannot reach alice's private address"
"$NATLAB" exec "$L" alice -- sh -c 'exit 7'
t_is $? 7 "exec passes the exit code on"
t_is "$(echo hello | "$NATLAB" exec "$L" alice -- cat)" hello "exec inherits stdin and stdout"
"$NATLAB" exec "$L" alice -- /nonexistent 2>/dev/null
t_is $? 127 "exec of a missing command exits 127"
err=$("$NATLAB" exec "$L" carol -- true 2>&1)
t_ok $(( $? == 0 )) "exec in an unknown node fails"
echo "$err" | grep -q 'has no node "carol" (it has: internet, srv, home, isp, cpe, alice, bob)'
t_ok $? "and lists the nodes there are" "$err"
"$NATLAB" up "$SRC/scenarios/example.lua" --name "$L" --out "$T_TMP/out-dup" >"$T_TMP/dup" 2>&1
t_is $? 1 "up with a name in use fails"
grep -q "exists already" "$T_TMP/dup"
t_ok $? "and says so" "$(cat "$T_TMP/dup")"
t_is "$(ip netns list 2>/dev/null | grep -c "^nl-$L\.")" "$nns" "the first lab is untouched"

"$NATLAB" exec "$L" alice -- sleep 600 &
sleeper=$!
disown "$sleeper"
sleep 0.3
"$NATLAB" down "$L" 2>/dev/null
t_ok $? "down succeeds"
sleep 0.1
kill -0 "$sleeper" 2>/dev/null
t_ok $(( $? == 0 )) "down killed the process running in alice"
t_is "$(lab_leftovers "$L")" "" "down leaves no namespace, state or process"
"$NATLAB" down "$L" >/dev/null 2>&1
t_is $? 1 "down of an unknown lab fails"

# A wired link under `natlab up`: the daemon keeping the lab forwards it.
printf 'local lab = natlab.lab{}\nlocal i = lab:internet{}\nlab:host{ name = "srv", net = i }\nlab:host{ name = "far", net = i, link = { delay = "25ms" } }\nlab:up()\n' >"$T_TMP/wired.lua"
LW=$(t_lab_name w)
t_up "$LW" "$T_TMP/wired.lua"
t_ok $? "a lab with a wired link is up" "$(cat "$T_TMP/up-$LW.log")"
rtt=$("$NATLAB" exec "$LW" far -- ping -c 3 -i 0.2 198.18.0.2 | sed -n 's|^rtt.* = \([0-9]*\)[0-9.]*/.*|\1|p')
[ "${rtt:-0}" -ge 50 ] && [ "${rtt:-0}" -lt 80 ]
t_ok $? "the daemon forwards the wire: 25 ms each way (min RTT ${rtt:-none} ms)"
"$NATLAB" down "$LW" >/dev/null 2>&1
t_is "$(lab_leftovers "$LW")" "" "down removes the wired lab and its daemon"

# A dual-stack lab: IPv6 is on inside it (addresses, routes, sysctls), never outside.
L6=$(t_lab_name v)
t_up "$L6" "$SRC/scenarios/ipv6.lua"
t_ok $? "the dual-stack example lab is up" "$(cat "$T_TMP/up-$L6.log")"
t_is "$("$NATLAB" ls "$L6" --json | jq -r '.nodes[] | select(.name=="phone") | .addrs6[0]')" \
	2001:db8:0:5::2 "ls --json: the IPv6-only phone's address"
"$NATLAB" exec "$L6" phone -- ping -6 -c 1 -W 2 2001:db8::2 >/dev/null
t_ok $? "the phone pings srv over IPv6 (exec)"
t_is "$("$NATLAB" exec "$L6" home -- sysctl -n net.ipv6.conf.all.forwarding)" 1 "the box forwards IPv6"
"$NATLAB" down "$L6" >/dev/null 2>&1
t_is "$(lab_leftovers "$L6")" "" "down removes the dual-stack lab"

# Captures kept by the daemon until down.
LC=$(t_lab_name p)
T_LABS+=("$LC")
"$NATLAB" up "$SRC/scenarios/example.lua" --name "$LC" --out "$T_TMP/out-$LC" --pcap "$T_TMP/cap" >/dev/null 2>&1
"$NATLAB" exec "$LC" alice -- ping -c 2 -i 0.2 198.18.0.2 >/dev/null
"$NATLAB" down "$LC" >/dev/null 2>&1
t_is "$(ls "$T_TMP/cap" | wc -l)" 10 "up --pcap: both sides of 3 NATs and 3 hosts, and lab.pcapng"
if command -v tshark >/dev/null; then
	t_is "$(tshark -r "$T_TMP/cap/home-wan.pcap" -Y 'icmp.type == 8' 2>/dev/null | wc -l)" 2 \
		"the daemon's capture holds alice's pings, written out at down"
fi

# A scenario that fails after lab:up() is torn down by natlab itself.
printf 'local lab = natlab.lab{}\nlocal i = lab:internet{}\nlab:host{ name = "h", net = i }\nlab:up()\nerror("boom")\n' >"$T_TMP/boom.lua"
L2=$(t_lab_name b)
"$NATLAB" up "$T_TMP/boom.lua" --name "$L2" --out "$T_TMP/out-$L2" >"$T_TMP/boom.log" 2>&1
t_is $? 1 "up of a failing scenario exits 1"
grep -q "boom.lua:5: boom" "$T_TMP/boom.log"
t_ok $? "with file and line of the error" "$(cat "$T_TMP/boom.log")"
t_is "$(lab_leftovers "$L2")" "" "and leaves nothing behind"

# A big lab, so that signals and kill -9 land while it is being built.
big=$SRC/scenarios/big.lua
wait_for_netns() { for _ in $(seq 1 500); do ip netns list 2>/dev/null | grep -q "^nl-$1\." && return 0; sleep 0.01; done; return 1; }

L3=$(t_lab_name c)
"$NATLAB" up "$big" --name "$L3" --out "$T_TMP/out-$L3" >"$T_TMP/int.log" 2>&1 &
pid=$!
wait_for_netns "$L3"
kill -INT $pid
wait $pid
t_is $? 130 "SIGINT during up exits 130"
t_is "$(lab_leftovers "$L3")" "" "and tears the half-built lab down"

L4=$(t_lab_name d)
"$NATLAB" up "$big" --name "$L4" --out "$T_TMP/out-$L4" >/dev/null 2>&1 &
pid=$!
wait_for_netns "$L4"
kill -9 $pid
wait $pid 2>/dev/null
t_is "$("$NATLAB" ls --json | jq -r ".[] | select(.name==\"$L4\") | .status")" orphaned \
	"a lab whose natlab was killed -9 is listed as orphaned"
"$NATLAB" cleanup >"$T_TMP/cleanup.log" 2>&1
t_ok $? "cleanup succeeds" "$(cat "$T_TMP/cleanup.log")"
grep -q "removed lab \"$L4\"" "$T_TMP/cleanup.log"
t_ok $? "cleanup says what it removed" "$(cat "$T_TMP/cleanup.log")"
t_is "$(lab_leftovers "$L4")" "" "no namespace, interface, state or process of it remains"

if command -v setpriv >/dev/null; then
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$NATLAB" up "$SRC/scenarios/example.lua" --name nobody 2>&1)
	t_is $? 1 "up without privileges fails"
	echo "$out" | grep -q "needs root (CAP_NET_ADMIN"
	t_ok $? "with a clear message" "$out"
fi

after=$(root_snapshot)
t_is "$after" "$before" "the root namespace is unchanged"
t_done
