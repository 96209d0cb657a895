#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# docs/ are the contract: every long option a program's --help lists is described in its
# docs (natlab-peer in docs/events.md, natlab-relay in docs/relay.md, each natlab command
# somewhere in docs/, natlab's own in README.md). An option added to the code and its
# --help alone fails here.
. "$(dirname "$0")/lib/lab.sh"
DOCS=$SRC/docs
# The long options (--name) a --help text lists.
long_opts() { "$@" --help 2>&1 | grep -oE '(^|[ ,[(|])--[a-z][a-z0-9-]*' | sed 's/^[ ,[(|]//' | sort -u; }
# "PROGRAM: OPTION" for each option of the command that none of the files names.
missing() { # LABEL FILES... -- COMMAND...
	local label=$1 files=()
	shift
	while [ "$1" != -- ]; do files+=("$1"); shift; done
	shift
	for o in $(long_opts "$@"); do
		grep -q -- "$o" "${files[@]}" || echo "$label: $o"
	done
}
n=$(long_opts "$NATLAB_BIN/natlab-peer" | wc -l)
t_ok "$([ "$n" -gt 40 ]; echo $?)" "natlab-peer --help lists its options ($n)"
t_is "$(missing natlab-peer "$DOCS/events.md" -- "$NATLAB_BIN/natlab-peer")" "" \
	"every natlab-peer option is in docs/events.md"
t_is "$(missing natlab-relay "$DOCS/relay.md" -- "$NATLAB_BIN/natlab-relay")" "" \
	"every natlab-relay option is in docs/relay.md"
# natlab's own options (-v) are in the README; its commands' in docs/.
t_is "$(missing natlab "$SRC/README.md" -- "$NATLAB_BIN/natlab")" "" "natlab's options are in README.md"
cmds=$("$NATLAB_BIN/natlab" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
t_ok "$([ "$(echo "$cmds" | wc -w)" -ge 10 ]; echo $?)" "natlab --help lists its commands ($(echo $cmds))"
for cmd in $cmds; do
	t_is "$(missing "natlab $cmd" "$DOCS"/*.md -- "$NATLAB_BIN/natlab" "$cmd")" "" \
		"every option of natlab $cmd is in docs/"
done
t_done
