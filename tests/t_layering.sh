#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one-way dependencies are the build's, not a habit: each part compiles with only the
# headers it may use (compile_commands.json). proto sees proto's; reports, the relay and
# the peer see proto's and their own; the harness sees its own, proto's and reports', never
# the relay's. Only the part's own targets count (a unit test may compile a part's file
# with its own includes).
. "$(dirname "$0")/lib/lab.sh"
t_require jq
DB=${NATLAB_BIN:-$SRC/build/bin}/../compile_commands.json
[ -r "$DB" ] || t_skip_all "no compile_commands.json next to the build"

allowed() { # allowed PART: the source-tree include directories PART may use
	case $1 in
	proto) echo "proto/include" ;;
	reports) echo "proto/include reports/include" ;;
	relay) echo "proto/include relay/include" ;;
	peer) echo "proto/include" ;;
	natlab) echo "include proto/include reports/include" ;;
	esac
}
for part in proto reports relay peer natlab; do
	ok=" $(allowed $part) "
	bad=$(jq -r --arg src "$SRC/$part/" --arg part "$part" '.[] | select((.file | startswith($src)) and (.directory | endswith("/" + $part))) |
		.file + " " + ((.command // (.arguments | join(" "))) | [scan("-I *[^ ]+")] | join(" "))' "$DB" |
		while read -r file incs; do
			for i in $incs; do
				i=${i#-I}
				case $i in "$SRC"/*) ;; *) continue ;; esac
				rel=${i#"$SRC"/}
				[[ $ok == *" $rel "* ]] || echo "${file#"$SRC"/} sees $rel/"
			done
		done)
	n=$(jq --arg src "$SRC/$part/" --arg part "$part" '[.[] | select((.file | startswith($src)) and (.directory | endswith("/" + $part)))] | length' "$DB")
	[ "$n" -gt 0 ]
	t_ok $? "$part: $n files compiled"
	t_is "$bad" "" "$part sees only $(allowed $part | sed 's|\([^ ]*\)|\1/|g')"
done
t_done
