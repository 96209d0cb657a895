#!/bin/bash
# SPDX-License-Identifier: MIT
# natlab-peer in a dual-stack lab (tests/peer_v6_lab.lua: two symmetric NATs, IPv6
# routed to each LAN through the boxes' stateful IPv6 firewalls, filtering6
# address-and-port-dependent): with hard-NAT techniques off, IPv4 between the peers stays
# on the relay (DESIGN.md's symmetric x symmetric), and the same pair on both families
# goes direct over IPv6 through the two firewalls (both sides probe at once, so each
# firewall sees its own host send first), the relay protocol and STUN answering on both
# families. The reflexive IPv6 address is the host's own (no NAT on IPv6). natlab probe
# --ipv6 runs RFC 5780 over UDP and the TCP probe over IPv6 and matches what the boxes
# declare: the firewall, a box without one (v6-open), one translating its prefix (nptv6);
# coturn's turnutils_natdiscovery agrees over IPv6 against natlab-relay.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
t_require_root
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
LAB=$(t_lab_name p6)
t_up "$LAB" "$SRC/tests/peer_v6_lab.lua"
t_ok $? "dual-stack lab up" "$(cat "$T_TMP/up-$LAB.log" 2>/dev/null)"
cd "$T_TMP" || exit 1
# addr HOST 4|6: its first address of that family, from natlab ls.
addr() {
	"$NATLAB" ls "$LAB" | awk -v h="$1" '$1 == h {print $NF}' | tr , '\n' |
		if [ "$2" = 6 ]; then grep -m1 :; else grep -m1 -v :; fi
}
SRV4=$(addr srv 4) SRV6=$(addr srv 6) A16=$(addr a1 6) B16=$(addr b1 6)
SRV6B=$("$NATLAB" ls "$LAB" | awk '$1 == "srv" {print $NF}' | tr , '\n' | grep : | sed -n 2p)
t_ok "$([[ $SRV6 == 2001:db8:* && $A16 == 2001:db8:* && $B16 == 2001:db8:* ]]; echo $?)" "hosts have IPv6 addresses ($SRV6, $A16, $B16)"
A=$("$PEER" keygen a.key)
"$PEER" keygen b.key >/dev/null

timeout 120 "$NATLAB" exec "$LAB" srv -- "$RELAY" --no-auth --listen "$SRV4:3340" --listen "[$SRV6]:3340" \
	--stun "$SRV4:3478" --stun "[$SRV6]:3478" --stun-alt "$SRV6B" >relay.out 2>relay.err &
T_PIDS+=("$!")
for _ in $(seq 100); do grep -q '"ready"' relay.out && break; sleep 0.05; done
t_ok "$(grep -q '"listen2":"\['"$SRV6"'\]:3340","stun2":"\['"$SRV6"'\]:3478"' relay.out; echo $?)" "relay up on both families" "$(cat relay.out relay.err)"
STUN="$SRV4:3478,[$SRV6]:3478"

pair() { # pair TAG ARGS...: listener in a1, connector in b1 (ping 3), both with ARGS
	local tag=$1
	shift
	lab_peer_bg "l$tag" a1 30 --key "$T_TMP/a.key" --listen --hard-nat off --timeout 15 "$@"
	lab_peer_bg "c$tag" b1 30 --key "$T_TMP/b.key" --connect "$A" --ping 3 --hard-nat off --timeout 15 "$@"
	wait_pid "$(eval echo "\$c${tag}_PID")" 35
	local rc=$?
	wait_pid "$(eval echo "\$l${tag}_PID")" 10
	return $rc
}

# IPv4 alone: symmetric x symmetric without techniques stays relayed.
pair 4 --relay "$SRV4:3340" --stun "$SRV4:3478" --bind 0.0.0.0
t_is $? 0 "IPv4 only: connector exits 0 (workloads on the relay)" "$(show c4 | tail -5)"
t_is "$(count c4 '"event":"path","kind":"direct"')" 0 "IPv4 only: symmetric x symmetric stays on the relay"

# Both families: direct over IPv6.
pair 6 --relay "$SRV4:3340" --stun "$STUN"
t_is $? 0 "dual-stack: connector exits 0" "$(show c6 | tail -5)"
t_ok "$(count c6 '"event":"reflexive","addr":"\['"$B16"'\]:[0-9]+","server":"\['"$SRV6"'\]:3478","family":"ipv6"' >/dev/null; echo $?)" \
	"dual-stack: IPv6 reflexive address is the host's own" "$(events c6 reflexive)"
t_ok "$(count c6 '"event":"reflexive","addr":"198\.18\.[0-9.]+:[0-9]+".*"family":"ipv4"' >/dev/null; echo $?)" \
	"dual-stack: IPv4 reflexive address is the NAT's" "$(events c6 reflexive)"
t_ok "$(count c6 '"event":"path","kind":"direct","remote":"\['"$A16"'\]:[0-9]+","family":"ipv6"' >/dev/null; echo $?)" \
	"dual-stack: connector direct over IPv6 to $A16" "$(events c6 path)"
t_ok "$(count l6 '"event":"path","kind":"direct","remote":"\['"$B16"'\]:[0-9]+","family":"ipv6"' >/dev/null; echo $?)" \
	"dual-stack: listener direct over IPv6 to $B16" "$(events l6 path)"
# Pings 2 and 3 go direct unless the path took longer than a ping interval.
n=$(count c6 '"event":"rtt".*"path":"direct","source":"ping"')
t_ok "$([ "$n" -ge 1 ] && [ "$n" -le 2 ]; echo $?)" "dual-stack: $n of pings 2 and 3 direct"

# The relay protocol over IPv6, relay-only.
pair r --relay "[$SRV6]:3340" --relay-only
t_is $? 0 "relay over IPv6: connector exits 0" "$(show cr | tail -5)"
t_ok "$(count cr '"event":"path","kind":"relay","remote":"\['"$SRV6"'\]:3340".*"family":"ipv6"' >/dev/null; echo $?)" \
	"relay over IPv6: the path says so" "$(events cr path)"
t_is "$(count cr '"event":"rtt".*"path":"relay","source":"ping"')" 3 "relay over IPv6: three pings"

# RFC 5780 over IPv6 (srv's two IPv6 addresses), UDP and TCP, from behind the box.
timeout 60 "$NATLAB" probe "$LAB" a1 --ipv6 --port 0 --tcp-ports 0 >probe6.json 2>probe6.err
t_is $? 0 "natlab probe --ipv6 exits 0" "$(cat probe6.json probe6.err)"
p6() { python3 -c 'import json,sys; d=json.load(open("probe6.json")); v=d
for k in sys.argv[1:]: v=v.get(k) if isinstance(v, dict) else None
print(json.dumps(v))' "$@" 2>/dev/null; }
t_is "$(p6 family) $(p6 udp) $(p6 nat) $(p6 mapping)" '"ipv6" "ok" false "endpoint-independent"' \
	"probe --ipv6: UDP answered, no NAT, endpoint-independent mapping (routed, not translated)"
t_ok "$([[ $(p6 mapped_address) =~ ^\"\[$A16\]:[0-9]+\"$ ]]; echo $?)" "probe --ipv6: mapped address is a1's own ($(p6 mapped_address))"
t_is "$(p6 filtering) $(p6 tcp filtering)" '"address-and-port-dependent" "address-and-port-dependent"' \
	"probe --ipv6: the stateful firewall filters address-and-port-dependent, UDP and TCP"
t_is "$(p6 tcp status) $(p6 tcp nat) $(p6 tcp mapping)" '"ok" false "endpoint-independent"' \
	"probe --ipv6: TCP connects, no NAT, endpoint-independent mapping"
t_is "$(p6 match) $(p6 declared filtering)" 'true "address-and-port-dependent"' "probe --ipv6: matches the declared filtering6"
timeout 60 "$NATLAB" probe "$LAB" o1 --ipv6 --port 0 --tcp-ports 0 >probe6.json 2>probe6.err
t_is "$? $(p6 filtering) $(p6 tcp filtering) $(p6 match)" '0 "endpoint-independent" "endpoint-independent" true' \
	"probe --ipv6 behind v6-open: everything comes in, as declared" "$(cat probe6.json probe6.err)"
timeout 60 "$NATLAB" probe "$LAB" n1 --ipv6 --port 0 --tcp-ports 0 >probe6.json 2>probe6.err
t_is "$? $(p6 nat) $(p6 mapping) $(p6 port_preserved) $(p6 match)" '0 true "endpoint-independent" true true' \
	"probe --ipv6 behind nptv6: the prefix is translated (nat), statelessly (endpoint-independent, port kept), as declared" \
	"$(cat probe6.json probe6.err)"
t_ok "$([[ $(p6 local_address) =~ ^\"\[fd00: ]] && [[ $(p6 mapped_address) =~ ^\"\[2001:db8: ]]; echo $?)" \
	"probe --ipv6 behind nptv6: local $(p6 local_address), mapped $(p6 mapped_address)"

# coturn's RFC 5780 client over IPv6 against natlab-relay's second --stun and --stun-alt:
# the stateful firewall filters by address and port, the open box not at all.
if command -v turnutils_natdiscovery >/dev/null; then
	for h in a1:"Address and Port Dependent" o1:"Endpoint Independent"; do
		timeout 25 "$NATLAB" exec "$LAB" "${h%%:*}" -- turnutils_natdiscovery -m -f -p 3478 "$SRV6" 2>&1 |
			grep '^NAT with' | tr '\n' ';' >nd.out
		t_is "$(cat nd.out)" "NAT with Endpoint Independent Mapping!;NAT with ${h#*:} Filtering!;" \
			"turnutils_natdiscovery over IPv6 from ${h%%:*}: $(cat nd.out)"
	done
else
	t_ok 0 "# SKIP turnutils_natdiscovery not installed"
fi

# The same through p2p, as matrix cells do (tests/peer_v6_cells.lua: its own lab).
"$NATLAB" run "$SRC/tests/peer_v6_cells.lua" --out "$T_TMP/cells" --pcap failed >cells.tap 2>cells.err
t_ok $? "p2p cells: $(grep -c '^ok' cells.tap) of 4 as expected (symmetric x symmetric and v6-firewall x v6-firewall direct over IPv6)" \
	"$(grep -v '^ok' cells.tap; tail -5 cells.err)"
t_done
