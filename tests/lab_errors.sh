#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What a new user meets first: errors without uptime stamps (kept under -v), a missing
# scenario or a directory refused once with no report written, knob words listed, a
# missing program named at its spawn, and the rootless mode the non-root error points to
# (user + network + mount namespaces, a tmpfs on /run), run as nobody.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
cd "$T_TMP" || exit 1

stamp='\[[0-9]+\.[0-9]{6}\]'

# A missing scenario: one error, no report, no out dir.
"$NATLAB" run "$T_TMP/missing.lua" --out "$T_TMP/o1" >"$T_TMP/o1.tap" 2>"$T_TMP/o1.err"
t_is $? 1 "a missing scenario exits 1"
t_is "$(wc -l <"$T_TMP/o1.err")" 1 "with one line of error"
grep -q 'scenario ".*missing.lua": No such file or directory; give the path' "$T_TMP/o1.err"
t_ok $? "naming the file" "$(cat "$T_TMP/o1.err")"
grep -Eq "$stamp" "$T_TMP/o1.err"
t_ok $((!$?)) "without an uptime stamp" "$(cat "$T_TMP/o1.err")"
t_is "$(ls -A "$T_TMP/o1" 2>/dev/null)$(cat "$T_TMP/o1.tap")" "" "and no report, no TAP"

# A directory as the scenario: said so, for run, up and check.
for cmd in run check; do
	out=$("$NATLAB" $cmd "$T_TMP" 2>&1)
	t_is $? 1 "$cmd of a directory exits 1"
	echo "$out" | grep -q "scenario \"$T_TMP\" is a directory; give a scenario file"
	t_ok $? "$cmd of a directory says it is one" "$out"
done
out=$("$NATLAB" up "$T_TMP" --name "$(t_lab_name d)" 2>&1)
echo "$out" | grep -q "is a directory"
t_ok $? "up of a directory says it is one" "$out"

# A profile's name given as a knob's word: the valid words, and where the word belongs.
printf 'local lab = natlab.lab{}\nlocal i = lab:internet{}\nlab:nat{ name = "n", net = i, profile = "full-cone", mapping = "symmetric" }\nlab:up()\n' >knob.lua
out=$("$NATLAB" check knob.lua 2>&1)
echo "$out" | grep -q 'knob.lua:3: lab:nat: "mapping" = "symmetric" is not a valid value (one of: endpoint-independent, address-and-port-dependent); "symmetric" is a profile: profile = "symmetric"'
t_ok $? "a bad knob word lists the valid ones and names the profile" "$out"

# A program that does not exist: named at the spawn's line, not "got: 127".
L=$(t_lab_name s)
T_LABS+=("$L")
cat >spawn.lua <<EOF
local lab = natlab.lab{ name = "$L" }
local i = lab:internet{}
local h = lab:host{ name = "h", net = i }
lab:up()
local p = h:spawn{ "no-such-program-here", "x" }
expect(p:wait{ timeout = "5s" } == 0, "runs")
EOF
"$NATLAB" run spawn.lua --out "$T_TMP/o2" >"$T_TMP/o2.tap" 2>"$T_TMP/o2.err"
t_is $? 1 "a missing program fails the run"
grep -q 'spawn.lua:5: host:spawn: no program "no-such-program-here" on PATH' "$T_TMP/o2.err"
t_ok $? "naming the program and the line" "$(cat "$T_TMP/o2.err")"
grep -Eq "$stamp" "$T_TMP/o2.err"
t_ok $((!$?)) "progress and errors carry no uptime stamp" "$(cat "$T_TMP/o2.err")"
sed -i 's/"no-such-program-here"/"\/nonexistent\/prog"/' spawn.lua
"$NATLAB" run spawn.lua --out "$T_TMP/o3" >/dev/null 2>"$T_TMP/o3.err"
grep -q 'host:spawn: program "/nonexistent/prog": No such file or directory' "$T_TMP/o3.err"
t_ok $? "a path that does not exist, named" "$(cat "$T_TMP/o3.err")"
"$NATLAB" -v run spawn.lua --out "$T_TMP/o4" >/dev/null 2>"$T_TMP/o4.err"
grep -Eq "^natlab: $stamp error: .*host:spawn" "$T_TMP/o4.err"
t_ok $? "-v: messages with timestamps" "$(cat "$T_TMP/o4.err")"
grep -q "debug: " "$T_TMP/o4.err"
t_ok $? "-v: and debug messages" "$(head -3 "$T_TMP/o4.err")"

# Rootless: as nobody, the error points to the mode; in it, a scenario runs.
if command -v setpriv >/dev/null && command -v unshare >/dev/null; then
	nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"; }
	out=$(nobody "$NATLAB" run "$SRC/scenarios/example.lua" 2>&1)
	t_is $? 1 "run without privileges fails"
	echo "$out" | grep -q "or rootless in namespaces of your own: unshare -Urnm sh -c 'mount -t tmpfs tmpfs /run && natlab"
	t_ok $? "pointing to the rootless mode" "$out"
	chmod 755 "$T_TMP"
	mkdir -m 1777 "$T_TMP/rl"
	cat >"$T_TMP/rl/ping.lua" <<'EOF'
local lab = natlab.lab{ name = "rootless" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local home = lab:nat{ name = "home", net = inet, profile = "port-restricted-cone" }
local a = lab:host{ name = "a", net = home }
lab:up()
local p = a:spawn{ "ping", "-c", "2", "-i", "0.2", "-W", "2", srv.addr }
expect(p:wait{ timeout = "5s" } == 0, "a reaches srv through the NAT")
EOF
	if ! nobody test -x "$NATLAB" || ! nobody unshare -Ur true 2>/dev/null; then
		echo "# skipping the rootless run: nobody cannot run $NATLAB or create a user namespace"
	else
		nobody unshare -Urnm sh -c "mount -t tmpfs tmpfs /run && '$NATLAB' run '$T_TMP/rl/ping.lua' --out '$T_TMP/rl/out'" \
			>"$T_TMP/rl.tap" 2>"$T_TMP/rl.err"
		t_is $? 0 "rootless: the scenario passes as nobody in unshare -Urnm" "$(cat "$T_TMP/rl.tap" "$T_TMP/rl.err")"
		grep -q "^ok 1 - a reaches srv through the NAT" "$T_TMP/rl.tap"
		t_ok $? "rootless: its expectation held" "$(cat "$T_TMP/rl.tap")"
		t_is "$(jq -r '.summary.passed' "$T_TMP/rl/out/report.json")" 1 "rootless: report written"
		t_is "$(ip netns list | grep -c '^nl-rootless\.')" 0 "rootless: nothing in the machine's /run/netns"
		# A wire's TAP needs /dev/net/tun, which some hosts keep root-only (mode 0600).
		sed -i 's/net = home }/net = home, link = { delay = "5ms" } }/' "$T_TMP/rl/ping.lua"
		nobody unshare -Urnm sh -c "mount -t tmpfs tmpfs /run && '$NATLAB' run '$T_TMP/rl/ping.lua' --out '$T_TMP/rl/out2'" \
			>"$T_TMP/rl2.tap" 2>"$T_TMP/rl2.err"
		rc=$?
		if nobody test -r /dev/net/tun -a -w /dev/net/tun; then
			t_is $rc 0 "rootless: a wired link works with /dev/net/tun open to the user" "$(cat "$T_TMP/rl2.err")"
		else
			grep -q 'node "a": wire to its network (its link = {...} needs /dev/net/tun read-write for this user): Permission denied' "$T_TMP/rl2.err"
			t_ok $? "rootless: a wired link without /dev/net/tun access says what it needs" "$(cat "$T_TMP/rl2.err")"
		fi
	fi
fi
t_done
