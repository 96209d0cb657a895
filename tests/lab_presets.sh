#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Presets: the NAT presets beyond the seven profiles (home-router, mobile-cgn,
# hotel-wifi, enterprise-firewall) build and measure as they declare (natprobe, UDP and
# TCP); the link presets give their round trips (transatlantic, 3g, the latter with an
# override in a table); names that are no preset are refused with the list.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
cd "$T_TMP" || exit 1

L=$(t_lab_name p)
T_LABS+=("$L")
cat >presets.lua <<LUA
local natprobe = require("natprobe")
local lab = natlab.lab{ name = "$L" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet, addrs = 2 }
local behind = {}
for _, p in ipairs{ "home-router", "mobile-cgn", "hotel-wifi", "enterprise-firewall" } do
	local nat = lab:nat{ name = p:sub(1, 8), net = inet, profile = p }
	behind[p] = lab:host{ name = "h-" .. p:sub(1, 8), net = nat }
end
local far = lab:host{ name = "far", net = inet, link = "transatlantic" }
local slow = lab:host{ name = "slow", net = inet, link = { preset = "3g", jitter = "0ms" } }
lab:up()
for _, p in ipairs{ "home-router", "mobile-cgn", "hotel-wifi", "enterprise-firewall" } do
	local r, why = natprobe.path(lab, behind[p])
	-- What a failure prints: the measurement and the declaration side by side.
	local function seen(m, d)
		return string.format("measured %s/%s, declared %s/%s", tostring(m.mapping),
			tostring(m.filtering), tostring(d and d.mapping), tostring(d and d.filtering))
	end
	expect(r and r.udp_match, p .. " measures as declared for UDP", r and seen(r, r.declared) or why)
	expect(r and r.tcp.match, p .. " measures as declared for TCP", r and seen(r.tcp, r.declared.tcp))
	if r then result{ preset = p, mapping = r.mapping, filtering = r.filtering } end
end
local function rtt(host)
	local p = host:spawn{ "ping", "-c", "3", "-i", "0.3", "-W", "3", srv.addr }
	p:wait{ timeout = "10s" }
	for _, l in ipairs(p.lines) do
		-- The minimum: the first ping also waits for ARP across the delayed link.
		local min = l:match("= ([%d.]+)/")
		if min then return tonumber(min) end
	end
	return -1
end
local t, s = rtt(far), rtt(slow)
result{ link = "transatlantic", rtt_ms = t }
result{ link = "3g", rtt_ms = s }
-- transatlantic is 35 ms with 1 ms of jitter each way: the fastest of three lies in 68-72
-- ms plus the forwarding (a faster forwarder made 69.98 common).
expect(t >= 68 and t < 80, "transatlantic: about 70 ms round trip (" .. t .. ")")
expect(s >= 150 and s < 160, "3g with jitter 0: about 150 ms round trip (" .. s .. ")")
LUA
"$NATLAB" run presets.lua --out o --pcap none >o.tap 2>o.err
t_is $? 0 "a lab of every NAT preset and two link presets runs" "$(cat o.tap; tail -3 o.err)"
t_is "$(grep -c '^ok' o.tap)" 10 "every preset measures as declared, every round trip as given"
t_is "$(jq -r '.results[] | select(.preset) | "\(.preset)=\(.mapping)/\(.filtering)"' o/report.json | tr '\n' ' ')" \
	"home-router=endpoint-independent/address-and-port-dependent mobile-cgn=address-and-port-dependent/address-and-port-dependent hotel-wifi=endpoint-independent/address-and-port-dependent enterprise-firewall=address-and-port-dependent/address-and-port-dependent " \
	"measured mapping and filtering of each"
t_is "$(jq -r '.nats[] | select(.name == "mobile-c") | "\(.profile) \(.declared.port_block) \(.declared.udp_timeout)"' o/report.json)" \
	"mobile-cgn 2048 30" "mobile-cgn declares its port blocks and 30 s UDP timeout"

printf 'local lab = natlab.lab{}\nlocal i = lab:internet{}\nlab:host{ name = "h", net = i, link = "5g" }\nlab:up()\n' >bad.lua
out=$("$NATLAB" check bad.lua 2>&1)
echo "$out" | grep -q 'bad.lua:3: lab:host: unknown link preset "5g" (one of: wifi, 4g, 3g, satellite, transatlantic'
t_ok $? "an unknown link preset is refused with the list" "$out"
printf 'local lab = natlab.lab{}\nlocal i = lab:internet{}\nlab:nat{ name = "n", net = i, profile = "hotel" }\nlab:up()\n' >bad2.lua
out=$("$NATLAB" check bad2.lua 2>&1)
echo "$out" | grep -q 'unknown profile "hotel" (one of: .*home-router, mobile-cgn, hotel-wifi, enterprise-firewall, v6-firewall, v6-open, nptv6, mobile-nat64, upnp-router)'
t_ok $? "an unknown profile lists the presets too" "$out"
t_done
