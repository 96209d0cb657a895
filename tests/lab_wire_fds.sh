#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A lab with more wires than fit below FD_SETSIZE (issue 18 point 2). A wire keeps four
# descriptors (two TAPs, two timers) in the process that forwards it, and libnftables
# waits on its sockets with select(), which takes numbers below 1024 only: 320 wires
# (1280 descriptors) left the nftables socket of a set_profile, or of the run's NAT
# snapshot, above it. The wires' descriptors now live at 1024 and up (the soft limit
# raised for them if it is what stops them), so nftables keeps the numbers below.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
cd "$T_TMP" || exit 1

L=$(t_lab_name wf)
T_LABS+=("$L")
cat >wf.lua <<LUA
local lab = natlab.lab{ name = "$L" }
local inet = lab:internet{ hops = 0 }
local srv = lab:host{ name = "srv", net = inet }
local nat, h
for n = 1, 80 do
	nat = lab:nat{ name = "n" .. n, net = inet, profile = "full-cone" }
	for k = 1, 4 do
		h = lab:host{ name = "h" .. n .. "x" .. k, net = nat, link = {} }
	end
end
lab:up()
nat:set_profile("symmetric")
expect(h:spawn{ "ping", "-c", "1", "-W", "2", srv.addr }:wait{ timeout = "5s" } == 0,
	"a host behind the reloaded NAT reaches the internet")
LUA
for limit in 4096 1024; do
	(ulimit -Sn $limit && timeout 150 "$NATLAB" run wf.lua --out o$limit >o$limit.tap 2>o$limit.err)
	t_is $? 0 "320 wires, soft open-files limit $limit: the scenario passes" \
		"$(cat o$limit.tap; tail -5 o$limit.err)"
	t_is "$(jq '.nats | length' o$limit/report.json 2>/dev/null)" 80 \
		"and the run's NAT snapshot lists every box" "$(tail -3 o$limit.err)"
done
t_done
