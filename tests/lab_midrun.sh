#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Changes mid-run: nat:flush() forgets mappings (a router reboot), nat:set_profile()
# changes behaviour at once (and a refused one changes nothing), node:link_down()/link_up()
# cut and restore a host's link.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
PUNCH=$(cd "${NATLAB_BIN:-$SRC/build/bin}/../tests" && pwd)/udp_punch
[ -x "$PUNCH" ] || t_skip_all "udp_punch not built"

cat >"$T_TMP/midrun.lua" <<LUA
local P = "$PUNCH"
local lab = natlab.lab{ name = "midrun" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local home = lab:nat{ name = "home", net = inet, profile = "full-cone" }
local alice = lab:host{ name = "alice", net = home }
lab:up()

-- Opens a mapping from alice's port to srv, then asks whether a packet srv sends to the
-- mapping from another port reaches alice (only endpoint-independent filtering lets it).
local function reaches(port, open_mapping)
	if open_mapping then
		alice:spawn{ P, "punch", port, srv.addr .. ":9", "0.3", name = "open" }:wait{ timeout = "3s" }
	end
	local l = alice:spawn{ P, "listen", port, "1.5", name = "listen" }
	natlab.sleep("200ms")
	srv:spawn{ P, "punch", "5555", home.addr .. ":" .. port, "0.8", name = "send" }
	return l:wait{ timeout = "5s" } == 0
end

expect(reaches("40000", true), "full-cone: srv reaches alice's mapping from another port")
expect(reaches("40000", false), "the mapping lives on without new traffic")
home:flush()
expect(not reaches("40000", false), "nat:flush() forgets the mapping")
expect(reaches("40001", true), "a new mapping works after the flush")
home:set_profile("port-restricted-cone")
expect(not reaches("40002", true), "set_profile: now port-restricted, the other port is filtered")
home:set_profile{ profile = "port-restricted-cone", filtering = "endpoint-independent" }
expect(reaches("40003", true), "set_profile with knobs: endpoint-independent filtering again")
local ok, err = pcall(home.set_profile, home, "fullcone")
expect(not ok and err:match("unknown profile"), "set_profile refuses an unknown profile")
-- A refused set_profile changes nothing: not the name, not the knobs a reload uses.
ok, err = pcall(home.set_profile, home, { profile = "symmetric", ports = "preserve" })
expect(not ok and err:match("cannot be built"), "set_profile refuses APDM with preserved ports")
expect_eq(home.profile, "port-restricted-cone", "a refused combination keeps the profile name")
ok, err = pcall(home.set_profile, home, { profile = "symmetric", filtering = "bogus" })
expect(not ok and err:match("not a valid value"), "set_profile refuses a bad knob word")
expect_eq(home.profile, "port-restricted-cone", "a refused word keeps the profile name")
home:flush()
expect(reaches("40004", true), "a refused set_profile keeps the knobs: still endpoint-independent filtering after a reload")

alice:link_down()
expect(alice:spawn{ "ping", "-c", "1", "-W", "1", srv.addr }:wait{ timeout = "3s" } ~= 0, "link_down cuts alice off")
alice:link_up()
expect_eq(alice:spawn{ "ping", "-c", "1", "-W", "2", srv.addr }:wait{ timeout = "4s" }, 0, "link_up brings her back")
LUA
"$NATLAB" run "$T_TMP/midrun.lua" --out "$T_TMP/out" --pcap none 2>"$T_TMP/err"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$T_TMP/err"
exit $rc
