#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Out dirs whose files would not fit in a path (issue 19: paths built with snprintf were
# cut short and written wherever the cut landed): an error naming the out dir, before
# any lab is built, and nothing written at a truncated path.
. "$(dirname "$0")/lib/lab.sh"
t_require_root

# A directory whose path is $1 characters long, made of 200-character components.
long_dir() {
	local d=$T_TMP/l
	while [ $(( ${#d} + 201 )) -lt "$1" ]; do d=$d/$(printf 'a%.0s' $(seq 200)); done
	d=$d/$(printf 'b%.0s' $(seq $(( $1 - ${#d} - 1 ))))
	mkdir -p "$d" && echo "$d"
}

cat >"$T_TMP/one.lua" <<'LUA'
local lab = natlab.lab{ name = "paths" }
local inet = lab:internet{}
lab:host{ name = "h", net = inet }
lab:up()
expect(true, "ran")
LUA
cat >"$T_TMP/cells.lua" <<'LUA'
local c = natlab.cells{ { name = "a/b" }, { name = "c/d" } }
local lab = natlab.lab{ name = "paths" }
local inet = lab:internet{}
lab:host{ name = "h", net = inet }
lab:up()
result{ cell = c.name, outcome = "direct" }
LUA

too_long() { # too_long WHAT SCENARIO OUT_LENGTH EXPECTED_MESSAGE
	local out rc
	out=$(long_dir "$3")
	"$NATLAB" run "$T_TMP/$2.lua" --out "$out" >"$T_TMP/$2.tap" 2>"$T_TMP/$2.err"
	rc=$?
	t_ok $(( rc == 0 )) "$1 fails" "exit $rc"
	grep -qF "$4" "$T_TMP/$2.err"
	t_ok $? "and says why" "$(tail -c 300 "$T_TMP/$2.err")"
	t_is "$(ls -A "$out")" "" "nothing is written under a cut name"
}
t_is "$(long_dir 4092 | wc -c)" 4093 "long_dir makes paths of the length asked"
# <out>/logs is 4097 bytes: one more than PATH_MAX holds with its NUL.
too_long "a run whose logs/ would not fit" one 4092 \
	"path too long under the out dir (4092 characters); pick a shorter --out"
# <out>/cells/a_b is 4098 bytes.
too_long "a matrix whose cell dirs would not fit" cells 4088 \
	'cell "a/b": path too long under the out dir (4088 characters); pick a shorter --out'
t_done
