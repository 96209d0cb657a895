-- SPDX-License-Identifier: MIT
-- Measuring a NAT from inside a run: `natlab probe` (UDP with RFC 5780, TCP with the
-- same tests over connections, against responders it starts on a public host with two
-- addresses) from a host behind it. The measurement is kept with the lab and shows up
-- in report.json under nats[].measured for the NAT nearest to the host (its `path`
-- names every NAT crossed), next to `declared`.
local M = {}

-- probe.path(lab, host, opts): measures the NAT path from host; opts.server (a public
-- host with addrs = 2; default: the first one), opts.tcp_ports ("P1,P2"; default "0":
-- ports the kernel picks, so that servers of the scenario keep theirs; "443,80" lets a
-- web-only firewall's TCP be measured), opts.wait (ms each test waits for an answer that
-- may not come: natlab probe --wait), opts.timeout (default "20s"). Returns the
-- measurement (mapping, filtering, hairpin, port_preserved, mapped_address, udp, tcp,
-- udp_match, match, declared, ...) or nil and why.
function M.path(lab, host, opts)
	opts = opts or {}
	local args = { natlab.bin("natlab"), "probe", lab.name, host.name, "--port", "0",
		"--tcp-ports", opts.tcp_ports or "0", name = "probe-" .. host.name,
		-- natlab probe manages namespaces and reads the lab's state under /run.
		privileged = true }
	if opts.wait then
		args[#args + 1] = "--wait"
		args[#args + 1] = tostring(opts.wait)
	end
	if opts.server then
		args[#args + 1] = "--server"
		args[#args + 1] = opts.server.name
	end
	local p = host:spawn(args)
	local status, why = p:wait{ timeout = opts.timeout or "20s" }
	natlab.mark("nat_probe")
	if status == nil then
		p:kill()
		return nil, "natlab probe from " .. host.name .. ": " .. why
	end
	local m, err = natlab.json_decode(table.concat(p.lines, "\n"))
	if not m then
		return nil, "natlab probe from " .. host.name .. " (exit " .. tostring(status) ..
			"): " .. err .. "; see its log"
	end
	return m
end

return M
