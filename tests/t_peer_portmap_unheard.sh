#!/bin/bash
# SPDX-License-Identifier: MIT
# natlab-peer deletes, when it stops, what its unanswered NAT-PMP and PCP mapping requests
# made on the gateway (tests/peer_portmap_unheard.lua; docs/events.md, "Port mapping"):
# miniupnpd grants them (NAT-PMP on g1, PCP on g2), natlab drops the answers, and each
# gateway's table must be empty after its peer exits. The daemons' logs must say they
# removed them.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require miniupnpd
[ -x "$NATLAB_BIN/natlab-peer" ] || t_skip_all "natlab-peer not built"

"$NATLAB" run "$SRC/tests/peer_portmap_unheard.lua" --out "$T_TMP/out" --pcap none \
	>"$T_TMP/run.tap" 2>"$T_TMP/run.err"
rc=$?
sed 's/^/# /' "$T_TMP/run.tap"
t_ok "$rc" "the scenario passes" "$(grep -A3 '^not ok' "$T_TMP/run.tap"; tail -3 "$T_TMP/run.err")"
t_is "$(grep -c '^ok' "$T_TMP/run.tap")" 10 "all 10 expectations hold"
logs=$T_TMP/out/logs
t_ok "$(grep -qE 'NAT-PMP UDP port [0-9]+ mapping removed' "$logs/g1-miniupnpd.log"; echo $?)" \
	"g1: miniupnpd removed the NAT-PMP mapping at the peer's request" "$(tail -5 "$logs/g1-miniupnpd.log")"
t_ok "$(grep -qE 'PCP: UDP port [0-9]+ mapping removed' "$logs/g2-miniupnpd.log"; echo $?)" \
	"g2: miniupnpd removed the PCP mapping at the peer's request" "$(tail -5 "$logs/g2-miniupnpd.log")"
t_done
