#!/bin/bash
# SPDX-License-Identifier: MIT
# Home relays and relay addresses on loopback (docs/relay.md, "Relay addresses"):
# - each peer announces its home relay and its relay address (home_relay event);
# - a listener on R1,R2 and a connector on the listener's non-home relay only meet (the
#   listener answers on the relay the connector came through), and the connector, told
#   the listener's home in its answer, dials it on demand and moves there; both sides
#   report it in `path`;
# - disjoint relay lists: a connector on R3 only, given the listener's relay address on
#   R1, dials R1 and reaches it; both sides say they are relayed through R1;
# - a bad relay address is a usage error naming the part that is wrong.
# RTT ordering is checked in a lab with delays (t_peer_directory.sh): on loopback every
# relay is equally near, so the home is the first in list order.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
cd "$T_TMP" || exit 1

A=$("$PEER" keygen a.key)
"$PEER" keygen b.key >/dev/null
relay_start R1 --no-auth && relay_start R2 --no-auth && relay_start R3 --no-auth ||
	{ t_ok 1 "three relays start"; t_done; exit; }
r1=127.0.0.1:$R1_PORT r2=127.0.0.1:$R2_PORT r3=127.0.0.1:$R3_PORT
common=(--stun "127.0.0.1:$R1_STUN" --bind 127.0.0.1 --relay-only)

# --- overlapping lists: the listener on R1,R2, the connector on the other one only ---
# On loopback both relays are equally near: which is home depends on the samples, so
# the test reads it from the listener's events.
peer_bg l1 --key a.key --relay "$r1,$r2" "${common[@]}" --listen
wait_event l1 '"event":"home_relay".*"addrs":\["relay://[^"]*","relay://' 5
t_ok $? "listener: home_relay event with both relay addresses" "$(show l1)"
last=$(grep '"event":"home_relay"' l1.out | tail -1)
home=$(sed -n 's/.*"relay":"\([^"]*\)".*/\1/p' <<<"$last")
addr=$(sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' <<<"$last")
t_is "$addr" "relay://$home/$A" "the relay address is relay://HOST:PORT/KEY of the home relay"
other=$r2
[ "$home" = "$r2" ] && other=$r1
t_ok "$(grep -q "\"addrs\":\[\"relay://$home/$A\",\"relay://$other/$A\"\]" <<<"$last"; echo $?)" \
	"home_relay lists both relay addresses, home first" "$last"
# An offer only rides with punching: no --relay-only for this one.
peer_bg c1 --key b.key --relay "$other" --stun "127.0.0.1:$R1_STUN" --bind 127.0.0.1 --connect "$A" --ping 5 --hold 1
wait_pid "$c1_PID" 30
t_is $? 0 "connector on the listener's other relay only reaches it" "$(show c1)"
wait_pid "$l1_PID" 10
t_is $? 0 "listener exits 0" "$(show l1)"
ann=$(grep '"event":"candidates","side":"remote"' c1.out | head -1 | sed -n 's/.*"relays":\["relay:\/\/\([^/]*\)\/'"$A"'".*/\1/p')
t_ok "$([ -n "$ann" ]; echo $?)" "connector: the answer announces the listener's relays, home first ($ann)" "$(events c1 candidates)"
t_ok "$([ "$ann" = "$other" ] || grep -q "\"event\":\"relay_connected\",\"relay\":\"$ann\".*\"source\":\"peer\"" c1.out; echo $?)" \
	"connector dials the listener's announced home relay on demand" "$(events c1 relay_connected)"
t_ok "$(grep '"event":"path","kind":"relay"' c1.out | tail -1 | grep -q "\"remote\":\"$ann\""; echo $?)" \
	"connector: path through the listener's home" "$(events c1 path)"
t_ok "$(grep '"event":"path","kind":"relay"' l1.out | tail -1 | grep -q "\"remote\":\"$ann\""; echo $?)" \
	"listener: path through its home" "$(events l1 path)"

# --- disjoint lists: the connector has R3 only, and the listener's relay address ---
peer_bg l2 --key a.key --relay "$r1" "${common[@]}" --listen --hold 1
wait_event l2 '"event":"home_relay".*"addr":"relay://' 5
addr=$(sed -n 's/.*"event":"home_relay".*"addr":"\([^"]*\)".*/\1/p' l2.out | tail -1)
peer_bg c2 --key b.key --relay "$r3" "${common[@]}" --connect "$addr" --ping 5 --transfer 1M
wait_pid "$c2_PID" 30
t_is $? 0 "disjoint relay lists connect through the listener's relay address" "$(show c2)"
wait_pid "$l2_PID" 10
t_is $? 0 "listener exits 0" "$(show l2)"
t_ok "$(grep -q "\"event\":\"relay_connected\",\"relay\":\"$r1\".*\"source\":\"address\"" c2.out; echo $?)" \
	"connector dials the relay of the address" "$(events c2 relay_connected)"
t_ok "$(grep -q "\"event\":\"home_relay\",\"relay\":\"$r3\"" c2.out; echo $?)" \
	"the connector's own home stays R3 (a relay dialled for the peer is not a home)" "$(events c2 home_relay)"
t_is "$(count c2 "\"event\":\"rtt\".*\"path\":\"relay\",\"source\":\"ping\"")" 5 "five pings through the relay"
t_ok "$(grep -q '"transfer_done","role":"receiver","bytes":1000000,"ok":true' l2.out; echo $?)" "transfer verified by the listener"
t_is "$(grep '"event":"path"' c2.out | grep -vc "\"remote\":\"$r1\"")" 0 "connector: every path event names R1" "$(events c2 path)"
t_is "$(grep '"event":"path"' l2.out | grep -vc "\"remote\":\"$r1\"")" 0 "listener: every path event names R1" "$(events l2 path)"
t_ok "$(grep -q '"event":"path","kind":"relay"' l2.out; echo $?)" "listener knows it is relayed"

# --- bad relay addresses ---
bad() { # WANT_TEXT ADDRESS
	"$PEER" --connect "$2" --relay-only >bad.out 2>bad.err
	local rc=$?
	t_is "$rc" 2 "--connect $2: exit 2"
	t_ok "$(grep -q '"reason":"bad_peer_key"' bad.out && grep -qF "$1" bad.err; echo $?)" \
		"--connect $2: the error says: $1" "$(cat bad.out bad.err)"
}
bad "64 hex" "relay://$r1/abcd"
bad "port 1..65535" "relay://127.0.0.1/$A"
bad "no /PEERKEY" "relay://$r1"
# Usage errors say so on stdout too, where harnesses read events.
for args in "--bogus" "frobnicate" "--ping"; do
	# shellcheck disable=SC2086
	"$PEER" $args >bad.out 2>bad.err
	t_ok "$([ $? = 2 ] && grep -q '"event":"error","reason":"usage"' bad.out; echo $?)" \
		"natlab-peer $args: exit 2 and a usage error event" "$(cat bad.out bad.err)"
done
# 64 hex characters that are no Ed25519 point: found once started, still ended by exit.
"$PEER" --connect "$(printf 'f%.0s' $(seq 64))" --relay "$r1" --relay-only >bad.out 2>bad.err
t_is $? 2 "a key that is not a valid point: exit 2"
t_ok "$(grep -q '"reason":"bad_peer_key"' bad.out && tail -1 bad.out | grep -q '"event":"exit","code":2'; echo $?)" \
	"a key that is not a valid point: bad_peer_key, then the exit event" "$(cat bad.out)"
"$PEER" --connect "relay://no-such-host.invalid:3340/$A" --relay-only >bad.out 2>bad.err
t_is $? 2 "an unresolvable relay in the address: exit 2"
t_ok "$(grep -q '"reason":"bad_relay"' bad.out && grep -q 'does not resolve' bad.err; echo $?)" \
	"an unresolvable relay: bad_relay, says it does not resolve" "$(cat bad.out bad.err)"
t_done
