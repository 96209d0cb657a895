#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TCP through each NAT profile obeys the profile (RFC 5382):
# - mapping seen from three server endpoints, filtering of SYNs from the contacted
#   address on another port and from another address, a CGN's ports inside the
#   subscriber's block (tests/nat_behave.c);
# - an unsolicited SYN to a NAT is dropped silently: connect() times out, it is never
#   refused (the box's own stack used to answer with a RST within 31 us); with
#   tcp_unsolicited = "icmp", a SYN retransmitted after 6 s is refused with ICMP port
#   unreachable, and a SYN followed by an outbound SYN for the same connection within
#   6 s opens the connection (RFC 5382 REQ-4);
# - TCP simultaneous open between every pair of profiles succeeds exactly where the
#   mapping/filtering theory says (DESIGN.md's table) and fails elsewhere.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
TESTS=$(cd "${NATLAB_BIN:-$SRC/build/bin}/../tests" && pwd)
[ -x "$TESTS/nat_behave" ] && [ -x "$TESTS/udp_punch" ] || t_skip_all "test tools not built"

cat >"$T_TMP/tcp.lua" <<LUA
local P, B = "$TESTS/udp_punch", "$TESTS/nat_behave"
local lab = natlab.lab{ name = "tn$$" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet, addrs = 2 }
local profiles = { "none", "full-cone", "restricted-cone", "port-restricted-cone", "symmetric", "cgnat" }
local short = { none = "no", ["full-cone"] = "fc", ["restricted-cone"] = "rc",
	["port-restricted-cone"] = "pr", symmetric = "sy", cgnat = "cg" }
local side = {}
for _, p in ipairs(profiles) do
	for _, s in ipairs{ "a", "b" } do
		local nat = lab:nat{ name = short[p] .. s, net = inet, profile = p,
			port_block = p == "cgnat" and 64 or nil }
		side[p .. s] = { nat = nat, host = lab:host{ name = "h" .. short[p] .. s, net = nat } }
	end
end
local icmp = lab:nat{ name = "icmp", net = inet, profile = "port-restricted-cone", tcp_unsolicited = "icmp" }
local hicmp = lab:host{ name = "hicmp", net = icmp }
$T_LUA_LINE_OF
lab:up()
local server = srv:spawn{ B, "server", srv.addrs[1], srv.addrs[2], "120", name = "server" }
expect(server:wait_line{ match = "^serving", timeout = "5s" }, "nat_behave's server is up")

-- 1. Each profile's TCP mapping and filtering, as declared.
local declared = {
	["full-cone"] = { eim = true, port = "1", addr = "1" },
	["restricted-cone"] = { eim = true, port = "1", addr = "0" },
	["port-restricted-cone"] = { eim = true, port = "0", addr = "0" },
	symmetric = { eim = false, port = "0", addr = "0" },
	cgnat = { eim = true, port = "0", addr = "0", lo = 1024, hi = 1087 },
}
local behave = {}
for p in pairs(declared) do
	behave[p] = side[p .. "a"].host:spawn{ B, "client", srv.addrs[1], srv.addrs[2], "40000", name = "behave" }
end
for p, d in pairs(declared) do
	local line = line_of(behave[p], "^tcp ", "30s") or "tcp (no line)"
	local m1, m2, m3 = line:match("m1=(%S*) m2=(%S*) m3=(%S*)")
	-- Four destinations: random ports in a small block give three one port by chance.
	local m4 = line:match(" m4=(%S*)")
	expect(m1 and m1:match("^(.*):") == side[p .. "a"].nat.addr, p .. ": TCP leaves from the NAT's address: " .. line)
	expect_eq(m1 ~= nil and m1 == m2 and m1 == m3 and m1 == m4, d.eim,
		p .. ": TCP mapping " .. (d.eim and "the same" or "another") .. " for each of 4 servers: " .. line)
	expect(line:match("port=(%d)") == d.port and line:match("addr=(%d)") == d.addr,
		p .. ": TCP filtering (port=" .. d.port .. " addr=" .. d.addr .. "): " .. line)
	expect(not line:match("refused"), p .. ": no SYN the NAT filtered was refused: " .. line)
	if d.lo then
		local port = tonumber(m1 and m1:match(":(%d+)$") or 0)
		expect(port >= d.lo and port <= d.hi, string.format("%s: TCP port %d inside the block %d-%d", p, port, d.lo, d.hi))
	end
end

-- ICMP echo is translated too (conntrack keys it on the echo id).
for p in pairs(declared) do
	expect_eq(side[p .. "a"].host:spawn{ "ping", "-c", "1", "-W", "2", srv.addr }:wait{ timeout = "4s" }, 0,
		p .. ": ICMP echo goes out and its reply comes back")
end

-- 2. Unsolicited SYNs: silence, or ICMP only after 6 s.
local probes = {}
for p in pairs(declared) do
	probes[p] = srv:spawn{ P, "tcp-connect", side[p .. "a"].nat.addr .. ":45000", "9", name = "syn" }
end
local icmp_probe = srv:spawn{ P, "tcp-connect", icmp.addr .. ":45000", "12", name = "syn" }
-- REQ-4: a SYN that an outbound SYN for the same connection follows is not answered.
local early = srv:spawn{ B, "punch", "46000", icmp.addr .. ":46000", "10", name = "early" }
natlab.sleep("2s")
local inside = hicmp:spawn{ B, "punch", "46000", srv.addr .. ":46000", "8", name = "inside" }
for p, proc in pairs(probes) do
	expect_eq(proc:wait{ timeout = "15s" }, 3, p .. ": an unsolicited SYN gets no answer (connect() times out): "
		.. tostring(proc.lines[1]))
end
expect_eq(icmp_probe:wait{ timeout = "15s" }, 1, "tcp_unsolicited icmp: the SYN is refused in the end: "
	.. tostring(icmp_probe.lines[1]))
local after = tonumber((icmp_probe.lines[1] or ""):match("refused after ([%d.]+)") or 0)
expect(after >= 6 and after < 9, "... by the retransmission after 6 s (" .. after .. " s)")
expect_eq(inside:wait{ timeout = "15s" }, 0, "a SYN followed by an outbound SYN within 6 s: the connection opens")
expect_eq(early:wait{ timeout = "15s" }, 0, "... on both sides: " .. tostring(early.lines[1]))

-- 3. TCP simultaneous open per profile pair, against the theory: endpoint-independent
-- mapping on both sides always punches; a symmetric side needs the other side to
-- filter by address only (or not at all).
local function theory(p, q)
	local apdf = { ["port-restricted-cone"] = true, symmetric = true, cgnat = true }
	if p == "symmetric" then return not apdf[q] end
	if q == "symmetric" then return not apdf[p] end
	return true
end
local pairs_, port = {}, 41000
for i, p in ipairs(profiles) do
	for j = i, #profiles do
		local q = profiles[j]
		port = port + 1
		local a, b = side[p .. "a"], side[q .. "b"]
		pairs_[#pairs_ + 1] = { p = p, q = q, a = a, b = b, port = tostring(port),
			ma = a.host:spawn{ B, "map", tostring(port), srv.addr .. ":443", name = "map" },
			mb = b.host:spawn{ B, "map", tostring(port), srv.addr .. ":443", name = "map" } }
	end
end
for _, c in ipairs(pairs_) do
	local ma, mb = line_of(c.ma, ":%d+$", "10s"), line_of(c.mb, ":%d+$", "10s")
	expect(ma and mb, c.p .. " x " .. c.q .. ": both sides know their TCP mapping")
	c.pa = c.a.host:spawn{ B, "punch", c.port, mb or "0.0.0.0:9", "5", name = "punch" }
	c.pb = c.b.host:spawn{ B, "punch", c.port, ma or "0.0.0.0:9", "5", name = "punch" }
end
local direct, want_direct = 0, 0
for _, c in ipairs(pairs_) do
	local ok = c.pa:wait{ timeout = "10s" } == 0 and c.pb:wait{ timeout = "10s" } == 0
	local want = theory(c.p, c.q)
	direct = direct + (ok and 1 or 0)
	want_direct = want_direct + (want and 1 or 0)
	expect_eq(ok, want, string.format("TCP simultaneous open %s x %s: %s", c.p, c.q,
		want and "connects" or "fails"))
end
print(string.format("# TCP simultaneous open: %d of %d pairs connect (theory: %d)", direct, #pairs_, want_direct))
server:kill()
LUA
"$NATLAB" run "$T_TMP/tcp.lua" --out "$T_TMP/out" --pcap ${NATLAB_TEST_PCAP:-none} 2>"$T_TMP/err"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$T_TMP/err"
exit $rc
