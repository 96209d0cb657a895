#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Oracle over IPv6: coturn's RFC 5780 client (turnutils_natdiscovery -m -f), against
# coturn's turnserver on two IPv6 addresses, classifies the IPv6 edge of a box of each
# filtering6 value as it declares: no translation (endpoint-independent mapping, the
# host's own address) and the filtering the knob names (open looks endpoint-independent
# to RFC 5780, which sends nothing unsolicited to a port that did not send first).
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require turnserver
t_require turnutils_natdiscovery

cat >"$T_TMP/v6.lua" <<'LUA'
local lab = natlab.lab{}
local inet = lab:internet{ ipv6 = true }
lab:host{ name = "srv", net = inet, addrs = 2 }
for _, b in ipairs{ { "apdf", "address-and-port-dependent" }, { "adf", "address-dependent" },
	{ "eif", "endpoint-independent" }, { "open", "open" } } do
	local nat = lab:nat{ name = b[1], net = inet, profile = "home-router", filtering6 = b[2] }
	lab:host{ name = "h" .. b[1], net = nat }
end
lab:up()
LUA
L=$(t_lab_name o6)
t_up "$L" "$T_TMP/v6.lua"
t_ok $? "the IPv6 lab is up" "$(cat "$T_TMP/up-$L.log")"
"$NATLAB" exec "$L" srv -- turnserver -L 2001:db8::2 -L 2001:db8::3 --no-tcp --no-tls --no-dtls \
	-n --no-cli --log-file stdout --listening-port 3478 --alt-listening-port 3479 \
	>"$T_TMP/turn.log" 2>&1 &
T_PIDS+=($!)
for _ in $(seq 1 50); do grep -q "Total UDP servers" "$T_TMP/turn.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.3

jobs_=()
for box in apdf adf eif open; do
	"$NATLAB" exec "$L" "h$box" -- timeout 30 turnutils_natdiscovery -m -f 2001:db8::2 >"$T_TMP/c-$box" 2>&1 &
	jobs_+=($!)
done
wait "${jobs_[@]}"
for e in "apdf Address and Port Dependent" "adf Address Dependent" "eif Endpoint Independent" \
	"open Endpoint Independent"; do
	set -- $e
	box=$1
	shift
	out=$(cat "$T_TMP/c-$box")
	echo "$out" | grep -q "NAT with Endpoint Independent Mapping"
	t_ok $? "$box: coturn sees no translation over IPv6 (endpoint-independent mapping)" "$out"
	echo "$out" | grep -q "NAT with $* Filtering"
	t_ok $? "$box: coturn measures $* filtering over IPv6" "$out"
done
t_done
