#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Processes under `natlab run` (issue 19): a bad spawn option leaves no process behind, and
# wait_line / wait_event count what was printed earlier, also once the process is gone.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require pgrep

# The sleeper's argument is unique to this test run, so pgrep finds only ours.
MARK=$((600000 + $$ % 100000))
cat >"$T_TMP/proc.lua" <<LUA
local lab = natlab.lab{ name = "proc" }
local inet = lab:internet{}
local h = lab:host{ name = "h", net = inet }
lab:up()

local function running(mark)
	local c = h:spawn{ "pgrep", "-c", "-x", "-f", "sleep " .. mark, name = "pgrep" }
	c:wait{ timeout = "5s" }
	return tonumber(c.lines[1])
end

-- A bad option is an error before anything runs (json was read after uv_spawn).
for _, bad in ipairs{ { json = "maybe" }, { on_line = 42 } } do
	local opts = { "sleep", "$MARK" }
	for k, v in pairs(bad) do opts[k] = v end
	local ok, err = pcall(h.spawn, h, opts)
	local k = next(bad)
	print(err)
	expect(not ok and err:find(k, 1, true) ~= nil, "spawn with a bad " .. k .. " is an error naming it")
	expect_eq(running("$MARK"), 0, "and no process of it runs (" .. k .. ")")
end

-- A signal number is checked before it is narrowed: 2^32 + 9 is not SIGKILL.
local s = h:spawn{ "sleep", "$MARK" }
local ok, err = pcall(s.kill, s, 4294967305)
expect(not ok and err:find("signal must be 1%-") ~= nil, "kill with signal 2^32+9 is an error")
natlab.sleep("100ms")
expect(not s.exited, "and the process was not killed")
s:kill()
expect_eq(select(2, s:wait{ timeout = "5s" }), "killed by signal 15", "kill() sends SIGTERM")

-- Lines printed before the process exited count, also after it is gone.
local p = h:spawn{ "sh", "-c", "echo first; echo port=4242", name = "early" }
expect_eq(p:wait{ timeout = "5s" }, 0, "the process exits")
natlab.sleep("200ms")
expect_eq(p:wait_line{ match = "^port=" }, "port=4242", "wait_line after exit finds an earlier line")
local line, why = p:wait_line{ match = "^port=" }
expect_eq(why, "exited", "the same line is not returned twice")
expect_eq(p:wait_line{ match = "^first" }, nil, "nor an earlier one than the last returned")

local e = h:spawn{ "sh", "-c", [[echo '{"event":"a","n":1}'; echo '{"event":"b","n":2}']],
	json = true, name = "events" }
e:wait{ timeout = "5s" }
natlab.sleep("200ms")
local ev = e:wait_event{ match = { event = "b" } }
expect_eq(ev and ev.n, 2, "wait_event after exit finds an earlier event")
local _, why2 = e:wait_event{ match = { event = "b" } }
expect_eq(why2, "exited", "and then says exited")

-- A match function that raises is the scenario's bug: the wait ends with the error, it
-- never counts as a match (the error message, a string, used to read as true).
local r = h:spawn{ "sh", "-c", [[echo '{"event":"c"}'; sleep 0.3; echo '{"event":"d"}']],
	json = true, name = "raising" }
local hit, why3 = r:wait_event{ match = function(x) return x.no.such end, timeout = "2s" }
expect_eq(hit, nil, "a raising match function matches nothing")
expect_eq(type(why3) == "string" and why3:find("match function raised", 1, true) ~= nil, true,
	"and the wait says why: " .. tostring(why3))
r:wait{ timeout = "5s" }
local hit2, why4 = r:wait_event{ match = function(x) error("boom") end }
expect_eq(hit2, nil, "also once the process is gone")
expect_eq(type(why4) == "string" and why4:find("boom", 1, true) ~= nil, true,
	"with the function's message: " .. tostring(why4))
local _, why5 = r:wait_line{ match = "%" }
expect_eq(type(why5) == "string" and why5:find("bad match pattern", 1, true) ~= nil, true,
	"a malformed line pattern ends the wait with Lua's message: " .. tostring(why5))

-- A wait pending when the process exits still sees the last lines it wrote: the exit can
-- be reported before the pipe is read.
local missed = 0
for i = 1, 30 do
	local q = h:spawn{ "sh", "-c", "echo done-" .. i, name = "quick" }
	if q:wait_line{ match = "^done%-" .. i .. "$", timeout = "5s" } ~= "done-" .. i then
		missed = missed + 1
	end
end
expect_eq(missed, 0, "30 quick processes: every pending wait_line saw the line")

-- Confinement (natlab/confine.c): root with CAP_NET_RAW and CAP_NET_BIND_SERVICE only,
-- a mount namespace of its own with an empty /run; privileged = true keeps the rest.
local function run_sh(cmd, name, privileged)
	local c = h:spawn{ "sh", "-c", cmd, name = name, privileged = privileged }
	local status = c:wait{ timeout = "5s" }
	natlab.sleep("50ms")
	return status, c.lines[1]
end
local _, caps = run_sh("grep ^CapEff /proc/self/status", "caps")
expect_eq(caps, "CapEff:\t0000000000002400", "a spawned process has CAP_NET_RAW and CAP_NET_BIND_SERVICE only")
local _, bnd = run_sh("grep ^CapBnd /proc/self/status", "bnd")
expect_eq(bnd, "CapBnd:\t0000000000002400", "and cannot get more back (bounding set)")
local _, pcaps = run_sh("grep ^CapEff /proc/self/status", "pcaps", true)
expect(pcaps ~= nil and pcaps ~= "CapEff:\t0000000000002400" and pcaps:match("f+$") ~= nil,
       "privileged = true keeps every capability (" .. tostring(pcaps) .. ")")
local escaped = run_sh("nsenter --net=/proc/1/ns/net true", "nsenter")
expect(escaped ~= 0, "nsenter into the root namespace is refused")
local _, runs = run_sh("ls -A /run | wc -l", "run")
expect_eq(runs, "0", "/run is private and empty: no /run/netns, no natlab state")
expect_eq(run_sh("ping -c 1 -W 2 " .. h.addr, "ping"), 0, "ping still works (CAP_NET_RAW)")
local ok = pcall(h.spawn, h, { "true", privileged = "yes" })
expect(not ok, "privileged must be a boolean")
LUA

"$NATLAB" run "$T_TMP/proc.lua" --out "$T_TMP/out" >"$T_TMP/proc.tap" 2>"$T_TMP/proc.err"
rc=$?
cat "$T_TMP/proc.tap"
t_ok "$rc" "the scenario passes" "$(tail -5 "$T_TMP/proc.err")"
t_is "$(grep -c '^not ok' "$T_TMP/proc.tap")" 0 "no expectation failed"
t_is "$(pgrep -c -x -f "sleep $MARK")" 0 "no sleeper is left"
t_done
