-- SPDX-License-Identifier: MIT
-- coturn in scenarios: a TURN server on a public host with REST credentials
-- (use-auth-secret), UDP and TCP listeners and a TLS one with a self-signed
-- certificate made for the lab; and the natlab-peer arguments that use it.
--
--   local turn = require("turn")
--   local ts = turn.server(thost, { tls_port = 443 })
--   local r = p2p.run(a, b, relay, { turn = ts, turn_transport = { listen = "tls" } })
--   -- r.relay_via: "turn/tls", "turn/udp", "natlab/tcp" ... for a relayed cell
local M = {}

local ALLOWED = { port = true, tls_port = true, secret = true, realm = true, name = true,
	timeout = true, args = true }

-- Runs a command on host to completion (the certificate); raises naming it on failure.
local function run(host, args, what)
	local status, why = host:spawn(args):wait{ timeout = "20s" }
	if status ~= 0 then
		error(("turn.server: %s on %s failed (%s); see its log"):format(what, host.name,
			tostring(status or why)), 3)
	end
end

--[[
Starts coturn (`turnserver`) on host: UDP and TCP on opts.port (default 3478), TLS on
opts.tls_port when given (a self-signed P-256 certificate for the host's address, made
with openssl into the out dir), REST credentials under opts.secret (default
"natlab-lab-secret"), realm opts.realm ("natlab"), extra turnserver flags in opts.args.
Returns { proc, host, addr, port, tls_port, secret, ca } (ca: the certificate, which
peers trust with --turn-ca). Raises when coturn does not come up within opts.timeout.
]]
function M.server(host, opts)
	opts = opts or {}
	for k in pairs(opts) do
		if not ALLOWED[k] then error(("turn.server: unknown option %q"):format(tostring(k)), 2) end
	end
	local name = opts.name or "coturn"
	local port = opts.port or 3478
	local secret = opts.secret or "natlab-lab-secret"
	local dir = natlab.out .. "/" .. host.name .. "-" .. name
	local args = { "turnserver", "-n", "--listening-ip=" .. host.addr, "--relay-ip=" .. host.addr,
		"--listening-port=" .. port, "--use-auth-secret", "--static-auth-secret=" .. secret,
		"--realm=" .. (opts.realm or "natlab"), "--no-dtls", "--no-cli", "--fingerprint",
		"--log-file=stdout", "--simple-log", "--userdb=" .. dir .. ".db",
		"--pidfile=" .. dir .. ".pid", name = name }
	local ca
	if opts.tls_port then
		ca = dir .. ".crt"
		run(host, { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			"ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" .. host.addr, "-addext",
			"subjectAltName=IP:" .. host.addr, "-days", "2", "-keyout", dir .. ".key",
			"-out", ca, name = name .. "-cert" }, "openssl req (the TLS certificate)")
		args[#args + 1] = "--tls-listening-port=" .. opts.tls_port
		args[#args + 1] = "--cert=" .. ca
		args[#args + 1] = "--pkey=" .. dir .. ".key"
	else
		args[#args + 1] = "--no-tls"
	end
	for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
	local proc = host:spawn(args)
	if not proc:wait_line{ match = "Total General servers", timeout = opts.timeout or "5s" } then
		error(("turn.server: coturn on %s did not start; see its log"):format(host.name), 2)
	end
	return { proc = proc, host = host, addr = host.addr, port = port, tls_port = opts.tls_port,
		secret = secret, ca = ca }
end

-- natlab-peer's arguments for server over transport ("udp", "tcp" or "tls"; TLS needs
-- the server's tls_port). The peer mints its REST credentials from the secret, as an
-- application's backend would hand them out.
function M.peer_args(server, transport)
	transport = transport or "udp"
	local port = server.port
	if transport == "tls" then
		if not server.tls_port then
			error("turn: transport tls needs a server started with tls_port", 2)
		end
		port = server.tls_port
	elseif transport ~= "udp" and transport ~= "tcp" then
		error(("turn: transport %q: expected udp, tcp or tls"):format(tostring(transport)), 2)
	end
	local args = { "--turn", server.addr .. ":" .. port, "--turn-transport", transport,
		"--turn-secret", server.secret }
	if transport == "tls" then
		args[#args + 1] = "--turn-ca"
		args[#args + 1] = server.ca
	end
	return args
end

return M
