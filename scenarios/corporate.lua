-- SPDX-License-Identifier: MIT
-- The corporate deployment of docs/relay.md: an office whose only way out is TLS on 443
-- or its HTTP CONNECT proxy (require("corp")), a home user behind a port-restricted NAT,
-- and natlab-relay on a public host with its plain port and TLS on 443.
--  - alice (office) cannot reach the relay's plain port, nor anything over UDP;
--  - carol (home) listens on the relay's plain port; alice dials her over TLS on 443
--    (pinned fingerprint): relayed, one relay, two ports;
--  - bob (office) dials carol through tinyproxy (CONNECT to 443, then TLS checked by the
--    certificate file): relayed too, his pings and transfer succeed.
-- (alice and bob, on one LAN, would go direct through their local addresses.)
local corp = require("corp")
local p2p = require("p2p")

local lab = natlab.lab{ name = "corporate" }
local inet = lab:internet{}
local srv = lab:host{ name = "srv", net = inet }
local office = corp.network(lab, inet, { name = "office" })
local alice = lab:host{ name = "alice", net = office.nat }
local bob = lab:host{ name = "bob", net = office.nat }
local home = lab:nat{ name = "home", net = inet, profile = "port-restricted-cone" }
local carol = lab:host{ name = "carol", net = home }
lab:up()

local relay = corp.relay(srv)
local proxy = corp.proxy(office)

-- The firewall: the plain relay port is closed to the office.
local blocked = corp.peer(alice, relay, { listen = true, timeout_s = 3, name = "plain-port" })
blocked.proc:wait{ timeout = "15s" }
local s = p2p.summary(blocked.proc)
expect_eq(s.error, "relay_unreachable", "office: the relay's plain port is blocked")

-- carol (home) listens on the plain port; who (office) dials her with opts (TLS, proxy).
local function dial(who, host, opts, how)
	local l = corp.peer(carol, relay, { listen = true, name = "listen-for-" .. who })
	opts.connect, opts.ping, opts.transfer, opts.name = l.key, 3, 200000, who
	local d = corp.peer(host, relay, opts)
	local up = d.proc:wait_event{ match = { event = "relay_connected" }, timeout = "10s" }
	expect_eq(up and up.tls, "TLSv1.3", "office: " .. who .. " reaches the relay " .. how)
	d.proc:wait{ timeout = "30s" }
	local s = p2p.summary(d.proc)
	expect_eq(s.exit, 0, who .. " meets carol through the relay")
	expect_eq(s.path, "relay", who .. " <-> carol: relayed (UDP cannot leave the office)")
	expect(s.transfer and s.transfer.ok, who .. "'s transfer to carol arrives intact")
	expect_eq(#s.rtt.relay, 3, who .. "'s three pings answered through the relay")
	return s
end

local as = dial("alice", alice, { tls = "pin" }, "over TLS on 443")
local bs = dial("bob", bob, { tls = "ca", proxy = proxy }, "through the proxy, in TLS")
result{ name = "corporate", alice_path = as.path, bob_path = bs.path,
	alice_rtt_relay_ms = as.rtt.relay, bob_rtt_relay_ms = bs.rtt.relay }
