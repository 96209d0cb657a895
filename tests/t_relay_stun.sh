#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# natlab-relay's UDP STUN against foreign oracles, all on loopback:
#  - coturn's turnutils_stunclient reads the right reflexive address, over IPv4 and IPv6
#    (a second --listen and --stun on ::1);
#  - tshark decodes every packet as STUN, none malformed, every FINGERPRINT good;
#  - turnutils_natdiscovery -m -f classifies loopback the same against natlab-relay
#    as against coturn's turnserver (both with 127.0.0.1 and 127.0.0.2).
set -u
BIN=${NATLAB_BIN:?run under ctest (NATLAB_BIN unset)}
for tool in turnutils_stunclient turnutils_natdiscovery turnserver; do
	command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool not installed (apt-get install coturn)"; exit 77; }
done
work=$(mktemp -d /tmp/t_relay_stun.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi; }

# Two adjacent free ports chosen from the pid, so parallel runs rarely collide.
port=$((20000 + ($$ % 4000) * 2))
coturn_port=$((port + 10000))

"$BIN/natlab-relay" --no-auth --listen 127.0.0.1:0 --stun 127.0.0.1:$port --stun-alt 127.0.0.2 \
	--metrics 127.0.0.1:0 --listen "[::1]:0" --stun "[::1]:$port" \
	>"$work/ready" 2>"$work/relay.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/ready" ] && break; sleep 0.1; done
grep -q "\"stun\":\"127.0.0.1:$port\"" "$work/ready"
ok $? "relay answers STUN on 127.0.0.1:$port"
grep -q "\"stun2\":\"\[::1\]:$port\".*" "$work/ready" && grep -q '"listen2":"\[::1\]:[0-9]*"' "$work/ready"
ok $? "and on [::1]:$port, with the relay protocol on [::1] too: $(cat "$work/ready")"

capture=0
# Our ports might be registered to another protocol (20000 is DNP3): tell tshark they are
# STUN, so that its verdicts are about our packets, not its port table.
decode_as=(-d "udp.port==$port,stun" -d "udp.port==$((port + 1)),stun")
if command -v tshark >/dev/null && [ "$(id -u)" = 0 ]; then
	timeout 20 tshark -i lo -f "udp portrange $port-$((port + 1))" -w "$work/stun.pcap" \
		>/dev/null 2>"$work/tshark.log" &
	pids+=($!)
	for _ in $(seq 100); do grep -q "Capturing on" "$work/tshark.log" && break; sleep 0.1; done
	capture=1
fi

# stunclient's second request carries RESPONSE-PORT; it may wait for an answer, so bound it.
timeout 3 turnutils_stunclient -p $port 127.0.0.1 >"$work/stunclient.out" 2>&1
refl=$(grep -m1 "UDP reflexive addr" "$work/stunclient.out" | sed 's/.*addr: *//')
[[ "$refl" =~ ^127\.0\.0\.1:[0-9]+$ ]]
ok $? "turnutils_stunclient reads reflexive address $refl"
timeout 3 turnutils_stunclient -p $port ::1 >"$work/stunclient6.out" 2>&1
refl6=$(grep -m1 "UDP reflexive addr" "$work/stunclient6.out" | sed 's/.*addr: *//')
[[ "$refl6" =~ ^::1:[0-9]+$ ]]
ok $? "turnutils_stunclient over IPv6 reads reflexive address $refl6 (family 0x02)"

# --stun with port 0 takes any free port and says which in its ready line (it was refused
# as "--stun and --stun-alt must be addresses of the same family").
"$BIN/natlab-relay" --no-auth --listen 127.0.0.1:0 --stun 127.0.0.1:0 >"$work/ready0" \
	2>"$work/relay0.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/ready0" ] && break; sleep 0.1; done
port0=$(sed -n 's/.*"stun":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$work/ready0")
timeout 3 turnutils_stunclient -p "${port0:-0}" 127.0.0.1 >"$work/stunclient0.out" 2>&1
[ -n "$port0" ] && [ "$port0" != 0 ] && grep -q "UDP reflexive addr: *127\.0\.0\.1:" "$work/stunclient0.out"
ok $? "--stun 127.0.0.1:0 answers on the port it reports: ${port0:-none} ($(cat "$work/ready0" "$work/relay0.log" | head -2 | tr '\n' ' '))"

timeout 20 turnutils_natdiscovery -m -f -p $port 127.0.0.1 >"$work/ours.out" 2>&1
grep "^NAT with" "$work/ours.out" >"$work/ours.class"
[ "$(wc -l <"$work/ours.class")" = 2 ]
ok $? "natdiscovery classifies mapping and filtering via natlab-relay: $(tr '\n' ';' <"$work/ours.class")"

timeout 25 turnserver -n --listening-ip=127.0.0.1 --listening-ip=127.0.0.2 \
	--listening-port=$coturn_port --no-tls --no-dtls --no-tcp --stun-only --no-cli \
	--log-file=stdout --simple-log >"$work/turnserver.log" 2>&1 &
pids+=($!)
sleep 1
timeout 20 turnutils_natdiscovery -m -f -p $coturn_port 127.0.0.1 >"$work/coturn.out" 2>&1
grep "^NAT with" "$work/coturn.out" >"$work/coturn.class"
diff -q "$work/ours.class" "$work/coturn.class" >/dev/null
ok $? "same classification as against coturn: $(tr '\n' ';' <"$work/coturn.class")"

# /metrics counts what the oracles sent (bash's /dev/tcp: no curl needed).
metrics=$(sed 's/.*"metrics":"[^:]*:\([0-9]*\)".*/\1/' "$work/ready")
exec 3<>/dev/tcp/127.0.0.1/"$metrics"
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
requests=$(timeout 3 cat <&3 | sed -n 's/^natlab_relay_stun_requests_total //p')
exec 3<&-
[ "${requests:-0}" -ge 6 ]
ok $? "natlab_relay_stun_requests_total counts them (${requests:-none})"

if [ $capture = 1 ]; then
	sleep 1
	kill "${pids[1]}" 2>/dev/null
	wait "${pids[1]}" 2>/dev/null
	total=$(tshark "${decode_as[@]}" -r "$work/stun.pcap" 2>/dev/null | wc -l)
	stun=$(tshark "${decode_as[@]}" -r "$work/stun.pcap" -Y stun 2>/dev/null | wc -l)
	bad=$(tshark "${decode_as[@]}" -r "$work/stun.pcap" -Y '_ws.malformed || _ws.expert.severity >= "warning" || stun.att.crc32.bad' 2>/dev/null | wc -l)
	# The first address attribute of a success is XOR-MAPPED-ADDRESS: it must be the
	# address the response goes to.
	# IPv4 and IPv6 alike: the destination and the attribute of the response's family.
	mismatch=$(tshark "${decode_as[@]}" -r "$work/stun.pcap" -Y 'stun.type == 0x0101' -T fields -e ip.dst -e ipv6.dst \
		-e udp.dstport -e stun.att.ipv4 -e stun.att.ipv6 -e stun.att.port 2>/dev/null |
		awk -F'\t' '{ dst = $1 != "" ? $1 : $2; split($4 != "" ? $4 : $5, ip, ","); split($6, pt, ",");
			if (ip[1] != dst || pt[1] != $3) bad++; n++; if ($2 != "") v6++ }
			END { print (n && v6 ? bad + 0 : -1) }')
	fp_good=$(tshark "${decode_as[@]}" -r "$work/stun.pcap" -T fields -e stun.att.crc32.status -Y 'udp.srcport >= '$port' && udp.srcport <= '$((port + 1)) 2>/dev/null | grep -c '^1$')
	[ "$total" -gt 0 ] && [ "$total" = "$stun" ]
	ok $? "tshark decodes all $total captured packets as STUN ($stun)"
	[ "$bad" = 0 ]
	ok $? "no malformed packets or expert warnings ($bad)"
	sent=$(tshark "${decode_as[@]}" -r "$work/stun.pcap" -Y "udp.srcport >= $port && udp.srcport <= $((port + 1))" 2>/dev/null | wc -l)
	[ "$sent" -gt 0 ] && [ "$fp_good" = "$sent" ]
	ok $? "every response ($sent) has a good FINGERPRINT ($fp_good)"
	[ "$mismatch" = 0 ]
	ok $? "XOR-MAPPED-ADDRESS equals each response's destination, IPv6 ones among them (mismatches: $mismatch)"
else
	n=$((n + 1)); echo "ok $n # SKIP tshark capture needs root"
fi
echo "1..$n"
exit $failed
