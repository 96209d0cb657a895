-- SPDX-License-Identifier: MIT
-- The wire's verdict: what went directly between two peers and what went through a
-- relay host, counted by nftables on the boxes the traffic crosses, whatever the peers
-- say about it (docs/adapters.md, "The wire's verdict").
--
--   local wire = require("wire")
--   local w = wire.watch(a, b, { relay_host })    -- before the peers start
--   ... w:sample() now and then while they run ...
--   local v = w:verdict()                           -- { verdict = "direct", switch_ms = ... }
--
-- Each side is counted on its box: the NAT its host sits behind (forward hook), or the
-- host itself when it sits on the internet (input and output hooks). On that box a
-- packet is direct when it goes between the side's host and the other side (its host
-- address or any WAN address of the NATs above it: its public mapping, or a CGN's
-- hairpin); it is relayed when it goes between the side's host and a relay host. Two
-- hosts on one NAT's LAN talk through its bridge: those frames are counted by a bridge
-- table (their routed copies, which br_netfilter shows the ip hooks only in part, not). The
-- counting chain runs at priority 100, after the NAT's filter (priority 0), so what it
-- counts inbound got through the NAT: a punch the NAT dropped is not counted. Both
-- families count into the same counters (table inet): IPv6 between the hosts' IPv6
-- addresses and the prefixes NPTv6 translates them into, and through a NAT64 box its
-- synthesised addresses of the other side's (or a relay's) IPv4 ones.
local M = {}

-- The node that carries the side's traffic to the world, and the hooks to count on.
local function side_box(host)
	local net = host.net
	if net and net.kind == "nat" then return net, { "forward" } end
	return host, { "output", "input" }
end

-- The addresses the other side can be reached at: its own, and each NAT's WAN above it.
local function side_addrs(host)
	local set = {}
	for _, a in ipairs(host.addrs) do set[#set + 1] = a end
	local n = host.net
	while n and n.kind == "nat" do
		set[#set + 1] = n.addr
		n = n.net
	end
	return set
end

-- Its IPv6 addresses (a CLAT's too), and the /64 of each NAT above it that translates
-- prefixes (NPTv6: pub6 differs from lan6).
local function side_addrs6(host)
	local set = {}
	for _, a in ipairs(host.addrs6 or {}) do set[#set + 1] = a end
	if host.clat then set[#set + 1] = host.clat end
	local n = host.net
	while n and n.kind == "nat" do
		if n.pub6 and n.pub6 ~= n.lan6 then set[#set + 1] = n.pub6 end
		n = n.net
	end
	return set
end

-- What a host behind a NAT64 box sends to for these IPv4 addresses: each in the box's
-- /96 prefix (RFC 6052), or nothing when the box does not translate.
local function nat64_addrs(host, v4)
	local box = host.net
	local prefix = box and box.kind == "nat" and box.nat64_prefix
	local set = {}
	if not prefix then return set end
	local p = prefix:gsub("/96$", "")
	for _, a in ipairs(v4) do
		-- In hex words: nftables does not read an IPv6 address ending in a dotted quad.
		local o1, o2, o3, o4 = a:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
		set[#set + 1] = ("%s%x:%x"):format(p, o1 * 256 + o2, o3 * 256 + o4)
	end
	return set
end

local function concat(a, b)
	local out = { table.unpack(a) }
	for _, x in ipairs(b) do out[#out + 1] = x end
	return out
end

local function nft_set(addrs)
	local seen, list = {}, {}
	for _, a in ipairs(addrs) do
		if not seen[a] then seen[a], list[#list + 1] = true, a end
	end
	return "{ " .. table.concat(list, ", ") .. " }"
end

-- Counter names allow letters, digits and underscores.
local function cname(...)
	return (table.concat({ ... }, "_"):gsub("[^%w_]", "_"))
end

-- UDP and TCP only: an ICMP error that a host or NAT sends back (port unreachable for a
-- datagram that came too early or to a socket connected elsewhere) crosses the same
-- addresses but is not the stack's traffic, and would make one stray datagram a switch.
local L4 = "meta l4proto { tcp, udp } "

-- The two families' match words, for rules between `me` and a set of peers.
local FAMILIES = { { key = "v4", word = "ip" }, { key = "v6", word = "ip6" } }

-- Rules counting traffic from me to them (`out`) and from them to me (`in`), one per
-- family both have addresses in: sets = { v4 = {me, them}, v6 = {me, them} }.
local function pair_rules(sets, dir, name)
	local lines = {}
	for _, f in ipairs(FAMILIES) do
		local me, them = sets[f.key][1], sets[f.key][2]
		if #me > 0 and #them > 0 then
			local from, to = me, them
			if dir == "in" then from, to = them, me end
			lines[#lines + 1] = (L4 .. "%s saddr %s %s daddr %s counter name %s")
				:format(f.word, nft_set(from), f.word, nft_set(to), name)
		end
	end
	return lines
end

-- The rules that count one side (tag "a" or "b") on its box, for each hook; and for two
-- hosts on one NAT's LAN, the bridge rules: frames between them are bridged, not routed.
local function side_rules(tag, host, other, relays, hooks)
	-- Its own addresses as its box's forward hook sees them (NPTv6 rewrites after it).
	local me = { v4 = host.addrs, v6 = concat(host.addrs6 or {}, { host.clat }) }
	local same_lan = hooks[1] == "forward" and other.net and other.net.name == host.net.name
	local others = { v4 = side_addrs(other), v6 = side_addrs6(other) }
	local bridge = {}
	if same_lan then
		local lan = { v4 = { me.v4, other.addrs }, v6 = { me.v6, other.addrs6 or {} } }
		for _, l in ipairs(pair_rules(lan, "out", cname(tag, "direct_out"))) do bridge[#bridge + 1] = l end
		for _, l in ipairs(pair_rules(lan, "in", cname(tag, "direct_in"))) do bridge[#bridge + 1] = l end
		others.v4 = { table.unpack(others.v4, #other.addrs + 1) }
		others.v6 = { table.unpack(others.v6, #(other.addrs6 or {}) + 1) }
	end
	others.v6 = concat(others.v6, nat64_addrs(host, others.v4))
	local counters, rules = {}, {}
	local function count(name, them)
		counters[#counters + 1] = name .. "_out"
		counters[#counters + 1] = name .. "_in"
		local sets = { v4 = { me.v4, them.v4 }, v6 = { me.v6, them.v6 } }
		rules[#rules + 1] = { dir = "out", lines = pair_rules(sets, "out", name .. "_out") }
		rules[#rules + 1] = { dir = "in", lines = pair_rules(sets, "in", name .. "_in") }
	end
	count(cname(tag, "direct"), others)
	for _, r in ipairs(relays) do
		count(cname(tag, "relay", r.name),
			{ v4 = r.addrs, v6 = concat(r.addrs6 or {}, nat64_addrs(host, r.addrs)) })
	end
	local by_hook = {}
	for _, hook in ipairs(hooks) do
		local lines = {}
		for _, r in ipairs(rules) do
			-- forward sees both directions; output only what leaves, input what arrives.
			if (r.dir == "out" and hook ~= "input") or (r.dir == "in" and hook ~= "output") then
				for _, l in ipairs(r.lines) do lines[#lines + 1] = l end
			end
		end
		by_hook[hook] = lines
	end
	return counters, by_hook, bridge
end

-- The text of tables inet and bridge natlab_wire for one box, from the sides counted on it.
local function box_ruleset(parts)
	local out, hooks, bridge = {}, {}, {}
	for _, p in ipairs(parts) do
		for _, c in ipairs(p.counters) do out[#out + 1] = "\tcounter " .. c .. " { }" end
		for hook, lines in pairs(p.by_hook) do
			hooks[hook] = hooks[hook] or {}
			for _, l in ipairs(lines) do table.insert(hooks[hook], l) end
		end
		for _, l in ipairs(p.bridge) do bridge[#bridge + 1] = l end
	end
	local counters = table.concat(out, "\n")
	local names = {}
	for hook in pairs(hooks) do names[#names + 1] = hook end
	table.sort(names)
	for _, hook in ipairs(names) do
		out[#out + 1] = ("\tchain count_%s {\n\t\ttype filter hook %s priority 100; policy accept;")
			:format(hook, hook)
		for _, l in ipairs(hooks[hook]) do out[#out + 1] = "\t\t" .. l end
		out[#out + 1] = "\t}"
	end
	local text = "table inet natlab_wire {\n" .. table.concat(out, "\n") .. "\n}\n"
	if #bridge > 0 then
		text = text .. "table bridge natlab_wire {\n" .. counters ..
			"\n\tchain count_forward {\n\t\ttype filter hook forward priority 100; policy accept;\n\t\t" ..
			table.concat(bridge, "\n\t\t") .. "\n\t}\n}\n"
	end
	return text
end

local Watch = {}
Watch.__index = Watch

-- Starts counting between hosts a and b and through each relay host (a list of hosts).
-- Loads the counters at once (they start at zero) and takes the first sample.
function M.watch(a, b, relays)
	local w = setmetatable({ a = a, b = b, relays = relays or {}, boxes = {}, samples = {} }, Watch)
	local by_box = {}
	for _, side in ipairs{ { "a", a, b }, { "b", b, a } } do
		local box, hooks = side_box(side[2])
		local counters, by_hook, bridge = side_rules(side[1], side[2], side[3], w.relays, hooks)
		if not by_box[box.name] then
			by_box[box.name] = { node = box, parts = {} }
			w.boxes[#w.boxes + 1] = by_box[box.name]
		end
		table.insert(by_box[box.name].parts, { counters = counters, by_hook = by_hook, bridge = bridge })
	end
	for _, bx in ipairs(w.boxes) do bx.node:wire_load(box_ruleset(bx.parts)) end
	w.t0 = natlab.time()
	w:sample()
	return w
end

-- The verdict of samples taken elsewhere (each { t_ms, c = { counter = { bytes, packets } } },
-- counters named as watch() names them), against relay hosts { { name = ... } }: for
-- tests, and for counters read by other means.
function M.judge(samples, relays)
	return setmetatable({ relays = relays or {}, samples = samples }, Watch):verdict()
end

-- Reads every box's counters, stamped with the time since watch().
function Watch:sample()
	local s = { t_ms = math.floor((natlab.time() - self.t0) * 1000 + 0.5), c = {} }
	for _, bx in ipairs(self.boxes) do
		for name, v in pairs(bx.node:wire_read()) do s.c[name] = v end
	end
	self.samples[#self.samples + 1] = s
	return s
end

local function get(s, name, field)
	local v = s.c[name]
	return v and v[field or "bytes"] or 0
end

-- Relay bytes of a sample: every relay host, both sides; those that arrived at the
-- sides from a relay host (`only_in`), or both ways.
function Watch:relay_bytes(s, only_in)
	local n = 0
	for _, tag in ipairs{ "a", "b" } do
		for _, r in ipairs(self.relays) do
			local name = cname(tag, "relay", r.name)
			n = n + get(s, name .. "_in") + (only_in and 0 or get(s, name .. "_out"))
		end
	end
	return n
end

-- Delivered direct bytes of a sample: what came in to each side from the other.
local function direct_bytes(s)
	return get(s, "a_direct_in") + get(s, "b_direct_in")
end

local function delivered_both(s)
	return get(s, "a_direct_in") > 0 and get(s, "b_direct_in") > 0
end

local function relayed_both(self, s)
	local ok = { a = false, b = false }
	for _, tag in ipairs{ "a", "b" } do
		for _, r in ipairs(self.relays) do
			local n = cname(tag, "relay", r.name)
			if get(s, n .. "_out") > 0 and get(s, n .. "_in") > 0 then ok[tag] = true end
		end
	end
	return ok.a and ok.b
end

--[[
The verdict, from the samples (take one last sample first):
- up: the first sample where both sides had exchanged bytes with a relay host, or with
  each other directly, whichever came first;
- switch: the first sample where direct bytes had arrived at both sides;
- direct: there was a switch, and at least as many bytes arrived at the sides directly
  as arrived from the relay hosts from it to the end, or in the second half of that time
  (a stack that punches and then keeps its data on the relay is relayed by both). The
  second half alone forgives the stack's move: the first probes through count as the
  switch, and until the stack has validated the path its data still takes the relay,
  longer on a loaded machine; the whole span forgives the end, where the relay
  connections close after the last direct byte (under the sanitizer suite's ctest -j 3,
  each rule alone judged a few natlab-peer runs relayed);
- relayed: otherwise, if both sides exchanged bytes with a relay host;
- none: neither.
switch_ms is the time from up to switch, at the sampling interval's resolution.
]]
function Watch:verdict()
	local last = self.samples[#self.samples]
	local up, switch
	for _, s in ipairs(self.samples) do
		if not up and (relayed_both(self, s) or delivered_both(s)) then up = s end
		if not switch and delivered_both(s) then switch = s end
	end
	local v = { verdict = "none", samples = #self.samples }
	if switch then
		local d = direct_bytes(last) - direct_bytes(switch)
		local r = self:relay_bytes(last, true) - self:relay_bytes(switch, true)
		v.direct_after_switch, v.relay_after_switch = d, r
		local mid, tail = switch.t_ms + (last.t_ms - switch.t_ms) / 2, last
		for _, s in ipairs(self.samples) do
			if s.t_ms >= mid then tail = s; break end
		end
		v.direct_late = direct_bytes(last) - direct_bytes(tail)
		v.relay_late = self:relay_bytes(last, true) - self:relay_bytes(tail, true)
		if d >= r or (v.direct_late + v.relay_late > 0 and v.direct_late >= v.relay_late) then
			v.verdict = "direct"
		end
		v.switch_ms = switch.t_ms - up.t_ms
	end
	if v.verdict ~= "direct" and relayed_both(self, last) then v.verdict = "relayed" end
	if up then v.up_ms = up.t_ms end
	v.a_to_b = {
		sent = { bytes = get(last, "a_direct_out"), packets = get(last, "a_direct_out", "packets") },
		delivered = { bytes = get(last, "b_direct_in"), packets = get(last, "b_direct_in", "packets") },
	}
	v.b_to_a = {
		sent = { bytes = get(last, "b_direct_out"), packets = get(last, "b_direct_out", "packets") },
		delivered = { bytes = get(last, "a_direct_in"), packets = get(last, "a_direct_in", "packets") },
	}
	v.relays = {}
	for _, r in ipairs(self.relays) do
		local e = { host = r.name }
		for _, tag in ipairs{ "a", "b" } do
			for _, dir in ipairs{ "out", "in" } do
				local n = cname(tag, "relay", r.name) .. "_" .. dir
				e[tag .. "_" .. dir] = { bytes = get(last, n), packets = get(last, n, "packets") }
			end
		end
		v.relays[#v.relays + 1] = e
	end
	v.bytes_direct = direct_bytes(last)
	v.bytes_relay = self:relay_bytes(last)
	-- Over time: the samples where anything changed, as [t_ms, direct, relay] bytes.
	v.timeline = {}
	local prev
	for _, s in ipairs(self.samples) do
		local row = { s.t_ms, direct_bytes(s), self:relay_bytes(s) }
		if not prev or row[2] ~= prev[2] or row[3] ~= prev[3] then v.timeline[#v.timeline + 1] = row end
		prev = row
	end
	return v
end

return M
