#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every Lua example of docs/scenarios.md with `natlab run`: each must pass.
. "$(dirname "$0")/lib/lab.sh"
t_require_root

awk -v dir="$T_TMP" '
	/^```lua$/ { n++; file = sprintf("%s/example%02d.lua", dir, n); inblock = 1; next }
	/^```$/ && inblock { inblock = 0; close(file); next }
	inblock { print > file }
' "$SRC/docs/scenarios.md"
count=$(ls "$T_TMP"/example*.lua 2>/dev/null | wc -l)
[ "$count" -gt 0 ]
t_ok $? "docs/scenarios.md has examples ($count)"
for f in "$T_TMP"/example*.lua; do
	title=$(awk -v want="$(basename "$f" .lua | sed 's/example0*//')" '
		/^### / { h = substr($0, 5) } /^```lua$/ { n++; if (n == want) { print h; exit } }' "$SRC/docs/scenarios.md")
	out=$("$NATLAB" run "$f" --out "$T_TMP/out-$(basename "$f" .lua)" --pcap none 2>&1)
	t_ok $? "example: $title" "$out"
done
t_done
