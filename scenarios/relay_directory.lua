-- SPDX-License-Identifier: MIT
-- Relays as deployed (docs/relay.md, "Relay directory" and "Relay addresses"): a relay
-- directory, four relays that enroll with it by one-time token, at different distances,
-- and two peers behind home NATs whose relay lists do not overlap:
-- - the listener (alice) knows only the directory: it holds the three nearest healthy
--   relays, takes the nearest as its home relay and prints its relay address;
-- - the connector (bob) is configured with the far relay only and given alice's relay
--   address: it dials alice's home relay on demand and reaches her through it.
--   natlab run scenarios/relay_directory.lua
local lab  = natlab.lab{ name = "relaydir" }
local inet = lab:internet{}
local dir  = lab:host{ name = "dir", net = inet }
local relays = {}
for i, delay in ipairs{ "1ms", "8ms", "20ms", "35ms" } do
	relays[i] = lab:host{ name = "relay" .. i, net = inet, link = { delay = delay } }
end
local home_a = lab:nat{ name = "home-a", net = inet, profile = "port-restricted-cone" }
local home_b = lab:nat{ name = "home-b", net = inet, profile = "port-restricted-cone" }
local alice = lab:host{ name = "alice", net = home_a }
local bob   = lab:host{ name = "bob", net = home_b }
lab:up()

local relay_bin = natlab.bin("natlab-relay")
local state = natlab.out .. "/directory"
dir:spawn{ "mkdir", "-p", state }:wait{ timeout = "2s" }
local directory = dir:spawn{ relay_bin, "directory", "--listen", dir.addr .. ":8000",
	"--state", state, "--poll", "300", name = "directory", json = true }
expect(directory:wait_event{ match = { event = "ready" }, timeout = "5s" }, "directory ready")

-- Each relay enrolls once with a token of its own (valid 1 h, one use).
for i, host in ipairs(relays) do
	local tok = dir:spawn{ relay_bin, "directory-token", "--state", state, name = "token" .. i }
	local token = tok:wait_line{ match = "^[%w_-]+$", timeout = "2s" }
	local r = host:spawn{ relay_bin, "--listen", host.addr .. ":3340", "--stun",
		host.addr .. ":3478", "--metrics", host.addr .. ":9090", "--no-auth",
		"--directory", dir.addr .. ":8000", "--enroll-token", token,
		"--enroll-state", natlab.out .. "/relay" .. i .. ".json",
		name = "relay", json = true }
	expect(r:wait_event{ match = { event = "enrolled" }, timeout = "5s" },
		host.name .. " enrolled with the directory")
end
natlab.sleep("500ms") -- the directory's first health polls

local peer_bin = natlab.bin("natlab-peer")
local listener = alice:spawn{ peer_bin, "--directory", dir.addr .. ":8000", "--listen",
	"--timeout", "20", name = "listener", json = true }
natlab.sleep("2500ms") -- keepalive RTT samples settle the home relay
local home
for _, ev in ipairs(listener.events) do
	if ev.event == "home_relay" and ev.addr then home = ev end
end
expect_eq(home and home.relay, relays[1].addr .. ":3340", "alice's home relay is the nearest")

local connector = bob:spawn{ peer_bin, "--relay", relays[4].addr .. ":3340",
	"--connect", home and home.addr or "none", "--ping", "5", "--timeout", "20",
	name = "connector", json = true }
expect_eq(connector:wait{ timeout = "30s" }, 0, "bob reaches alice by her relay address")
local dialled = connector:wait_event{ match = { event = "relay_connected", source = "address" },
	timeout = "1s" }
expect_eq(dialled and dialled.relay, relays[1].addr .. ":3340",
	"bob dialled alice's home relay on demand")
local path = connector:wait_event{ match = { event = "path", kind = "relay" }, timeout = "1s" }
expect_eq(path and path.remote, relays[1].addr .. ":3340", "bob's relay path is alice's home")
listener:wait{ timeout = "10s" }
