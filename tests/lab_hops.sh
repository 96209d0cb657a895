#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The internet is a path of routers (lab:internet{ hops, prefix }): TTL-limited packets
# die in transit with ICMP time exceeded from the hop that drops them, traceroute shows
# every hop in order, a TTL one short of the path never reaches the far NAT's WAN, and
# the internet can live in another prefix. Router addresses come from `natlab ls --json`.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
t_require traceroute
t_require nft

lab_up() { # lab_up VAR SUFFIX FILE WHAT: brings a lab up (its name into VAR), its ls --json into $json
	printf -v "$1" '%s' "$(t_lab_name "$2")"
	t_up "${!1}" "$3"
	t_ok $? "$4 is up" "$(cat "$T_TMP/up-${!1}.log")"
	json=$("$NATLAB" ls "${!1}" --json)
}

cat >"$T_TMP/default.lua" <<'LUA'
local lab = natlab.lab{}
local inet = lab:internet{}
lab:host{ name = "srv", net = inet, addrs = 2 }
local a = lab:nat{ name = "nata", net = inet, profile = "full-cone" }
local b = lab:nat{ name = "natb", net = inet, profile = "port-restricted-cone" }
local d = lab:nat{ name = "dmz", net = inet, profile = "none" }
lab:host{ name = "ha", net = a }
lab:host{ name = "hb", net = b }
lab:host{ name = "hd", net = d }
lab:up()
LUA

lab_up L d "$T_TMP/default.lua" "a lab with the default internet"
hops=$(echo "$json" | jq '.internet.hops')
mapfile -t routers < <(echo "$json" | jq -r '.internet.routers[]')
addr() { echo "$json" | jq -r ".nodes[] | select(.name==\"$1\") | .addrs[${2:-0}]"; }
srv=$(addr srv)
t_is "$(echo "$json" | jq -r '.internet.prefix')" 198.18.0.0/15 "default internet prefix"
[ "$hops" -ge 4 ]
t_ok $? "the default path has several routers ($hops)"
t_is "${#routers[@]}" "$hops" "ls --json names one router per hop"
t_is "${routers[0]}" "$(echo "$json" | jq -r '.nodes[] | select(.name=="internet") | .gateway')" \
	"the first router is the core, the attachments' gateway"
"$NATLAB" ls "$L" | grep -q "internet 198.18.0.0/15, $hops routers between attachments: ${routers[*]}\$"
t_ok $? "ls shows the prefix and the routers" "$("$NATLAB" ls "$L")"

t_is "$("$NATLAB" exec "$L" "internet.hop$((hops - 1))" -- ip -o -4 addr show dev lo | awk '{ print $4 }' | tr '\n' ' ')" \
	"127.0.0.1/8 ${routers[hops - 1]}/32 " "exec enters a backbone router: internet.hop$((hops - 1))"
"$NATLAB" exec "$L" "internet.hop$hops" -- true 2>/dev/null
t_is $? 1 "there is no internet.hop$hops"

# Count echo requests from nata's WAN arriving at natb's WAN, in natb's namespace.
"$NATLAB" exec "$L" natb -- nft -f - <<NFT
table ip hopcount {
	chain pre {
		type filter hook prerouting priority -400;
		iifname "wan" ip saddr $(addr nata) icmp type echo-request counter
	}
}
NFT
arrived() { "$NATLAB" exec "$L" natb -- nft list table ip hopcount | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }

out=$("$NATLAB" exec "$L" ha -- ping -n -c 1 -W 1 -t 2 "$(addr natb)" 2>&1)
t_ok $(( $? == 0 )) "TTL 2 from a LAN host does not reach the other NAT" "$out"
echo "$out" | grep -q "From ${routers[0]} icmp_seq=1 Time to live exceeded"
t_ok $? "the core answers with time exceeded" "$out"
t_is "$(arrived)" 0 "nothing arrived at natb's WAN"
# nata and the hops routers each take one; a router drops what arrives with TTL 1, the
# receiver takes it: TTL hops + 2 is the least that arrives.
out=$("$NATLAB" exec "$L" ha -- ping -n -c 1 -W 1 -t $((hops + 1)) "$(addr natb)" 2>&1)
echo "$out" | grep -q "From ${routers[hops - 1]} icmp_seq=1 Time to live exceeded"
t_ok $? "TTL $((hops + 1)) dies at the last router, ${routers[hops - 1]}" "$out"
t_is "$(arrived)" 0 "still nothing at natb's WAN"
out=$("$NATLAB" exec "$L" ha -- ping -n -c 1 -W 1 -t $((hops + 2)) "$(addr natb)" 2>&1)
t_ok $? "TTL $((hops + 2)) reaches natb and is answered" "$out"
t_is "$(arrived)" 1 "one echo request arrived at natb's WAN"
echo "$out" | grep -q "ttl=$((64 - hops - 1)) "
t_ok $? "the reply crossed the same number of routers and nata" "$out"

# traceroute from behind a NAT and from a routed public LAN lists every hop in order.
want=$(printf '%s\n' 10.1.0.1 "${routers[@]}" "$srv")
got=$("$NATLAB" exec "$L" ha -- traceroute -n -q 1 -w 1 "$srv" 2>&1 | awk 'NR > 1 { print $2 }')
t_is "$got" "$want" "traceroute from ha: its NAT, ${hops} routers, srv"
want=$(printf '%s\n' "$(echo "$json" | jq -r '.nodes[] | select(.name=="dmz") | .gateway')" \
	"${routers[@]}" "$(addr srv 1)")
got=$("$NATLAB" exec "$L" hd -- traceroute -n -q 1 -w 1 "$(addr srv 1)" 2>&1 | awk 'NR > 1 { print $2 }')
t_is "$got" "$want" "traceroute from a routed public LAN to srv's second address"
want=$(printf '%s\n' 10.2.0.1 "${routers[@]}" "$(addr dmz)" "$(addr hd)")
got=$("$NATLAB" exec "$L" hb -- traceroute -n -q 1 -w 1 "$(addr hd)" 2>&1 | awk 'NR > 1 { print $2 }')
t_is "$got" "$want" "traceroute into a routed public LAN: its router is one more hop"
"$NATLAB" exec "$L" hb -- ping -n -c 1 -W 2 "$(addr srv 1)" >/dev/null
t_ok $? "srv's second address is reachable from behind a NAT (RFC 5780 needs both)"
"$NATLAB" exec "$L" srv -- ping -n -c 1 -W 1 -I "$(addr srv 1)" "$(addr nata)" >/dev/null
t_ok $? "and srv answers from it"

# Another prefix and another hop count; a flat internet (hops = 0) as before.
cat >"$T_TMP/prefix.lua" <<'LUA'
local lab = natlab.lab{}
local inet = lab:internet{ prefix = "203.0.113.0/24", hops = 3 }
local srv = lab:host{ name = "srv", net = inet }
local a = lab:nat{ name = "nata", net = inet, profile = "symmetric" }
local d = lab:nat{ name = "dmz", net = inet, profile = "none" }
lab:host{ name = "ha", net = a }
lab:host{ name = "hd", net = d }
lab:up()
LUA
lab_up P p "$T_TMP/prefix.lua" "a lab on 203.0.113.0/24 with 3 hops"
t_is "$(echo "$json" | jq -r '.internet | "\(.prefix) \(.hops) \(.routers | join(","))"')" \
	"203.0.113.0/24 3 203.0.113.1,203.0.113.129,203.0.113.130" \
	"routers: the core at .1, the backbone in the second half's first block"
t_is "$(addr srv) $(addr nata) $(echo "$json" | jq -r '.nodes[] | select(.name=="dmz") | .lan')" \
	"203.0.113.2 203.0.113.3 203.0.113.144/28" "attachments in the first half, a routed LAN in the second"
got=$("$NATLAB" exec "$P" ha -- traceroute -n -q 1 -w 1 "$(addr hd)" 2>&1 | awk 'NR > 1 { print $2 }')
t_is "$(echo $got)" "10.1.0.1 203.0.113.1 203.0.113.129 203.0.113.130 $(addr dmz) $(addr hd)" \
	"traceroute across the 203.0.113.0/24 internet"

# hops = 0 is the flat bridge of before; 1 routes at the core only; 2 is a core and one
# backbone router that is also the last. link_down/link_up restores the onlink route.
for h in 0 1 2; do
	cat >"$T_TMP/h$h-up.lua" <<LUA
local lab = natlab.lab{}
local inet = lab:internet{ hops = $h }
local srv = lab:host{ name = "srv", net = inet }
local a = lab:nat{ name = "nata", net = inet, profile = "full-cone" }
local ha = lab:host{ name = "ha", net = a }
lab:up()
LUA
	cat "$T_TMP/h$h-up.lua" - >"$T_TMP/h$h.lua" <<'LUA'
local function ping() return ha:spawn{ "ping", "-c", "1", "-W", "1", srv.addr }:wait{ timeout = "3s" } end
expect_eq(ping(), 0, "ha reaches srv")
srv:link_down()
expect(ping() ~= 0, "link_down cuts srv off")
srv:link_up()
expect_eq(ping(), 0, "link_up brings srv back, default route and all")
LUA
	out=$("$NATLAB" run "$T_TMP/h$h.lua" --out "$T_TMP/out-h$h" --pcap none 2>&1)
	t_ok $? "hops = $h: an attachment's link_down and link_up" "$out"
	lab_up H "h$h" "$T_TMP/h$h-up.lua" "hops = $h: the lab"
	t_is "$(ip netns list 2>/dev/null | grep -c "^nl-$H\.")" $((4 + (h > 1 ? h - 1 : 0))) \
		"hops = $h: $((h > 1 ? h - 1 : 0)) backbone namespaces"
	got=$("$NATLAB" exec "$H" ha -- traceroute -n -q 1 -w 1 "$(addr srv)" 2>&1 | awk 'NR > 1 { print $2 }')
	t_is "$(echo $got)" "$(echo 10.1.0.1 $(echo "$json" | jq -r '.internet.routers[]') "$(addr srv)")" \
		"hops = $h: traceroute shows the NAT, $h routers, srv"
	timeout 60 "$NATLAB" down "$H" >/dev/null 2>&1
done
t_done
