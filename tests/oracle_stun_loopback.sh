#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Oracle: foreign tools judge our STUN responder on loopback. coturn's turnutils_stunclient
# must read the right mapped address, turnutils_natdiscovery must see no NAT and
# independent behaviour, and tshark must decode every packet we send as STUN with a good
# FINGERPRINT and no malformed or warning flags. A datagram with a broken FINGERPRINT,
# sent on purpose, shows that tshark would notice (and that we drop it). Prints TAP.
set -u

responder=${NATLAB_BIN:-build/bin}/../tests/stun-responder

skip_all() {
	echo "1..0 # SKIP $1"
	exit 77
}

for tool in turnutils_stunclient turnutils_natdiscovery tshark dumpcap timeout; do
	command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
[ -x "$responder" ] || skip_all "stun-responder not built ($responder)"

tmp=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

count=0
failed=0
check() { # check DESCRIPTION COMMAND...: one TAP line from a command's status
	local what=$1
	shift
	count=$((count + 1))
	if "$@"; then
		echo "ok $count - $what"
	else
		echo "not ok $count - $what"
		failed=$((failed + 1))
	fi
}
skip() {
	count=$((count + 1))
	echo "ok $count - $1 # SKIP $2"
}
has() { grep -qF -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }
equal() { [ "$1" = "$2" ]; }
# Waits up to $2 seconds for file $1 to contain $3.
await() { timeout "$2" bash -c 'until grep -qF -- "$2" "$1" 2>/dev/null; do sleep 0.05; done' _ "$1" "$3"; }

# start NAME ADDR...: a responder on kernel-picked ports; sets NAME_P1 and NAME_P2.
start() {
	local name=$1
	shift
	"$responder" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
	await "$tmp/$name.out" 5 ready || return 1
	read -r _ "${name}_P1" "${name}_P2" <"$tmp/$name.out"
}

check "responder on 127.0.0.1 and 127.0.0.2 is ready" start dual 127.0.0.1 127.0.0.2
check "responder on 127.0.0.1 alone is ready" start single 127.0.0.1
[ -n "${dual_P1:-}" ] && [ -n "${single_P1:-}" ] || {
	echo "Bail out! responders did not start: $(cat "$tmp"/*.err)"
	exit 1
}
ours="udp.srcport in {$dual_P1, $dual_P2, $single_P1, $single_P2}"

# The capture needs CAP_NET_RAW; without it the tshark checks are skipped, not failed.
capture=no
timeout 60 dumpcap -q -i lo -w "$tmp/stun.pcapng" -a duration:50 \
	-f "udp and (port $dual_P1 or port $dual_P2 or port $single_P1 or port $single_P2)" \
	2>"$tmp/dumpcap.err" &
dumpcap_pid=$!
pids+=("$dumpcap_pid")
await "$tmp/dumpcap.err" 10 "Capturing on" && capture=yes
# "Capturing on" is printed before the filter sees packets: on a loaded machine the first
# transaction was missing from the capture (6 of 7 packets, seen under ASan in CI). Send
# markers (not STUN: the responder drops them) until dumpcap has written one.
capture_live() {
	local size0 i j
	size0=$(stat -c %s "$tmp/stun.pcapng" 2>/dev/null || echo 0)
	for i in $(seq 1 20); do
		echo "natlab capture marker" >"/dev/udp/127.0.0.1/$single_P2"
		for j in 1 2 3 4 5; do
			sleep 0.1
			[ "$(stat -c %s "$tmp/stun.pcapng" 2>/dev/null || echo 0)" -gt "$size0" ] && return 0
		done
	done
	return 1
}
if [ "$capture" = yes ]; then
	check "the capture sees packets before the first transaction" capture_live || capture=no
fi

# Without OTHER-ADDRESS stunclient stops after one Binding transaction.
timeout 10 turnutils_stunclient -p "$single_P1" 127.0.0.1 >"$tmp/stunclient1.out" 2>&1
check "stunclient against one address exits 0" equal "$?" 0
mapped=$(sed -n 's/.*UDP reflexive addr: \([0-9.:]*\).*/\1/p' "$tmp/stunclient1.out" | head -n 1)
check "stunclient reads a mapped address on 127.0.0.1 ($mapped)" equal "${mapped%:*}" 127.0.0.1

# With OTHER-ADDRESS it goes on to a CHANGE-REQUEST with RESPONSE-PORT, which we do not
# support (420): it never stops waiting, so only its first answer is judged.
timeout 3 turnutils_stunclient -p "$dual_P1" 127.0.0.1 >"$tmp/stunclient2.out" 2>&1
check "stunclient sees OTHER-ADDRESS 127.0.0.2:$dual_P2" \
	has "$tmp/stunclient2.out" "Other addr: : 127.0.0.2:$dual_P2"
check "stunclient sees RESPONSE-ORIGIN 127.0.0.1:$dual_P1" \
	has "$tmp/stunclient2.out" "Response origin: : 127.0.0.1:$dual_P1"
check "stunclient sees its mapped address on 127.0.0.1" \
	has "$tmp/stunclient2.out" "UDP reflexive addr: 127.0.0.1:"

timeout 30 turnutils_natdiscovery -m -f -L 127.0.0.1 -p "$dual_P1" 127.0.0.1 \
	>"$tmp/natdiscovery.out" 2>&1
check "natdiscovery exits 0" equal "$?" 0
check "natdiscovery: no NAT, endpoint-independent mapping" \
	has "$tmp/natdiscovery.out" "No NAT! (Endpoint Independent Mapping)"
check "natdiscovery: endpoint-independent filtering" \
	has "$tmp/natdiscovery.out" "Endpoint Independent Filtering"
check "natdiscovery: nothing dependent" lacks "$tmp/natdiscovery.out" "Dependent"

# A Binding request whose FINGERPRINT is off by one bit (transaction id "natlab oracl").
printf '\x00\x01\x00\x08\x21\x12\xa4\x42natlab oracl\x80\x28\x00\x04\x39\x37\x9c\x1f' \
	>"/dev/udp/127.0.0.1/$dual_P1"
sleep 0.5

if [ "$capture" = yes ]; then
	kill -INT "$dumpcap_pid"
	wait "$dumpcap_pid" 2>/dev/null
fi
# Our ports are kernel-picked: one may be registered to another protocol, and tshark would
# decode it as that (seen once in CI). Tell it they are STUN; its verdicts stay its own.
decode_as=()
for port in "$dual_P1" "$dual_P2" "$single_P1" "$single_P2"; do
	decode_as+=(-d "udp.port==$port,stun")
done
frames() { # frames FILTER: how many captured frames match
	timeout 30 tshark -n "${decode_as[@]}" -r "$tmp/stun.pcapng" -Y "$1" -T fields \
		-e frame.number 2>/dev/null | wc -l
}
if [ "$capture" = yes ]; then
	sent=$(frames "$ours")
	check "tshark decodes all $sent packets we sent as STUN" \
		equal "$(frames "$ours && stun")" "$sent"
	# stunclient 1 + 2 (the second a 420), natdiscovery 4 (mapping I and II, filtering I and II).
	check "we answered all 7 transactions" [ "$sent" -ge 7 ]
	check "tshark: good FINGERPRINT on every packet we sent" \
		equal "$(frames "$ours && stun.att.crc32.status == 1")" "$sent"
	check "tshark: no malformed, bad-checksum or warning flags on our packets" \
		equal "$(frames "$ours && (_ws.malformed || stun.att.crc32.bad || _ws.expert.severity >= 0x00600000)")" 0
	check "stunclient's mapped address is the port it sent from" \
		[ "$(frames "udp.dstport == $single_P1 && udp.srcport == ${mapped##*:} && stun.type == 0x0001")" -ge 1 ]
	check "tshark flags the damaged FINGERPRINT (the check can fail)" \
		equal "$(frames "stun.att.crc32.bad")" 1
	check "the damaged request got no answer" \
		equal "$(frames "stun.id == 6e:61:74:6c:61:62:20:6f:72:61:63:6c")" 1
	check "a 420 answered RESPONSE-PORT" \
		[ "$(frames "$ours && stun.att.error == 20 && stun.att.error.class == 4")" -ge 1 ]
else
	for what in "STUN decoding" "responses" "FINGERPRINT" "expert flags" "mapped port" \
		"control" "drop" "420"; do
		skip "tshark: $what" "no capture: $(head -n 1 "$tmp/dumpcap.err")"
	done
fi

echo "1..$count"
[ "$failed" -eq 0 ]
