-- SPDX-License-Identifier: MIT
-- The corporate network of issue 12: its only way out is TLS on port 443 (a NAT with
-- block = "https-only") or the HTTP CONNECT proxy on its LAN (tinyproxy, CONNECT to 443
-- only), and natlab-relay deployed for it: its plain port plus TLS on 443 with a
-- self-signed certificate (docs/relay.md, "TLS"). Peers inside reach the relay either
-- way and meet peers outside through it.
--
--   local corp = require("corp")
--   local office = corp.network(lab, inet, { name = "corp" })  -- before lab:up()
--   local alice = lab:host{ name = "alice", net = office.nat }
--   lab:up()
--   local proxy = corp.proxy(office)         -- tinyproxy on the proxy host
--   local relay = corp.relay(srv)            -- plain :7000, TLS :443
--   local l = corp.peer(alice, relay, { listen = true, tls = "pin" })
--   local c = corp.peer(bob, relay, { connect = l.key, tls = "ca", proxy = proxy, ping = 3 })
local M = {}

M.PROXY_PORT = 3128
M.RELAY_PORT = 7000
M.TLS_PORT = 443
local STUN_PORT = 3478

local NETWORK_KEYS = { name = true, profile = true, proxy = true }
local PEER_KEYS = { listen = true, connect = true, tls = true, proxy = true, port = true,
	ping = true, transfer = true, hold = true, timeout_s = true, relay_only = true, name = true }

local function check_keys(what, opts, allowed)
	for k in pairs(opts) do
		if not allowed[k] then error(("corp.%s: unknown key %q"):format(what, tostring(k)), 3) end
	end
end

-- Declares the network (call before lab:up()): a NAT on net, `profile` (default
-- port-restricted-cone) with block = "https-only", and a host for the proxy on its LAN
-- (named opts.proxy, default name .. "px"). Returns { nat, proxy_host }.
function M.network(lab, net, opts)
	opts = opts or {}
	check_keys("network", opts, NETWORK_KEYS)
	local name = opts.name or "corp"
	local nat = lab:nat{ name = name, net = net, profile = opts.profile or "port-restricted-cone",
		block = "https-only" }
	local proxy_host = lab:host{ name = opts.proxy or (name .. "px"), net = nat }
	return { nat = nat, proxy_host = proxy_host }
end

-- Starts tinyproxy (scenarios/lib/corp/tinyproxy.conf) on the network's proxy host and
-- waits until it accepts connections. Returns { proc, addr = "ip:3128" }.
function M.proxy(net)
	local proc = net.proxy_host:spawn{ "tinyproxy", "-d", "-c", natlab.lib .. "/corp/tinyproxy.conf",
		name = "tinyproxy" }
	if not proc:wait_line{ match = "Accepting connections", timeout = "5s" } then
		error("corp.proxy: tinyproxy on " .. net.proxy_host.name ..
			" did not start (is it installed? scripts/install-deps.sh); see its log", 2)
	end
	return { proc = proc, addr = net.proxy_host.addr .. ":" .. M.PROXY_PORT }
end

-- On a public host: a self-signed certificate for its address (natlab-relay tls-cert,
-- in the out dir), then natlab-relay with its plain port 7000, TLS on 443 and STUN on
-- 3478, no auth. Returns { proc, addr, tls_addr, ca (certificate file), pin, host }.
function M.relay(host)
	local base = ("%s/relay-%s-%d"):format(natlab.out, host.name, math.floor(natlab.time() * 1000))
	local gen = host:spawn{ natlab.bin("natlab-relay"), "tls-cert", base, "--name", host.addr,
		name = "tls-cert" }
	local pin = gen:wait_line{ match = "^%x+$", timeout = "5s" }
	if not pin or #pin ~= 64 then
		error("corp.relay: natlab-relay tls-cert on " .. host.name .. " failed; see its log", 2)
	end
	local proc = host:spawn{ natlab.bin("natlab-relay"), "--listen", host.addr .. ":" .. M.RELAY_PORT,
		"--tls-listen", host.addr .. ":" .. M.TLS_PORT, "--tls-cert", base .. ".crt",
		"--tls-key", base .. ".key", "--stun", host.addr .. ":" .. STUN_PORT, "--no-auth",
		name = "relay", json = true }
	if not proc:wait_event{ match = { event = "ready" }, timeout = "5s" } then
		error("corp.relay: natlab-relay on " .. host.name .. " did not start; see its log", 2)
	end
	return { proc = proc, addr = host.addr .. ":" .. M.RELAY_PORT,
		tls_addr = host.addr .. ":" .. M.TLS_PORT, ca = base .. ".crt", pin = pin, host = host }
end

-- natlab-peer on host against relay: opts.listen = true or opts.connect = key; opts.tls
-- = "pin" or "ca" (the relay's TLS port, verified by fingerprint or certificate file;
-- nil: the plain port, or opts.port); opts.proxy = a corp.proxy(); the workload (ping,
-- transfer, hold, relay_only, timeout_s). Returns { proc, key } (key: a listener's).
function M.peer(host, relay, opts)
	check_keys("peer", opts, PEER_KEYS)
	local target = opts.tls and relay.tls_addr or relay.addr
	if opts.port then target = relay.host.addr .. ":" .. opts.port end
	local args = { natlab.bin("natlab-peer"), "--relay", target,
		"--timeout", tostring(opts.timeout_s or 20),
		name = opts.name or (opts.listen and "peer-listen" or "peer-connect"), json = true }
	local function add(...) for _, a in ipairs{ ... } do args[#args + 1] = tostring(a) end end
	if opts.tls == "pin" then add("--relay-pin", relay.pin)
	elseif opts.tls == "ca" then add("--relay-ca", relay.ca)
	elseif opts.tls ~= nil then error(("corp.peer: tls = %q: use \"pin\" or \"ca\""):format(tostring(opts.tls)), 2) end
	if opts.proxy then add("--proxy", opts.proxy.addr) end
	for _, w in ipairs{ "ping", "transfer", "hold" } do
		if opts[w] then add("--" .. w, opts[w]) end
	end
	if opts.relay_only then add("--relay-only") end
	if opts.listen then
		add("--listen")
	elseif opts.connect then
		add("--connect", opts.connect)
	else
		error("corp.peer: give listen = true or connect = KEY", 2)
	end
	local proc = host:spawn(args)
	local key
	if opts.listen then
		local started = proc:wait_event{ match = { event = "started" }, timeout = "5s" }
		key = started and started.key
	end
	return { proc = proc, key = key }
end

return M
