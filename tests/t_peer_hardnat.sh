#!/bin/bash
# SPDX-License-Identifier: MIT
# natlab-peer through hard NATs (issue 11; docs/events.md, "Hard NATs"), and the NAT it
# needs. First the sequential allocator: behind one symmetric-sequential NAT, two hosts
# take mappings in turn (tests/nat_behave.c, four destinations each) and every new
# mapping gets the next port of one counter they share. Then tests/peer_hardnat.lua's
# cells, each its own lab (2 at a time): birthday probing turns port-restricted x
# symmetric, symmetric x cgnat and full-cone x symmetric direct (and the hard side's 255
# unused sockets are closed), port prediction symmetric-sequential x itself; symmetric x
# symmetric stays on the relay with the reason in an event; --hard-nat off is the floor.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
BEHAVE=$(cd "${NATLAB_BIN:-$SRC/build/bin}/../tests" && pwd)/nat_behave
[ -x "$BEHAVE" ] || t_skip_all "nat_behave not built"

cat >"$T_TMP/seq.lua" <<LUA
local B = "$BEHAVE"
local lab = natlab.lab{ name = "s$$" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet, addrs = 2 }
local nat = lab:nat{ name = "seq", net = inet, profile = "symmetric-sequential" }
local h1 = lab:host{ name = "h1", net = nat }
local h2 = lab:host{ name = "h2", net = nat }
lab:up()
local server = srv:spawn{ B, "server", srv.addrs[1], srv.addrs[2], "60", name = "server" }
expect(server:wait_line{ match = "^serving", timeout = "5s" }, "the server listens")
$T_LUA_LINE_OF
local ports = {}
for i, h in ipairs{ h1, h2, h1 } do
	local c = h:spawn{ B, "client", srv.addrs[1], srv.addrs[2], tostring(40000 + 10 * i), name = "c" .. i }
	local line = line_of(c, "^udp ", "20s") or ""
	for m in line:gmatch("m%d=[%d.]+:(%d+)") do ports[#ports + 1] = tonumber(m) end
end
expect_eq(#ports, 12, "four mappings each for h1, h2, then h1 again")
local steps = {}
for i = 2, #ports do steps[#steps + 1] = ports[i] - ports[i - 1] end
expect_eq(table.concat(steps, " "), "1 1 1 1 1 1 1 1 1 1 1",
	"every new mapping takes the next port, whoever asks (" .. table.concat(ports, " ") .. ")")
server:kill()
LUA
"$NATLAB" run "$T_TMP/seq.lua" --out "$T_TMP/seq" --pcap none >"$T_TMP/seq.tap" 2>"$T_TMP/seq.err"
t_ok $? "symmetric-sequential: successive mappings on successive ports, shared by the hosts" \
	"$(cat "$T_TMP/seq.tap" "$T_TMP/seq.err" | grep -v '^ok' | tail -20)"

"$NATLAB" run "$SRC/tests/peer_hardnat.lua" --jobs 2 --out "$T_TMP/cells" --pcap failed \
	>"$T_TMP/cells.tap" 2>"$T_TMP/cells.err"
rc=$?
for f in "$T_TMP"/cells/cells/*/run.tap; do
	while read -r line; do
		case $line in
		"ok "*) t_ok 0 "${line#ok * - }" ;;
		"not ok "*) t_ok 1 "${line#not ok * - }" "$(sed -n '/^#/p' "$f")" ;;
		esac
	done <"$f"
done
t_ok $rc "every hard-NAT cell as expected" "$(grep -v '^ok' "$T_TMP/cells.tap"; tail -5 "$T_TMP/cells.err")"
t_done
