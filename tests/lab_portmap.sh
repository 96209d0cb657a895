#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Port mapping (issue 17): the knobs upnp, natpmp and pcp run the field's gateway daemon,
# miniupnpd, in the NAT box, and the field's clients (upnpc, natpmpc; a PCP request from
# tests/pcp_map.c) get mappings that let an outside host in through a symmetric NAT;
# leases expire, a reboot (nat:flush()) forgets them, a protocol that is off is not
# answered, a CGN's PCP grants only the subscriber's block, and a box on a reserved WAN
# address is warned about and refuses. The captures decode in tshark without a
# malformed packet.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require miniupnpd
t_require upnpc
t_require natpmpc
t_require socat
t_require tshark
PCP_MAP=$NATLAB_BIN/../tests/pcp_map
[ -x "$PCP_MAP" ] || PCP_MAP=$(dirname "$NATLAB_BIN")/tests/pcp_map

cat >"$T_TMP/portmap.lua" <<LUA
local lab = natlab.lab{ name = "portmap" }
-- miniupnpd refuses to map on a private or reserved WAN address (natlab's default
-- internet, 198.18.0.0/15, is one): this internet is public.
local inet = lab:internet{ prefix = "20.0.0.0/16" }
local srv = lab:host{ name = "srv", net = inet }
local gw = lab:nat{ name = "gw", net = inet, profile = "symmetric", upnp = true, natpmp = true }
local a = lab:host{ name = "a", net = gw }
local short = lab:nat{ name = "short", net = inet, profile = "symmetric", natpmp = true,
	pcp = true, portmap_lease = "2s" }
local s = lab:host{ name = "s", net = short }
local cgn = lab:nat{ name = "cgn", net = inet, profile = "cgnat", port_block = 1024, pcp = true }
local b = lab:host{ name = "b", net = cgn }
local b2 = lab:host{ name = "b2", net = cgn }
local cpe = lab:nat{ name = "cpe", net = cgn, profile = "port-restricted-cone", natpmp = true }
local c = lab:host{ name = "c", net = cpe }
local home = lab:nat{ name = "home", net = inet, profile = "upnp-router" }
local h = lab:host{ name = "h", net = home }
lab:up()

local n = 0
local function run(h, argv)
	n = n + 1
	argv.name = argv.name or (argv[1]:match("[^/]+$") .. n)
	local p = h:spawn(argv)
	local rc = p:wait{ timeout = "15s" }
	return rc, table.concat(p.lines, "\n")
end

-- A UDP datagram from srv to ADDR:PORT: does it reach a receiver on HOST:LPORT?
local function reaches(host, lport, addr, port)
	n = n + 1
	local word = "ping" .. n
	local got = host:spawn{ "timeout", "5", "socat", "-u", "UDP-RECV:" .. lport, "STDOUT",
		name = "recv" .. n }
	natlab.sleep("200ms")
	run(srv, { "sh", "-c", "echo " .. word .. " | socat -u STDIN UDP-SENDTO:" .. addr .. ":" .. port })
	local line = got:wait_line{ match = "^" .. word .. "$", timeout = "1s" }
	if not got.exited then got:kill() end
	return line == word
end

-- NAT-PMP through the symmetric NAT.
expect(not reaches(a, 6000, gw.addr, 6000), "without a mapping the symmetric NAT drops it")
local rc, out = run(a, { "natpmpc", "-g", gw.gateway, "-a", "6000", "6000", "udp", "600" })
expect(rc == 0 and out:find("Mapped public port 6000 protocol UDP to local port 6000", 1, true),
	"natpmpc: the gateway maps UDP 6000")
expect(out:find("Public IP address : " .. gw.addr, 1, true), "natpmpc: its public address is the WAN")
expect(reaches(a, 6000, gw.addr, 6000), "NAT-PMP: a datagram from outside reaches the host")

-- UPnP-IGD (SSDP discovery on the LAN, then SOAP) for TCP.
rc, out = run(a, { "upnpc", "-a", a.addr, "7000", "7000", "TCP" })
expect(rc == 0 and out:find("external " .. gw.addr .. ":7000 TCP is redirected to internal "
	.. a.addr .. ":7000", 1, true), "upnpc: the gateway maps TCP 7000")
n = n + 1
local tcp = a:spawn{ "timeout", "5", "socat", "-u", "TCP-LISTEN:7000", "STDOUT", name = "tcprecv" }
natlab.sleep("200ms")
run(srv, { "sh", "-c", "echo over-tcp | socat -u STDIN TCP:" .. gw.addr .. ":7000" })
tcp:wait{ timeout = "8s" }
expect_eq(tcp.lines[1], "over-tcp", "UPnP: a TCP connection from outside reaches the host")
rc, out = run(a, { "upnpc", "-l" })
expect(out:find("UDP  6000->" .. a.addr .. ":6000", 1, true) and out:find("TCP  7000->" .. a.addr .. ":7000", 1, true),
	"upnpc -l lists both mappings, whichever protocol made them")

-- PCP is off on gw: its requests are not answered; NAT-PMP still is.
rc, out = run(a, { "$PCP_MAP", gw.gateway, "6100", "udp", "600" })
expect_eq(rc, 2, "pcp off: a PCP request gets no answer (" .. out .. ")")

-- A reboot forgets the mappings, and NAT-PMP's epoch starts again. It forgets them at
-- once: a stream the mapping lets in stops, although datagrams keep arriving while the
-- box reboots (none may slip in through the old mapping and stay tracked).
local got = a:spawn{ "timeout", "6", "socat", "-u", "UDP-RECV:6000", "STDOUT", name = "stream-recv" }
srv:spawn{ "sh", "-c", "for i in \$(seq 400); do echo s\$i; sleep 0.01; done | socat -u STDIN UDP-SENDTO:"
	.. gw.addr .. ":6000", name = "stream" }
expect(got:wait_line{ match = "^s%d+$", timeout = "2s" }, "a stream comes in through the mapping")
gw:flush()
natlab.sleep("300ms")
local before = #got.lines
natlab.sleep("1s")
expect_eq(#got.lines - before, 0, "after nat:flush() no datagram of the stream comes in ("
	.. before .. " before the reboot)")
expect(not reaches(a, 6000, gw.addr, 6000), "after nat:flush() the mapping is gone")
rc, out = run(a, { "upnpc", "-l" })
expect(not out:find("6000->", 1, true), "and the gateway lists none")
rc, out = run(a, { "natpmpc", "-g", gw.gateway, "-a", "6000", "6000", "udp", "600" })
expect(rc == 0 and out:find("Mapped public port 6000", 1, true), "mapping again after the reboot works")
local epoch = tonumber(out:match("epoch = (%d+)"))
expect(epoch and epoch < 10, "its epoch says the gateway started again: " .. tostring(epoch))
-- A new profile drops every mapping as a reboot does, just as at once.
if not got.exited then got:kill() end
got = a:spawn{ "timeout", "6", "socat", "-u", "UDP-RECV:6000", "STDOUT", name = "stream-recv2" }
srv:spawn{ "sh", "-c", "for i in \$(seq 400); do echo s\$i; sleep 0.01; done | socat -u STDIN UDP-SENDTO:"
	.. gw.addr .. ":6000", name = "stream2" }
expect(got:wait_line{ match = "^s%d+$", timeout = "2s" }, "a stream comes in through the new mapping")
gw:set_profile{ profile = "port-restricted-cone", upnp = true, natpmp = true }
natlab.sleep("300ms")
before = #got.lines
natlab.sleep("1s")
expect_eq(#got.lines - before, 0, "after nat:set_profile{} no datagram of the stream comes in ("
	.. before .. " before)")

-- Leases. portmap_lease caps what PCP grants (miniupnpd grants NAT-PMP and UPnP leases
-- as asked); a lease that ends lets nothing in any more.
rc, out = run(s, { "$PCP_MAP", short.gateway, "6250", "udp", "3600" })
expect(rc == 0 and out:find("lifetime 2 ", 1, true), "PCP: a lease asked for 3600 s is granted 2 s: " .. out)
rc, out = run(s, { "natpmpc", "-g", short.gateway, "-a", "6200", "6200", "udp", "2" })
expect(out:find("liftime 2", 1, true), "NAT-PMP: a 2 s lease")
expect(reaches(s, 6200, short.addr, 6200), "within its lease the mapping lets a datagram in")
natlab.sleep("3500ms")
expect(not reaches(s, 6200, short.addr, 6200), "after its lease it does not")

-- The CGN answers PCP (not NAT-PMP) and grants each subscriber only its own block.
rc, out = run(b, { "$PCP_MAP", cgn.gateway, "6300", "udp", "600", "1100" })
expect(rc == 0, "PCP on the CGN: MAP succeeds (" .. out .. ")")
local port = tonumber(out:match(":(%d+) epoch"))
expect(port and port >= 1024 and port < 2048, "within b's block 1024-2047: " .. tostring(port))
expect(reaches(b, 6300, cgn.addr, port), "a datagram to the granted port reaches b")
rc, out = run(b2, { "$PCP_MAP", cgn.gateway, "6300", "udp", "600", "1100" })
local port2 = tonumber(out:match(":(%d+) epoch"))
expect(rc ~= 0 or (port2 and port2 >= 2048 and port2 < 3072),
	"b2 never gets a port of b's block: " .. out)
rc, out = run(b, { "natpmpc", "-g", cgn.gateway, "-a", "6400", "6400", "udp", "60" })
expect(rc ~= 0, "natpmp off on the CGN: natpmpc gets no mapping")

-- A home box behind the CGN has a shared (reserved) WAN address: miniupnpd refuses.
rc, out = run(c, { "natpmpc", "-g", cpe.gateway, "-a", "6500", "6500", "udp", "60" })
expect(not out:find("Mapped public port", 1, true), "a gateway on a CGN's address maps nothing")

-- The upnp-router preset: a home router with UPnP-IGD, NAT-PMP and PCP answering.
rc, out = run(h, { "natpmpc", "-g", home.gateway, "-a", "6600", "6600", "udp", "60" })
expect(rc == 0 and out:find("Mapped public port 6600 protocol UDP to local port 6600", 1, true),
	"upnp-router: NAT-PMP maps UDP 6600")
rc, out = run(h, { "upnpc", "-a", h.addr, "7600", "7600", "TCP" })
expect(rc == 0 and out:find("external " .. home.addr .. ":7600 TCP is redirected", 1, true),
	"upnp-router: UPnP maps TCP 7600")
rc, out = run(h, { "$PCP_MAP", home.gateway, "6700", "udp", "60" })
expect_eq(rc, 0, "upnp-router: PCP maps UDP 6700 (" .. out .. ")")
LUA

# A pid file left in the out dir by a daemon that was killed, naming a process that lives
# (init here): miniupnpd would exit saying it is already running, unless natlab clears it.
mkdir -p "$T_TMP/out/logs" && echo 1 >"$T_TMP/out/logs/gw-miniupnpd.pid"
"$NATLAB" run "$T_TMP/portmap.lua" --out "$T_TMP/out" --pcap all >"$T_TMP/run.tap" 2>"$T_TMP/run.err"
rc=$?
cat "$T_TMP/run.tap"
t_ok "$rc" "the port-mapping scenario passes" "$(tail -5 "$T_TMP/run.err")"
t_is "$(grep -c '^not ok' "$T_TMP/run.tap")" 0 "no expectation failed"
t_ok "$(grep -q 'nat "cpe": its WAN address 100\.64\.[0-9.]* is private or reserved' "$T_TMP/run.err"; echo $?)" \
	"the box behind the CGN is warned about" "$(grep -i reserved "$T_TMP/run.err")"
t_ok "$(grep -qx 'enable_upnp=yes' "$T_TMP/out/logs/gw-miniupnpd.conf"; echo $?)" \
	"gw's miniupnpd configuration is in the run's logs, UPnP on"

# The field's dissectors read every port-mapping packet without a malformed one.
pcaps=("$T_TMP"/out/pcap/gw-lan*.pcap "$T_TMP"/out/pcap/cgn-lan*.pcap)
count() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l; }
pmp=0 pcp=0 ssdp=0 bad=0
for f in "${pcaps[@]}"; do
	[ -f "$f" ] || continue
	pmp=$((pmp + $(count "$f" nat-pmp)))
	pcp=$((pcp + $(count "$f" portcontrol)))
	ssdp=$((ssdp + $(count "$f" ssdp)))
	bad=$((bad + $(count "$f" "(nat-pmp or portcontrol or ssdp or http) and _ws.malformed")))
done
t_ok "$([ "$pmp" -gt 0 ] && [ "$pcp" -gt 0 ] && [ "$ssdp" -gt 0 ]; echo $?)" \
	"tshark decodes NAT-PMP ($pmp), PCP ($pcp) and SSDP ($ssdp) packets" "$(ls "$T_TMP"/out/pcap | head)"
t_is "$bad" 0 "none of them malformed"

# natlab up runs the scenario and keeps what it left running: the gateway daemon too.
UP=$(t_lab_name up)
T_LABS+=("$UP")
"$NATLAB" up "$T_TMP/portmap.lua" --name "$UP" --out "$T_TMP/up" >/dev/null 2>"$T_TMP/up.err"
t_ok $? "natlab up of a box with a gateway runs it and keeps the lab" "$(tail -3 "$T_TMP/up.err")"
in_ns='me=$(readlink /proc/self/ns/net); for p in /proc/[0-9]*; do [ "$(readlink $p/ns/net 2>/dev/null)" = "$me" ] && tr "\0" " " 2>/dev/null <$p/comm; done'
"$NATLAB" exec "$UP" gw -- sh -c "$in_ns" 2>/dev/null | grep -q miniupnpd
t_ok $? "its miniupnpd still runs in the kept box"
"$NATLAB" down "$UP" >/dev/null 2>&1
t_done
