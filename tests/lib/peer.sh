# SPDX-License-Identifier: MIT
# Helpers for natlab-peer tests on loopback, on top of lab.sh: start a real natlab-relay
# (with a STUN port), run peers in the background, read their JSON Lines events.
PEER=$NATLAB_BIN/natlab-peer
RELAY=$NATLAB_BIN/natlab-relay

# relay_start VAR [ARGS...]: starts natlab-relay on 127.0.0.1 (TCP port 0) with a STUN
# port (port 0 too: the ready line says which); sets VAR_PORT, VAR_STUN, VAR_PID; tries a
# few times when it does not get ready.
relay_start() {
	local var=$1 port out pid tcp
	shift
	for _ in 1 2 3 4 5 6 7 8; do
		out="$T_TMP/relay-$var.out"
		"$RELAY" --listen 127.0.0.1:0 --stun 127.0.0.1:0 "$@" >"$out" 2>"$T_TMP/relay-$var.err" &
		pid=$!
		for _ in $(seq 50); do
			grep -q '"ready"' "$out" 2>/dev/null && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		tcp=$(sed -n 's/.*"listen":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$out")
		port=$(sed -n 's/.*"stun":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$out")
		if [ -n "$tcp" ] && [ -n "$port" ]; then
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

# --- in a lab (after t_up): LAB set, keys and outputs in $T_TMP ---

# lab_addr HOST: the host's (first) address, from natlab ls.
lab_addr() { "$NATLAB" ls "$LAB" | awk -v h="$1" '$1 == h {print $NF}'; }

# peer_lab_up LUA PORT: the lab of tests/LUA up as $LAB (t_up, bounded by
# PEER_LAB_LIMIT), then natlab-relay in its host srv on PORT (lab_relay_start), each
# step a check; leaves the shell in $T_TMP. Returns non-zero if the lab is not up.
peer_lab_up() {
	local rc
	t_up "$LAB" "$SRC/tests/$1"
	rc=$?
	t_ok "$rc" "lab up" "$(cat "$T_TMP/up-$LAB.log" 2>/dev/null)"
	cd "$T_TMP" || exit 1
	[ "$rc" = 0 ] || return "$rc"
	lab_relay_start srv "$2"
	t_ok $? "relay up on $LAB_SRV:$2" "$(cat relay.err)"
}

# lab_relay_start HOST PORT [ARGS...]: natlab-relay inside HOST on its address, TCP PORT,
# STUN on 3478 (the peer's default); sets LAB_SRV (the address). Bounded by
# PEER_LAB_LIMIT seconds (default 150) so a stuck relay cannot outlive the test.
lab_relay_start() {
	local host=$1 port=$2
	shift 2
	LAB_SRV=$(lab_addr "$host")
	timeout "${PEER_LAB_LIMIT:-150}" "$NATLAB" exec "$LAB" "$host" -- "$RELAY" --listen "$LAB_SRV:$port" \
		--stun "$LAB_SRV:3478" --no-auth "$@" >"$T_TMP/relay.out" 2>"$T_TMP/relay.err" &
	T_PIDS+=("$!")
	for _ in $(seq 100); do
		grep -q '"ready"' "$T_TMP/relay.out" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# lab_peer_bg NAME HOST SECONDS ARGS...: natlab-peer inside HOST for at most SECONDS,
# events in $T_TMP/NAME.out; sets NAME_PID.
lab_peer_bg() {
	local name=$1 host=$2 limit=$3
	shift 3
	timeout "$limit" "$NATLAB" exec "$LAB" "$host" -- "$PEER" "$@" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	printf -v "${name}_PID" %s "$!"
	T_PIDS+=("$!")
}

# t_ms NAME PATTERN [first|last]: t_ms of the first (or last) event matching PATTERN.
t_ms() {
	awk -v pat="$2" -v which="${3:-first}" -F'"t_ms":' '
		$0 ~ pat {split($2, a, ","); v = a[1]; if (which == "first") {print v; exit}}
		END {if (which == "last" && v != "") print v}' "$T_TMP/$1.out"
}

# lab_coturn_start NAME HOST PORT [ARGS...]: coturn (turnserver) inside HOST on its
# address, UDP and TCP on PORT, REST credentials under $TURN_SECRET (use-auth-secret),
# relay ports 49152-65535 unless ARGS say otherwise; log in $T_TMP/NAME.log, sets
# NAME_PID and LAB_TURN (the address). Bounded by PEER_LAB_LIMIT seconds like the relay.
TURN_SECRET=${TURN_SECRET:-natlab-lab-secret}
lab_coturn_start() {
	local name=$1 host=$2 port=$3
	shift 3
	LAB_TURN=$(lab_addr "$host")
	timeout "${PEER_LAB_LIMIT:-150}" "$NATLAB" exec "$LAB" "$host" -- turnserver -n \
		--listening-ip="$LAB_TURN" --relay-ip="$LAB_TURN" --listening-port="$port" \
		--use-auth-secret --static-auth-secret="$TURN_SECRET" --realm=natlab \
		--no-dtls --no-cli --fingerprint --log-file=stdout --simple-log \
		--userdb="$T_TMP/$name.db" --pidfile="$T_TMP/$name.pid" "$@" >"$T_TMP/$name.log" 2>&1 &
	printf -v "${name}_PID" %s "$!"
	T_PIDS+=("$!")
	for _ in $(seq 100); do
		grep -q 'Total General servers' "$T_TMP/$name.log" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
