#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Big labs and the wires' scheduler (issue 18).
# - A lab of 1026 nodes (past the old limit of 1024) comes up under a soft open-files
#   limit of 1024 (a build holds two descriptors per node, and libnftables needs its
#   sockets below FD_SETSIZE): every NAT box, the last too, has its ruleset and
#   conntrack timeouts, routers and hosts their sysctls (written through cached
#   /proc/sys/net directories), a host behind the last NAT reaches one behind the first,
#   and the run's NAT snapshot lists each box (empty ones without a conntrack dump).
# - The thread that forwards a lab's wires (natlab-wires) runs under SCHED_FIFO with
#   reset-on-fork, in the daemon of a lab with a wire and in a run; the thread that runs
#   the scenario and what a run spawns do not; a lab without wires has no such thread,
#   NATLAB_WIRE_SCHED=normal keeps it on the normal scheduler.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
t_require chrt
cd "$T_TMP" || exit 1

policy() { chrt -p "$1" | sed -n 's/.*scheduling policy: //p'; }
owner() { awk '{ print $1 }' "/run/natlab/$1/owner"; }
# The thread id of process $1's wire thread, or nothing.
wires() { grep -lx natlab-wires /proc/"$1"/task/*/comm 2>/dev/null | cut -d/ -f5; }

L=$(t_lab_name big)
# scenarios/big.lua with 205 NATs instead of 50.
sed 's/for n = 1, 50 do/for n = 1, 205 do/' "$SRC/scenarios/big.lua" >big.lua
grep -q 'for n = 1, 205 do' big.lua || t_skip_all "scenarios/big.lua no longer has its loop of 50 NATs"
T_LABS+=("$L")
(ulimit -Sn 1024 && timeout 120 "$NATLAB" up big.lua --name "$L" --out big >up.log 2>&1)
t_ok $? "1026 nodes come up under a soft limit of 1024 open files" "$(tail -5 up.log)"
t_is "$("$NATLAB" ls "$L" --json | jq '.nodes | length')" 1026 "the lab has 1026 nodes"
in_ns() { ip netns exec "nl-$L.$1" "${@:2}"; }
t_is "$(in_ns n205 nft list table ip natlab 2>&1 | grep -c 'chain ')" \
	"$(in_ns n1 nft list table ip natlab 2>&1 | grep -c 'chain ')" \
	"the last NAT has the same chains as the first"
t_ok $([ "$(in_ns n1 nft list table ip natlab | grep -c 'chain ')" -gt 3 ] && echo 0 || echo 1) \
	"and they have chains"
t_is "$(in_ns n205 sysctl -n net.netfilter.nf_conntrack_udp_timeout)" 120 \
	"the last NAT's UDP timeout is the profile's"
t_is "$(in_ns n205 sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.send_redirects net.ipv4.conf.all.rp_filter | tr '\n' ' ')" \
	"1 0 0 " "the last NAT forwards, sends no redirects, no reverse-path filter"
t_is "$(in_ns h205x4 sysctl -n net.ipv6.conf.default.disable_ipv6 net.ipv4.conf.default.rp_filter net.ipv4.ip_forward | tr '\n' ' ')" \
	"1 0 0 " "the last host: no IPv6, no reverse-path filter, no forwarding"
in_ns h205x4 ping -c 1 -W 3 "$("$NATLAB" ls "$L" --json | jq -r '.nodes[] | select(.name == "n1") | .addrs[0]')" >/dev/null
t_ok $? "a host behind the last NAT reaches the first NAT"
t_is "$(jq '.nats | length' big/nat/end.json)" 205 "the NAT snapshot has every box"
t_is "$(jq '[.nats[] | select(.error)] | length' big/nat/end.json)" 0 "and no box failed to read"
t_is "$(policy "$(owner "$L")")" SCHED_OTHER "a lab without wires keeps the normal scheduler"
t_is "$(wires "$(owner "$L")")" "" "and has no wire thread"
"$NATLAB" down "$L" >/dev/null 2>&1

W=$(t_lab_name w)
cat >wire.lua <<'EOF2'
local lab = natlab.lab{}
local inet = lab:internet{}
local a = lab:host{ name = "a", net = inet, link = { delay = "5ms" } }
local b = lab:host{ name = "b", net = inet }
lab:up()
-- What chrt says of pid (a shell expression), from a process the run spawns.
local function policy(name, pid)
	local out = ""
	local p = a:spawn{ "sh", "-c", "chrt -p " .. pid, name = name,
	                   on_line = function(l) out = out .. l end }
	expect(p:wait{ timeout = "5s" } == 0, name .. " ran")
	natlab.sleep(0.2)
	return out
end
local pol = policy("chrt", "$$")
expect(pol:find("SCHED_OTHER") ~= nil, "a spawned process has the normal scheduler: " .. pol)
local run = policy("chrt-run", "$PPID")
expect(run:find("SCHED_OTHER") ~= nil, "the run's own thread has the normal scheduler: " .. run)
local q = a:spawn{ "ping", "-c", "1", "-W", "2", b.addr }
expect(q:wait{ timeout = "5s" } == 0, "a reaches b over the wire")
EOF2
T_LABS+=("$W")
t_up "$W" wire.lua
t_ok $? "a lab with a wire comes up" "$(cat "$T_TMP/up-$W.log")"
t_is "$(grep -c '^ok [0-9]* - a spawned process has the normal scheduler' "$T_TMP/up-$W.log")" 1 \
	"a process the run spawns has the normal scheduler"
t_is "$(grep -c '^not ok' "$T_TMP/up-$W.log")" 0 "every expectation of its scenario holds"
t_is "$(grep -c '^ok [0-9]* - the run.s own thread has the normal scheduler' "$T_TMP/up-$W.log")" 1 \
	"the run's own thread has the normal scheduler while its wires forward"
t_is "$(policy "$(wires "$(owner "$W")")")" "SCHED_FIFO|SCHED_RESET_ON_FORK" \
	"its daemon's wire thread forwards under SCHED_FIFO"
t_is "$(policy "$(owner "$W")")" SCHED_OTHER "its daemon's main thread keeps the normal scheduler"
"$NATLAB" down "$W" >/dev/null 2>&1
NATLAB_WIRE_SCHED=normal t_up "$W" wire.lua
t_is "$(policy "$(wires "$(owner "$W")")")" SCHED_OTHER \
	"NATLAB_WIRE_SCHED=normal keeps the wire thread on the normal scheduler"
"$NATLAB" down "$W" >/dev/null 2>&1
t_done
