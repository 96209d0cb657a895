#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# node:wire_load with the text loaded last only resets the counters (a reused lab's next
# cell: replacing the tables waits for the kernel); any other text replaces the tables.
# Either way the counters start at zero and count again. A note kept with the lab says
# which text is loaded; a failed load, or tables gone behind natlab's back, must not make
# it lie.
. "$(dirname "$0")/lib/lab.sh"
t_require_root

cat >"$T_TMP/reload.lua" <<'LUA'
local lab = natlab.lab{ name = "wirereload" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local nat = lab:nat{ name = "nat", net = inet, profile = "full-cone" }
local h = lab:host{ name = "h", net = nat }
lab:up()
local function text(names)
	local out = { "table inet natlab_wire {" }
	for _, n in ipairs(names) do out[#out + 1] = "\tcounter " .. n .. " { }" end
	out[#out + 1] = "\tchain count_forward {\n\t\ttype filter hook forward priority 100; policy accept;"
	for _, n in ipairs(names) do out[#out + 1] = "\t\tcounter name \"" .. n .. "\"" end
	out[#out + 1] = "\t}\n}\n"
	return table.concat(out, "\n")
end
local function ping()
	return h:spawn{ "ping", "-n", "-c", "2", "-i", "0.05", "-W", "1", srv.addr }:wait{ timeout = "5s" }
end
local function packets(name)
	local c = nat:wire_read()[name]
	return c and c.packets
end
local function names()
	local out = {}
	for n in pairs(nat:wire_read()) do out[#out + 1] = n end
	table.sort(out)
	return table.concat(out, ",")
end
local one, two = text{ "c_one" }, text{ "c_one", "c_two" }
local note = "/run/natlab/" .. lab.name .. "/wire-nat"
-- Whether the note exists (the sandbox has no io library; test(1), privileged to see /run).
local function noted()
	return srv:spawn{ "test", "-s", note, privileged = true }:wait{ timeout = "5s" } == 0
end

-- The kernel's handle of the table: the same while it is kept, another once replaced.
local function handle()
	local p = srv:spawn{ natlab.bin("natlab"), "exec", lab.name, "nat", "--", "nft", "-a", "list",
		"table", "inet", "natlab_wire", privileged = true }
	p:wait{ timeout = "5s" }
	return (p.lines[1] or ""):match("# handle (%d+)")
end

nat:wire_load(one)
expect_eq(packets("c_one"), 0, "first load: the counter starts at zero")
local h1 = handle()
expect(h1 ~= nil, "nft lists the table with its handle")
expect_eq(ping(), 0, "ping through the NAT")
expect_eq(packets("c_one"), 4, "the counter counts the 2 pings and their answers")
expect(noted(), "a note says which text is loaded")
nat:wire_load(one)
expect_eq(packets("c_one"), 0, "the same text again: the counter is back at zero")
expect_eq(handle(), h1, "and the table was kept (reset, not replaced)")
ping()
expect_eq(packets("c_one"), 4, "and counts again")
nat:wire_load(two)
expect_eq(names(), "c_one,c_two", "another text replaces the table: its counters")
expect(handle() ~= h1, "a new table")
expect_eq(packets("c_one") + packets("c_two"), 0, "all at zero")
ping()
expect_eq(packets("c_two"), 4, "and counting")
local ok = pcall(nat.wire_load, nat, "table inet natlab_wire { chain c { nonsense } }\n")
expect(not ok, "a text nftables rejects is an error")
expect(not noted(), "and the note is gone: the tables are no longer known")
nat:wire_load(two)
expect_eq(names(), "c_one,c_two", "the text before loads again")
expect(noted(), "and is noted")
-- The tables removed behind natlab's back: the note no longer holds, the load does.
expect_eq(srv:spawn{ natlab.bin("natlab"), "exec", lab.name, "nat", "--", "nft", "delete", "table", "inet",
	"natlab_wire", privileged = true }:wait{ timeout = "5s" }, 0,
	"nft deletes the table in the NAT's namespace")
nat:wire_load(two)
expect_eq(names(), "c_one,c_two", "the same text with its table gone: loaded again")
ping()
expect_eq(packets("c_one"), 4, "and counting")
-- A table declared without the space before its brace: what to reset is not found, so the
-- text is loaded in full (the counters had kept their values).
local tight = one:gsub("natlab_wire {", "natlab_wire{")
nat:wire_load(tight)
ping()
nat:wire_load(tight)
expect_eq(packets("c_one"), 0, "`natlab_wire{` loaded twice: back at zero")
LUA
"$NATLAB" run "$T_TMP/reload.lua" --name "$(t_lab_name w)" --pcap none --out "$T_TMP/out" >"$T_TMP/run.out" 2>"$T_TMP/run.err"
t_is $? 0 "every expectation of the scenario holds" "$(cat "$T_TMP/run.out" "$T_TMP/run.err")"
t_done
