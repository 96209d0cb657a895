-- SPDX-License-Identifier: MIT
-- For t_peer_portmap.sh: natlab-peer asks its gateway for a port mapping (docs/events.md,
-- "Port mapping"). One lab on a public internet (miniupnpd maps nothing on a reserved
-- WAN address), symmetric NATs everywhere, so that only a mapping gets two peers direct:
--   na: NAT-PMP and PCP     nb: UPnP-IGD     nc: PCP only, leases capped at 4 s
--   ng: no daemon; g1 asks g2 (--portmap-gateway), whose port 5351 answers garbage
--   nr: all three, but behind a CGN (a shared WAN address): miniupnpd refuses
-- 1. a1 x b1 go direct through a mapping (NAT-PMP and UPnP, 4 s leases renewed every
--    2 s), lose it when both routers reboot (nat:flush(), 4 s in), say so (at the
--    renewal, or sooner when the direct path dies), map again, and end direct; the
--    mappings are deleted on exit.
-- 2. The same pair with --no-portmap stays on the relay (symmetric x symmetric).
-- 3. c1 (PCP, 4 s lease renewed every 2 s) x g1: direct through c1's mapping; g1 says
--    its gateway has no service, probes again once g2 answers garbage, and says so.
-- 4. r1 (refused) x g1 (garbage): no mapping on either side: punching fails, the relay
--    carries the pings, and each says why it has no mapping.
local p2p = require("p2p")

local lab = natlab.lab{ name = "portmappeer" }
local inet = lab:internet{ prefix = "20.0.0.0/16" }
local srv = lab:host{ name = "srv", net = inet }
local function side(name, knobs, parent)
	knobs.name, knobs.net, knobs.profile = name, parent or inet, knobs.profile or "symmetric"
	local nat = lab:nat(knobs)
	return nat, lab:host{ name = name:sub(2) .. "1", net = nat }
end
local na, a1 = side("na", { natpmp = true, pcp = true })
local nb, b1 = side("nb", { upnp = true })
local nc, c1 = side("nc", { pcp = true, portmap_lease = "4s" })
local ng, g1 = side("ng", {})
local g2 = lab:host{ name = "g2", net = ng }
local cgn = lab:nat{ name = "cgn", net = inet, profile = "cgnat" }
local nr, r1 = side("nr", { natpmp = true, pcp = true, upnp = true }, cgn)
lab:up()
local relay = p2p.relay(srv, { port = 443 })
local udp_punch = assert(natlab.params.udp_punch, "--param udp_punch=PATH (tests/udp_punch) is needed")

local function events(proc, name)
	local out = {}
	for i, e in ipairs(proc.events or {}) do
		if e.event == name then out[#out + 1] = e; e.index = i end
	end
	return out
end
local function last(proc, name) local l = events(proc, name); return l[#l] end
local function paths(proc, from)
	local out = {}
	for i = from or 1, #(proc.events or {}) do
		local e = proc.events[i]
		if e.event == "path" then out[#out + 1] = e.kind end
	end
	return table.concat(out, " ")
end
-- The first event after index from that pred accepts, waiting up to ms for it.
local function await(proc, from, pred, ms)
	for _ = 0, ms, 50 do
		for i = from + 1, #(proc.events or {}) do
			if pred(proc.events[i]) then return proc.events[i] end
		end
		natlab.sleep("50ms")
	end
end
local function is(name, fields)
	return function(e)
		if e.event ~= name then return false end
		for k, v in pairs(fields or {}) do if e[k] ~= v then return false end end
		return true
	end
end
local function pair(l_host, c_host, opts)
	local function gw(h) return h == g1 and g2.addr or nil end
	local l = p2p.listen(l_host, relay, { hold = opts.hold, timeout_s = 20,
		no_portmap = opts.no_portmap, portmap_gateway = gw(l_host), portmap_lease = opts.lease,
		name = "l-" .. l_host.name })
	local c = p2p.dial(c_host, relay, l, { ping = 3, hold = opts.hold, timeout_s = 20,
		no_portmap = opts.no_portmap, portmap_gateway = gw(c_host), portmap_lease = opts.lease,
		name = "c-" .. c_host.name })
	return l.proc, c
end
local function finish(l, c, what)
	expect_eq(c:wait{ timeout = "30s" }, 0, what .. ": the connector exits 0")
	expect_eq(l:wait{ timeout = "10s" }, 0, what .. ": the listener exits 0")
end

-- 1. NAT-PMP x UPnP, a reboot of both routers, recovery.
local l, c = pair(a1, b1, { hold = 14, lease = 4 })
local lm = await(l, 0, is("portmap"), 3000)
expect(lm and lm.protocol == "natpmp" and lm.external:match("^" .. na.addr:gsub("%.", "%%.") .. ":"),
	"a1: NAT-PMP maps its socket on na's WAN address: " .. tostring(lm and lm.external))
local cm = await(c, 0, is("portmap"), 5000)
expect(cm and cm.protocol == "upnp" and cm.external:match("^" .. nb.addr:gsub("%.", "%%.") .. ":"),
	"b1: UPnP-IGD maps its socket on nb's WAN address: " .. tostring(cm and cm.external))
local d = await(c, 0, is("path", { kind = "direct" }), 5000)
expect(d and lm and d.remote == lm.external,
	"symmetric x symmetric: direct, to a1's mapped address: " .. tostring(d and d.remote))
-- A router that reboots a second or two after it started shows an epoch that a reboot
-- cannot be told from (NAT-PMP's and PCP's are whole seconds): let it run 4 s first.
natlab.sleep("4s")
local mark_l, mark_c = #l.events, #c.events
na:flush()
nb:flush()
expect(await(l, mark_l, is("portmap_lost", { reason = "gateway_restarted" }), 4000),
	"a1: the reboot is seen in NAT-PMP's epoch (portmap_lost gateway_restarted)")
-- UPnP's check is one HTTP request: when it comes while the daemon restarts, it is
-- refused (renewal_failed) rather than answered without the entry (gateway_forgot); a
-- router rebooting does the same. NAT-PMP's check is retried for 750 ms: long enough.
local forgot = await(c, mark_c, function(e)
	return e.event == "portmap_lost" and (e.reason == "gateway_forgot" or e.reason == "renewal_failed")
end, 4000)
expect(forgot, "b1: the reboot is seen in UPnP's missing entry (portmap_lost gateway_forgot, or " ..
	"renewal_failed while the daemon restarted): " .. tostring(forgot and forgot.reason))
expect(await(l, mark_l, is("portmap", { renewal = false }), 3000), "a1: a new mapping after the reboot")
expect(await(c, mark_c, is("portmap", { renewal = false }), 3000), "b1: a new mapping after the reboot")
natlab.sleep("1500ms")
-- Whether the direct path died with the mappings depends on which datagram reaches the
-- rebooted box first; it must be direct in the end, through the new mappings.
local after = paths(c, mark_c + 1)
expect(after == "" or after:match("direct$"), "b1 is direct after the reboot: " .. after)
expect(paths(l, mark_l + 1) == "" or paths(l, mark_l + 1):match("direct$"),
	"a1 is direct after the reboot: " .. paths(l, mark_l + 1))
-- The entry deleted behind b1's back (the reboot check above may see a refusal instead):
-- UPnP's next check finds it missing.
local again = await(c, mark_c, is("portmap", { renewal = false }), 0)
local mark_d = #c.events
local del = b1:spawn{ "upnpc", "-d", again and again.external:match(":(%d+)$") or "0", "UDP",
	name = "upnpc-delete" }
del:wait{ timeout = "10s" }
local gone = await(c, mark_d, is("portmap_lost"), 3000)
expect(gone and gone.reason == "gateway_forgot",
	"b1: an entry deleted on nb is seen missing at the next check (portmap_lost gateway_forgot): " ..
	tostring(gone and gone.reason))
finish(l, c, "NAT-PMP x UPnP")
expect(await(l, 0, is("portmap", { renewal = true }), 0) and await(c, 0, is("portmap", { renewal = true }), 0),
	"the 4 s leases are renewed (NAT-PMP, and UPnP's entry checked and added again)")
expect(last(l, "portmap_deleted"), "a1 deletes its mapping on exit")
expect(last(c, "portmap_deleted"), "b1 deletes its mapping on exit")
local up = b1:spawn{ "upnpc", "-l", name = "upnpc-list" }
up:wait{ timeout = "15s" }
local listing = table.concat(up.lines, "\n")
expect(listing:find("ExternalIPAddress", 1, true) and not listing:find("natlab-peer", 1, true),
	"nb lists no mapping of natlab-peer after it exited")
result{ cell = "natpmp/upnp", outcome = "direct", expected = "direct",
	time_to_direct_ms = p2p.summary(c).time_to_direct_ms }

-- 2. The same pair without port mapping: the textbook symmetric x symmetric (relay).
l, c = pair(a1, b1, { hold = 1, no_portmap = true })
finish(l, c, "--no-portmap")
expect_eq(paths(c), "relay", "--no-portmap: symmetric x symmetric stays on the relay")
expect(#events(c, "portmap") == 0 and #events(l, "portmap") == 0 and #events(c, "portmap_none") == 0,
	"--no-portmap: the gateway is never asked")
result{ cell = "natpmp/upnp --no-portmap", outcome = p2p.summary(c).path, expected = "relay" }

-- 3. PCP with a 4 s lease x a gateway with nothing on port 5351 at first (ICMP), then
--    answering garbage: g1 probes it again 4 s later and says what changed.
l, c = pair(c1, g1, { hold = 7 })
local first = await(c, 0, is("portmap_none"), 5000)
expect(first and first.reason == "no_service",
	"g1: its gateway has no NAT-PMP, PCP or UPnP service at first: " .. tostring(first and first.reason))
-- A gateway that answers anything on the NAT-PMP/PCP port with text, neither protocol,
-- at once: tests/udp_punch.c's answer mode (socat forked a shell per datagram, whose
-- answer came after the peer's 250 ms probe window once under CI's load).
g2:spawn{ udp_punch, "answer", "5351", "garbage", "300", name = "garbage" }
finish(l, c, "PCP x garbage")
local granted = events(l, "portmap")
expect(#granted >= 3 and granted[1].protocol == "pcp" and granted[1].lifetime_s == 4 and
	not granted[1].renewal and granted[2].renewal and granted[3].renewal,
	"c1: PCP grants 4 s (nc's cap), renewed at half-life: " .. #granted .. " portmap events")
expect_eq(paths(c):match("direct"), "direct", "c1's mapping gets g1 direct: " .. paths(c))
local gn = last(c, "portmap_none")
expect(gn and gn.reason == "bad_answer" and gn.garbage >= 1,
	"g1: no mapping, its gateway answered garbage: " .. tostring(gn and gn.reason) .. ", " ..
	tostring(gn and gn.garbage) .. " datagram(s)")

-- 4. A refusing gateway x garbage: punching fails, the relay carries it.
l, c = pair(r1, g1, { hold = 1 })
finish(l, c, "refused x garbage")
local rn, fails = last(l, "portmap_none"), events(l, "portmap_failed")
expect(rn and rn.reason == "refused" and #fails >= 1,
	"r1: its gateway (on a CGN's shared address) refuses: " .. tostring(rn and rn.reason) ..
	", " .. #fails .. " refusal(s): " .. (fails[1] and (fails[1].protocol .. " " .. fails[1].detail) or ""))
expect(#events(c, "punch") >= 1 and paths(c) == "relay",
	"no mapping on either side: punching is tried, the relay carries the pings: " .. paths(c))
