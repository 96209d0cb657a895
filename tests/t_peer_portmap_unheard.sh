#!/bin/bash
# SPDX-License-Identifier: MIT
# natlab-peer deletes, when it stops, what its unanswered NAT-PMP and PCP mapping requests
# made on the gateway (tests/peer_portmap_unheard.lua; docs/events.md, "Port mapping"):
# miniupnpd grants them, natlab drops the answers, and the gateway's table must be empty
# after the peer exits. The daemon's log must say it removed them.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require miniupnpd
[ -x "$NATLAB_BIN/natlab-peer" ] || t_skip_all "natlab-peer not built"

"$NATLAB" run "$SRC/tests/peer_portmap_unheard.lua" --out "$T_TMP/out" --pcap none \
	>"$T_TMP/run.tap" 2>"$T_TMP/run.err"
rc=$?
sed 's/^/# /' "$T_TMP/run.tap"
t_ok "$rc" "the scenario passes" "$(grep -A3 '^not ok' "$T_TMP/run.tap"; tail -3 "$T_TMP/run.err")"
t_is "$(grep -c '^ok' "$T_TMP/run.tap")" 5 "all 5 expectations hold"
log=$T_TMP/out/logs/gw-miniupnpd.log
t_ok "$(grep -qE '(NAT-PMP|PCP:) UDP port [0-9]+ mapping removed' "$log"; echo $?)" \
	"miniupnpd removed the mapping at the peer's request" "$(tail -5 "$log")"
t_done
