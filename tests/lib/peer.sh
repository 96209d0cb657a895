# SPDX-License-Identifier: MIT
# Helpers for natlab-peer tests on loopback, on top of lab.sh: start a real natlab-relay
# (with a STUN port), run peers in the background, read their JSON Lines events.
PEER=${NATLAB_BIN:-$(dirname "$0")/../build/bin}/natlab-peer
RELAY=${NATLAB_BIN:-$(dirname "$0")/../build/bin}/natlab-relay

# relay_start VAR [ARGS...]: starts natlab-relay on 127.0.0.1 (TCP port 0) with a STUN
# port; sets VAR_PORT, VAR_STUN, VAR_PID. STUN needs a fixed port: retry a few.
relay_start() {
	local var=$1 i port out pid tcp
	shift
	for i in 1 2 3 4 5 6 7 8; do
		port=$((20000 + (RANDOM * 7 + $$ + i * 911) % 40000))
		out="$T_TMP/relay-$var.out"
		"$RELAY" --listen 127.0.0.1:0 --stun "127.0.0.1:$port" "$@" >"$out" 2>"$T_TMP/relay-$var.err" &
		pid=$!
		for _ in $(seq 50); do
			grep -q '"ready"' "$out" 2>/dev/null && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		tcp=$(sed -n 's/.*"listen":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$out")
		if [ -n "$tcp" ]; then
			T_PIDS+=("$pid")
			printf -v "${var}_PORT" %s "$tcp"
			printf -v "${var}_STUN" %s "$port"
			printf -v "${var}_PID" %s "$pid"
			return 0
		fi
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 1
}

# peer_bg NAME ARGS...: natlab-peer in the background, events in $T_TMP/NAME.out;
# sets NAME_PID.
peer_bg() {
	local name=$1
	shift
	timeout 60 "$PEER" "$@" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	printf -v "${name}_PID" %s "$!"
	T_PIDS+=("$!")
}

# events NAME EVENT: the lines of that event.
events() { grep "\"event\":\"$2\"" "$T_TMP/$1.out"; }
# count NAME PATTERN: lines of NAME's events matching an extended regex.
count() { grep -cE "$2" "$T_TMP/$1.out"; }
# wait_event NAME PATTERN SECONDS: until a line matches, or fail.
wait_event() {
	local i
	for i in $(seq $(($3 * 20))); do
		grep -qE "$2" "$T_TMP/$1.out" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# wait_pid PID SECONDS: its exit code, or 124 when it is still running (then killed).
wait_pid() {
	local i
	for i in $(seq $(($2 * 20))); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"
			return $?
		fi
		sleep 0.05
	done
	kill "$1" 2>/dev/null
	return 124
}
show() { sed 's/^/#   /' "$T_TMP/$1.out" "$T_TMP/$1.err"; }
