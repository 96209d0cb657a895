#!/bin/bash
# SPDX-License-Identifier: MIT
# Signed address records (docs/events.md, "Address records") between natlab-peers on
# loopback, and every mix with older parts: a relay without records (--no-records, as a
# relay before them), a listener that publishes none and a connector that looks none up
# (--no-addr-record, as peers before them). Every pair must go direct (but a relay-only
# one, which publishes and looks up nothing either); only the pair
# where all three have records starts the connector's round on the record.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
cd "$T_TMP" || exit 1

A=$("$PEER" keygen a.key)
relay_start NEW --no-auth || { t_ok 1 "relay starts"; t_done; exit; }
relay_start OLD --no-auth --no-records || { t_ok 1 "relay --no-records starts"; t_done; exit; }
P1='"event":"punch","attempt":1,'

# pair TAG RELAY LISTENER_ARGS CONNECTOR_ARGS [DIRECT]: a listener, then a connector
# pinging once; DIRECT: the direct path events of both (default 11: both go direct).
pair() {
	local tag=$1 port stun
	eval "port=\$${2}_PORT stun=\$${2}_STUN"
	peer_bg "l$tag" --key a.key --relay "127.0.0.1:$port" --stun "127.0.0.1:$stun" --bind 127.0.0.1 --listen $3
	wait_event "l$tag" '"event":"relay_connected"' 5
	# The record goes out once STUN is done: wait for it where one is published.
	wait_event "l$tag" '"event":"addr_record","action":"published"' 2
	peer_bg "c$tag" --relay "127.0.0.1:$port" --stun "127.0.0.1:$stun" --bind 127.0.0.1 --connect "$A" --ping 1 $4
	wait_pid "$(eval echo "\$c${tag}_PID")" 20
	t_is $? 0 "$tag: connector exits 0" "$(show "c$tag" | tail -8)"
	wait_pid "$(eval echo "\$l${tag}_PID")" 10
	t_is $? 0 "$tag: listener exits 0"
	t_is "$(count "c$tag" '"event":"path","kind":"direct"')$(count "l$tag" '"event":"path","kind":"direct"')" "${5:-11}" \
		"$tag: direct path events ${5:-11} (connector, listener)"
}
start_of() { grep -m1 "$P1" "$T_TMP/c$1.out" | sed -n 's/.*"start":"\([a-z]*\)".*/\1/p'; }

pair all NEW "" ""
t_is "$(count lall '"event":"addr_record","action":"published"' | head -1)" 1 "all: the listener published once (STUN done)"
t_ok "$(count call '"event":"addr_record","action":"received"' >/dev/null; echo $?)" "all: the connector received it"
# On loopback the listener's probe (it probes on the HELLO the relay forwards) can beat
# the connector's own SERVER_INFO and RECORD: then the record comes too late to be used.
# Otherwise the connector's first round starts on it (the lab check is t_peer_sync's).
if grep -q '"event":"addr_record","action":"received".*"used":false' call.out; then
	# Unused because the session was up already: "connected" comes before the record
	# (relay_connected may come before either, on a slow machine).
	t_ok "$(awk '/"event":"connected"/ && !c {c = NR} /"event":"addr_record","action":"received"/ && !r {r = NR} END {exit !(c && c < r)}' call.out; echo $?)" \
		"all: the record came after the listener's probe had connected us (loopback race)" "$(cut -c1-160 call.out)"
else
	t_is "$(start_of all)" record "all: the connector's first round starts on the record"
fi

pair oldrelay OLD "" ""
t_is "$(count loldrelay '"event":"addr_record"')$(count coldrelay '"event":"addr_record"')" 00 \
	"old relay: nothing published, nothing received"
t_ok "$(start_of oldrelay | grep -qxE 'answer|probe'; echo $?)" "old relay: the connector starts on the answer or a probe" "$(start_of oldrelay)"

pair oldlistener NEW "--no-addr-record" ""
t_is "$(count loldlistener '"event":"addr_record"')$(count coldlistener '"event":"addr_record"')" 00 \
	"old listener: none published, an empty RECORD is no event"
t_ok "$(start_of oldlistener | grep -qxE 'answer|probe'; echo $?)" "old listener: the connector starts on the answer or a probe"

pair oldconnector NEW "" "--no-addr-record"
t_ok "$(count loldconnector '"event":"addr_record","action":"published"' >/dev/null; echo $?)" \
	"old connector: the listener still publishes"
t_is "$(count coldconnector '"event":"addr_record"')" 0 "old connector: none looked up"
t_ok "$(start_of oldconnector | grep -qxE 'answer|probe'; echo $?)" "old connector: it starts on the answer or a probe (the listener's published session is no obstacle)"

pair relayonly NEW "--relay-only" "--relay-only" 00
t_is "$(count lrelayonly '"event":"addr_record"')$(count crelayonly '"event":"addr_record"')" 00 \
	"relay-only: no record published nor looked up"
t_done
