#!/bin/bash
# SPDX-License-Identifier: MIT
# The relay directory on loopback (docs/relay.md, "Relay directory"):
# - enrollment tokens: one use (a second use is refused as token_used), refused once
#   expired (token_expired) or never issued (token_unknown); the relay exits 1 saying so;
# - a relay re-run with its --enroll-state skips enrollment (no token), reused:true;
# - health: the directory lists relays whose /healthz answers; a stopped relay is taken
#   off the list;
# - peers with --directory hold the listed relays (up to --directory-relays), advertise
#   them (home_relay addrs), meet, and move when the relay carrying them goes unhealthy;
# - bad input: requests the directory refuses with a JSON error, a bad answer the peer
#   reports (bad_directory), a bad state file the relay refuses.
# RTT ordering across relays at different distances: t_peer_directory.sh (a lab).
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"
t_require curl
cd "$T_TMP" || exit 1
mkdir -p state

"$RELAY" directory --listen 127.0.0.1:0 --state state --poll 200 >dir.out 2>dir.err &
T_PIDS+=("$!")
for _ in $(seq 50); do grep -q '"ready"' dir.out && break; sleep 0.05; done
DIR=$(sed -n 's/.*"event":"ready","listen":"\([^"]*\)".*/\1/p' dir.out)
t_ok "$([ -n "$DIR" ]; echo $?)" "directory ready" "$(cat dir.out dir.err)"

# enroll NAME [ARGS...]: a relay on loopback enrolling; waits for ready or exit.
enroll() {
	local name=$1 i
	shift
	"$RELAY" --listen 127.0.0.1:0 --metrics 127.0.0.1:0 --no-auth --drain 100 \
		--directory "$DIR" --enroll-state "$name.json" "$@" >"$name.out" 2>"$name.err" &
	printf -v "${name}_PID" %s "$!"
	T_PIDS+=("$!")
	for i in $(seq 60); do
		grep -q '"event":"ready"' "$name.out" && return 0
		kill -0 "$!" 2>/dev/null || { wait "$!"; return $?; }
		sleep 0.05
	done
	return 124
}
listed() { curl -s --max-time 2 "http://$DIR/relays"; }
port_of() { sed -n 's/.*"event":"ready","listen":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$1.out"; }

# --- tokens ---
T1=$("$RELAY" directory-token --state state)
t_ok "$([[ $T1 =~ ^[A-Za-z0-9_-]{32}$ ]]; echo $?)" "directory-token prints a token ($T1)"
t_is "$(stat -c %a state/tokens)" 600 "the token file is private"
enroll r1 --enroll-token "$T1"
t_is $? 0 "relay r1 enrolls with a fresh token" "$(cat r1.out r1.err)"
t_ok "$(grep -q '"event":"enrolled".*"reused":false' r1.out; echo $?)" "r1: enrolled event, not reused"
t_is "$(stat -c %a r1.json)" 600 "the enrollment state file is private"
enroll r2 --enroll-token "$T1"
t_is $? 1 "the same token a second time: the relay exits 1"
t_ok "$(grep -q 'token_used' r2.err; echo $?)" "... saying token_used" "$(cat r2.err)"
T2=$("$RELAY" directory-token --state state --ttl 1)
sleep 1.2
enroll r2 --enroll-token "$T2"
t_is $? 1 "an expired token: exit 1"
t_ok "$(grep -q 'token_expired' r2.err; echo $?)" "... saying token_expired" "$(cat r2.err)"
enroll r2 --enroll-token "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
t_is $? 1 "a token never issued: exit 1"
t_ok "$(grep -q 'token_unknown' r2.err; echo $?)" "... saying token_unknown" "$(cat r2.err)"
rm -f r2.json
enroll r2
t_is $? 1 "no token and no state file: exit 1"
t_ok "$(grep -q 'needs --enroll-token' r2.err; echo $?)" "... saying the first run needs --enroll-token" "$(cat r2.err)"
echo '{"id":"x"}' >r2.json
enroll r2 --enroll-token "$("$RELAY" directory-token --state state)"
t_is $? 1 "a state file that is not an enrollment: exit 1"
t_ok "$(grep -q 'not an enrollment state' r2.err; echo $?)" "... saying so" "$(cat r2.err)"
rm -f r2.json
# The directory polls only the enrolling host: a health address elsewhere would make it
# knock on any address every --poll ms for whoever holds a token (or a saved secret).
T3=$("$RELAY" directory-token --state state)
enroll r2 --enroll-token "$T3" --metrics 127.0.0.2:0
t_is $? 1 "a health address that is not the enrolling host's: the relay exits 1"
t_ok "$(grep -q 'health_elsewhere' r2.err; echo $?)" "... saying health_elsewhere" "$(cat r2.err)"
t_ok "$(curl -s -X POST --data '{"token":"abc","relay":"127.0.0.1:1","health":"198.51.100.7:80"}' "http://$DIR/enroll" | grep -q '"error":"health_elsewhere"'; echo $?)" "POST /enroll naming another host's health address: health_elsewhere"
enroll r2 --enroll-token "$T3"
t_is $? 0 "... and the refusal did not use up the token" "$(cat r2.err)"
kill "$r2_PID"
wait "$r2_PID" 2>/dev/null
enroll r2 --metrics 127.0.0.2:0
t_is $? 1 "a re-run moving its health address to another host: refused too" "$(cat r2.err)"
t_ok "$(grep -q 'health_elsewhere' r2.err; echo $?)" "... saying health_elsewhere" "$(cat r2.err)"
rm -f r2.json
"$RELAY" --listen 127.0.0.1:0 --no-auth --directory "$DIR" --enroll-state x.json >/dev/null 2>bad.err
t_is $? 2 "--directory without --metrics: usage error"
t_ok "$(grep -q 'needs --enroll-state FILE.*--metrics' bad.err; echo $?)" "... naming what is missing" "$(cat bad.err)"

# --- the re-run skips enrollment ---
id1=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' r1.out)
kill "$r1_PID"
wait "$r1_PID" 2>/dev/null
enroll r1
t_is $? 0 "r1 re-run without a token (its token is used up)" "$(cat r1.out r1.err)"
t_ok "$(grep -q "\"event\":\"enrolled\".*\"id\":\"$id1\".*\"reused\":true" r1.out; echo $?)" \
	"r1 re-registers with its saved id ($id1), reused:true" "$(cat r1.out)"
for r in r2 r3; do
	enroll $r --enroll-token "$("$RELAY" directory-token --state state)" || t_ok 1 "$r enrolls" "$(cat $r.err)"
done
for _ in $(seq 40); do [ "$(listed | grep -o '"relay"' | wc -l)" = 3 ] && break; sleep 0.05; done
t_is "$(listed | grep -o '"relay"' | wc -l)" 3 "GET /relays lists the three healthy relays" "$(listed)"
t_ok "$(listed | grep -q "127.0.0.1:$(port_of r1)"; echo $?)" "r1 is listed at its new port"

# --- the directory refuses bad requests with a JSON error ---
t_ok "$(curl -s -X POST --data 'not json' "http://$DIR/enroll" | grep -q '"error":"bad_request"'; echo $?)" "POST /enroll with a body that is not JSON: bad_request"
t_ok "$(curl -s -X POST --data '{"token":"abc","relay":"nowhere","health":"127.0.0.1:1"}' "http://$DIR/enroll" | grep -q '"error":"bad_request","message":"relay and health must be ADDR:PORT'; echo $?)" "a relay address that does not parse: bad_request naming it"
t_ok "$(curl -s -X POST --data "{\"id\":\"$id1\",\"secret\":\"$(printf '0%.0s' $(seq 64))\",\"relay\":\"127.0.0.1:1\",\"health\":\"127.0.0.1:1\"}" "http://$DIR/enroll" | grep -q '"error":"bad_credentials"'; echo $?)" "a wrong secret: bad_credentials"
t_ok "$(curl -s "http://$DIR/nothing" | grep -q '"error":"not_found"'; echo $?)" "an unknown path: not_found"

# --- peers hold the listed relays, meet, and move off one that goes unhealthy ---
A=$("$PEER" keygen a.key)
dopts=(--directory "$DIR" --directory-poll 200 --directory-relays 2 --bind 127.0.0.1 --relay-only)
peer_bg l --key a.key "${dopts[@]}" --listen
peer_bg c "${dopts[@]}" --connect "$A" --ping 100 --ping-interval 50
wait_event c '"event":"path","kind":"relay"' 10
t_ok $? "connector reaches the listener through a directory relay" "$(show c)"
t_is "$(count c '"event":"relay_connected".*"source":"directory"')" 2 "connector holds 2 relays (--directory-relays 2)"
t_ok "$(grep '"event":"home_relay"' l.out | tail -1 | grep -q '"addrs":\["relay://127.0.0.1:[0-9]*/'"$A"'","relay://'; echo $?)" \
	"listener advertises both held relays as relay addresses" "$(events l home_relay | tail -1)"
t_ok "$(grep -q '"event":"directory","relays":\[' c.out; echo $?)" "directory event with the listed relays" "$(events c directory | tail -1)"
via=$(sed -n 's/.*"event":"path","kind":"relay","remote":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' c.out | tail -1)
victim=""
for r in r1 r2 r3; do [ "$(port_of $r)" = "$via" ] && victim=$r; done
t_ok "$([ -n "$victim" ]; echo $?)" "the path names one of the relays ($via: $victim)"
cut_c=$(wc -l <c.out)
pid_var=${victim}_PID
kill "${!pid_var}"
# The relay's own connection may notice first (CLOSE shutdown): the path moves then;
# the directory's poll takes it off the list, and the peer drops it, within a second.
for _ in $(seq 60); do tail -n +"$((cut_c + 1))" c.out | grep -q '"event":"relay_dropped"' && break; sleep 0.05; done
t_ok "$(grep -q "\"event\":\"health\",.*\"relay\":\"127.0.0.1:$via\",\"healthy\":false" dir.out; echo $?)" "the directory marks the stopped relay unhealthy" "$(cat dir.out)"
t_ok "$(! listed | grep -q "127.0.0.1:$via\""; echo $?)" "and no longer lists it" "$(listed)"
t_ok "$(tail -n +"$((cut_c + 1))" c.out | grep -q "\"event\":\"relay_dropped\",\"relay\":\"127.0.0.1:$via\".*\"reason\":\"unlisted\""; echo $?)" \
	"connector drops the unlisted relay" "$(tail -n +"$((cut_c + 1))" c.out | grep -v rtt)"
newvia=$(tail -n +"$((cut_c + 1))" c.out | sed -n 's/.*"event":"path","kind":"relay","remote":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' | tail -1)
t_ok "$([ -n "$newvia" ] && [ "$newvia" != "$via" ]; echo $?)" "connector's path moves to another relay ($via -> $newvia)"
wait_pid "$c_PID" 20
t_is $? 0 "connector exits 0: its pings went on through the move" "$(show c | grep -v rtt)"
t_ok "$(events c ping_done | grep -q '"received":\(9[0-9]\|100\)'; echo $?)" "at least 90 of 100 pings answered across the move" "$(events c ping_done)"
t_ok "$(grep -q '"event":"relay_connected".*"source":"directory"' <(tail -n +"$((cut_c + 1))" c.out); echo $?)" \
	"connector takes the remaining listed relay to hold 2 again"
wait_pid "$l_PID" 10

# --- a directory whose answer is not a list of relays ---
python3 - >fake.port <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
for _ in range(50):
    c, _ = s.accept(); c.recv(4096)
    c.sendall(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"relays":5}'); c.close()
PY
T_PIDS+=("$!")
for _ in $(seq 40); do [ -s fake.port ] && break; sleep 0.05; done
"$PEER" --directory "127.0.0.1:$(cat fake.port)" --connect "$A" --timeout 1 --relay-only >bad.out 2>bad.err
t_is $? 3 "a peer whose directory answers nonsense: relay_unreachable (exit 3)"
t_ok "$(grep -q '"reason":"bad_directory","message":"directory 127.0.0.1:[0-9]*: its answer is not {\\"relays\\":\[...\]}"' bad.out; echo $?)" \
	"... after a bad_directory error naming the directory" "$(cat bad.out)"
t_is "$(grep -c '"bad_directory"' bad.out)" 1 "reported once, not at every poll"
"$PEER" --directory nowhere --connect "$A" >bad.out 2>bad.err
t_is $? 2 "--directory that is not ADDR:PORT: exit 2"
t_ok "$(grep -q '"reason":"bad_directory"' bad.out; echo $?)" "... bad_directory" "$(cat bad.out)"
t_done
