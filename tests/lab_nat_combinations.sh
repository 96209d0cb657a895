#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every combination of NAT knobs (mapping x filtering x ports x hairpin x port_block
# off/on x block: 216) is refused by lab:nat with a message that says what to use
# instead, or built and measured in one lab, UDP and TCP alike (tests/nat_behave.c):
# mapping from three server endpoints, the external port's range (preserved, random,
# sequential, inside the subscriber's block), filtering of packets and SYNs from the
# contacted address on another port and from another address, hairpinning, and that a
# filtered SYN is dropped silently (the sender's connect() times out, never refused).
. "$(dirname "$0")/lib/lab.sh"
t_require_root
BEHAVE=$(cd "${NATLAB_BIN:-$SRC/build/bin}/../tests" && pwd)/nat_behave
[ -x "$BEHAVE" ] || t_skip_all "nat_behave not built"

cat >"$T_TMP/combos.lua" <<LUA
local B = "$BEHAVE"
local LPORT = 40000
local lab = natlab.lab{ name = "c$$" }
-- A flat internet (hops = 0): with the default 8 hops, this lab's 181 attachments and
-- the other labs on the machine overflowed the kernel's neighbour table, whose limit is
-- machine-wide (gc_thresh3, 1024 entries for all namespaces): dmesg said "neighbor table
-- overflow!" and a few SYNs were lost (2 of 3 runs). The path is not measured here.
local inet = lab:internet{ hops = 0 }
local srv = lab:host{ name = "srv", net = inet, addrs = 2 }
local built, refused, n = {}, 0, 0
for _, m in ipairs{ "endpoint-independent", "address-and-port-dependent" } do
for _, f in ipairs{ "endpoint-independent", "address-dependent", "address-and-port-dependent" } do
for _, p in ipairs{ "preserve", "random", "sequential" } do
for _, h in ipairs{ true, false } do
for _, pb in ipairs{ 0, 64 } do
for _, b in ipairs{ "none", "udp", "web-only" } do
	n = n + 1
	local c = { m = m, f = f, p = p, h = h, pb = pb, b = b }
	c.label = string.format("%s/%s/%s/hairpin %s/port_block %d/block %s", m, f, p, h, pb, b)
	local ok, nat = pcall(lab.nat, lab, { name = "n" .. n, net = inet, profile = "full-cone",
		mapping = m, filtering = f, ports = p, hairpin = h, port_block = pb, block = b })
	if ok then
		c.nat = nat
		c.host = lab:host{ name = "h" .. n, net = nat }
		built[#built + 1] = c
	else
		refused = refused + 1
		if not (m == "address-and-port-dependent" and p == "preserve"
			and nat:match('with ports "preserve" cannot be built') and nat:match('use ports = "random"')) then
			expect(false, c.label .. " refused: " .. nat)
		end
	end
end end end end end end
expect_eq(#built + refused, 216, "all 216 combinations tried")
expect_eq(refused, 36, "36 refused: address-and-port-dependent mapping with ports preserve")
$T_LUA_LINE_OF
lab:up()

local server = srv:spawn{ B, "server", srv.addrs[1], srv.addrs[2], "120", name = "server" }
expect(server:wait_line{ match = "^serving", timeout = "5s" }, "the server listens on two addresses")
local procs = {}
for i, c in ipairs(built) do
	procs[i] = c.host:spawn{ B, "client", srv.addrs[1], srv.addrs[2], tostring(LPORT), name = "client" }
end

local function port_of(a) return tonumber(a:match(":(%d+)$")) end

-- What c should show for one protocol's line; nil if it does, else what differs.
local function judge(c, proto, line)
	if line == nil then return "no " .. proto .. " line" end
	if proto == "udp" and c.b ~= "none" then
		if line ~= "udp blocked" then return "UDP left a blocking firewall: " .. line end
		return nil
	end
	local m1, m2, m3 = line:match("m1=(%S*) m2=(%S*) m3=(%S*)")
	if not m1 or m1 == "" or m2 == "" or m3 == "" then return "no mapping: " .. line end
	if m1:match("^(.*):") ~= c.nat.addr then return "m1 is not on the NAT's address: " .. line end
	-- A fourth destination (m4, tests/nat_behave.c): random ports in a small block give
	-- three one port by chance (1 in 4096).
	local m4 = line:match(" m4=(%S*)")
	if m4 == "" then return "no mapping for the fourth destination: " .. line end
	local eim = m1 == m2 and m1 == m3 and (m4 == nil or m1 == m4)
	if (c.m == "endpoint-independent") ~= eim then return "mapping: " .. line end
	-- Sequential ports give every destination of an endpoint-dependent mapping a port of
	-- its own, whatever the filtering (an open filter's sessions to the server's
	-- unsolicited senders once carried two of the four requests through m1).
	if c.m ~= "endpoint-independent" and c.p == "sequential" then
		local seen = {}
		for _, m in ipairs{ m1, m2, m3, m4 } do
			if seen[m] then return "mapping: two destinations share " .. m .. ": " .. line end
			seen[m] = true
		end
	end
	local port, lo, hi = port_of(m1), 1024, 65535
	if c.pb > 0 then hi = lo + c.pb - 1
	elseif c.p == "preserve" then lo, hi = LPORT, LPORT
	elseif c.p == "sequential" then hi = 2047 end
	if port < lo or port > hi or (c.p == "random" and c.pb == 0 and port == LPORT) then
		return string.format("port %d outside %d-%d: %s", port, lo, hi, line)
	end
	local want_port = c.f ~= "address-and-port-dependent" and 1 or 0
	local want_addr = c.f == "endpoint-independent" and 1 or 0
	if line:match("port=(%d)") ~= tostring(want_port) or line:match("addr=(%d)") ~= tostring(want_addr) then
		return "filtering: " .. line
	end
	if line:match("hairpin=(%d)") ~= (c.h and "1" or "0") then return "hairpin: " .. line end
	if proto == "tcp" then
		local seen = { port = want_port == 1 and "connected" or "timeout",
			       addr = want_addr == 1 and "connected" or "timeout" }
		for _, k in ipairs{ "port", "addr" } do
			if line:match("probe_" .. k .. "=(%S+)") ~= seen[k] then
				return "the server's SYN from another " .. k .. ": " .. line
			end
		end
	end
	return nil
end

local good, tcp_rst = { udp = 0, tcp = 0 }, 0
for i, c in ipairs(built) do
	local lines = { tcp = line_of(procs[i], "^tcp ", "30s") }
	for _, l in ipairs(procs[i].lines) do lines[l:match("^(%a+)") or ""] = l end
	for _, proto in ipairs{ "udp", "tcp" } do
		local why = judge(c, proto, lines[proto])
		if why then
			expect(false, c.label .. " " .. proto .. ": " .. why)
		else
			good[proto] = good[proto] + 1
		end
	end
	if (lines.tcp or ""):match("refused") then tcp_rst = tcp_rst + 1 end
end
expect_eq(good.udp, #built, "UDP behaves as declared in every built combination")
expect_eq(good.tcp, #built, "TCP behaves as declared in every built combination")
expect_eq(tcp_rst, 0, "no NAT answered a SYN with a RST")
server:kill()
LUA
"$NATLAB" run "$T_TMP/combos.lua" --out "$T_TMP/out" --pcap none 2>"$T_TMP/err"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$T_TMP/err"
exit $rc
