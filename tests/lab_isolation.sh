#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Client isolation (knob isolation, on in preset hotel-wifi): guests on one NAT's LAN
# reach the gateway and the internet but not each other, by ping or UDP, through a veth
# port or a wire's TAP; with isolation = false they do; set_profile turns it on and off.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require socat
t_require jq
cd "$T_TMP" || exit 1

L=$(t_lab_name i)
T_LABS+=("$L")
cat >iso.lua <<LUA
local lab = natlab.lab{ name = "$L" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local hotel = lab:nat{ name = "hotel", net = inet, profile = "hotel-wifi" }
local g1 = lab:host{ name = "g1", net = hotel }
-- A wire's TAP is the bridge port of a host with a link: it is isolated too.
local g2 = lab:host{ name = "g2", net = hotel, link = {} }
local open = lab:nat{ name = "open", net = inet, profile = "hotel-wifi", isolation = false }
local o1 = lab:host{ name = "o1", net = open }
local o2 = lab:host{ name = "o2", net = open }
lab:up()

local function ping(from, addr)
	return from:spawn{ "ping", "-c", "2", "-i", "0.2", "-W", "1", addr }:wait{ timeout = "5s" } == 0
end
local n = 0
local function udp(from, to)
	n = n + 1
	local word, port = "w" .. n, 5000 + n
	local l = to:spawn{ "socat", "-u", "UDP-RECV:" .. port, "STDOUT" }
	natlab.sleep(0.2)
	from:spawn{ "sh", "-c", "echo " .. word .. " | socat -u - UDP:" .. to.addr .. ":" .. port }
	    :wait{ timeout = "5s" }
	local got = l:wait_line{ match = word, timeout = "2s" }
	l:kill()
	l:wait{ timeout = "2s" }
	return got ~= nil
end
local function pair(a, b, label, want)
	local word = want and "reach" or "do not reach"
	expect_eq(ping(a, b.addr), want, label .. ": guests " .. word .. " each other by ping")
	expect_eq(ping(b, a.addr), want, label .. ": nor the other way")
	expect_eq(udp(a, b), want, label .. ": guests " .. word .. " each other by UDP")
	expect_eq(udp(b, a), want, label .. ": by UDP the other way")
end

pair(g1, g2, "hotel-wifi", false)
for _, g in ipairs{ g1, g2 } do
	expect(ping(g, hotel.gateway), g.name .. " reaches its gateway")
	expect(ping(g, srv.addr), g.name .. " reaches the internet by ping")
	expect(udp(g, srv), g.name .. " reaches the internet by UDP")
end
pair(o1, o2, "hotel-wifi, isolation = false", true)

open:set_profile("hotel-wifi")
pair(o1, o2, "set_profile(\"hotel-wifi\")", false)
hotel:set_profile{ profile = "hotel-wifi", isolation = false }
pair(g1, g2, "set_profile{ isolation = false }", true)
LUA
"$NATLAB" run iso.lua --out o --pcap none >o.tap 2>o.err
t_is $? 0 "isolation: the scenario passes" "$(grep -v '^ok' o.tap; tail -5 o.err)"
t_is "$(grep -c '^ok' o.tap)" 22 "every check ran" "$(cat o.tap)"
t_is "$(jq -r '.nats[] | "\(.name)=\(.declared.isolation)"' o/report.json | sort | tr '\n' ' ')" \
	"hotel=false open=true " "the report declares each box's isolation as it ended" "$(jq .nats o/report.json)"

# A knob on profile none is refused, isolation included.
printf 'local lab = natlab.lab{}\nlocal i = lab:internet{}\nlab:nat{ name = "r", net = i, profile = "none", isolation = true }\nlab:up()\n' >bad.lua
out=$("$NATLAB" check bad.lua 2>&1)
t_ok "$(echo "$out" | grep -q 'bad.lua:3: .*isolation'; echo $?)" "isolation on profile none: an error naming the knob" "$out"
t_done
