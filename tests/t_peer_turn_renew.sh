#!/bin/bash
# SPDX-License-Identifier: MIT
# Credentials that expire under a live allocation (on loopback, against tests/turn_fake.c,
# which refuses a Refresh with the username the allocation was made with: coturn only
# checks a REST username's expiry at Allocate). With --turn-secret natlab-peer mints new
# credentials and the Refresh goes through (turn_credentials event); with explicit
# credentials it reports turn_credentials_expired and carries on without TURN. And
# natlab turn-cred's credentials against openssl.
. "$(dirname "$0")/lib/lab.sh"
. "$(dirname "$0")/lib/peer.sh"
FAKE=$NATLAB_BIN/../tests/turn_fake
[ -x "$PEER" ] && [ -x "$FAKE" ] || t_skip_all "natlab-peer or tests/turn_fake not built"
t_require openssl
t_require jq
cd "$T_TMP" || exit 1
relay_start R --no-auth
t_ok $? "relay up" "$(cat relay-R.err 2>/dev/null)"

fake_start() { # NAME: turn_fake on a free port; sets NAME_TURN
	local i port
	for i in 1 2 3 4 5; do
		port=$((20000 + (RANDOM * 7 + $$ + i * 577) % 40000))
		"$FAKE" "$port" s3cret >"$1.fake" 2>&1 &
		T_PIDS+=("$!")
		wait_event_file "$1.fake" '^ready' 2 && { printf -v "${1}_TURN" %s "127.0.0.1:$port"; return 0; }
	done
	return 1
}
wait_event_file() { # FILE PATTERN SECONDS
	local i
	for i in $(seq $(($3 * 20))); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

fake_start a
t_ok $? "fake TURN server up at $a_TURN"
peer_bg minted --relay "127.0.0.1:$R_PORT" --stun "127.0.0.1:$R_STUN" --listen \
	--turn "$a_TURN" --turn-secret s3cret --turn-ttl 60
# The allocation's lifetime is 1 s: the first Refresh goes out after 0.5 s.
wait_event minted '"event":"turn_credentials"' 5
t_ok $? "minted: new credentials after the Refresh was refused" "$(show minted | tail -5)"
wait_event_file a.fake '^renewed ' 3
t_ok $? "minted: the server saw the Refresh with the new username" "$(cat a.fake)"
sleep 1.2
t_is "$(count minted '"event":"error"')" 0 "minted: no error, the allocation lives on"
t_ok "$([ "$(grep -c '^renewed ' a.fake)" -ge 2 ]; echo $?)" \
	"minted: later Refreshes go through with the new username ($(grep -c '^renewed ' a.fake) so far)" "$(cat a.fake)"

# natlab turn-cred: what a backend hands out, checked with openssl as an oracle.
json=$("$NATLAB_BIN/natlab" turn-cred --secret s3cret --user bob --ttl 60 --json)
u=$(printf '%s' "$json" | jq -r .username) p=$(printf '%s' "$json" | jq -r .password)
t_ok "$([ "${u%%:*}" -ge $(($(date +%s) + 58)) ] && [ "${u#*:}" = bob ]; echo $?)" \
	"turn-cred: username expiry:user, 60 s ahead ($u)"
t_is "$p" "$(printf '%s' "$u" | openssl dgst -sha1 -hmac s3cret -binary | base64)" \
	"turn-cred: password is base64(HMAC-SHA1(secret, username)) as openssl computes it"
out=$("$NATLAB_BIN/natlab" turn-cred --secret s3cret --user a:b 2>&1)
t_ok "$([ $? = 1 ] && [[ $out == *"--user must not contain ':'"* ]]; echo $?)" \
	"turn-cred: a user with ':' is refused, naming the option" "$out"

# Bad combinations are usage errors (exit 2), each naming what to give instead.
usage() { # WANT_SUBSTRING ARGS...
	local want=$1 out rc
	shift
	out=$("$PEER" --relay 127.0.0.1:1 --listen "$@" 2>/dev/null)
	rc=$?
	t_ok "$([ $rc = 2 ] && [[ $out == *'"reason":"usage"'*"$want"* ]]; echo $?)" \
		"usage: $* -> $want" "exit $rc: $out"
}
usage "--turn needs --turn-secret" --turn 127.0.0.1:3478
usage "--turn excludes --relay-only" --turn 127.0.0.1:3478 --turn-secret s --relay-only
usage "--turn excludes --relay-only and --no-relay" --turn 127.0.0.1:3478 --turn-secret s --no-relay
usage "needs --turn-ca FILE or --turn-pin" --turn 127.0.0.1:3478 --turn-secret s --turn-transport tls
usage "--turn-only needs --turn" --turn-only
usage "expected udp, tcp or tls" --turn 127.0.0.1:3478 --turn-secret s --turn-transport sctp

fake_start b
t_ok $? "second fake TURN server up at $b_TURN"
# One minting for both: two calls a second apart give a username whose expiry the other
# call's password does not sign (seen under ASan: 401 wrong credentials).
cred=$("$NATLAB_BIN/natlab" turn-cred --secret s3cret --user bob --ttl 60)
user=$(sed -n 1p <<<"$cred")
pass=$(sed -n 2p <<<"$cred")
peer_bg given --relay "127.0.0.1:$R_PORT" --stun "127.0.0.1:$R_STUN" --listen \
	--turn "$b_TURN" --turn-user "$user" --turn-pass "$pass"
wait_event given '"reason":"turn_credentials_expired"' 5
t_ok $? "given: the refused Refresh is reported as expired credentials" "$(show given | tail -5)"
t_ok "$(kill -0 "$given_PID" 2>/dev/null; echo $?)" "given: the peer carries on without TURN"
t_is "$(count given '"event":"exit"')" 0 "given: no exit event"
t_done
