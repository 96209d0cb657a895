#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `natlab check` on bad scenarios: each error names the file and line and says what is
# wrong. Needs no privileges and creates nothing.
. "$(dirname "$0")/lib/lab.sh"

HEAD='local lab = natlab.lab{ name = "c" }
local inet = lab:internet{}'

check_fails() { # check_fails NAME EXPECTED_MESSAGE_REGEX LUA_BODY [HEAD]
	local f="$T_TMP/$1.lua" out rc
	printf '%s\n%s\n' "${4:-$HEAD}" "$3" >"$f"
	out=$("$NATLAB" check "$f" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && printf '%s' "$out" | grep -Eq -- "$2"; then
		t_ok 0 "$1"
	else
		t_ok 1 "$1" "exit $rc, output: $out"
	fi
}

check_fails "unknown key" "$T_TMP/unknown key.lua:3: lab:nat: unknown key \"profil\"" \
	'lab:nat{ name = "n", net = inet, profil = "full-cone" }'
check_fails "unknown profile" ':3: lab:nat: unknown profile "fullcone" \(one of: none, full-cone' \
	'lab:nat{ name = "n", net = inet, profile = "fullcone" }'
check_fails "missing network" ':3: lab:host: "net" is required' \
	'lab:host{ name = "h", net = nowhere }'
check_fails "network of the wrong type" ':3: lab:host: "net" must be a network' \
	'lab:host{ name = "h", net = "internet" }'
check_fails "host as a network" ':4: lab:host: "net" must be a network .* not host "a"' \
	'local a = lab:host{ name = "a", net = inet }
lab:host{ name = "b", net = a }'
check_fails "name too long" ':3: lab:host: name "abcdefghijklmnop" must have 1 to 12' \
	'lab:host{ name = "abcdefghijklmnop", net = inet }'
check_fails "duplicate name" ':4: lab:host: a node named "a" already exists' \
	'lab:host{ name = "a", net = inet }
lab:host{ name = "a", net = inet }'
check_fails "overlapping prefixes" ':4: lab:nat: lan 100.64.1.128/25 of "cpe" overlaps 100.64.1.0/24 of "isp"' \
	'local isp = lab:nat{ name = "isp", net = inet, profile = "cgnat" }
lab:nat{ name = "cpe", net = isp, profile = "full-cone", lan = "100.64.1.128/25" }'
check_fails "bad prefix" ':3: lab:nat: "lan" = "10.1.0.1/24" is not a prefix' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", lan = "10.1.0.1/24" }'
check_fails "bad integer" ':3: lab:host: "addrs" must be between 1 and 8, got 0' \
	'lab:host{ name = "h", net = inet, addrs = 0 }'
check_fails "bad duration" ':3: lab:nat: "udp_timeout" = "soon" is not a duration' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", udp_timeout = "soon" }'
# Ranges are checked on the parsed value, before any cast (issue 20: "71582790m" became
# 104 s as an unsigned, and "1e308h" was +inf, so natlab.sleep returned at once).
check_fails "udp_timeout beyond 32 bits" ':3: lab:nat: "udp_timeout" must be between 1 s and 86400 s, got "71582790m"' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", udp_timeout = "71582790m" }'
check_fails "udp_timeout too long" ':3: lab:nat: "udp_timeout" must be between 1 s and 86400 s, got 86401' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", udp_timeout = 86401 }'
check_fails "udp_timeout NaN" ':3: lab:nat: "udp_timeout" must be between 1 s and 86400 s, got -?nan' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", udp_timeout = 0/0 }'
check_fails "infinite sleep" ':3: natlab.sleep: "d" = "1e308h" is not a duration' 'natlab.sleep("1e308h")'
check_fails "sleep beyond a year" ':3: natlab.sleep: "d" must be between 0 s and 31622400 s, got inf' \
	'natlab.sleep(math.huge)'
check_fails "bad knob word" ':3: lab:nat: "mapping" = "sticky" is not a valid value' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", mapping = "sticky" }'
check_fails "impossible knobs" ':3: lab:nat: mapping "address-and-port-dependent" with ports "preserve" cannot be built .*use ports = "random"' \
	'lab:nat{ name = "n", net = inet, profile = "symmetric", ports = "preserve" }'
check_fails "impossible knobs in a CGN" 'with ports "preserve" cannot be built .*a random port of the subscriber.s block per destination' \
	'lab:nat{ name = "n", net = inet, profile = "cgnat", mapping = "address-and-port-dependent" }'
check_fails "knobs on a router that does not translate" ':3: lab:nat: profile "none" does not translate, so "hairpin" would do nothing' \
	'lab:nat{ name = "n", net = inet, profile = "none", hairpin = true }'
check_fails "bad tcp_unsolicited" ':3: lab:nat: "tcp_unsolicited" = "rst" is not a valid value \(one of: drop, icmp\)' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", tcp_unsolicited = "rst" }'
check_fails "tcp_timeout out of range" ':3: lab:nat: "tcp_timeout" must be between 1 s and 604800 s, got 0' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", tcp_timeout = 0 }'
check_fails "bad address" ':3: lab:host: "addr" = "10.0.0.300" is not an IPv4 address' \
	'lab:host{ name = "h", net = inet, addr = "10.0.0.300" }'
check_fails "address outside the network" ':3: lab:host: addr 10.9.9.9 of "h" is not a host address' \
	'lab:host{ name = "h", net = inet, addr = "10.9.9.9" }'
check_fails "unknown link key" ':3: lab:host: unknown link key "latency"' \
	'lab:host{ name = "h", net = inet, link = { latency = "30ms" } }'
check_fails "bad link value" ':3: lab:nat: link loss = "lots" is not valid' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", link = { loss = "lots" } }'
check_fails "syntax error" ":3: .*expected" 'lab:host{ name = "h" net = inet }'
check_fails "runtime error" ':3: attempt to call a nil value' 'undefined_function()'
check_fails "no dofile in the sandbox" ":3: .*dofile" 'dofile("/etc/passwd")'
check_fails "no io in the sandbox" ":3: .*'io'" 'io.open("/etc/passwd")'
check_fails "require outside the library" ':3: require: "../etc/passwd" is not a library name' \
	'require("../etc/passwd")'
check_fails "require of a missing library" ':3: require: no library "nosuch"' 'require("nosuch")'
check_fails "never calls up" 'never called lab:up\(\)' 'lab:host{ name = "h", net = inet }'
check_fails "two internets" ':3: lab:internet: a lab has one internet' 'lab:internet{ name = "i2" }'
check_fails "port blocks too big" 'lab:up: NAT "isp" \(line 3\): port_block 40000 with 2 subscribers' \
	'local isp = lab:nat{ name = "isp", net = inet, profile = "cgnat", port_block = 40000 }
lab:host{ name = "a", net = isp }
lab:host{ name = "b", net = isp }
lab:up()'
# lab:internet{ prefix, hops }: the internet's own line is the one named.
inet_fails() { # inet_fails NAME EXPECTED_MESSAGE_REGEX INTERNET_ARGS [LUA_BODY]
	check_fails "$1" "$2" "${4:-}
lab:up()" "local lab = natlab.lab{ name = \"c\" }
local inet = lab:internet{ $3 }"
}
inet_fails "internet prefix with host bits" \
	':2: lab:internet: prefix 203.0.113.7/24 is not a network address .*did you mean 203.0.113.0/24' \
	'prefix = "203.0.113.7/24"'
inet_fails "internet prefix not a prefix" ':2: lab:internet: prefix "203.0.113.0" is not an IPv4 prefix' \
	'prefix = "203.0.113.0"'
inet_fails "internet prefix too small" ':2: lab:internet: prefix 192.0.2.0/28 is too small for a lab' \
	'prefix = "192.0.2.0/28"'
inet_fails "internet prefix over NAT LAN space" \
	':2: lab:internet: prefix 192.168.0.0/24 overlaps private LAN space 192.168.0.0/16' \
	'prefix = "192.168.0.0/24"'
inet_fails "internet prefix over CGN space" \
	':2: lab:internet: prefix 100.64.0.0/16 overlaps the CGNAT shared space 100.64.0.0/10' \
	'prefix = "100.64.0.0/16"'
inet_fails "hops out of range" ':2: lab:internet: "hops" must be between 0 and 32, got 40' 'hops = 40'
inet_fails "more hops than the prefix has room for" \
	':2: lab:internet: hops = 8 needs 7 backbone router addresses but internet 192.0.2.0/26 has room for 2' \
	'prefix = "192.0.2.0/26", hops = 8'
inet_fails "internet too small for the lab" \
	':3: lab:host: internet 192.0.2.0/26 is too small for this lab: .* no free address left for "h30"' \
	'prefix = "192.0.2.0/26", hops = 2' \
	'for i = 1, 30 do lab:host{ name = "h" .. i, net = inet } end'
inet_fails "NAT LAN inside the internet prefix" \
	':3: lab:nat: lan of NAT "n" overlaps the internet range 198.51.100.0/24' \
	'prefix = "198.51.100.0/24"' \
	'lab:nat{ name = "n", net = inet, profile = "full-cone", lan = "198.51.100.200/29" }'
printf 'local lab = natlab.lab{ name = "c" }\nlocal inet = lab:internet{ prefix = "198.51.100.0/24", hops = 2 }\nlab:host{ name = "h", net = inet }\nlab:up()\n' >"$T_TMP/inet-ok.lua"
out=$("$NATLAB" check "$T_TMP/inet-ok.lua" 2>&1)
t_ok $? "an internet on 198.51.100.0/24 with 2 hops passes" "$out"

NATLAB_LUA_MAX_INSNS=1000000 check_fails "endless loop stopped" 'more than 1000000 Lua instructions' \
	'while true do end'

printf '%s\nlab:host{ name = "h", net = inet }\nlab:up()\n' "$HEAD" >"$T_TMP/good.lua"

# Numeric flags: checked whole and in range before they are narrowed to an int. These fail
# while parsing arguments, before anything needs root.
flag_fails() { # flag_fails NAME EXPECTED_MESSAGE_REGEX ARGS...
	local out rc
	out=$("$NATLAB" "${@:3}" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && printf '%s' "$out" | grep -Eq -- "$2"; then
		t_ok 0 "$1"
	else
		t_ok 1 "$1" "exit $rc, output: $out"
	fi
}
flag_fails "--jobs 2^32+1 is not 1" '--jobs must be 1-256, got "4294967297"' run "$T_TMP/good.lua" --jobs 4294967297
flag_fails "--repeat 2^32+2 is not 2" '--repeat must be 1-10000, got "4294967298"' run "$T_TMP/good.lua" --repeat 4294967298
flag_fails "--shard beyond int" '--shard must be I/N .* got "1/4294967297"' run "$T_TMP/good.lua" --shard 1/4294967297
flag_fails "--seed -1 is not 2^64-1" '--seed must be a number, got "-1"' run "$T_TMP/good.lua" --seed -1
flag_fails "--timeout 1e308h" '--timeout must be a duration .* got "1e308h"' run "$T_TMP/good.lua" --timeout 1e308h
flag_fails "--port empty is not 0" '--port must be 0-65534, got ""' probe lab h --port ""
out=$("$NATLAB" check "$T_TMP/good.lua" 2>&1)
t_ok $? "a valid scenario passes" "$out"
t_is "$out" "$T_TMP/good.lua: ok: lab \"c\", 1 hosts, 0 NATs" "check says what it found"
# A symmetric CGN: a random port of the subscriber's block per destination.
printf '%s\nlocal c = lab:nat{ name = "c", net = inet, profile = "cgnat", mapping = "address-and-port-dependent", ports = "random", tcp_unsolicited = "icmp", tcp_timeout = "3h" }\nlab:host{ name = "h", net = c }\nlab:up()\n' \
	"$HEAD" >"$T_TMP/symcgn.lua"
out=$("$NATLAB" check "$T_TMP/symcgn.lua" 2>&1)
t_ok $? "a symmetric CGN passes check" "$out"
"$NATLAB" check "$SRC/scenarios/example.lua" >/dev/null 2>&1
t_ok $? "scenarios/example.lua is valid"
"$NATLAB" check "$T_TMP/missing.lua" 2>"$T_TMP/err"
t_ok $(( $? == 1 ? 0 : 1 )) "a missing file is an error" "$(cat "$T_TMP/err")"
grep -q "No such file" "$T_TMP/err"
t_ok $? "the error says the file is missing"
t_done
