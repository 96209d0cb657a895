#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# UDP both ways across every pair of NAT profiles, at once, against DESIGN.md's table:
# a pair theory allows must connect, a pair it does not must not (a lab that lets more
# through than the real NAT would lie just as much). Each host learns its mapped address
# by STUN from a local port, then both ends punch from that port at the same moment.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require turnserver
PUNCH=${NATLAB_BIN:-$SRC/build/bin}/../tests/udp_punch
[ -x "$PUNCH" ] || t_skip_all "udp_punch not built"

codes=(none full rest port symm cgn blk)
profiles=(none full-cone restricted-cone port-restricted-cone symmetric cgnat udp-blocked)
# DESIGN.md, expected outcome per NAT pair (upper triangle, row i, column j >= i).
expected() {
	local t=(
		"d d d d d d r"
		"_ d d d d d r"
		"_ _ d d d d r"
		"_ _ _ d r d r"
		"_ _ _ _ r r r"
		"_ _ _ _ _ d r"
		"_ _ _ _ _ _ r")
	local row=(${t[$1]})
	echo "${row[$2]}"
}

lua=$T_TMP/reach.lua
{
	echo 'local lab = natlab.lab{ name = "reach" }'
	echo 'local inet = lab:internet{}'
	echo 'lab:host{ name = "srv", net = inet }'
	for i in "${!codes[@]}"; do
		c=${codes[$i]}
		for n in 1 2; do
			if [ "$c" = cgn ]; then
				echo "local isp$n = lab:nat{ name = \"isp$n\", net = inet, profile = \"cgnat\" }"
				echo "local $c$n = lab:nat{ name = \"$c$n\", net = isp$n, profile = \"port-restricted-cone\" }"
			else
				echo "local $c$n = lab:nat{ name = \"$c$n\", net = inet, profile = \"${profiles[$i]}\" }"
			fi
			echo "lab:host{ name = \"h$c$n\", net = $c$n }"
		done
	done
	# Same NAT: a second host on box port1. Same CGN: a second CPE under isp1.
	echo 'lab:host{ name = "hport1b", net = port1 }'
	echo 'local cgn1b = lab:nat{ name = "cgn1b", net = isp1, profile = "port-restricted-cone" }'
	echo 'lab:host{ name = "hcgn1b", net = cgn1b }'
	echo 'lab:up()'
} >"$lua"

LAB=$(t_lab_name r)
t_up "$LAB" "$lua"
t_ok $? "lab with two NATs of every profile is up" "$(cat "$T_TMP/up-$LAB.log")"
"$NATLAB" exec "$LAB" srv -- turnserver -L 198.18.0.2 --no-tcp --no-tls --no-dtls -n --no-cli \
	--log-file stdout --listening-port 3478 >"$T_TMP/turn.log" 2>&1 &
T_PIDS+=($!)
sleep 1

# pairs: "hostA hostB expectation port"
pairs=()
port=30000
for i in "${!codes[@]}"; do
	for j in "${!codes[@]}"; do
		[ "$j" -lt "$i" ] && continue
		a=h${codes[$i]}1
		b=h${codes[$j]}$([ "$i" = "$j" ] && echo 2 || echo 1)
		[ "$i" != "$j" ] && [ "${codes[$j]}" = "${codes[$i]}" ] && b=h${codes[$j]}2
		pairs+=("$a $b $(expected "$i" "$j") $port ${profiles[$i]}/${profiles[$j]}")
		port=$((port + 1))
	done
done
pairs+=("hport1 hport1b d $port same-nat")
port=$((port + 1))
pairs+=("hcgn1 hcgn1b d $port same-cgn")

addr_of() { # host port -> the address its peer should send to
	case "$3" in
	same-nat) "$NATLAB" ls "$LAB" --json | jq -r ".nodes[] | select(.name==\"$1\") | .addrs[0]" | sed "s/\$/:$2/" ;;
	*) "$NATLAB" exec "$LAB" "$1" -- "$PUNCH" stun "$2" 198.18.0.2:3478 2>/dev/null || echo "192.0.2.1:$2" ;;
	esac
}

jobs_=()
for k in "${!pairs[@]}"; do
	set -- ${pairs[$k]}
	addr_of "$1" "$4" "$5" >"$T_TMP/addr-$k-a" &
	jobs_+=($!)
	addr_of "$2" "$4" "$5" >"$T_TMP/addr-$k-b" &
	jobs_+=($!)
done
wait "${jobs_[@]}"
jobs_=()
for k in "${!pairs[@]}"; do
	set -- ${pairs[$k]}
	"$NATLAB" exec "$LAB" "$1" -- "$PUNCH" punch "$4" "$(cat "$T_TMP/addr-$k-b")" 3 >"$T_TMP/punch-$k-a" 2>&1 &
	jobs_+=($!)
	"$NATLAB" exec "$LAB" "$2" -- "$PUNCH" punch "$4" "$(cat "$T_TMP/addr-$k-a")" 3 >"$T_TMP/punch-$k-b" 2>&1 &
	jobs_+=($!)
done
wait "${jobs_[@]}"
for k in "${!pairs[@]}"; do
	set -- ${pairs[$k]}
	got=r
	grep -q '^received [1-9]' "$T_TMP/punch-$k-a" && grep -q '^received [1-9]' "$T_TMP/punch-$k-b" && got=d
	want=$3
	t_is "$got" "$want" "$5: $([ "$want" = d ] && echo reachable both ways || echo not reachable)"
done
t_done
