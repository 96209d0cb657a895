#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A matrix worker's kept lab (natlab/matrix_worker.c, natlab/lab_reuse.c) in the cases the
# main job does not show: a cell that took a link down leaves no lab to the next cell (its
# routes went with the link), and a worker that waits for work while another runs its
# cell tears its kept lab down on SIGINT (Ctrl-C) instead of dying with it. And the cells'
# cost: the costliest start first.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
cd "$T_TMP" || exit 1

cat >cells.lua <<'LUA'
local cell = natlab.cells{
	{ name = "down", shape = "x", expected = "direct" },
	{ name = "after", shape = "x", expected = "direct" },
	{ name = "short", shape = "y", expected = "direct" },
	{ name = "long", shape = "z", expected = "direct" },
}
local lab = natlab.lab{}
local inet = lab:internet{}
local nat = lab:nat{ name = "n", net = inet, profile = "full-cone" }
local a = lab:host{ name = "a", net = nat }
if cell.shape ~= "x" then lab:host{ name = "b" .. cell.shape, net = inet } end
lab:up()
if cell.name == "down" then
	a:link_down()
	a:link_up()
elseif cell.name == "long" then
	natlab.sleep("6s")
end
result{ outcome = "direct" }
LUA
labs_of() { grep -ho 'lab "run[0-9]*"' "$1"/cells/*/run.log 2>/dev/null | sort -u | tr -d '"' | cut -d' ' -f2; }
left() { for l in $(labs_of "$1"); do ip netns | grep -c "^nl-$l\."; done | awk '{s += $1} END {print s + 0}'; }

"$NATLAB" run cells.lua --filter '[da]*' --jobs 1 --out o1 >o1.tap 2>o1.err
t_ok "$(grep -q '^ok .* - after' o1.tap; echo $?)" "the cell after a link_down passes" "$(cat o1.tap; tail -3 o1.err)"
t_ok "$(! grep -q 'reused' o1/cells/after/run.log; echo $?)" \
	"it runs on a lab of its own: a link taken down is not the lab a fresh build is" "$(grep reused o1/cells/after/run.log)"
t_is "$(left o1)" 0 "no lab left"

# short and long run side by side; short's worker then waits, holding its lab.
setsid "$NATLAB" run cells.lua --filter '[sl]*' --jobs 2 --out o2 >o2.tap 2>o2.err &
pid=$!
T_PIDS+=("$pid")
for _ in $(seq 100); do grep -q 'teardown' o2/cells/short/run.log 2>/dev/null && break; sleep 0.05; done
sleep 0.5
kill -INT -- -"$pid"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
t_ok "$(! kill -0 "$pid" 2>/dev/null; echo $?)" "natlab run ends on SIGINT"
for _ in $(seq 100); do [ "$(left o2)" = 0 ] && break; sleep 0.05; done
t_is "$(left o2)" 0 "the idle worker's kept lab is torn down, as the running cell's ($(labs_of o2 | tr '\n' ' '))"
for _ in $(seq 100); do [ -z "$(pgrep -s "$pid")" ] && break; sleep 0.05; done
t_ok "$([ -z "$(pgrep -s "$pid")" ]; echo $?)" "no process of the run is left" "$(ps -o pid,stat,args -s "$pid")"

# A cell's cost orders the cells, with --no-reuse too (a process per cell); a cost that is
# no number is refused, naming the cell.
cat >cost.lua <<'LUA'
local cell = natlab.cells{
	{ name = "cheap", expected = "direct" }, { name = "dear", cost = 5, expected = "direct" },
	{ name = "middling", cost = 2, expected = "direct" }, { name = "plain", expected = "direct" },
}
local lab = natlab.lab{}
lab:host{ name = "h", net = lab:internet{} }
lab:up()
result{ outcome = "direct" }
LUA
"$NATLAB" run cost.lua --no-reuse --jobs 1 --pcap none --out o3 >o3.tap 2>o3.err
t_is "$(grep -o '\] [a-z]*:' o3.err | tr -d ']:' | tr -d '\n')" " dear middling cheap plain" \
	"--no-reuse: the costliest first, then as listed" "$(cat o3.err)"
t_is "$(grep -o '^ok [0-9]* - [a-z]*' o3.tap | cut -d' ' -f4 | tr '\n' ' ')" "cheap dear middling plain " \
	"the report lists them as declared"
sed -i 's/cost = 5,/cost = "high",/' cost.lua
"$NATLAB" run cost.lua --jobs 1 --pcap none --out o4 >o4.tap 2>o4.err
t_is "$?" 1 "a cost that is no number: the run fails"
t_ok "$(grep -q 'cell "dear": cost must be a number, 0 or more' o4.err; echo $?)" "and says which cell and what" \
	"$(cat o4.err)"
t_done
