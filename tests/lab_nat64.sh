#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# IPv6-only access (issue 16): behind a box with nat64 (preset mobile-nat64), an IPv6-only
# host reaches an IPv4-only server by name, over TCP and UDP, through DNS64 (unbound in
# the box synthesises the AAAA record) and NAT64 (TAYGA, then the box's IPv4 NAT); the
# server sees the box's WAN address. An IPv4 literal fails there, and works on a host
# with a CLAT (464XLAT). An IPv6-only host behind a box without nat64 gets neither name
# nor path. tshark sees the IPv6 packets on the box's LAN and the same flows translated
# to IPv4 on its WAN. The IPv4 side keeps the box's RFC 4787 knobs: natlab probe, from
# hosts with a CLAT, measures mobile-nat64's and a full-cone nat64 box's as declared.
# Nothing is left in the root namespace.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require tayga
t_require unbound
t_require socat
t_require tshark
t_require jq

cat >"$T_TMP/nat64.lua" <<'LUA'
local natprobe = require("natprobe")
local lab = natlab.lab{ name = "nat64" }
local inet = lab:internet{ ipv6 = true }
local server = lab:host{ name = "server", net = inet, ipv6 = false }
-- natlab probe's RFC 5780 responders need two addresses.
local stun = lab:host{ name = "stun", net = inet, ipv6 = false, addrs = 2 }
local carrier = lab:nat{ name = "carrier", net = inet, profile = "mobile-nat64" }
local phone = lab:host{ name = "phone", net = carrier }
local xlat = lab:host{ name = "xlat", net = carrier, clat = true }
local home = lab:nat{ name = "home", net = inet, profile = "port-restricted-cone", ipv6 = "only" }
local bare = lab:host{ name = "bare", net = home }
local cone = lab:nat{ name = "cone", net = inet, profile = "full-cone", nat64 = true }
local cx = lab:host{ name = "cx", net = cone, clat = true }
lab:up()

expect_eq(server.addr6, nil, "the server is IPv4-only")
expect_eq(phone.addr, nil, "the phone is IPv6-only")
expect_eq(carrier.ipv6, "only", "a nat64 box's LAN is IPv6-only by default")
-- The lab's default internet, 198.18.0.0/15, may not sit behind 64:ff9b::/96 (RFC 6052).
expect_eq(carrier.nat64_prefix, "2001:db8:ffff::/96", "a network-specific prefix")
print(string.format("ADDRS server=%s carrier=%s phone=%s xlat=%s clat=%s",
	server.addr, carrier.addr, phone.addr6, xlat.addr6, xlat.clat))

server:spawn{ "socat", "TCP4-LISTEN:7000,fork,reuseaddr",
	"SYSTEM:echo tcp-from-$SOCAT_PEERADDR", name = "tcp" }
-- The UDP child reads the datagram before it answers: socat fails writing it to a child
-- that already ended.
server:spawn{ "socat", "UDP4-RECVFROM:7001,fork",
	"SYSTEM:read l; echo udp-from-$SOCAT_PEERADDR", name = "udp" }
natlab.sleep("300ms")

local n = 0
local function run(h, cmd)
	n = n + 1
	local p = h:spawn{ "sh", "-c", cmd .. " 2>&1", name = "c" .. n }
	local rc = p:wait{ timeout = "8s" }
	for _ = 1, 25 do
		if #p.lines > 0 or rc ~= 0 then break end
		natlab.sleep("20ms")
	end
	return rc, table.concat(p.lines, " ")
end

-- DNS64 and NAT64, by name.
local rc, out = run(phone, "getent ahosts server.test | head -1")
expect(rc == 0 and out:match("^2001:db8:ffff::c612:" .. string.format("%x", tonumber(server.addr:match("%d+$")))),
	"DNS64: server.test has a synthesised AAAA in the prefix: " .. out)
rc, out = run(phone, "socat -T3 - TCP6:server.test:7000 </dev/null")
expect_eq(out, "tcp-from-" .. carrier.addr, "TCP by name reaches the IPv4 server from the box's WAN")
rc, out = run(phone, "echo x | socat -T3 - UDP6:server.test:7001")
expect_eq(out, "udp-from-" .. carrier.addr, "UDP by name too")
-- The wire (scenarios/lib/wire.lua) counts through NAT64: IPv6 to the synthesised address
-- on the handset's box, IPv4 from the box's WAN on the server; a CLAT's own address too.
local wire = require("wire")
for _, h in ipairs{ phone, xlat } do
	local w = wire.watch(h, server, {})
	rc, out = run(h, h == phone and "echo x | socat -T3 - UDP6:server.test:7001"
		or "echo x | socat -T3 - UDP4:" .. server.addr .. ":7001")
	w:sample()
	local v = w:verdict()
	expect(v.verdict == "direct" and v.a_to_b.delivered.packets >= 1 and v.b_to_a.delivered.packets >= 1,
		h.name .. ": the wire counts the exchange through NAT64 as direct, both ways (" .. v.verdict ..
		", " .. v.a_to_b.delivered.packets .. " and " .. v.b_to_a.delivered.packets .. " packets)")
end
rc, out = run(phone, "getent ahosts ipv4only.arpa | head -1")
expect(out:match("^2001:db8:ffff::c000:aa") or out:match("^2001:db8:ffff::c000:ab"),
	"RFC 7050: ipv4only.arpa tells the prefix: " .. out)

-- An IPv4 literal: nothing without a CLAT, through it with one (464XLAT).
rc, out = run(phone, "socat -T3 - TCP4:" .. server.addr .. ":7000 </dev/null")
expect(rc ~= 0 and out:find("unreachable", 1, true), "no CLAT: an IPv4 literal fails: " .. out)
rc, out = run(xlat, "socat -T3 - TCP4:" .. server.addr .. ":7000 </dev/null")
expect_eq(out, "tcp-from-" .. carrier.addr, "464XLAT: TCP to an IPv4 literal")
rc, out = run(xlat, "echo x | socat -T3 - UDP4:" .. server.addr .. ":7001")
expect_eq(out, "udp-from-" .. carrier.addr, "464XLAT: UDP to an IPv4 literal")

-- IPv6-only without NAT64 and DNS64: no name, and the translated address leads nowhere.
rc, out = run(bare, "timeout 3 getent ahosts server.test")
expect(rc ~= 0 and out == "", "no DNS64: server.test does not resolve (" .. rc .. ")")
rc, out = run(bare, "socat -T2 - TCP6:[2001:db8:ffff::" .. server.addr .. "]:7000 </dev/null")
expect(rc ~= 0 and not out:find("tcp-from", 1, true), "no NAT64: the prefix is not routed: " .. out)

-- The IPv4 side is the box's NAT: RFC 4787 behaviour as its knobs say, UDP and TCP.
for _, c in ipairs{ { xlat, "mobile-nat64" }, { cx, "full-cone" } } do
	local r, why = natprobe.path(lab, c[1], { server = stun })
	expect(r and r.udp_match and r.tcp.match, c[2] .. " + nat64 measures as declared", why)
	if r then result{ nat = c[2], mapping = r.mapping, filtering = r.filtering } end
end

-- Mid-run: NAT64 stays as declared; a reboot or a new IPv4 profile keeps it working.
local okp, err = pcall(carrier.set_profile, carrier, "symmetric")
expect(not okp and tostring(err):find("nat64 and nat64_prefix are fixed", 1, true),
	"set_profile without nat64 is refused: " .. tostring(err))
carrier:flush()
carrier:set_profile{ profile = "full-cone", nat64 = true }
rc, out = run(phone, "socat -T3 - TCP6:server.test:7000 </dev/null")
expect_eq(out, "tcp-from-" .. carrier.addr, "after flush() and set_profile{ nat64 = true }")
LUA

"$NATLAB" run "$T_TMP/nat64.lua" --out "$T_TMP/out" --pcap all >"$T_TMP/run.tap" 2>"$T_TMP/run.err"
rc=$?
cat "$T_TMP/run.tap"
t_ok "$rc" "the NAT64 scenario passes" "$(tail -5 "$T_TMP/run.err")"
t_is "$(grep -c '^not ok' "$T_TMP/run.tap")" 0 "no expectation failed"
t_is "$(jq -r '.results[] | select(.nat) | "\(.nat)=\(.mapping)/\(.filtering)"' "$T_TMP/out/report.json" | tr '\n' ' ')" \
	"mobile-nat64=address-and-port-dependent/address-and-port-dependent full-cone=endpoint-independent/endpoint-independent " \
	"the probe's mapping and filtering through each box"
t_ok "$(grep -q '^prefix 2001:db8:ffff::/96$' "$T_TMP/out/logs/carrier-tayga.conf"; echo $?)" \
	"TAYGA's configuration is in the run's logs"
t_ok "$(grep -q 'server.test. AAAA IN' "$T_TMP/out/logs/carrier-unbound.log"; echo $?)" \
	"unbound logged the phone's AAAA query"

# The same flows on both sides of the box: IPv6 on its LAN, IPv4 on its WAN.
addrs=$(grep -o 'ADDRS .*' "$T_TMP/run.tap")
val() { printf '%s\n' "$addrs" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
server=$(val server) carrier=$(val carrier) phone=$(val phone) clat=$(val clat)
count() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l; }
lan=$T_TMP/out/pcap/carrier-lan.pcap wan=$T_TMP/out/pcap/carrier-wan.pcap
syn='tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 7000'
t_ok "$([ "$(count "$lan" "ipv6.src == $phone && ipv6.dst == 2001:db8:ffff::$server && $syn")" -ge 1 ]; echo $?)" \
	"LAN: the phone's SYN to 2001:db8:ffff::$server" "$(tshark -r "$lan" 2>&1 | head -5)"
t_ok "$([ "$(count "$wan" "ip.src == $carrier && ip.dst == $server && $syn")" -ge 3 ]; echo $?)" \
	"WAN: translated SYNs (phone's, xlat's, phone's again) from $carrier to $server" "$(tshark -r "$wan" 2>&1 | head -5)"
t_ok "$([ "$(count "$lan" "ipv6.src == $phone && ipv6.dst == 2001:db8:ffff::$server && udp.dstport == 7001")" -ge 1 ] &&
	[ "$(count "$wan" "ip.src == $carrier && ip.dst == $server && udp.dstport == 7001")" -ge 2 ]; echo $?)" \
	"UDP: IPv6 on the LAN, IPv4 on the WAN"
t_ok "$([ "$(count "$lan" "dns.aaaa == 2001:db8:ffff::$server")" -ge 1 ]; echo $?)" \
	"LAN: unbound's answer carries the synthesised AAAA"
t_ok "$([ "$(count "$lan" "ipv6.src == $clat && $syn")" -ge 1 ]; echo $?)" \
	"LAN: the CLAT's SYN, from its own address $clat"
t_is "$(count "$lan" "ip && !igmp")" 0 "no IPv4 on the IPv6-only LAN (but the bridge's IGMP)"

# Sealed: TAYGA's devices went with their namespaces, its processes with the run.
t_ok "$(ip link show nat64 >/dev/null 2>&1 || ip link show clat >/dev/null 2>&1; [ $? -ne 0 ]; echo $?)" \
	"no nat64 or clat device in the root namespace"
left=$(for p in /proc/[0-9]*; do { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -F "$T_TMP/out/"; done)
t_is "$left" "" "no TAYGA or unbound of the run is left"

# natlab up keeps TAYGA and unbound; natlab exec in a host behind the box resolves
# through its DNS64, elsewhere through the machine's resolver, which stays as it was.
UP=$(t_lab_name up)
T_LABS+=("$UP")
cat >"$T_TMP/up.lua" <<'LUA'
local lab = natlab.lab{}
local inet = lab:internet{ ipv6 = true }
lab:host{ name = "server", net = inet, ipv6 = false }
local carrier = lab:nat{ name = "carrier", net = inet, profile = "mobile-nat64" }
lab:host{ name = "phone", net = carrier }
lab:up()
LUA
before=$(md5sum </etc/resolv.conf)
"$NATLAB" up "$T_TMP/up.lua" --name "$UP" --out "$T_TMP/up" >/dev/null 2>"$T_TMP/up.err"
t_is $? 0 "natlab up of a nat64 lab" "$(tail -3 "$T_TMP/up.err")"
out=$("$NATLAB" exec "$UP" phone -- getent ahosts server.test 2>&1 | head -1)
t_ok "$(printf '%s' "$out" | grep -q '^2001:db8:ffff::c612:'; echo $?)" \
	"natlab exec in the phone resolves server.test through DNS64 (kept unbound)" "$out"
t_is "$("$NATLAB" exec "$UP" server -- sh -c 'md5sum </etc/resolv.conf')" "$before" \
	"a host not behind it keeps the machine's resolv.conf"
t_is "$(md5sum </etc/resolv.conf)" "$before" "the machine's resolv.conf is untouched"
"$NATLAB" down "$UP" >/dev/null 2>&1

# Refused combinations, named.
cat >"$T_TMP/bad.lua" <<'LUA'
local lab = natlab.lab{ name = "nat64bad" }
local inet = lab:internet{ KEY }
local c = lab:nat{ name = "c", net = inet, profile = "mobile-nat64", EXTRA }
lab:host{ name = "h", net = HOSTNET, clat = true }
lab:up()
LUA
bad() { # bad KEY EXTRA HOSTNET -> the error of natlab check
	sed -e "s|KEY|$1|" -e "s|EXTRA|$2|" -e "s|HOSTNET|$3|" "$T_TMP/bad.lua" >"$T_TMP/b.lua"
	"$NATLAB" check "$T_TMP/b.lua" 2>&1 >/dev/null
}
out=$(bad "ipv6 = true" 'nat64_prefix = "well-known"' c)
t_ok "$(printf '%s' "$out" | grep -q 'nat64_prefix "well-known" (64:ff9b::/96) cannot reach the internet 198.18.0.0/15'; echo $?)" \
	"well-known prefix with a non-global internet: refused, saying why" "$out"
out=$(bad 'ipv6 = true, prefix = "20.0.0.0/16"' 'nat64_prefix = "well-known"' c)
t_is "$out" "" "with a global internet it is accepted"
out=$(bad "" "" c)
t_ok "$(printf '%s' "$out" | grep -q 'NAT "c": nat64 gives its LAN IPv6 only, and the lab has no IPv6'; echo $?)" \
	"nat64 in an IPv4-only lab: refused" "$out"
out=$(bad "ipv6 = true" "ipv6 = true" c)
t_ok "$(printf '%s' "$out" | grep -q 'nat64 serves an IPv6-only LAN, and its LAN has ipv6 = true'; echo $?)" \
	"nat64 on a dual-stack LAN: refused" "$out"
out=$(bad "ipv6 = true" 'lan6 = "2001:db8:ffff::/64"' c)
t_ok "$(printf '%s' "$out" | grep -q 'LAN 2001:db8:ffff::/64 is reserved for NAT64.s network-specific prefix'; echo $?)" \
	"a LAN on the network-specific prefix's /64: refused" "$out"
out=$(bad "ipv6 = true" "" inet)
t_ok "$(printf '%s' "$out" | grep -q 'host "h": clat = true translates through its network.s NAT64'; echo $?)" \
	"clat on a host without NAT64: refused" "$out"
t_done
