#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The matrix's IPv6 variants (scenarios/matrix.lua, --param ipv6=on; reasons in
# docs/scenarios.md): two stateful IPv6 firewalls, NPTv6 against one, two symmetric IPv4
# NATs with IPv6 unfiltered and an IPv6-only handset (NAT64) against a dual-stack home go
# direct over IPv6; the handset against an IPv4-only LAN (natlab-peer builds no NAT64
# addresses) and a side whose box blocks UDP on both families stay on the relay. The
# report's cells say which family the direct path used.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
O=$T_TMP/m
"$NATLAB" run "$SRC/scenarios/matrix.lua" --param ipv6=on --filter 'v6:*' --jobs 2 --out "$O" \
	>"$T_TMP/run.tap" 2>"$T_TMP/run.err"
t_ok $? "the 6 IPv6 variants run, each as expected" "$(grep -v '^ok' "$T_TMP/run.tap"; tail -3 "$T_TMP/run.err")"
t_is "$(jq -c '[.cells[] | [.name, .outcome, .family]] | sort' "$O/report.json")" \
	'[["v6:mobile-nat64/symmetric+v4only","relay",null],["v6:mobile-nat64/v6-firewall","direct","ipv6"],["v6:nptv6/v6-firewall","direct","ipv6"],["v6:symmetric+v6open/symmetric+v6open","direct","ipv6"],["v6:v6-firewall/udp-blocked","relay",null],["v6:v6-firewall/v6-firewall","direct","ipv6"]]' \
	"outcomes: direct over IPv6 where both sides have it and send UDP, else the relay"
t_ok "$(grep -q 'direct over ipv6' "$O/report.html"; echo $?)" "report.html says the direct path's family"
# The wire counts IPv6 (and NAT64's synthesised addresses) too: every cell's verdict is
# the outcome, direct bytes counted where the path was direct over IPv6.
t_is "$(jq -c '[.cells[] | [.name, .wire.direct, .wire.relayed, .wire.disagree, (.wire.bytes_direct > 0)]] | sort' "$O/report.json")" \
	'[["v6:mobile-nat64/symmetric+v4only",0,1,0,false],["v6:mobile-nat64/v6-firewall",1,0,0,true],["v6:nptv6/v6-firewall",1,0,0,true],["v6:symmetric+v6open/symmetric+v6open",1,0,0,true],["v6:v6-firewall/udp-blocked",0,1,0,false],["v6:v6-firewall/v6-firewall",1,0,0,true]]' \
	"the wire's verdict agrees with each IPv6 cell's outcome"
t_is "$(jq -c '[.cells[] | select(.name | startswith("v6:") | not)] | length' "$O/report.json")" 0 \
	"--filter 'v6:*' runs the IPv6 variants alone"
t_ok "$("$NATLAB" run "$SRC/scenarios/matrix.lua" --param ipv6=maybe --filter 'v6:*' --out "$T_TMP/bad" 2>&1 |
	grep -q 'matrix.lua:[0-9]*: --param ipv6=maybe: expected on or off'; echo $?)" "--param ipv6=maybe is refused by name"
t_done
