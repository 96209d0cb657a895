#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A test killed by SIGKILL (ctest's timeout) runs no EXIT trap; tests/lib/lab.sh's
# watcher takes down the labs the test named and removes its temp dir, which it keeps
# with NATLAB_TEST_KEEP. A child test brings a lab up, says so and waits; it is killed
# with SIGKILL, as ctest kills a test's process tree.
. "$(dirname "$0")/lib/lab.sh"
t_require_root

cat >"$T_TMP/child.sh" <<CHILD
. "$SRC/tests/lib/lab.sh"
L=\$(t_lab_name kt)
cat >"\$T_TMP/lab.lua" <<'LUA'
local lab = natlab.lab{}
local inet = lab:internet{}
lab:host{ name = "h", net = inet }
lab:up()
LUA
t_up "\$L" "\$T_TMP/lab.lua" || { cat "\$T_TMP/up-\$L.log"; exit 1; }
echo "up \$L \$T_TMP"
sleep 600
CHILD
kill_tree() { for c in $(pgrep -P "$1"); do kill_tree "$c"; done; kill -9 "$1" 2>/dev/null; }

# killed KEEP: a child test killed with NATLAB_TEST_KEEP=KEEP (empty: unset)
killed() {
	local out=$T_TMP/child$1.out child lab tmp gone=1 kept
	NATLAB_BIN=$NATLAB_BIN NATLAB_TEST_KEEP=$1 bash "$T_TMP/child.sh" >"$out" 2>&1 &
	child=$!
	for _ in $(seq 300); do grep -q '^up ' "$out" && break; sleep 0.1; done
	read -r _ lab tmp < <(grep '^up ' "$out")
	t_ok "$([ -n "${lab:-}" ] && "$NATLAB" ls "$lab" >/dev/null 2>&1; echo $?)" \
		"the child test's lab is up${1:+ (NATLAB_TEST_KEEP=$1)}" "$(cat "$out")"
	T_LABS+=("${lab:-none}") # taken down by this test if the watcher fails
	kill_tree "$child"
	wait "$child" 2>/dev/null
	for _ in $(seq 200); do
		if ! "$NATLAB" ls "$lab" >/dev/null 2>&1 && { [ -n "$1" ] || [ ! -d "$tmp" ]; }; then
			gone=0
			break
		fi
		sleep 0.1
	done
	if [ -n "$1" ]; then
		kept="its temp dir kept (NATLAB_TEST_KEEP)"
		[ -d "$tmp" ] || gone=1
	else
		kept="its temp dir removed"
	fi
	t_ok "$gone" "20 s after the child's SIGKILL its lab is down and $kept" \
		"$("$NATLAB" ls 2>&1 | head -5; ls -d "$tmp" 2>&1)"
	[ -n "$1" ] && rm -rf "$tmp"
}
killed ""
killed 1
t_done
