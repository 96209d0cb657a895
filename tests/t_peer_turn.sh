#!/bin/bash
# SPDX-License-Identifier: MIT
# natlab-peer over coturn (issue 13). In one lab, side by side:
# - a udp-blocked host (TURN over TLS 443, the only way out) and a symmetric one (TURN
#   over UDP) relay a transfer over TURN with a matching checksum; so do a symmetric
#   host on TURN over TCP and another on UDP;
# - full-cone x symmetric goes direct: TURN then carries only keepalives;
# - wrong and expired credentials, a user over quota (486), a server out of relay
#   ports (508) and an unreachable server end with their own reason and exit 3;
# - coturn killed mid-session: traffic falls back to natlab-relay, turn_lost is reported;
# - tshark decodes every TURN message natlab-peer sent, none malformed.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
t_require_root
t_require turnserver
t_require tshark
t_require openssl
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
LAB=$(t_lab_name tu)
PEER_LAB_LIMIT=60
t_up "$LAB" "$SRC/tests/peer_turn.lua"
t_ok $? "lab up" "$(cat "$T_TMP/up-$LAB.log" 2>/dev/null)"
cd "$T_TMP" || exit 1
# natlab-relay on 443 carries the offers (the udp-blocked host reaches only TCP 80/443).
lab_relay_start srv 443
t_ok $? "natlab-relay up on $LAB_SRV:443" "$(cat relay.err)"
# A self-signed certificate for the TURN host's address, as a lab deployment would make.
TURN_ADDR=$(lab_addr turn)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$TURN_ADDR" \
	-addext "subjectAltName=IP:$TURN_ADDR" -days 1 -keyout turn.key -out turn.crt 2>openssl.err
t_ok $? "self-signed certificate for $TURN_ADDR" "$(cat openssl.err)"
PIN=$(openssl x509 -in turn.crt -noout -fingerprint -sha256 | cut -d= -f2)
lab_coturn_start turn1 turn 3478 --tls-listening-port=443 --cert="$T_TMP/turn.crt" \
	--pkey="$T_TMP/turn.key" --min-port=49152 --max-port=49999
t_ok $? "coturn up on $LAB_TURN: 3478 UDP and TCP, 443 TLS" "$(tail -5 turn1.log)"
lab_coturn_start turn2 turn 3479 --user-quota=1 --min-port=50000 --max-port=50000
t_ok $? "coturn with one relay port and a quota of 1 on :3479" "$(tail -5 turn2.log)"
lab_coturn_start turn3 turn 3481 --min-port=50001 --max-port=50999
t_ok $? "coturn to be killed on :3481" "$(tail -5 turn3.log)"
TURN=$LAB_TURN
timeout 50 "$NATLAB" exec "$LAB" turn -- dumpcap -q -i eth0 -f "host $TURN and port 3478" \
	-w "$T_TMP/turn.pcapng" >dumpcap.out 2>&1 &
DUMPCAP=$!
T_PIDS+=("$DUMPCAP")
sleep 0.5

rest=(--turn-secret "$TURN_SECRET")
R=(--relay "$LAB_SRV:443")
A=$("$PEER" keygen a.key) B=$("$PEER" keygen b.key) C=$("$PEER" keygen c.key)
D=$("$PEER" keygen d.key) E=$("$PEER" keygen e.key)

# --- relayed over TURN: udp-blocked (TLS) x symmetric (UDP), symmetric (TCP) x symmetric
# (UDP); direct: full-cone x symmetric ---
lab_peer_bg ub ub1 40 --key a.key "${R[@]}" --listen --turn "$TURN:443" --turn-transport tls \
	--turn-ca turn.crt "${rest[@]}" --turn-user ub
lab_peer_bg tl sb1 40 --key d.key "${R[@]}" --listen --turn "$TURN:3478" --turn-transport tcp \
	"${rest[@]}"
lab_peer_bg dl fa1 40 --key b.key "${R[@]}" --listen --turn "$TURN:3478" "${rest[@]}"
# A byte cap: TURN until 200 kB went through it, natlab-relay after.
lab_peer_bg bl sb1 40 --key e.key "${R[@]}" --listen --turn "$TURN:3478" "${rest[@]}" \
	--turn-byte-cap 200k
sleep 0.3
lab_peer_bg sy sa1 40 "${R[@]}" --connect "$A" --turn "$TURN:3478" "${rest[@]}" --turn-user sy \
	--ping 3 --transfer 2M
lab_peer_bg tc sa1 40 "${R[@]}" --connect "$D" --turn "$TURN:3478" "${rest[@]}" --transfer 1M
lab_peer_bg dc sb1 40 "${R[@]}" --connect "$B" --turn "$TURN:3478" "${rest[@]}" --transfer 2M
lab_peer_bg bc sa1 40 "${R[@]}" --connect "$E" --turn "$TURN:3478" "${rest[@]}" \
	--turn-byte-cap 200k --transfer 1M

# --- refusals, each a peer of its own ---
refuse() { # NAME HOST ARGS...: a listener that must be refused
	local name=$1 host=$2
	shift 2
	lab_peer_bg "$name" "$host" 30 "${R[@]}" --listen "$@"
}
refuse wrong fa1 --turn "$TURN:3478" --turn-secret not-the-secret
refuse expired fa1 --turn "$TURN:3478" "${rest[@]}" --turn-ttl -60
refuse badpass ub1 --turn "$TURN:443" --turn-transport tls --turn-pin "$PIN" --turn-user u \
	--turn-pass p
refuse badcert ub1 --turn "$TURN:443" --turn-transport tls --turn-pin "$(printf '%064d' 0)" \
	"${rest[@]}"
refuse noudp fa1 --turn "$TURN:3490" "${rest[@]}"
refuse notcp ub1 --turn "$TURN:3490" --turn-transport tcp "${rest[@]}"
# Far away, the unauthenticated Allocate is sent twice before its 401 arrives: the
# answer to the second copy must not pass for a refusal of the authenticated retry.
lab_peer_bg far far 30 "${R[@]}" --listen --turn "$TURN:3478" "${rest[@]}"
lab_peer_bg hold fa1 40 "${R[@]}" --listen --turn "$TURN:3479" "${rest[@]}" --turn-user q1
wait_event hold turn_allocated 5
t_ok $? "the quota's one allocation is made" "$(show hold)"
refuse quota sa1 --turn "$TURN:3479" "${rest[@]}" --turn-user q1
refuse capacity sb1 --turn "$TURN:3479" "${rest[@]}" --turn-user q2

expect_refused() { # NAME REASON
	local rc
	wait_pid "$(eval echo "\$${1}_PID")" 15
	rc=$?
	t_is "$rc/$(events "$1" error | grep -o '"reason":"[a-z_]*"' | head -1)" \
		"3/\"reason\":\"$2\"" "$1: exit 3 with error $2"
}
expect_refused wrong turn_unauthorized
expect_refused expired turn_credentials_expired
expect_refused badpass turn_unauthorized
expect_refused quota turn_quota
expect_refused capacity turn_capacity
expect_refused noudp turn_unreachable
expect_refused notcp turn_unreachable
expect_refused badcert turn_tls_refused

wait_event far turn_allocated 6
t_ok $? "an Allocate retransmitted before its 401 arrived still succeeds" "$(show far | tail -3)"

# --- coturn killed under a TURN path ---
lab_peer_bg kl sa1 40 --key c.key "${R[@]}" --listen --turn "$TURN:3481" "${rest[@]}"
sleep 0.3
lab_peer_bg kc sb1 40 "${R[@]}" --connect "$C" --turn "$TURN:3481" "${rest[@]}" \
	--ping 150 --ping-interval 100
wait_event kc '"relay_kind":"turn"' 10
t_ok $? "kill pair on the TURN path" "$(show kc | tail -5)"
kill "$turn3_PID"
cut=$(wc -l <kc.out)
wait_event kl 'turn_lost' 12 || wait_event kc 'turn_lost' 1
t_ok $? "turn_lost reported after coturn was killed" "$(show kl | tail -5)"
tail -n +"$((cut + 1))" kc.out | grep -q '"kind":"relay".*"relay_kind":"natlab"'
t_ok $? "connector falls back to natlab-relay" "$(show kc | tail -8)"

for n in sy ub tc tl dc dl bc bl kc kl; do
	wait_pid "$(eval echo "\$${n}_PID")" 30
	t_is "$?" 0 "$n exits 0"
done
# Relayed pair: the path is TURN on both sides, with the transports each chose.
t_ok "$(count ub '"relay_kind":"turn","server":"[0-9.]*:443","transport":"tls"' >/dev/null; echo $?)" \
	"udp-blocked side: path relay over TURN/TLS 443" "$(show ub | tail -5)"
t_ok "$(count sy '"relay_kind":"turn","server":"[0-9.]*:3478","transport":"udp"' >/dev/null; echo $?)" \
	"symmetric side: path relay over TURN/UDP" "$(show sy | tail -5)"
t_ok "$(count ub '"event":"transfer_done","role":"receiver","bytes":2000000,"ok":true' >/dev/null; echo $?)" \
	"2 MB over TURN/TLS, checksum verified" "$(show ub | tail -5)"
t_ok "$(count tl '"relay_kind":"turn","server":"[0-9.]*:3478","transport":"tcp"' >/dev/null; echo $?)" \
	"symmetric x symmetric: path relay over TURN/TCP" "$(show tl | tail -5)"
t_ok "$(count tl '"event":"transfer_done","role":"receiver","bytes":1000000,"ok":true' >/dev/null; echo $?)" \
	"1 MB over TURN/TCP, checksum verified" "$(show tl | tail -5)"
turn_b=$(events sy exit | sed -n 's/.*"bytes_turn":\([0-9]*\).*/\1/p')
t_ok "$([ "${turn_b:-0}" -ge 2000000 ]; echo $?)" "sender's bytes went through TURN: $turn_b"
# Direct pair: direct, and TURN carried next to nothing.
t_ok "$(count dc '"event":"path","kind":"direct"' >/dev/null; echo $?)" \
	"full-cone x symmetric goes direct with TURN offered" "$(show dc | tail -5)"
read -r d t < <(events dc exit | sed -n 's/.*"bytes_direct":\([0-9]*\).*"bytes_turn":\([0-9]*\).*/\1 \2/p')
t_ok "$([ "${d:-0}" -ge 2000000 ] && [ "${t:-1}" -le $((d / 50)) ]; echo $?)" \
	"direct preferred: $d bytes direct, $t through TURN" "$(show dc | tail -3)"
echo "# kill pair: pings $(events kc ping_done)"
# Byte cap: reported, then natlab-relay; the transfer still arrives whole.
t_ok "$(count bc '"reason":"turn_byte_cap"' >/dev/null; echo $?)" "byte cap reported" "$(show bc | tail -5)"
capped=$(grep -n '"reason":"turn_byte_cap"' bc.out | head -1 | cut -d: -f1)
tail -n +"${capped:-1}" bc.out | grep -q '"event":"path","kind":"relay".*"relay_kind":"natlab"'
t_ok $? "after the cap the path is natlab-relay" "$(show bc | tail -5)"
t_ok "$(count bl '"event":"transfer_done","role":"receiver","bytes":1000000,"ok":true' >/dev/null; echo $?)" \
	"capped pair: 1 MB arrives, checksum verified" "$(show bl | tail -5)"
read -r cr ct < <(events bc exit | sed -n 's/.*"bytes_relay":\([0-9]*\),"bytes_turn":\([0-9]*\).*/\1 \2/p')
t_ok "$([ "${ct:-0}" -ge 200000 ] && [ "${ct:-0}" -lt 400000 ] && [ "${cr:-0}" -gt "${ct:-0}" ]; echo $?)" \
	"capped pair: $ct bytes through TURN (cap 200k), $cr through relays in all"

# --- tshark decodes what natlab-peer sent to coturn ---
kill "$DUMPCAP" 2>/dev/null
wait "$DUMPCAP" 2>/dev/null
dec=(-r "$T_TMP/turn.pcapng" -d udp.port==3478,stun -d tcp.port==3478,stun)
sent=$(tshark "${dec[@]}" -Y "ip.dst == $TURN && stun" -T fields -e stun.type -e stun.channel 2>/dev/null)
n_req=$(printf '%s\n' "$sent" | grep -c -E '^0x000[3489]')
n_chan=$(printf '%s\n' "$sent" | grep -c -E '0x4[0-9a-f]{3}')
bad=$(tshark "${dec[@]}" -Y "ip.dst == $TURN && (_ws.malformed || _ws.expert.severity >= 8388608)" 2>/dev/null | wc -l)
t_ok "$([ "$n_req" -ge 6 ] && [ "$n_chan" -ge 100 ]; echo $?)" \
	"tshark decodes natlab-peer's TURN: $n_req requests, $n_chan ChannelData" "$(printf '%s\n' "$sent" | sort | uniq -c | head)"
t_is "$bad" 0 "tshark: no malformed TURN message from natlab-peer"
t_done
