#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two hosts behind one endpoint-independent-mapping NAT, bound to the same UDP port:
# a real NAT gives each its own external port (port preservation can only serve the
# first), and keeps each mapping for every destination. Host 1 maps first; host 2, from
# the same port, talks to another server (so Linux's per-connection uniqueness check
# alone would let it take the same external port). Checked on a full-cone NAT (inbound
# through each mapping must reach its own host, not the other) and on a port-restricted
# one (host 1 must keep its mapping towards the server host 2 talked to first). Then a
# CGN with a 16-port block: one subscriber maps 8 source ports to 8 servers; Linux alone
# hands out ports per connection and would repeat one (P = 88% for 8 random draws from
# 16); every mapping must get its own port of the block.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
PUNCH=${NATLAB_BIN:-$SRC/build/bin}/../tests/udp_punch
RELAY=${NATLAB_BIN:-$SRC/build/bin}/natlab-relay
[ -x "$PUNCH" ] || t_skip_all "udp_punch not built"
[ -x "$RELAY" ] || t_skip_all "natlab-relay not built"

cat >"$T_TMP/eim.lua" <<'LUA'
local lab = natlab.lab{ name = "eimports" }
local inet = lab:internet{}
lab:host{ name = "srv", net = inet }
lab:host{ name = "ext", net = inet }
local fc = lab:nat{ name = "fc", net = inet, profile = "full-cone" }
local pr = lab:nat{ name = "pr", net = inet, profile = "port-restricted-cone" }
lab:host{ name = "fc1", net = fc }
lab:host{ name = "fc2", net = fc }
lab:host{ name = "pr1", net = pr }
lab:host{ name = "pr2", net = pr }
local cg = lab:nat{ name = "cg", net = inet, profile = "cgnat", port_block = 16 }
lab:host{ name = "cg1", net = cg }
lab:up()
LUA
LAB=$(t_lab_name e)
t_up "$LAB" "$T_TMP/eim.lua"
rc=$?
t_ok "$rc" "lab up" "$(cat "$T_TMP/up-$LAB.log" 2>/dev/null)"
[ "$rc" = 0 ] || { t_done; exit; }
addr() { "$NATLAB" ls "$LAB" | awk -v h="$1" '$1 == h {print $NF}'; }
SRV=$(addr srv)
# Two STUN servers on the relay host: natlab-relay's STUN on ports 3478 and 3578.
for i in 0 1; do
	timeout 60 "$NATLAB" exec "$LAB" srv -- "$RELAY" --listen "$SRV:$((3340 + i))" \
		--stun "$SRV:$((3478 + i * 100))" --no-auth >"$T_TMP/relay$i.out" 2>&1 &
	T_PIDS+=($!)
done
for _ in $(seq 100); do
	grep -q '"ready"' "$T_TMP/relay0.out" && grep -q '"ready"' "$T_TMP/relay1.out" && break
	sleep 0.05
done
t_ok "$(grep -q '"ready"' "$T_TMP/relay1.out"; echo $?)" "two STUN servers on $SRV"
stun() { # HOST SERVER_PORT [LOCAL_PORT]: the mapped address
	timeout 8 "$NATLAB" exec "$LAB" "$1" -- "$PUNCH" stun "${3:-40000}" "$SRV:$2"
}
port() { echo "${1##*:}"; }

for nat in fc pr; do
	m1=$(stun "${nat}1" 3478)
	m2=$(stun "${nat}2" 3578)
	t_ok "$([ -n "$m1" ] && [ -n "$m2" ]; echo $?)" "$nat: both hosts mapped ($m1, $m2)"
	t_is "$(port "$m1")" 40000 "$nat: host 1, first on port 40000, keeps it"
	t_ok "$([ -n "$m2" ] && [ "$(port "$m2")" != 40000 ]; echo $?)" \
		"$nat: host 2, same internal port, gets another external port ($m2)"
	t_is "$(stun "${nat}1" 3578)" "$m1" "$nat: host 1 keeps $m1 towards host 2's server (EIM)"
	t_is "$(stun "${nat}2" 3478)" "$m2" "$nat: host 2 keeps $m2 towards host 1's server (EIM)"
done

# Full-cone: anyone may send through a mapping, and it reaches that mapping's host.
inbound() { # HOST_LISTENING MAPPING: exit code of HOST's listen while ext sends to MAPPING
	timeout 5 "$NATLAB" exec "$LAB" "$1" -- "$PUNCH" listen 40000 2 >/dev/null 2>&1 &
	local l=$!
	sleep 0.3
	timeout 5 "$NATLAB" exec "$LAB" ext -- "$PUNCH" punch 5000 "$2" 1 >/dev/null 2>&1
	wait "$l"
}
m1=$(stun fc1 3478)
m2=$(stun fc2 3578)
inbound fc1 "$m1"
t_is $? 0 "full-cone: a stranger's packet to $m1 reaches host 1"
inbound fc2 "$m2"
t_is $? 0 "full-cone: a stranger's packet to $m2 reaches host 2"
inbound fc2 "$m1"
t_is $? 1 "full-cone: nothing sent to $m1 reaches host 2"

# The CGN block: 8 STUN servers (ports 4000, 4010, ...), one mapping each.
for i in $(seq 0 7); do
	timeout 60 "$NATLAB" exec "$LAB" srv -- "$RELAY" --listen "$SRV:$((3400 + i))" \
		--stun "$SRV:$((4000 + i * 10))" --no-auth >"$T_TMP/cgrelay$i.out" 2>&1 &
	T_PIDS+=($!)
done
for i in $(seq 0 7); do
	for _ in $(seq 100); do grep -q '"ready"' "$T_TMP/cgrelay$i.out" && break; sleep 0.05; done
done
ports=""
for i in $(seq 0 7); do
	m=$(stun cg1 $((4000 + i * 10)) $((40001 + i)) 2>/dev/null)
	ports="$ports $(port "$m")"
done
t_is "$(wc -w <<<"$ports")" 8 "cgnat block of 16: 8 mappings made ($ports)"
t_is "$(tr ' ' '\n' <<<"$ports" | sed '/^$/d' | sort -u | wc -l)" 8 "every mapping has its own external port"
t_is "$(tr ' ' '\n' <<<"$ports" | sed '/^$/d' | awk '$1 < 1024 || $1 > 1039' | wc -l)" 0 \
	"all within the subscriber's block 1024-1039"
t_done
