#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Dual-stack labs (docs/scenarios.md, "IPv6"):
# - ping, UDP and TCP over IPv6 between public hosts, hosts behind NATs, an IPv6-only
#   LAN and a NAT behind a CGN, across the internet's hop routers (traceroute -6);
# - each filtering6 knob lets in what it says, for UDP and TCP, measured with
#   tests/fw6_probe.c (replies, another port of the same address, another address,
#   unsolicited), the IPv4 side of the same boxes still NATting;
# - block = "udp" drops IPv6 UDP too; set_profile changes filtering6, not nptv6; bad
#   IPv6 keys and combinations are refused with the node named; a link taken down and up
#   carries IPv6 again;
# - NPTv6: the LAN's ULA source leaves the box's WAN as an address of its routed /64,
#   the UDP checksum field and the addresses' one's complement sum unchanged
#   (checksum-neutral, RFC 6296), seen with tshark in the run's captures; the reply to
#   the translated address reaches the host; the run's NAT snapshot shows table ip6 natlab.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require tshark
TESTS=$(cd "${NATLAB_BIN:-$SRC/build/bin}/../tests" && pwd)
[ -x "$TESTS/fw6_probe" ] || t_skip_all "fw6_probe not built"

cat >"$T_TMP/v6.lua" <<LUA
local F = "$TESTS/fw6_probe"
local lab = natlab.lab{ name = "v6$$" }
local inet = lab:internet{ ipv6 = true, hops = 3 }
local srv = lab:host{ name = "srv", net = inet, addrs = 2 }
local words = { apdf = "address-and-port-dependent", adf = "address-dependent",
	eif = "endpoint-independent", open = "open" }
local side = {}
for tag, f in pairs(words) do
	local box = lab:nat{ name = tag, net = inet, profile = "home-router", filtering6 = f }
	side[tag] = lab:host{ name = "h" .. tag, net = box }
end
local blocked = lab:nat{ name = "noudp", net = inet, profile = "home-router", block = "udp",
	filtering6 = "open" }
local hblocked = lab:host{ name = "hnoudp", net = blocked }
local isp = lab:nat{ name = "isp", net = inet, profile = "cgnat" }
local cpe = lab:nat{ name = "cpe", net = isp, profile = "v6-firewall" }
local bob = lab:host{ name = "bob", net = cpe }
local mob = lab:nat{ name = "mob", net = inet, profile = "symmetric", ipv6 = "only" }
local phone = lab:host{ name = "phone", net = mob }
local npt = lab:nat{ name = "npt", net = inet, profile = "nptv6" }
local hnpt = lab:host{ name = "hnpt", net = npt }
$T_LUA_LINE_OF
lab:up()
local function run(h, argv, t)
	local lines = {}
	argv.on_line = function(l) lines[#lines + 1] = l end
	local st = h:spawn(argv):wait{ timeout = t or "5s" }
	return st, lines
end
local function ping(h, dst) return (run(h, { "ping", "-n", "-c", "1", "-W", "2", dst })) end

-- 1. Reachability over IPv6 and IPv4 alike.
expect_eq(ping(side.apdf, srv.addr6), 0, "a host behind a v6 firewall pings a public host")
expect_eq(ping(bob, srv.addr6), 0, "a host behind a CPE behind a CGN pings over IPv6")
expect_eq(ping(phone, srv.addr6), 0, "an IPv6-only host pings over IPv6")
expect_eq(ping(side.apdf, srv.addr), 0, "the same host still pings over IPv4 (NATted)")
expect_eq(ping(srv, side.open.addr6), 0, "a public host reaches a host behind an open v6 edge")
expect_eq(ping(side.apdf, side.open.addr6), 0, "host to host across two LANs over IPv6")
expect(ping(srv, side.apdf.addr6) ~= 0, "an unsolicited ping into a v6 firewall is dropped")
expect(ping(srv, bob.addr6) ~= 0, "and into v6-firewall behind a CGN")
local _, tr = run(side.apdf, { "traceroute", "-n", "-6", "-q", "1", "-w", "1", srv.addr6 }, "20s")
local hops = {}
for _, l in ipairs(tr) do hops[#hops + 1] = l:match("^%s*%d+%s+(%S+)") end
expect_eq(table.concat(hops, " "), table.concat({ side.apdf.net.gateway6,
	inet.routers6[1], inet.routers6[2], inet.routers6[3], srv.addr6 }, " "),
	"traceroute -6: the box, the core, two backbone routers, the host")

-- 2. Filtering per knob, UDP and TCP.
local server = srv:spawn{ F, "server", srv.addrs6[1], srv.addrs6[2], "60", name = "fw6" }
expect(server:wait_line{ match = "^serving", timeout = "5s" }, "fw6_probe's server is up")
for tag, f in pairs(words) do
	local _, out = run(side[tag], { F, "client", srv.addrs6[1], srv.addrs6[2], "40000" })
	local udp, tcp = out[1] or "udp (none)", out[2] or "tcp (none)"
	expect_eq(udp:match("filtering=(%S+)"), f, "filtering6 = " .. f .. ", UDP: " .. udp)
	expect_eq(tcp:match("filtering=(%S+)"), f, "filtering6 = " .. f .. ", TCP: " .. tcp)
end
local _, out = run(hblocked, { F, "client", srv.addrs6[1], srv.addrs6[2], "40000" })
expect_eq((out[1] or ""):match("filtering=(%S+)"), "blocked", "block = udp drops IPv6 UDP: " .. (out[1] or ""))
expect_eq((out[2] or ""):match("reply=(%d)"), "1", "and lets IPv6 TCP out: " .. (out[2] or ""))

-- 3. NPTv6: UDP out and back through the translation (the capture is checked after).
_, out = run(hnpt, { F, "client", srv.addrs6[1], srv.addrs6[2], "41000" })
expect_eq((out[1] or ""):match("filtering=(%S+)"), "address-and-port-dependent",
	"an NPTv6 box filters its LAN like a v6 firewall: " .. (out[1] or ""))

-- 4. Mid-run: a link taken down and up gets its IPv6 default route back (and keeps its
-- addresses); filtering6 changes with set_profile; nptv6 cannot.
side.adf.net:link_down()
expect(ping(side.adf, srv.addr6) ~= 0, "link_down cuts IPv6 off")
side.adf.net:link_up()
expect_eq(ping(side.adf, srv.addr6), 0, "link_up brings IPv6 back")
local open = side.open.net
open:set_profile{ profile = "home-router", filtering6 = "address-and-port-dependent" }
expect(ping(srv, side.open.addr6) ~= 0, "set_profile: the open edge now filters IPv6")
local okp, why = pcall(npt.set_profile, npt, { profile = "home-router" })
expect(not okp and tostring(why):match("nptv6 cannot change"), "nptv6 cannot change mid-run: " .. tostring(why))
result{ npt_lan = npt.lan6, npt_pub = npt.pub6, hnpt = hnpt.addr6 }
print("npt " .. npt.lan6 .. " " .. npt.pub6 .. " " .. hnpt.addr6)
server:kill()
LUA

"$NATLAB" run "$T_TMP/v6.lua" --out "$T_TMP/out" --pcap all >"$T_TMP/run.tap" 2>"$T_TMP/run.err"
rc=$?
grep -E "^(ok|not ok)" "$T_TMP/run.tap" | sed 's/^ok [0-9]* - /ok - /; s/^not ok [0-9]* - /not ok - /' |
while IFS= read -r line; do echo "# $line"; done
t_ok $rc "the IPv6 scenario's expectations hold" "$(grep -A3 '^not ok' "$T_TMP/run.tap"; tail -5 "$T_TMP/run.err")"

read -r lan6 pub6 host6 < <(sed -n 's/^# npt //p' "$T_TMP/run.tap")
lan=${lan6%::/64}; pub=${pub6%::/64}
wan_pcap="$T_TMP/out/pcap/npt-wan.pcap"; lan_pcap="$T_TMP/out/pcap/npt-lan.pcap"
fields() { tshark -r "$1" -Y "udp.dstport == 3478 && ipv6.dst == $2" -T fields -e ipv6.src -e udp.checksum 2>/dev/null | head -1; }
srv_addr=$(tshark -r "$lan_pcap" -Y "udp.dstport == 3478" -T fields -e ipv6.dst 2>/dev/null | head -1)
read -r lan_src lan_sum < <(fields "$lan_pcap" "$srv_addr")
read -r wan_src wan_sum < <(fields "$wan_pcap" "$srv_addr")
t_is "$lan_src" "$host6" "on the NPTv6 box's LAN the probe leaves from the host's ULA address ($host6)"
case "$wan_src" in "$pub":*) r=0 ;; *) r=1 ;; esac
t_ok $r "on its WAN from an address of the routed /64 $pub6: $wan_src"
t_ok $([ -n "$wan_src" ] && [ "${wan_src#"$pub":}" != "${host6#"$lan":}" ] && echo 0 || echo 1) \
	"the interface identifier is adjusted (${host6#"$lan":} -> ${wan_src#"$pub":}), not copied: checksum-neutral mapping"
t_is "$wan_sum" "$lan_sum" "the UDP checksum is the same on both sides (RFC 6296: no transport checksum changes)"
reply_dst=$(tshark -r "$wan_pcap" -Y "udp.srcport == 3478" -T fields -e ipv6.dst 2>/dev/null | head -1)
reply_lan=$(tshark -r "$lan_pcap" -Y "udp.srcport == 3478" -T fields -e ipv6.dst 2>/dev/null | head -1)
t_is "$reply_dst" "$wan_src" "the reply comes back to the translated address"
t_is "$reply_lan" "$host6" "and reaches the host at its ULA address"
# The captured checksums are partial (veth offloads them), so tshark cannot verify them;
# what RFC 6296 promises is checked on the addresses themselves: equal one's complement sums.
ocsum() { python3 -c 'import ipaddress,sys
w=ipaddress.IPv6Address(sys.argv[1]).packed; s=0
for i in range(0,16,2):
    s+=w[i]<<8|w[i+1]; s=(s&0xffff)+(s>>16)
print(hex(0 if s==0xffff else s))' "$1"; }
t_is "$(ocsum "$wan_src")" "$(ocsum "$lan_src")" "the two source addresses have the same one's complement sum"
end="$T_TMP/out/nat/end.json"
t_is "$(jq -r '.nats.npt.sets["ip6 npt_out"][0] // "none"' "$end" | cut -d' ' -f1)" "$host6" \
	"the run's NAT snapshot shows the IPv6 table: map npt_out holds the NPTv6 host"
n=$(jq -r '.nats.eif.sets["ip6 eif_udp"] | length' "$end")
t_ok $([ "${n:-0}" -ge 1 ] && echo 0 || echo 1) "and set eif_udp of the endpoint-independent box what it learned ($n)"

# Refusals, by natlab check (nothing is built).
check() { # check LUA WANT: the scenario body after an IPv6 internet is refused with WANT
	printf 'local lab = natlab.lab{}\nlocal inet = lab:internet{ ipv6 = true }\n%s\n' "$1" >"$T_TMP/bad.lua"
	out=$("$NATLAB" check "$T_TMP/bad.lua" 2>&1)
	echo "$out" | grep -q -- "$2"
	t_ok $? "refused: ${1//$'\n'/; }" "$out"
}
check 'lab:host{ name = "h", net = inet, ipv6 = "yes" }' '"ipv6" must be true (dual-stack), false (IPv4 only) or "only"'
check 'lab:host{ name = "h", net = inet, addr6 = "10.0.0.1" }' 'bad.lua:3: lab:host: "addr6" = "10.0.0.1" is not an IPv6 address'
check 'local m = lab:nat{ name = "m", net = inet, profile = "symmetric", ipv6 = "only" }
lab:host{ name = "h", net = m, ipv6 = true }' 'host "h" asks for IPv4 (ipv6 = true) but network "m" is IPv6-only'
check 'lab:nat{ name = "n", net = inet, profile = "full-cone", ipv6 = false, filtering6 = "open" }' '"filtering6" applies to IPv6 and the LAN of "n" has none'
check 'lab:nat{ name = "n", net = inet, profile = "full-cone", lan6 = "2001:db8:0:1::/64" }' 'other than its first two'
check 'lab:nat{ name = "n", net = inet, profile = "full-cone", filtering6 = "stateful" }' '"filtering6" = "stateful" is not a valid value (one of: address-and-port-dependent, address-dependent, endpoint-independent, open)'
printf 'local lab = natlab.lab{}\nlab:internet{ prefix6 = "fd00::/48" }\n' >"$T_TMP/bad.lua"
"$NATLAB" check "$T_TMP/bad.lua" 2>&1 | grep -q 'lab:internet: prefix6 fd00::/48 overlaps unique local space'
t_ok $? "refused: a ULA internet"
t_done
