#!/bin/bash
# SPDX-License-Identifier: MIT
# natlab-peer --token-cmd against natlab-relay on loopback: a 60 s relayed session on
# 5 s tokens (each renewed on the open connection before it expires, none dropped),
# a command that fails, prints junk or a token for another key (error event, exit 3),
# one that fails only at renewal (reported, then the session ends at expiry), and
# --token with --token-cmd (exit 2).
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
[ -x "$PEER" ] || t_skip_all "natlab-peer not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"

cd "$T_TMP" || exit 1
SESSION_S=${T_TOKEN_SESSION_S:-60}

# long_bg NAME ARGS...: as peer_bg, for a session longer than its 60 s bound.
long_bg() {
	local name=$1
	shift
	timeout $((SESSION_S + 30)) "$PEER" "$@" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	printf -v "${name}_PID" %s "$!"
	T_PIDS+=("$!")
}

"$RELAY" keygen issuer >/dev/null || t_ok 1 "issuer keygen"
A=$("$PEER" keygen a.key)
B=$("$PEER" keygen b.key)
relay_start R --issuer-key issuer.pub --metrics 127.0.0.1:0 || { t_ok 1 "relay starts"; t_done; exit; }
METRICS=$(sed -n 's/.*"metrics":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$T_TMP/relay-R.out")
metric() { curl -s "http://127.0.0.1:$METRICS/metrics" | awk -v n="natlab_relay_$1" '$1 == n {print $2}'; }
common=(--relay "127.0.0.1:$R_PORT" --relay-only)
cmd_for() { echo "$RELAY token --issuer-key $T_TMP/issuer --peer $1 --ttl 5"; }

# --- a 60 s session on 5 s tokens ---
t0=$(date +%s)
long_bg la --key a.key "${common[@]}" --listen --token-cmd "$(cmd_for "$A")"
long_bg cb --key b.key "${common[@]}" --connect "$A" --token-cmd "$(cmd_for "$B")" \
	--ping $((SESSION_S - 2)) --ping-interval 1000 --hold 1
wait_pid "$cb_PID" $((SESSION_S + 30))
t_is $? 0 "connector exits 0 after a ${SESSION_S} s session" "$(show cb)"
wait_pid "$la_PID" 10
t_is $? 0 "listener exits 0" "$(show la | grep -v '"event":"rtt"' | tail -25)"
elapsed=$(($(date +%s) - t0))
t_ok "$([ "$elapsed" -ge $((SESSION_S - 3)) ]; echo $?)" "the session lasted ${elapsed} s on 5 s tokens"
t_is "$(count cb '"event":"rtt".*"path":"relay","source":"ping"')" $((SESSION_S - 2)) "every ping answered through the relay"
renew_cb=$(count cb '"event":"token_renewed"')
renew_la=$(count la '"event":"token_renewed"')
min=$((SESSION_S / 5))
t_ok "$([ "$renew_cb" -ge "$min" ] && [ "$renew_la" -ge "$min" ]; echo $?)" "tokens renewed on the open connection (connector ${renew_cb}, listener ${renew_la}, at least ${min})"
t_is "$(count cb '"event":"relay_disconnected"')" 0 "the connector's relay connection never dropped"
t_is "$(count la '"event":"relay_disconnected"')" 0 "the listener's relay connection never dropped"
t_is "$(metric 'closes_total{reason="token_expired"}')" 0 "relay: no session closed as expired"
t_ok "$([ "$(metric token_renewals_total)" -ge $((2 * min)) ]; echo $?)" "relay: renewals counted ($(metric token_renewals_total))"
t_is "$(metric auth_ok_total)" 2 "relay: one handshake per peer"

# --- bad commands ---
bad() { # bad NAME CMD PATTERN TEXT
	peer_bg "$1" --key a.key "${common[@]}" --listen --token-cmd "$2"
	wait_pid "$(eval echo "\$${1}_PID")" 20
	t_is $? 3 "$4: exit 3"
	t_ok "$(count "$1" '"event":"error","reason":"token_cmd".*'"$3" >/dev/null; echo $?)" "$4: error event says why" "$(show "$1")"
}
bad fails 'echo no >&2; exit 4' 'exited with status 4' "a failing command"
bad junk 'echo not-a-token' 'not a token' "junk output"
bad other "$(cmd_for "$B")" 'for another key' "a token for another key"
bad big 'head -c 5000 /dev/zero | tr "\0" A' 'more than 1024 bytes' "too much output"
# A command that works once, then fails: the renewal failure is reported (no exit), and
# the relay ends the session when the first token expires (token_refused, exit 3).
cat >once.sh <<EOS
#!/bin/sh
[ -e "$T_TMP/once.used" ] && { echo "issuer unreachable" >&2; exit 5; }
touch "$T_TMP/once.used"
$(cmd_for "$A")
EOS
chmod +x once.sh
t0=$(date +%s)
peer_bg once --key a.key "${common[@]}" --listen --token-cmd "$T_TMP/once.sh"
wait_pid "$once_PID" 20
t_is $? 3 "renewal failing: exit 3 once the token expires" "$(show once)"
t_ok "$(count once '"event":"error","reason":"token_cmd".*exited with status 5' >/dev/null; echo $?)" "each failed renewal reported"
t_ok "$(count once '"event":"error","reason":"token_refused".*token_expired' >/dev/null; echo $?)" "then the relay's token_expired"
t_ok "$([ $(($(date +%s) - t0)) -le 8 ]; echo $?)" "within the token's 5 s (and the relay's 1 s sweep)"
peer_bg both --key a.key "${common[@]}" --listen --token x --token-cmd true
wait_pid "$both_PID" 10
t_is $? 2 "--token with --token-cmd: usage error"
t_done
