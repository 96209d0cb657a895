#!/bin/bash
# SPDX-License-Identifier: MIT
# Relays as deployed, in a lab:
#  - scenarios/corporate.lua: an office whose only way out is TLS on 443 (a NAT with
#    block = "https-only") or tinyproxy on its LAN; peers inside meet a peer at home
#    through natlab-relay's TLS port, directly and through the proxy;
#  - --no-relay across two symmetric NATs (no direct path): both sides exit 1, the
#    listener as soon as the connector gives up (peer_failed), not at its own timeout
#    (before, it waited out its timeout, or exited 0 when a harness stopped it).
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
t_require_root
t_require tinyproxy
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"

out=$("$NATLAB" run "$SRC/scenarios/corporate.lua" --out "$T_TMP/corp" --pcap none 2>&1)
rc=$?
t_ok $rc "scenarios/corporate.lua passes" "$out"
t_is "$(grep -c "^ok " <<<"$out")" 11 "all eleven of its expectations held"
t_is "$(jq -r '.results[0].bob_path' "$T_TMP/corp/report.json" 2>/dev/null)" relay "report: bob relayed through the proxy"
t_ok "$(grep -q 'CONNECT 198.18.0.2:443' "$T_TMP"/corp/logs/*tinyproxy*.log; echo $?)" "tinyproxy carried bob's CONNECT to the relay's TLS port"

LAB=$(t_lab_name nr)
PEER_LAB_LIMIT=60
peer_lab_up peer_lab.lua 3340
A=$("$PEER" keygen a.key)
lab_peer_bg l sa1 60 --key "$T_TMP/a.key" --relay "$LAB_SRV:3340" --listen --no-relay --timeout 30
wait_event l '"event":"relay_connected"' 5
lab_peer_bg c sb1 60 --relay "$LAB_SRV:3340" --connect "$A" --no-relay --ping 3 --timeout 3
wait_pid "$c_PID" 20
t_is $? 1 "connector: no direct path, exit 1" "$(show c)"
t_ok "$(count c '"reason":"no_direct_path"' >/dev/null; echo $?)" "connector: no_direct_path"
wait_pid "$l_PID" 5
t_is $? 1 "listener (--timeout 30): exit 1 within 5 s of the connector" "$(show l)"
t_ok "$(count l '"reason":"peer_failed".*no_direct_path \(exit 1\)' >/dev/null; echo $?)" \
	"listener: peer_failed names the connector's reason"
t_done
