#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TCP through the NATs: translated on the way out (the server sees the NAT's address),
# filtered on the way in (no unsolicited connection reaches a NATed host), and the
# udp-blocked firewall lets TCP out to ports 80 and 443 only.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
PUNCH=${NATLAB_BIN:-$SRC/build/bin}/../tests/udp_punch
[ -x "$PUNCH" ] || t_skip_all "udp_punch not built"

cat >"$T_TMP/tcp.lua" <<'LUA'
local lab = natlab.lab{}
local inet = lab:internet{}
lab:host{ name = "srv", net = inet }
for _, p in ipairs{ "full-cone", "port-restricted-cone", "symmetric", "cgnat", "udp-blocked" } do
	local nat = lab:nat{ name = p:sub(1, 10), net = inet, profile = p }
	lab:host{ name = "h" .. p:sub(1, 10), net = nat }
end
lab:up()
LUA
L=$(t_lab_name t)
t_up "$L" "$T_TMP/tcp.lua"
t_ok $? "lab is up" "$(cat "$T_TMP/up-$L.log")"
json=$("$NATLAB" ls "$L" --json)
addr() { echo "$json" | jq -r ".nodes[] | select(.name==\"$1\") | .addrs[0]"; }

listen_connect() { # listen_connect SERVER_NODE PORT CLIENT_NODE TARGET_ADDR -> listener output
	"$NATLAB" exec "$L" "$1" -- "$PUNCH" tcp-listen "$2" 2 >"$T_TMP/listen" 2>&1 &
	local lp=$!
	for _ in $(seq 1 100); do grep -q listening "$T_TMP/listen" && break; sleep 0.05; done
	"$NATLAB" exec "$L" "$3" -- "$PUNCH" tcp-connect "$4:$2" 1
	local rc=$?
	wait "$lp"
	return $rc
}

for nat in full-cone port-restri symmetric cgnat; do
	nat=${nat:0:10}
	listen_connect srv 8080 "h$nat" "$(addr srv)"
	t_ok $? "$nat: TCP out to srv connects"
	t_is "$(sed -n 's/^connection from //p' "$T_TMP/listen")" "$(addr "$nat")" \
		"$nat: srv sees the NAT's address"
	listen_connect "h$nat" 8081 srv "$(addr "$nat")"
	t_is $? 3 "$nat: no unsolicited TCP in through the NAT, and no RST either (connect() times out)"
done
listen_connect srv 443 hudp-blocke "$(addr srv)"
t_ok $? "udp-blocked: TCP out to 443 connects"
listen_connect srv 80 hudp-blocke "$(addr srv)"
t_ok $? "udp-blocked: TCP out to 80 connects"
listen_connect srv 8443 hudp-blocke "$(addr srv)"
t_is $? 3 "udp-blocked: TCP out to 8443 is dropped (connect() times out)"
t_done
