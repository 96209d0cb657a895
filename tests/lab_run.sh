#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# natlab run: a passing scenario, and every way a scenario can go wrong (a failed
# expectation, a runtime error, a process that never exits, a scenario that never ends,
# SIGINT, kill -9). Each must give a clear message, a TAP `not ok` where it applies, the
# right exit code, and leave no namespace, state or process behind.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq

lab_of() { sed -n 's/^natlab: lab "\([^"]*\)" is up.*/\1/p' "$T_TMP/$1.err"; }
leftovers() { # namespaces or state of the lab of run $1 (named after its scenario)
	local l
	l=$(lab_of "$1")
	[ -n "$l" ] || { echo "no lab name in $1.err"; return; }
	ip netns list 2>/dev/null | grep "^nl-$l\." || true
	[ -e "/run/natlab/$l" ] && echo "state of $l"
}
HEAD='local lab = natlab.lab{ name = "r" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local home = lab:nat{ name = "home", net = inet, profile = "full-cone" }
local alice = lab:host{ name = "alice", net = home }
lab:up()'
scenario() { printf '%s\n%s\n' "$HEAD" "$2" >"$T_TMP/$1.lua"; }
run() { # run NAME [ARGS]: runs in the background, leaves its pid in $pid
	"$NATLAB" run "$T_TMP/$1.lua" --out "$T_TMP/out-$1" "${@:2}" >"$T_TMP/$1.tap" 2>"$T_TMP/$1.err" &
	pid=$!
}

scenario pass 'local p = alice:spawn{ "ping", "-c", "1", "-W", "2", srv.addr }
expect_eq(p:wait{ timeout = "5s" }, 0, "alice pings srv")
local s = srv:spawn{ "sh", "-c", "echo ready; echo $GREETING", env = { GREETING = "hi" }, name = "greeter" }
expect(s:wait_line{ match = "^hi$", timeout = "2s" }, "env reaches the process")
result{ cell = "demo", rtt_ms = 0.2 }'
run pass; wait $pid
t_is $? 0 "a passing scenario exits 0"
t_is "$(grep -c '^ok' "$T_TMP/pass.tap")" 2 "two ok lines"
t_is "$(tail -1 "$T_TMP/pass.tap")" "1..2" "a TAP plan"
t_is "$(jq -c .summary "$T_TMP/out-pass/report.json")" '{"expectations":2,"passed":2,"failed":0}' "report.json summary"
t_is "$(jq -r '.results[0].cell' "$T_TMP/out-pass/report.json")" demo "result{} lands in report.json"
t_is "$(jq -r '.nats[0].profile' "$T_TMP/out-pass/report.json")" full-cone "report.json lists the NATs"
grep -q 'tests="2" failures="0"' "$T_TMP/out-pass/junit.xml"
t_ok $? "junit.xml counts them"
grep -q '<h1>Run: ' "$T_TMP/out-pass/report.html" && grep -q 'alice-ping.log' "$T_TMP/out-pass/report.html"
t_ok $? "report.html: the run's page, with links to its logs"
if command -v xmllint >/dev/null; then
	xmllint --noout "$T_TMP/out-pass/report.html" 2>"$T_TMP/xmllint.err"
	t_ok $? "report.html is well-formed" "$(cat "$T_TMP/xmllint.err")"
fi
grep -q "1 received" "$T_TMP/out-pass/logs/alice-ping.log"
t_ok $? "the process's output is in logs/alice-ping.log"
t_is "$(cat "$T_TMP/out-pass/logs/srv-greeter.log")" "ready
hi" "named processes log under their name"
t_is "$(leftovers pass)" "" "nothing left after a passing run"
[ -e "$T_TMP/out-pass/pcap" ]
t_ok $(( $? == 0 )) "--pcap failed (the default) keeps no captures of a passing run"

run pass --pcap all; wait $pid
t_is "$(cd "$T_TMP/out-pass/pcap" && ls | tr '\n' ' ')" "alice-eth0.pcap home-lan.pcap home-wan.pcap lab.pcapng srv-eth0.pcap " \
	"--pcap all: both sides of the NAT and every host, and the lab's pcapng"
if command -v tshark >/dev/null; then
	t_is "$(tshark -r "$T_TMP/out-pass/pcap/home-wan.pcap" -Y 'icmp.type == 8' -T fields -e ip.src 2>/dev/null | sort -u)" \
		198.18.0.3 "tshark reads the WAN capture: pings leave from the NAT's address"
	t_is "$(tshark -r "$T_TMP/out-pass/pcap/home-lan.pcap" -Y 'icmp.type == 8' -T fields -e ip.src 2>/dev/null | sort -u)" \
		10.1.0.2 "and the LAN capture shows alice's private address"
fi

scenario filter 'for _, c in ipairs{ "a/full-cone", "b/symmetric", "c/symmetric" } do
	if natlab.selected(c) then expect(true, c) end
end'
run filter --filter "*symmetric"; wait $pid
t_is "$(grep -c "^ok" "$T_TMP/filter.tap") $(grep -c "symmetric" "$T_TMP/filter.tap")" "2 2" \
	"--filter runs only the selected parts"

scenario fail 'expect(false, "this does not hold")
expect_eq(1 + 1, 3, "arithmetic")'
run fail; wait $pid
t_is $? 1 "a failed expectation exits 1"
grep -q "^not ok 1 - this does not hold" "$T_TMP/fail.tap"
t_ok $? "and prints not ok"
t_is "$(grep -A3 '^not ok 2 - arithmetic' "$T_TMP/fail.tap" | sed -n '3,4p')" "#   got:      2
#   expected: 3" "expect_eq says what it got and what it expected"
t_is "$(jq -r '.expectations[1].diag' "$T_TMP/out-fail/report.json")" "got:      2
expected: 3" "and so does report.json"
grep -q 'NOT OK' "$T_TMP/out-fail/report.html"
t_ok $? "report.html shows the failure"
grep -q "^#   at .*fail.lua:7" "$T_TMP/fail.tap"
t_ok $? "with file and line" "$(cat "$T_TMP/fail.tap")"
[ -s "$T_TMP/out-fail/pcap/alice-eth0.pcap" ]
t_ok $? "a failed run keeps its captures"

scenario error 'local x = nil
x.field = 1'
run error; wait $pid
t_is $? 1 "a runtime error exits 1"
grep -q "error.lua:8: attempt to index a nil value" "$T_TMP/error.err"
t_ok $? "the message names file and line" "$(cat "$T_TMP/error.err")"
grep -q "^not ok .* - the scenario runs to its end" "$T_TMP/error.tap"
t_ok $? "and a TAP not ok"
t_is "$(jq -r .error "$T_TMP/out-error/report.json" | grep -c 'error.lua:8')" 1 "report.json says why"
t_is "$(leftovers error)" "" "nothing left after an error"

# Without lab:up() the scenario runs once (natlab run plans first, silently): each TAP
# line and the error appear once, not twice with the numbering restarted.
printf '%s\n' 'local lab = natlab.lab{ name = "r" }' 'expect(true, "before up")' \
	'expect(false, "fails before up")' >"$T_TMP/noup.lua"
run noup; wait $pid
t_is $? 1 "a scenario that never calls lab:up() exits 1"
t_is "$(grep -c '^\(not \)\?ok' "$T_TMP/noup.tap") $(grep -c '^1\.\.' "$T_TMP/noup.tap")" "3 1" \
	"its TAP lines appear once, with one plan"
t_is "$(grep -c 'never called lab:up()' "$T_TMP/noup.err")" 1 "and the error is said once"
echo 'error("boom")' >"$T_TMP/early.lua"
run early; wait $pid
t_is "$(grep -c 'early.lua:1: boom' "$T_TMP/early.err")" 1 "an error before lab:up() is said once"

scenario late 'lab:host{ name = "late", net = inet }'
run late; wait $pid
t_is $? 1 "declaring a node after lab:up() fails"
grep -q "late.lua:7: lab:host: the lab is already up" "$T_TMP/late.err"
t_ok $? "and says so" "$(cat "$T_TMP/late.err")"

scenario hang 'local p = alice:spawn{ "sleep", "600" }
local r, why = p:wait{ timeout = "500ms" }
expect_eq(why, "timeout", "a process that never exits is a timeout")
p:wait()'
run hang --timeout 2s; wait $pid
t_is $? 1 "a scenario past its time limit exits 1"
grep -q "^ok 1 - a process that never exits is a timeout" "$T_TMP/hang.tap"
t_ok $? "wait{timeout} returns on time"
grep -q "time limit of 2 s" "$T_TMP/hang.err"
t_ok $? "the time limit is named" "$(cat "$T_TMP/hang.err")"
t_is "$(leftovers hang)" "" "the sleeping process and the lab are gone"

scenario sigint 'local p = alice:spawn{ "sleep", "600" }
print("sleeper", p.pid)
natlab.sleep(600)'
run sigint
for _ in $(seq 1 100); do [ -e "$T_TMP/out-sigint/logs/alice-sleep.log" ] && break; sleep 0.05; done
kill -INT $pid; wait $pid
t_is $? 1 "SIGINT mid-run exits 1"
grep -q "interrupted" "$T_TMP/sigint.err"
t_ok $? "and says it was interrupted"
t_is "$(leftovers sigint)" "" "and tears the lab down"

run sigint
for _ in $(seq 1 100); do [ -n "$(lab_of sigint)" ] && [ -e "$T_TMP/out-sigint/logs/alice-sleep.log" ] && break; sleep 0.05; done
sleep 0.2
kill -9 $pid; wait $pid 2>/dev/null
# natlab down NAME, not cleanup: other labs on the machine may be someone else's.
"$NATLAB" down "$(lab_of sigint)" >"$T_TMP/cleanup.log" 2>&1
t_ok $? "down of the orphaned lab after kill -9 mid-run" "$(cat "$T_TMP/cleanup.log")"
t_is "$(leftovers sigint)" "" "no namespace or state remains"
sleeper=$(sed -n 's/^# sleeper\t//p' "$T_TMP/sigint.tap")
gone() { # a process is gone once it no longer exists or is a zombie waiting for pid 1
	for _ in $(seq 1 40); do
		[ -e "/proc/$1" ] || return 0
		[ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ] && return 0
		sleep 0.05
	done
	return 1
}
[ -n "$sleeper" ] && gone "$sleeper"
t_ok $? "no process of it remains (the sleeper, pid ${sleeper:-unknown}, is gone)"
# Planted links in an out dir: natlab runs as root, and a link where a log, a pcap or a
# report goes must not make it append to or truncate the file the link points at.
printf 'precious\n' >"$T_TMP/victim"
mkdir -p "$T_TMP/out-planted/logs" "$T_TMP/out-planted/pcap"
ln -s "$T_TMP/victim" "$T_TMP/out-planted/logs/alice-ping.log"
ln -s "$T_TMP/victim" "$T_TMP/out-planted/pcap/alice-eth0.pcap"
ln -s "$T_TMP/victim" "$T_TMP/out-planted/junit.xml"
"$NATLAB" run "$T_TMP/pass.lua" --out "$T_TMP/out-planted" --pcap all >"$T_TMP/planted.tap" 2>"$T_TMP/planted.err"
t_ok "$([ $? -ne 0 ]; echo $?)" "planted links: the run fails" "$(cat "$T_TMP/planted.err")"
t_is "$(cat "$T_TMP/victim")" precious "planted links: the file they point at is untouched"
t_ok "$(grep -q 'alice-eth0.pcap' "$T_TMP/planted.err"; echo $?)" "planted links: the message names the pcap" "$(cat "$T_TMP/planted.err")"
# The lab's pcapng and the NAT state snapshots are opened the same way.
printf 'precious\n' >"$T_TMP/victim2"
mkdir -p "$T_TMP/out-planted2/pcap" "$T_TMP/out-planted3/nat"
ln -s "$T_TMP/victim2" "$T_TMP/out-planted2/pcap/lab.pcapng"
"$NATLAB" run "$T_TMP/pass.lua" --out "$T_TMP/out-planted2" --pcap all >/dev/null 2>"$T_TMP/planted2.err"
t_ok "$([ $? -ne 0 ]; echo $?)" "a link planted at pcap/lab.pcapng: the run fails" "$(cat "$T_TMP/planted2.err")"
t_ok "$(grep -q 'lab.pcapng' "$T_TMP/planted2.err"; echo $?)" "and names it" "$(cat "$T_TMP/planted2.err")"
ln "$T_TMP/victim2" "$T_TMP/out-planted3/nat/end.txt"
"$NATLAB" run "$T_TMP/pass.lua" --out "$T_TMP/out-planted3" --pcap none >/dev/null 2>"$T_TMP/planted3.err"
t_ok "$(grep -q 'NAT state "end"' "$T_TMP/planted3.err"; echo $?)" "a hard link planted at nat/end.txt: the snapshot is refused, saying so" "$(cat "$T_TMP/planted3.err")"
t_is "$(cat "$T_TMP/victim2")" precious "the file the pcapng and snapshot links point at is untouched"
mkdir "$T_TMP/out-theirs"
chown 65534:65534 "$T_TMP/out-theirs"
"$NATLAB" run "$T_TMP/pass.lua" --out "$T_TMP/out-theirs" >/dev/null 2>"$T_TMP/theirs.err"
t_is $? 1 "an out dir of another user: the run exits 1 before building anything"
t_ok "$(grep -q 'belongs to uid 65534' "$T_TMP/theirs.err"; echo $?)" "and says whose it is" "$(cat "$T_TMP/theirs.err")"
t_is "$(ls -A "$T_TMP/out-theirs")" "" "and writes nothing into it"

t_done
