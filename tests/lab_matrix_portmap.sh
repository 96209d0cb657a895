#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The matrix's port-mapping variants (scenarios/matrix.lua, --param portmap=on; reasons in
# docs/scenarios.md): a mapping gets symmetric x symmetric direct (UPnP on one side,
# NAT-PMP and PCP on both) and the carrier case (a subscriber on a CGN with PCP) against
# symmetric; it cannot help a side without UDP, nor come from a router on a reserved WAN
# address (the relay). The peers' events say which protocol granted what, and the wire
# (nftables counters) agrees with the peers.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
t_require miniupnpd
O=$T_TMP/m
"$NATLAB" run "$SRC/scenarios/matrix.lua" --param portmap=on --filter '*+*' --jobs 2 --out "$O" \
	>"$T_TMP/run.tap" 2>"$T_TMP/run.err"
t_ok $? "the 5 variants run, each as expected" "$(grep -v '^ok' "$T_TMP/run.tap"; tail -3 "$T_TMP/run.err")"
t_is "$(jq -c '[.cells[] | [.name, .outcome]] | sort' "$O/report.json")" \
	'[["cgnat+pcp/symmetric","direct"],["symmetric+natpmp/symmetric+pcp","direct"],["symmetric+pcp/udp-blocked","relay"],["symmetric+upnp+natpmp@reserved/symmetric","relay"],["symmetric+upnp/symmetric","direct"]]' \
	"outcomes: direct through a mapping, relay without UDP or on a reserved WAN"
t_is "$(jq -c '[.cells[] | select(.wire.disagree != 0) | .name]' "$O/report.json")" '[]' \
	"the wire agrees with natlab-peer in every variant"
t_ok "$("$NATLAB" run "$SRC/scenarios/matrix.lua" --param portmap=maybe --filter '*+*' --out "$T_TMP/bad" 2>&1 |
	grep -q 'matrix.lua:[0-9]*: --param portmap=maybe: expected on or off'; echo $?)" "--param portmap=maybe is refused by name"
t_done
