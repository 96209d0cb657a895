#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One capture per lab: <out>/pcap/lab.pcapng holds every interface of every node named
# <node>/<interface>, the internet's core included, and an interface of events whose
# packets carry frame comments: each expectation (held or failed) and each JSON event of
# a process (a peer's punch, path, ...), at its moment. tshark reads it; the classic
# per-interface pcaps are still written.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require tshark
cd "$T_TMP" || exit 1

L=$(t_lab_name p)
T_LABS+=("$L")
cat >ng.lua <<EOF
local lab = natlab.lab{ name = "$L" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local home = lab:nat{ name = "home", net = inet, profile = "port-restricted-cone" }
local alice = lab:host{ name = "alice", net = home, link = { delay = "5ms" } }
lab:up()
local p = alice:spawn{ "ping", "-c", "2", "-i", "0.2", "-s", "321", "-W", "2", srv.addr }
expect_eq(p:wait{ timeout = "5s" }, 0, "alice pings srv")
local u = alice:spawn{ "sh", "-c", "printf '\\\\241 a sealed-looking datagram' | socat -u - UDP:" .. srv.addr .. ":4000" }
expect_eq(u:wait{ timeout = "5s" }, 0, "alice sends a datagram like a peer's")
natlab.sleep(0.3) -- it crosses the wire and the internet before the run ends
local e = srv:spawn{ "sh", "-c", [[echo '{"event":"punch","attempt":1}'; echo 'not json'; echo '{"event":"path","kind":"direct"}']],
                     name = "fakepeer", json = true }
expect(e:wait_event{ match = { event = "path" }, timeout = "2s" }, "the events arrive")
expect(false, "a failure to find in the capture")
EOF
"$NATLAB" run ng.lua --out o --pcap all >o.tap 2>o.err
t_is $? 1 "the run ends (with its deliberate failure)"
ng=o/pcap/lab.pcapng
t_ok $([ -s "$ng" ]; echo $?) "the run wrote pcap/lab.pcapng" "$(ls o/pcap 2>&1)"
t_is "$(file -b "$ng" 2>/dev/null | grep -c pcapng)" 1 "in pcapng format"
t_is "$(tshark -r "$ng" -T fields -e frame.interface_name 2>/dev/null | sort -u | tr '\n' ' ')" \
	"alice/eth0 home/lan home/wan internet/core natlab/events srv/eth0 " \
	"every interface is named node/interface, the internet's core and the events included"
pings() { tshark -r "$ng" -Y "icmp.type == 8 && ip.len == 349 && frame.interface_name == \"$1\"" 2>/dev/null | wc -l; }
# The core's bridge carries each packet twice: from the sender's attachment up to the core
# router, and from the last backbone router down to the receiver's attachment.
t_is "$(pings alice/eth0) $(pings home/lan) $(pings home/wan) $(pings internet/core) $(pings srv/eth0)" "2 2 2 4 2" \
	"alice's 2 pings on each interface of their path, twice on the core's bridge"
t_is "$(tshark -r "$ng" -Y 'icmp.type == 8 && ip.len == 349' -T fields -e frame.interface_name -e ip.src 2>/dev/null | sort -u | tr '\t\n' '= ')" \
	"alice/eth0=10.1.0.2 home/lan=10.1.0.2 home/wan=198.18.0.3 internet/core=198.18.0.3 srv/eth0=198.18.0.3 " \
	"alice's address inside, home's WAN address from home/wan on"
comments=$(tshark -r "$ng" -Y 'frame.comment' -T fields -e frame.comment 2>/dev/null)
echo "$comments" | grep -qx 'expectation 1 held: alice pings srv'
t_ok $? "an expectation that held is a comment" "$comments"
echo "$comments" | grep -qx 'expectation 4 failed: a failure to find in the capture at ng.lua:15'
t_ok $? "a failed one, with file and line" "$comments"
echo "$comments" | grep -qx 'srv/fakepeer: {"event":"punch","attempt":1}'
t_ok $? "a process's JSON event, named host/process" "$comments"
t_is "$(echo "$comments" | grep -c 'not json')" 0 "lines that are not events are not comments"
t_is "$(tshark -r "$ng" -Y 'frame.comment contains "\"path\"" && frame.interface_name == "natlab/events"' 2>/dev/null | wc -l)" 1 \
	"events sit on natlab/events"
first_ping=$(tshark -r "$ng" -Y 'icmp.type == 8 && frame.interface_name == "alice/eth0"' -T fields -e frame.time_epoch 2>/dev/null | head -1)
held=$(tshark -r "$ng" -Y 'frame.comment contains "expectation 1 held"' -T fields -e frame.time_epoch 2>/dev/null)
t_ok $(awk -v a="$first_ping" -v b="$held" 'BEGIN { exit !(a > 0 && b > a && b - a < 5) }'; echo $?) \
	"comments are stamped on the packets' clock (expectation 1 $held after the first ping $first_ping)"
# The same run's timeline in report.json and report.html.
tl() { jq -r "[.timeline[] | select($1)] | length" o/report.json; }
t_is "$(tl '.lane == "alice/eth0" and .kind == "out" and .what == "sealed"') $(tl '.lane == "home/wan" and .kind == "out" and .what == "sealed"') $(tl '.lane == "srv/eth0" and .kind == "in" and .what == "sealed"')" \
	"1 1 1" "timeline: the datagram leaves alice and home, arrives at srv"
t_is "$(tl '.lane == "srv/fakepeer" and .what == "punch"') $(tl '.lane == "scenario" and .what == "failed"')" "1 1" \
	"timeline: the process's event and the failed expectation"
first() { jq -r "[.timeline[] | select($1)][0].t_ms" o/report.json; }
t_alice=$(first '.lane == "alice/eth0" and .what == "sealed"')
t_srv=$(first '.lane == "srv/eth0" and .what == "sealed"')
t_punch=$(first '.what == "punch"')
t_failed=$(first '.what == "failed"')
t_ok $(awk -v a="$t_alice" -v s="$t_srv" -v p="$t_punch" -v f="$t_failed" 'BEGIN { exit !(a > 0 && s >= a && p > s && f >= p) }'; echo $?) \
	"timeline: packets and events on one clock, in the order they happened ($t_alice $t_srv $t_punch $t_failed ms)"
grep -q 'class="lanelab">home/wan</text>' o/report.html
t_ok $? "report.html draws the timeline"
t_is "$(ls o/pcap/*.pcap | wc -l)" 4 "the classic per-interface pcaps are still there"
t_is "$(tshark -r o/pcap/home-wan.pcap -Y 'icmp.type == 8 && ip.len == 349' 2>/dev/null | wc -l)" 2 "and hold the same packets"
t_done
