-- SPDX-License-Identifier: MIT
-- A large lab for benchmarks and teardown tests: 50 port-restricted NATs with four
-- hosts behind each (251 namespaces with the internet core).
local lab = natlab.lab{ name = "big" }
local inet = lab:internet{}
for n = 1, 50 do
	local nat = lab:nat{ name = "n" .. n, net = inet, profile = "port-restricted-cone" }
	for h = 1, 4 do
		lab:host{ name = "h" .. n .. "x" .. h, net = nat }
	end
end
lab:up()
