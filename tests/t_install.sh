#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `cmake --install` into a temporary prefix gives a working natlab: binaries, the Lua
# library, the scenarios and the docs under the GNUInstallDirs paths, and the installed
# natlab loads require("p2p") from its own share/natlab/lib, not from the source tree.
. "$(dirname "$0")/lib/lab.sh"
t_require cmake
BUILD=$(cd "${NATLAB_BIN:-$SRC/build/bin}/.." && pwd)
P=$T_TMP/prefix

cmake --install "$BUILD" --prefix "$P" >"$T_TMP/install.log" 2>&1
t_ok $? "cmake --install into a temporary prefix" "$(tail -5 "$T_TMP/install.log")"
for f in bin/natlab bin/natlab-relay bin/natlab-peer share/natlab/lib/p2p.lua \
	share/natlab/lib/natprobe.lua share/natlab/scenarios/matrix.lua share/natlab/wireshark/natlab.lua \
	share/doc/natlab/README.md share/doc/natlab/scenarios.md; do
	[ -s "$P/$f" ]
	t_ok $? "installs $f"
done
[ -x "$P/bin/natlab" ] && ! grep -q "$SRC/scenarios" "$P/bin/natlab"
t_ok $? "the installed natlab does not name the source tree"

# The installed copy of the library is the one loaded: make it say so.
sed -i 's/^return M$/M.installed = true\nreturn M/' "$P/share/natlab/lib/p2p.lua"
cat >"$T_TMP/p2p.lua" <<'LUA'
local p2p = require("p2p")
assert(p2p.installed, "p2p.lua came from somewhere other than the prefix")
local lab = natlab.lab{ name = "inst" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local home = lab:nat{ name = "home", net = inet, profile = "full-cone" }
local alice = lab:host{ name = "alice", net = home }
local bob = lab:host{ name = "bob", net = inet }
lab:up()
local relay = p2p.relay(srv)
local r = p2p.connect(alice, bob, relay, { ping = 2 })
expect_eq(r.path, "direct", "installed natlab, relay and peers connect alice and bob")
LUA
out=$(env -u NATLAB_LIB "$P/bin/natlab" check "$T_TMP/p2p.lua" 2>&1)
t_ok $? "installed natlab check loads require(\"p2p\") from the prefix" "$out"
if [ "$(id -u)" = 0 ]; then
	env -u NATLAB_LIB "$P/bin/natlab" run "$T_TMP/p2p.lua" --out "$T_TMP/out" >"$T_TMP/run.tap" 2>"$T_TMP/run.err"
	t_ok $? "installed natlab run with require(\"p2p\")" "$(cat "$T_TMP/run.tap"; tail -5 "$T_TMP/run.err")"
	grep -q "^ok 1 - installed natlab, relay and peers" "$T_TMP/run.tap"
	t_ok $? "the scenario's expectation held"
fi
t_done
