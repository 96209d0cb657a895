#!/bin/bash
# SPDX-License-Identifier: MIT
# natlab-peer asks its gateway for a port mapping (issue 17; docs/events.md, "Port
# mapping"): tests/peer_portmap.lua's cells in one lab, symmetric NATs everywhere. With
# a mapping (NAT-PMP, UPnP-IGD, PCP) symmetric x symmetric goes direct, with
# --no-portmap it stays on the relay; a reboot of the routers loses the mappings, the
# peers say so and map again; a gateway answering garbage and one refusing (behind a
# CGN) leave the peer on punching and the relay, each saying why. Then: every mapping
# was deleted on exit (the daemons' logs), and tshark decodes the NAT-PMP, PCP, SSDP and
# UPnP (HTTP) packets of the gateways' LANs without a malformed one.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require miniupnpd
t_require upnpc
t_require tshark
[ -x "$NATLAB_BIN/natlab-peer" ] || t_skip_all "natlab-peer not built"
PUNCH=$(cd "${NATLAB_BIN:-$SRC/build/bin}/../tests" && pwd)/udp_punch
[ -x "$PUNCH" ] || t_skip_all "udp_punch not built"

"$NATLAB" run "$SRC/tests/peer_portmap.lua" --out "$T_TMP/out" --pcap all --param udp_punch="$PUNCH" \
	>"$T_TMP/run.tap" 2>"$T_TMP/run.err"
rc=$?
sed 's/^/# /' "$T_TMP/run.tap"
t_ok "$rc" "the port-mapping scenario passes" "$(grep -A3 '^not ok' "$T_TMP/run.tap"; tail -3 "$T_TMP/run.err")"
t_is "$(grep -c '^ok' "$T_TMP/run.tap")" 30 "all 30 expectations hold"

logs=$T_TMP/out/logs
t_ok "$(grep -q 'NAT-PMP UDP port [0-9]* mapping removed' "$logs/na-miniupnpd.log"; echo $?)" \
	"na: a1's NAT-PMP mapping was deleted when it exited" "$(tail -3 "$logs/na-miniupnpd.log")"
t_ok "$(grep -q 'DeletePortMapping: external port' "$logs/nb-miniupnpd.log"; echo $?)" \
	"nb: b1's UPnP mapping was deleted when it exited" "$(tail -3 "$logs/nb-miniupnpd.log")"
t_ok "$(grep -q 'PCP: UDP port [0-9]* mapping removed' "$logs/nc-miniupnpd.log"; echo $?)" \
	"nc: c1's PCP mapping was deleted when it exited" "$(tail -3 "$logs/nc-miniupnpd.log")"

# The field's dissectors on what the peers and gateways said (ng's garbage aside).
count() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l; }
pcap=$T_TMP/out/pcap
pmp=$(count "$pcap/na-lan.pcap" "nat-pmp")
pcp=$(count "$pcap/nc-lan.pcap" "portcontrol")
ssdp=$(count "$pcap/nb-lan.pcap" "ssdp")
soap=$(count "$pcap/nb-lan.pcap" 'http.request.method == "POST"')
t_ok "$([ "$pmp" -ge 4 ] && [ "$pcp" -ge 4 ] && [ "$ssdp" -ge 2 ] && [ "$soap" -ge 3 ]; echo $?)" \
	"tshark decodes NAT-PMP ($pmp, na), PCP ($pcp, nc), SSDP ($ssdp) and UPnP SOAP requests ($soap, nb)"
bad=0
for f in na nb nc nr; do
	bad=$((bad + $(count "$pcap/$f-lan.pcap" "(nat-pmp or portcontrol or ssdp or http) and _ws.malformed")))
done
t_is "$bad" 0 "none of them malformed"
t_is "$(cat "$logs"/*-l-*.log "$logs"/*-c-*.log | grep -cE 'runtime error|Sanitizer')" 0 \
	"no sanitizer reports"
t_done
