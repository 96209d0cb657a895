#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# wireshark/natlab.lua (installed as share/natlab/wireshark/natlab.lua) through tshark over
# a matrix's captures (the main job's scenario, the cells of a full-cone NAT, every
# capture kept): no malformed packet and no frame flagged as not parsing, every relay
# frame type a session uses found (address records included), natlab-peer's sealed packets found directly over UDP
# and inside SEND/RECV, natlab's events read. A crafted stream with a PING of 7 bytes
# must be flagged, so the check can fail.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require tshark
t_require text2pcap
cd "$T_TMP" || exit 1
LUA=$SRC/wireshark/natlab.lua
# Heuristic dissectors first, as docs/reports.md says to read natlab's captures: a sealed
# packet between two random ports is natlab_peer's, whatever dissector a port is
# registered to (a run failed on 24 packets from port 54328 read as Elasticsearch).
ts() { tshark -X "lua_script:$LUA" -o udp.try_heuristic_first:TRUE "$@" 2>/dev/null; }

# The cells of a full-cone NAT: direct ones, and the relayed one behind udp-blocked.
"$NATLAB" run "$SRC/scenarios/matrix.lua" --filter 'full-cone/*' --pcap all --out m >m.tap 2>m.err
rc=$?
cells=$(grep -c '^\(not \)\?ok' m.tap)
t_ok $(( cells >= 5 ? 0 : 1 )) "the matrix ran its full-cone cells ($cells, exit $rc)" "$(tail -5 m.err)"
# Each cell's lab.pcapng holds every interface; one classic pcap is read as well.
files="$(find m -name lab.pcapng | sort) $(find m -name '*-wan.pcap' | sort | head -1)"
t_ok $([ "$(echo $files | wc -w)" -gt "$cells" ]; echo $?) "and kept their captures ($(echo $files | wc -w) files read)"
for f in $files; do
	# One pass per file: a line per packet with the fields the checks count.
	ts -r "$f" -T fields -E separator=";" -e frame.protocols -e _ws.malformed -e natlab_relay.bad -e _ws.expert.severity \
		-e natlab_relay.type -e udp.srcport -e natlab_peer.magic -e natlab_relay.data_len \
		-e natlab_event.text -e stun.type -e icmp.type | sed "s|^|$f;|"
done >fields.txt
count() { awk -F";" "$1" fields.txt | wc -l; }
# Fields after the file's path: $2 the frame's protocols, $(NF-9) malformed ... $NF icmp type.
bad=$(count '$(NF-9) != "" || $(NF-8) != "" || $(NF-7) ~ /8388608|Error/')
t_is "$bad" 0 "no malformed packet, no frame that does not parse, in any capture" "$(grep -m3 -E "_ws|8388608" fields.txt)"
relay=$(count '$(NF-6) != ""')
t_ok $(( relay > 0 ? 0 : 1 )) "relay frames dissected ($relay packets)"
types=$(awk -F";" '{ print $(NF-6) }' fields.txt | tr ',' '\n' | grep . | sort -nu | tr '\n' ' ')
case " $types" in *" 1 2 3 4 5 "*) t_ok 0 "CHALLENGE, AUTH, SERVER_INFO, SEND and RECV seen (types: $types)" ;;
*) t_ok 1 "CHALLENGE, AUTH, SERVER_INFO, SEND and RECV seen" "types: $types" ;; esac
# Address records (docs/relay.md): the listener publishes, the connector looks up.
case " $types" in *" 12 13 14 "*) t_ok 0 "PUBLISH, LOOKUP and RECORD seen" ;;
*) t_ok 1 "PUBLISH, LOOKUP and RECORD seen" "types: $types" ;; esac
peer_udp=$(count '$(NF-5) != "" && $(NF-4) != "" && $(NF-3) == ""')
t_ok $(( peer_udp > 0 ? 0 : 1 )) "sealed packets over UDP dissected ($peer_udp)"
peer_relayed=$(count '$(NF-4) != "" && $(NF-3) != ""')
t_ok $(( peer_relayed > 0 ? 0 : 1 )) "sealed packets inside relay frames dissected ($peer_relayed)"
events=$(count '$(NF-2) != ""')
t_ok $(( events > 0 ? 0 : 1 )) "natlab events read from natlab/events ($events)"
# natlab-peer asks its gateway for a port mapping (docs/events.md): tshark's own NAT-PMP,
# PCP and SSDP dissectors read those (the malformed check above covers them).
portmap=$(count '$2 ~ /:(nat-pmp|portcontrol|ssdp)/')
t_ok $(( portmap > 0 ? 0 : 1 )) "the peers' port-mapping requests decoded as NAT-PMP, PCP or SSDP ($portmap)"
t_is "$(count '$(NF-5) != "" && $(NF-4) == "" && $(NF-1) == "" && $NF == "" && $2 !~ /:(nat-pmp|portcontrol|ssdp)/')" 0 \
	"every other UDP packet is STUN or natlab-peer (or inside an ICMP error)"

# A crafted relay stream: CHALLENGE, then a PING with 7 bytes instead of 8.
{
	printf '000000 01 00 00 00 22 01 00'; for _ in $(seq 32); do printf ' 00'; done; echo
	echo '000000 07 00 00 00 07 01 02 03 04 05 06 07'
} >bad.txt
text2pcap -q -T 443,40000 bad.txt bad.pcap
t_is "$(ts -r bad.pcap -Y 'natlab_relay.type == 1' | wc -l)" 1 "the crafted CHALLENGE is read"
t_is "$(ts -r bad.pcap -Y 'natlab_relay.bad' | wc -l)" 1 "a PING of 7 bytes is flagged as not parsing"
# A sealed packet from port 54328 (Elasticsearch's) to 47000 (HCrt's): natlab_peer's.
{ printf '000000 a1'; for i in $(seq 60); do printf ' %02x' $((i * 7 % 256)); done; echo; } >sealed.txt
text2pcap -q -u 54328,47000 sealed.txt sealed.pcap
t_is "$(ts -r sealed.pcap -T fields -e frame.protocols -e _ws.malformed)" "eth:ethertype:ip:udp:natlab_peer:natlab_peer	" \
	"a sealed packet between ports other dissectors are registered to is natlab_peer's"
t_done
