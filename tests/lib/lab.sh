# SPDX-License-Identifier: MIT
# Helpers for shell tests that build labs: TAP output, a lab name unique to this run,
# and teardown on every exit path (also when a check fails or the test is killed).
set -u
# Absolute paths: tests cd into their temp dir, and teardown must still find natlab.
NATLAB_BIN=$(cd "${NATLAB_BIN:-$(dirname "$0")/../build/bin}" && pwd) || exit 1
NATLAB=$NATLAB_BIN/natlab
SRC=${NATLAB_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
T_COUNT=0
T_FAILED=0
T_LABS=()
T_PIDS=()
T_TMP=$(mktemp -d /tmp/natlab-test.XXXXXX)

t_ok() { # t_ok COND_EXIT_CODE NAME [DIAG]
	T_COUNT=$((T_COUNT + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_COUNT - $2"
	else
		T_FAILED=$((T_FAILED + 1))
		echo "not ok $T_COUNT - $2"
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
	fi
}
t_is() { # t_is GOT WANT NAME [DIAG]: DIAG (what the test saw) is shown when GOT differs
	if [ "$1" = "$2" ]; then t_ok 0 "$3"; else t_ok 1 "$3" "got:      $1
expected: $2${4:+
$4}"; fi
}
t_skip_all() { echo "1..0 # SKIP $1"; exit 77; }
t_require_root() { [ "$(id -u)" = 0 ] || t_skip_all "needs root"; }
t_require() { command -v "$1" >/dev/null 2>&1 || t_skip_all "$1 is not installed"; }
# Names are kept in $T_TMP/.labs too, for the watcher below.
t_lab_name() { echo "t$$$1" | tee -a "$T_TMP/.labs"; }

t_cleanup() {
	for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for l in "${T_LABS[@]}"; do timeout 60 "$NATLAB" down "$l" >/dev/null 2>&1; done
	# NATLAB_TEST_KEEP=1 keeps the outputs (logs, events, pcaps) for a look afterwards.
	if [ -n "${NATLAB_TEST_KEEP:-}" ]; then
		touch "$T_TMP/.kept"
		echo "# outputs kept in $T_TMP"
	else
		rm -rf "$T_TMP"
	fi
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# A test killed by SIGKILL runs no trap: ctest's timeout does that (CMake 3.25 has no
# TIMEOUT_SIGNAL_NAME). A watcher outside the test's process tree (ctest kills the tree)
# then takes down the labs it named and removes its temp dir (kept with NATLAB_TEST_KEEP).
# After a normal exit it finds the temp dir gone (or marked kept) and does nothing.
t_watch() {
	(setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
		[ -d "$3" ] && [ ! -e "$3/.kept" ] || exit 0
		sort -u "$3/.labs" 2>/dev/null | while read -r l; do timeout 60 "$2" down "$l"; done
		[ -n "$4" ] || rm -rf "$3"' t_watch "$$" "$NATLAB" "$T_TMP" "${NATLAB_TEST_KEEP:-}" \
		</dev/null >/dev/null 2>&1 &)
}
t_watch

t_up() { # t_up NAME FILE: brings a lab up and registers it for teardown
	T_LABS+=("$1")
	# Its outputs in the test's temp dir, not out/NAME under ctest's working directory.
	timeout 120 "$NATLAB" up "$2" --name "$1" --out "$T_TMP/up-$1" >"$T_TMP/up-$1.log" 2>&1
}
t_done() {
	echo "1..$T_COUNT"
	[ "$T_FAILED" -eq 0 ]
}

# Lua for scenarios written by tests (interpolate it into the scenario's text).
# line_of(proc, pat, timeout): proc's first stdout line matching pat. proc:wait() can
# return before the last lines are read, and wait_line does not look at lines read
# already once the process exited, so this polls proc.lines for up to 1 s after wait.
T_LUA_LINE_OF='local function line_of(proc, pat, timeout)
	proc:wait{ timeout = timeout }
	for _ = 1, 50 do
		for _, l in ipairs(proc.lines) do if l:match(pat) then return l end end
		natlab.sleep("20ms")
	end
end'
