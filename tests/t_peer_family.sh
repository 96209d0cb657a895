#!/bin/bash
# SPDX-License-Identifier: MIT
# natlab-peer and natlab-relay on both address families, in a network namespace of the
# test's own (unshare -n: nothing in the root namespace changes) with one veth pair
# carrying 198.18.0.1/24 and 2001:db8::1/64:
#  - a dual-stack pair learns a reflexive address per family, offers its IPv6 candidates
#    and goes direct over IPv6, IPv6 being probed first (RFC 8305/8421);
#  - with IPv6 between the peers dropped (nft in that namespace), it goes direct over
#    IPv4, whose probes waited for the 100 ms family stagger;
#  - a peer without IPv6 (bound to 0.0.0.0) and a dual-stack one go direct over IPv4 at
#    once (no stagger when there is nothing to race);
#  - the relay protocol over IPv6 (a relay given as [v6]:port), and the path events say
#    which family each path uses.
if [ -z "${T_PEER_FAMILY_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (a network namespace of its own)"; exit 77; }
	command -v unshare >/dev/null && command -v ip >/dev/null ||
		{ echo "1..0 # SKIP unshare and ip (util-linux, iproute2) are needed"; exit 77; }
	T_PEER_FAMILY_NS=1 exec unshare -n bash "$0" "$@"
fi
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
cd "$T_TMP" || exit 1

ip link set lo up && ip link add d0 type veth peer name d1 && ip link set d0 up && ip link set d1 up &&
	ip addr add 198.18.0.1/24 dev d0 && ip -6 addr add 2001:db8::1/64 dev d0 nodad ||
	t_skip_all "cannot configure the test's namespace (IPv6 disabled?)"

A=$("$PEER" keygen a.key)
"$PEER" keygen b.key >/dev/null
"$RELAY" --no-auth --listen 198.18.0.1:0 --listen "[2001:db8::1]:0" \
	--stun 198.18.0.1:3478 --stun "[2001:db8::1]:3478" >relay.out 2>relay.err &
T_PIDS+=("$!")
for _ in $(seq 50); do grep -q '"ready"' relay.out 2>/dev/null && break; sleep 0.05; done
P4=$(sed -n 's/.*"listen":"198\.18\.0\.1:\([0-9]*\)".*/\1/p' relay.out)
P6=$(sed -n 's/.*"listen2":"\[2001:db8::1\]:\([0-9]*\)".*/\1/p' relay.out)
t_ok "$([ -n "$P4" ] && [ -n "$P6" ]; echo $?)" "relay listens on both families" "$(cat relay.out relay.err)"
stun=(--stun "198.18.0.1:3478,[2001:db8::1]:3478")

# t_ms of NAME's first event matching PATTERN.
t_of() { grep -m1 -E "$2" "$T_TMP/$1.out" | sed -n 's/^{"t_ms":\([0-9.]*\),.*/\1/p'; }
# ms_between NAME FROM TO: whole milliseconds between two of NAME's events.
ms_between() { awk -v a="$(t_of "$1" "$2")" -v b="$(t_of "$1" "$3")" 'BEGIN { if (a == "" || b == "") print -1; else printf "%d", b - a }'; }

# pair TAG LISTENER_ARGS... -- CONNECTOR_ARGS...: a listener and a connector (ping 3).
pair() {
	local tag=$1 l=() c=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do l+=("$1"); shift; done
	shift
	c=("$@")
	peer_bg "l$tag" --key a.key "${l[@]}" --listen --timeout 10
	peer_bg "c$tag" --key b.key "${c[@]}" --connect "$A" --ping 3 --timeout 10
	wait_pid "$(eval echo "\$c${tag}_PID")" 20
	local rc=$?
	wait_pid "$(eval echo "\$l${tag}_PID")" 10
	return $rc
}

# --- dual-stack pair: IPv6 first ---
pair 1 --relay "198.18.0.1:$P4" "${stun[@]}" -- --relay "198.18.0.1:$P4" "${stun[@]}"
t_is $? 0 "dual-stack pair: connector exits 0"
t_ok "$(count c1 '"event":"reflexive","addr":"198\.18\.0\.1:[0-9]+".*"family":"ipv4"' >/dev/null; echo $?)" "reflexive IPv4 address" "$(show c1)"
t_ok "$(count c1 '"event":"reflexive","addr":"\[2001:db8::1\]:[0-9]+".*"family":"ipv6"' >/dev/null; echo $?)" "reflexive IPv6 address (XOR-MAPPED-ADDRESS over IPv6)"
t_ok "$(count c1 '"event":"candidates","side":"remote".*"addr":"\[2001:db8::1\]:' >/dev/null; echo $?)" "the listener's IPv6 candidates reach the connector in its offer" "$(events c1 candidates)"
t_ok "$(count c1 '"event":"path","kind":"direct","remote":"\[2001:db8::1\]:[0-9]+","family":"ipv6"' >/dev/null; echo $?)" "connector goes direct over IPv6" "$(events c1 path)"
t_ok "$(count l1 '"event":"path","kind":"direct","remote":"\[2001:db8::1\]:[0-9]+","family":"ipv6"' >/dev/null; echo $?)" "listener goes direct over IPv6" "$(events l1 path)"
t_is "$(count c1 '"event":"path","kind":"direct".*"family":"ipv4"')" 0 "no IPv4 direct path while IPv6 works"
t_ok "$(count c1 '"event":"path","kind":"relay".*"family":"ipv4"' >/dev/null; echo $?)" "the relay path says it is IPv4" "$(events c1 path)"
# Pings 2 and 3 go direct unless the path took longer than a ping interval (100 ms).
n=$(count c1 '"event":"rtt".*"path":"direct","source":"ping"')
t_ok "$([ "$n" -ge 1 ] && [ "$n" -le 2 ]; echo $?)" "pings over the IPv6 path: $n of pings 2 and 3"

# --- IPv6 dropped between the peers: IPv4 after the stagger ---
if command -v nft >/dev/null && nft -f - <<'EOF'
table inet t_family {
	chain out {
		type filter hook output priority 0;
		meta nfproto ipv6 udp sport != 3478 udp dport != 3478 drop
	}
}
EOF
then
	pair 2 --relay "198.18.0.1:$P4" "${stun[@]}" -- --relay "198.18.0.1:$P4" "${stun[@]}"
	t_is $? 0 "IPv6 dropped: connector exits 0"
	t_ok "$(count l2 '"event":"candidates","side":"remote".*"addr":"\[2001:db8::1\]:' >/dev/null; echo $?)" "IPv6 dropped: IPv6 candidates still offered"
	t_ok "$(count l2 '"event":"path","kind":"direct","remote":"198\.18\.0\.1:[0-9]+","family":"ipv4"' >/dev/null; echo $?)" "IPv6 dropped: direct over IPv4" "$(events l2 path)"
	gap=$(ms_between l2 '"event":"punch"' '"event":"path","kind":"direct"')
	t_ok "$([ "$gap" -ge 95 ] && [ "$gap" -le 1000 ]; echo $?)" "IPv6 dropped: IPv4 went direct after the 100 ms stagger ($gap ms after the round began)" "$(cut -c1-200 "$T_TMP/l2.out")"
	nft delete table inet t_family
else
	t_ok 0 "# SKIP nft cannot filter in the test's namespace"
fi

# --- a peer without IPv6 and a dual-stack one: IPv4 at once ---
pair 3 --relay "198.18.0.1:$P4" "${stun[@]}" --bind 0.0.0.0 -- --relay "198.18.0.1:$P4" "${stun[@]}"
t_is $? 0 "IPv4-only listener, dual-stack connector: exits 0"
t_is "$(count l3 '"side":"local".*"addr":"\[')" 0 "the IPv4-only peer has no IPv6 candidate of its own" "$(show l3)"
t_ok "$(count c3 '"event":"path","kind":"direct","remote":"198\.18\.0\.1:[0-9]+","family":"ipv4"' >/dev/null; echo $?)" "IPv4-only x dual-stack: direct over IPv4" "$(events c3 path)"
gap=$(ms_between c3 '"event":"punch"' '"event":"path","kind":"direct"')
t_ok "$([ "$gap" -ge 0 ] && [ "$gap" -lt 90 ]; echo $?)" "IPv4-only x dual-stack: no stagger ($gap ms)"

# --- the relay protocol over IPv6 ---
pair 4 --relay "[2001:db8::1]:$P6" --relay-only -- --relay "[2001:db8::1]:$P6" --relay-only
t_is $? 0 "relay over IPv6: connector exits 0"
t_ok "$(count c4 '"event":"relay_connected","relay":"\[2001:db8::1\]:'"$P6"'"' >/dev/null; echo $?)" "relay over IPv6: connected" "$(show c4)"
t_ok "$(count c4 '"event":"path","kind":"relay","remote":"\[2001:db8::1\]:'"$P6"'".*"family":"ipv6"' >/dev/null; echo $?)" "relay over IPv6: the path says ipv6" "$(events c4 path)"
t_is "$(count c4 '"event":"rtt".*"path":"relay","source":"ping"')" 3 "relay over IPv6: three pings"

t_done
