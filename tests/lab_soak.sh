#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak (label slow): `natlab up` killed with -9 at random moments of its build, 100
# times, and `natlab run` interrupted with SIGINT at random moments, 20 times. After a
# killed up, `natlab down NAME` (what its user does; never `natlab cleanup`, which is
# for every lab on the machine) must leave nothing of it: no namespace, no state
# directory (finished or hidden), no daemon. A killed up must not leave a lab up
# behind the user's back either: only one that printed that the lab is up may. An interrupted run tears its own
# lab down: nothing may remain without any command. SOAK_UP_RUNS and SOAK_RUN_RUNS
# change the counts.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
UP_RUNS=${SOAK_UP_RUNS:-100} RUN_RUNS=${SOAK_RUN_RUNS:-20}

cat >"$T_TMP/lab.lua" <<'EOF'
local lab = natlab.lab{}
local inet = lab:internet{}
lab:host{ name = "srv", net = inet }
local home = lab:nat{ name = "home", net = inet, profile = "full-cone" }
lab:host{ name = "alice", net = home }
lab:up()
EOF

# alive PID: the process exists and is not a zombie.
alive() {
	[ -e "/proc/$1" ] && [ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}
# leftovers LAB [PID...]: what remains of LAB, one line each (nothing when clean).
leftovers() {
	local lab=$1 p
	shift
	ip netns list 2>/dev/null | awk -v p="nl-$lab." 'index($1, p) == 1 { print "namespace " $1 }'
	[ -e "/run/natlab/$lab" ] && echo "state /run/natlab/$lab"
	for p in /run/natlab/.new-"$lab".* /run/natlab/.old-"$lab".*; do
		[ -e "$p" ] && echo "hidden state $p"
	done
	for p in "$@"; do
		for _ in $(seq 40); do alive "$p" || break; sleep 0.05; done
		alive "$p" && echo "process $p"
	done
	return 0
}
# ms_sleep MS: sleeps MS milliseconds.
ms_sleep() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# How long a build takes here: the kills land anywhere from its start to a bit past it.
L=$(t_lab_name s)
T_LABS+=("$L")
t0=$(now_ms)
"$NATLAB" up "$T_TMP/lab.lua" --name "$L" --out "$T_TMP/up" >"$T_TMP/up.log" 2>&1
t_ok $? "the soak's lab builds" "$(cat "$T_TMP/up.log")"
build_ms=$(($(now_ms) - t0))
"$NATLAB" down "$L" >/dev/null 2>&1
span=$((build_ms * 3 / 2 + 20))

left=0 up_behind=0 killed=0 finished=0 diag=""
start=$(now_ms)
for i in $(seq "$UP_RUNS"); do
	L=$(t_lab_name "k$i")
	T_LABS+=("$L")
	"$NATLAB" up "$T_TMP/lab.lua" --name "$L" --out "$T_TMP/up" >/dev/null 2>"$T_TMP/up$i.err" &
	pid=$!
	ms_sleep $((RANDOM % span))
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	owner=$(cut -d' ' -f1 "/run/natlab/$L/owner" 2>/dev/null)
	if [ "$rc" = 137 ]; then
		killed=$((killed + 1))
		# Killed: the lab may stay up only if up said so first (its daemon takes it
		# down when up dies before acknowledging, which it does after saying so; a
		# kill between that and exit is a window no process can close).
		for _ in $(seq 40); do [ -n "$owner" ] && alive "$owner" || break; sleep 0.05; done
		if [ -n "$owner" ] && alive "$owner" && ! grep -q 'is up' "$T_TMP/up$i.err"; then
			up_behind=$((up_behind + 1))
			diag+="run $i: killed (137) but lab $L is up (daemon $owner)"$'\n'
		fi
	else
		finished=$((finished + 1))
	fi
	"$NATLAB" down "$L" >/dev/null 2>&1
	out=$(leftovers "$L" $owner)
	if [ -n "$out" ]; then
		left=$((left + $(printf '%s\n' "$out" | wc -l)))
		diag+="run $i (killed after up to $span ms, exit $rc):"$'\n'"$out"$'\n'
	fi
done
secs=$((($(now_ms) - start) / 1000))
t_ok "$left" "kill -9 of up, $UP_RUNS times (build ${build_ms} ms; $killed killed mid-way, $finished finished first; ${secs} s), then down: 0 leftovers (got $left)" "$diag"
t_ok "$up_behind" "no killed up left its lab up without saying it is up (got $up_behind)" "$diag"

# Interrupted runs: each builds a lab (--name), starts a sleeper in it and waits.
cat >"$T_TMP/run.lua" <<'EOF'
local lab = natlab.lab{}
local inet = lab:internet{}
lab:host{ name = "srv", net = inet }
local home = lab:nat{ name = "home", net = inet, profile = "full-cone" }
local alice = lab:host{ name = "alice", net = home }
lab:up()
local p = alice:spawn{ "sleep", "600" }
print("sleeper", p.pid)
natlab.sleep(600)
EOF
left=0 hung=0 diag="" codes=""
start=$(now_ms)
for i in $(seq "$RUN_RUNS"); do
	R=$(t_lab_name "r$i")
	T_LABS+=("$R")
	# A background job of a script starts with SIGINT ignored (POSIX), so a SIGINT before
	# natlab sets its handler would be lost; a user's Ctrl-C meets the default action.
	env --default-signal=INT "$NATLAB" run "$T_TMP/run.lua" --name "$R" --out "$T_TMP/run$i" --pcap none \
		>"$T_TMP/run$i.tap" 2>"$T_TMP/run$i.err" &
	pid=$!
	ms_sleep $((RANDOM % (span + 300)))
	kill -INT "$pid" 2>/dev/null
	for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$pid" 2>/dev/null; then
		hung=$((hung + 1))
		diag+="run $i (pid $pid): still running 20 s after SIGINT; killed"$'\n'"$(tail -3 "$T_TMP/run$i.err")"$'\n'
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		"$NATLAB" down "$R" >/dev/null 2>&1
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	case " $codes " in *" $rc "*) ;; *) codes+=" $rc" ;; esac
	sleeper=$(sed -n 's/^# sleeper\t//p' "$T_TMP/run$i.tap")
	out=$(leftovers "$R" $sleeper)
	if [ -n "$out" ]; then
		left=$((left + $(printf '%s\n' "$out" | wc -l)))
		diag+="run $i (pid $pid, exit $rc):"$'\n'"$out"$'\n'"$(tail -3 "$T_TMP/run$i.err")"$'\n'
	fi
done
secs=$((($(now_ms) - start) / 1000))
t_ok "$left" "SIGINT to run, $RUN_RUNS times (${secs} s; exit codes:$codes): 0 leftovers (got $left)" "$diag"
t_ok "$hung" "each run exits within 20 s of its SIGINT (got $hung that did not)" "$diag"
t_ok "$(case "$codes" in *" 0"*) echo 1 ;; *) echo 0 ;; esac)" "no interrupted run exits 0"
t_done
