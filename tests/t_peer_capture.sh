#!/bin/bash
# SPDX-License-Identifier: MIT
# The relay sees ciphertext only: a known plaintext transferred through the relay
# (--relay-only --pattern) never appears in a capture of the relay's port on loopback,
# while the capture demonstrably holds the relay traffic (the destination key, which
# SEND frames carry in clear, is found in it).
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
t_require tshark
t_require xxd
[ "$(id -u)" = 0 ] || t_skip_all "capturing on lo needs root"

cd "$T_TMP" || exit 1
A=$("$PEER" keygen a.key)
"$PEER" keygen b.key >/dev/null
TEXT="NATLAB-KNOWN-PLAINTEXT-$$-the-relay-must-never-see-this"

relay_start R1 --no-auth || { t_ok 1 "relay starts"; t_done; exit; }
common=(--relay "127.0.0.1:$R1_PORT" --stun "127.0.0.1:$R1_STUN" --bind 127.0.0.1 --relay-only)

timeout 30 tshark -i lo -f "tcp port $R1_PORT" -w "$T_TMP/relay.pcap" -a duration:25 >/dev/null 2>"$T_TMP/tshark.err" &
TSHARK=$!
T_PIDS+=("$TSHARK")
for _ in $(seq 100); do
	grep -q "Capturing on" "$T_TMP/tshark.err" && break
	sleep 0.05
done

peer_bg la --key a.key "${common[@]}" --listen
peer_bg cb --key b.key "${common[@]}" --connect "$A" --transfer 1M --pattern "$TEXT" --ping 3
wait_pid "$cb_PID" 20
t_is $? 0 "transfer of the known plaintext through the relay completes"
wait_pid "$la_PID" 10
t_ok "$(count la '"transfer_done","role":"receiver","bytes":1000000,"ok":true' >/dev/null; echo $?)" "the receiver got the plaintext back (checksum ok)"
sleep 0.5
kill -INT "$TSHARK" 2>/dev/null
wait "$TSHARK" 2>/dev/null

packets=$(tshark -r "$T_TMP/relay.pcap" 2>/dev/null | wc -l)
t_ok "$([ "$packets" -gt 100 ]; echo $?)" "the capture holds the relay traffic ($packets packets)"
bytes=$(stat -c %s "$T_TMP/relay.pcap")
t_ok "$([ "$bytes" -gt 1000000 ]; echo $?)" "the capture holds at least the transferred bytes ($bytes)"
key_hex=$(echo "$A" | sed 's/../&:/g; s/:$//')
seen_key=$(tshark -r "$T_TMP/relay.pcap" -Y "tcp.payload contains $key_hex" 2>/dev/null | wc -l)
t_ok "$([ "$seen_key" -gt 0 ]; echo $?)" "control: the clear destination key is found in the capture ($seen_key packets)"
seen_text=$(tshark -r "$T_TMP/relay.pcap" -Y "frame contains \"$TEXT\"" 2>/dev/null | wc -l)
t_is "$seen_text" 0 "the known plaintext is in no captured packet"
part=${TEXT:0:16}
t_is "$(grep -c -a -F "$part" "$T_TMP/relay.pcap")" 0 "not even a 16-byte piece of it, anywhere in the pcap"
t_done
