#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Keep and enter: natlab run --keep-on-failure leaves a failing run's lab up with the
# processes it left running, its wires forwarding and its captures writing, until
# natlab down; ls, exec and down work on it as on an up lab. A passing run is not kept;
# --keep keeps it anyway; --name names the lab, the default is the scenario's name made
# unique. natlab up runs any scenario (processes too) and keeps what it left running.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
cd "$T_TMP" || exit 1
# The command lines of the processes in the namespace the shell runs in.
IN_NS='me=$(readlink /proc/self/ns/net); for p in /proc/[0-9]*; do [ "$(readlink $p/ns/net 2>/dev/null)" = "$me" ] && tr "\0" " " 2>/dev/null <$p/cmdline && echo; done'

L=$(t_lab_name k)
T_LABS+=("$L" "$L-2")
cat >keep.lua <<EOF
local lab = natlab.lab{ name = "$L" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local home = lab:nat{ name = "home", net = inet, profile = "port-restricted-cone" }
local a = lab:host{ name = "a", net = home, link = { delay = "25ms" } }
lab:up()
local s = srv:spawn{ "sh", "-c", "echo listening; exec sleep 600", name = "sleeper" }
expect(s:wait_line{ match = "listening", timeout = "2s" }, "the sleeper started")
local p = a:spawn{ "ping", "-c", "1", "-W", "2", srv.addr }
expect(p:wait{ timeout = "5s" } == 0, "a reaches srv")
expect(natlab.params.fail ~= "yes", "fails when asked to")
EOF

# A failing run with --keep-on-failure: kept.
"$NATLAB" run keep.lua --out o1 --keep-on-failure --pcap all --param fail=yes >o1.tap 2>o1.err
t_is $? 1 "the failing run still exits 1"
t_is "$(grep -c '^not ok 3 - fails when asked to' o1.tap)" 1 "its TAP says what failed"
grep -q "lab \"$L\" kept (daemon pid [0-9]*)" o1.err
t_ok $? "it says the lab is kept, under the scenario's name" "$(cat o1.err)"
t_is "$(jq -r '.summary.failed' o1/report.json)" 1 "the report is written before the run returns"
status=$("$NATLAB" ls --json | jq -r ".[] | select(.name==\"$L\") | .status")
t_is "$status" up "natlab ls lists the kept lab as up"
owner=$("$NATLAB" ls --json | jq -r ".[] | select(.name==\"$L\") | .owner_pid")
t_ok $(( owner > 0 ? 0 : 1 )) "owned by the daemon" "owner: $owner"
"$NATLAB" ls "$L" | grep -q "^a  *host  *home"
t_ok $? "natlab ls NAME shows its nodes"
out=$("$NATLAB" exec "$L" srv -- sh -c "$IN_NS" | grep -c '^sleep 600')
t_is "$out" 1 "the process the scenario left running still runs in srv"
rtt=$("$NATLAB" exec "$L" a -- ping -c 3 -i 0.2 -W 2 198.18.0.2 | sed -n 's|^rtt.* = \([0-9]*\)[0-9.]*/.*|\1|p')
t_ok $(( rtt >= 50 && rtt < 200 ? 0 : 1 )) "exec enters a host; its wire still delays (rtt ${rtt:-none} ms >= 50)"
"$NATLAB" exec "$L" a -- ping -c 1 -s 1234 -W 2 198.18.0.2 >/dev/null
"$NATLAB" down "$L" >down.log 2>&1
t_is $? 0 "natlab down removes it" "$(cat down.log)"
t_is "$(ip netns list | grep -c "^nl-$L\.")$([ -e "/run/natlab/$L" ] && echo ' state')" 0 "no namespace or state left"
for _ in $(seq 1 40); do kill -0 "$owner" 2>/dev/null || break; sleep 0.05; done
kill -0 "$owner" 2>/dev/null
t_ok $(( $? != 0 ? 0 : 1 )) "the daemon is gone"
if command -v tshark >/dev/null; then
	t_is "$(tshark -r o1/pcap/home-wan.pcap -Y 'icmp.type == 8 && frame.len == 1276' 2>/dev/null | wc -l)" 1 \
		"the daemon kept capturing: exec's ping after the end is in the capture"
	t_is "$(tshark -r o1/pcap/home-wan.pcap -Y 'icmp.type == 8' 2>/dev/null | wc -l)" 5 \
		"every ping once: none written twice across the hand-over"
fi

# A passing run with --keep-on-failure is torn down; with --keep it stays.
"$NATLAB" run keep.lua --out o2 --keep-on-failure >o2.tap 2>o2.err
t_is $? 0 "a passing run exits 0"
t_is "$(ip netns list | grep -c "^nl-$L\.")" 0 "and --keep-on-failure did not keep it"
"$NATLAB" run keep.lua --out o3 --keep >o3.tap 2>o3.err
t_is $? 0 "--keep: a passing run exits 0"
t_is "$("$NATLAB" ls --json | jq -r ".[] | select(.name==\"$L\") | .status")" up "and its lab is kept"

# The scenario's name is taken: the next run gets NAME-2; --name picks one, and a
# name in use is refused.
"$NATLAB" run keep.lua --out o4 --keep >o4.tap 2>o4.err
t_is $? 0 "a second run of the same scenario"
grep -q "lab \"$L-2\" kept" o4.err
t_ok $? "runs as $L-2 while $L is up" "$(cat o4.err)"
"$NATLAB" down "$L-2" >/dev/null 2>&1
"$NATLAB" run keep.lua --out o5 --name "$L" >o5.tap 2>o5.err
t_is $? 1 "--name of a lab that is up fails"
grep -q "a lab named \"$L\" exists already" o5.err
t_ok $? "and says so" "$(cat o5.err)"
"$NATLAB" down "$L" >/dev/null 2>&1
N=$(t_lab_name n)
T_LABS+=("$N")
"$NATLAB" run keep.lua --out o6 --name "$N" >o6.tap 2>o6.err
t_is $? 0 "--name NAME"
grep -q "lab \"$N\" is up" o6.err
t_ok $? "runs the lab as NAME" "$(cat o6.err)"
out=$("$NATLAB" run keep.lua --name 'bad name' 2>&1)
t_is $? 1 "a bad --name is refused"
echo "$out" | grep -q "natlab run: --name:"
t_ok $? "naming the option" "$out"

# natlab up of a scenario that spawns: runs it, keeps the lab and the sleeper.
U=$(t_lab_name u)
T_LABS+=("$U")
"$NATLAB" up keep.lua --name "$U" --out o7 >o7.tap 2>o7.err
t_is $? 0 "up of a scenario that spawns processes exits 0" "$(cat o7.err)"
t_is "$(grep -c '^ok' o7.tap)" 3 "its expectations are TAP lines"
grep -q "lab \"$U\" is up" o7.err
t_ok $? "and says the lab is up" "$(cat o7.err)"
t_is "$(jq -r '.summary.passed' o7/report.json)" 3 "the report is in --out"
out=$("$NATLAB" exec "$U" srv -- sh -c "$IN_NS" | grep -c '^sleep 600')
t_is "$out" 1 "the process it spawned still runs"
"$NATLAB" exec "$U" a -- ping -c 1 -W 2 198.18.0.2 >/dev/null
t_ok $? "exec enters it"
"$NATLAB" down "$U" >/dev/null 2>&1
t_is "$(ip netns list | grep -c "^nl-$U\.")" 0 "down removes it"

# up keeps a lab whose expectations failed (that is what one looks into), not one whose
# scenario failed with an error.
F=$(t_lab_name f)
T_LABS+=("$F")
cat >fails.lua <<EOF
local lab = natlab.lab{ name = "x" }
local inet = lab:internet{}
lab:host{ name = "h", net = inet }
lab:up()
expect(false, "does not hold")
EOF
"$NATLAB" up fails.lua --name "$F" --out o8 >o8.tap 2>o8.err
t_is $? 1 "up of a scenario whose expectation fails exits 1"
t_is "$("$NATLAB" ls --json | jq -r ".[] | select(.name==\"$F\") | .status")" up "but keeps the lab"
"$NATLAB" down "$F" >/dev/null 2>&1
t_done
