#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Oracle: coturn's RFC 5780 client (turnutils_natdiscovery -m -f, and -H for hairpin)
# classifies the NAT behind every profile against coturn's turnserver with two
# addresses, and must find what DESIGN.md declares. `natlab probe` must agree with
# coturn on every profile.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require turnserver
t_require turnutils_natdiscovery
t_require jq

L=$(t_lab_name o)
t_up "$L" "$SRC/scenarios/profiles.lua"
t_ok $? "profiles lab is up" "$(cat "$T_TMP/up-$L.log")"
"$NATLAB" exec "$L" srv -- turnserver -L 198.18.0.2 -L 198.18.0.3 --no-tcp --no-tls --no-dtls \
	-n --no-cli --log-file stdout --listening-port 3478 --alt-listening-port 3479 \
	>"$T_TMP/turn.log" 2>&1 &
T_PIDS+=($!)
for _ in $(seq 1 50); do grep -q "Total UDP servers" "$T_TMP/turn.log" 2>/dev/null && break; sleep 0.1; done
RELAY=${NATLAB_BIN:-$SRC/build/bin}/natlab-relay
if [ -x "$RELAY" ]; then
	"$NATLAB" exec "$L" srv -- "$RELAY" --listen 198.18.0.2:7000 --stun 198.18.0.2:3490 \
		--stun-alt 198.18.0.3 --no-auth >"$T_TMP/relay.log" 2>&1 &
	T_PIDS+=($!)
	for _ in $(seq 1 50); do grep -q '"ready"' "$T_TMP/relay.log" 2>/dev/null && break; sleep 0.1; done
fi
sleep 0.3

# host  mapping filtering hairpin (eim/adm/apdm, eif/adf/apdf, yes/no/-) or "blocked"
expect=(
	"public eim eif yes"
	"h-router eim eif yes"
	"h-full eim eif yes"
	"h-restricted eim adf yes"
	"h-portrestr eim apdf yes"
	"h-symmetric apdm apdf no"
	"h-udpblocked blocked"
	"h-cgnat eim apdf -"
)

coturn_class() { # parses natdiscovery output into "mapping filtering hairpin"
	local f=$1 m f_ h
	m=$(grep -o 'NAT with [A-Za-z ]* Mapping' "$f" | head -1)
	f_=$(grep -o 'NAT with [A-Za-z ]* Filtering' "$f" | head -1)
	case "$m" in
	*"Endpoint Independent"*) m=eim ;; *"Address and Port"*) m=apdm ;;
	*"Address Dependent"*) m=adm ;; *) m=blocked ;;
	esac
	case "$f_" in
	*"Endpoint Independent"*) f_=eif ;; *"Address and Port"*) f_=apdf ;;
	*"Address Dependent"*) f_=adf ;; *) f_=blocked ;;
	esac
	grep -q "successful hairpinning" "$f.H" && h=yes || h=no
	echo "$m $f_ $h"
}
probe_class() { # the same three words from `natlab probe` JSON
	jq -r '[(.mapping // "blocked"), (.filtering // "blocked"), (if .hairpin then "yes" else "no" end)] | join(" ")' "$1" |
		sed -e 's/address-and-port-dependent/apd/g' -e 's/endpoint-independent/ei/g' -e 's/address-dependent/ad/g' |
		awk '{m=$1; f=$2; if (m!="blocked") m=m"m"; if (f!="blocked") f=f"f"; print m, f, $3}'
}

jobs_=()
k=0
for e in "${expect[@]}"; do
	set -- $e
	("$NATLAB" exec "$L" "$1" -- timeout 30 turnutils_natdiscovery -m -f 198.18.0.2 >"$T_TMP/c-$1" 2>&1
	 "$NATLAB" exec "$L" "$1" -- timeout 30 turnutils_natdiscovery -H 198.18.0.2 >"$T_TMP/c-$1.H" 2>&1) &
	jobs_+=($!)
	[ -x "$RELAY" ] && ("$NATLAB" exec "$L" "$1" -- timeout 30 turnutils_natdiscovery -m -f -p 3490 198.18.0.2 >"$T_TMP/r-$1" 2>&1
	 "$NATLAB" exec "$L" "$1" -- timeout 30 turnutils_natdiscovery -H -p 3490 198.18.0.2 >"$T_TMP/r-$1.H" 2>&1) &
	jobs_+=($!)
	# Probes run side by side: each its own UDP ports, TCP ports the kernel picks.
	"$NATLAB" probe "$L" "$1" --port $((3500 + 2 * k)) --tcp-ports 0 >"$T_TMP/p-$1" 2>"$T_TMP/p-$1.err" &
	jobs_+=($!)
	k=$((k + 1))
done
wait "${jobs_[@]}"

# An EIM box may drop a new mapping's first packet: the random port it drew is held by
# another internal endpoint (docs/lab.md, "EIM boxes therefore record held external
# ports"), and the next packet draws again. natdiscovery sends each request once, and its
# mapping, filtering and hairpinning runs each start from a fresh socket, so a fresh
# mapping. On a path that is not blocked, a lost first request shows: a mapping or
# filtering run reports "blocked" (while the other was answered, or both), a hairpinning
# run has no reflexive address. Such a run is repeated alone, once.
again() { # OUT-FILE HOST EXPECTED [ARGS...]: runs natdiscovery -m -f again, or -H
	local out=$1 host=$2 expected=$3 c
	shift 3
	[ "$expected" = blocked ] && return
	c=$(coturn_class "$out")
	case "$c" in
	blocked* | *" blocked "*)
		echo "# $host: natdiscovery ${*:-(coturn)}: \"$c\": a first request was lost; run again"
		"$NATLAB" exec "$L" "$host" -- timeout 30 turnutils_natdiscovery -m -f "$@" 198.18.0.2 >"$out" 2>&1
		;;
	esac
	if ! grep -q "reflexive addr" "$out.H"; then
		echo "# $host: natdiscovery -H ${*:-(coturn)}: no reflexive address: its first request was lost; run again"
		"$NATLAB" exec "$L" "$host" -- timeout 30 turnutils_natdiscovery -H "$@" 198.18.0.2 >"$out.H" 2>&1
	fi
}
for e in "${expect[@]}"; do
	set -- $e
	host=$1
	again "$T_TMP/c-$host" "$host" "$2"
	[ -x "$RELAY" ] && again "$T_TMP/r-$host" "$host" "$2" -p 3490
	c=$(coturn_class "$T_TMP/c-$host")
	p=$(probe_class "$T_TMP/p-$host")
	if [ "$2" = blocked ]; then
		t_is "${c%% *}" blocked "$host: coturn gets no answer (UDP blocked)"
		t_is "$(jq -r .udp "$T_TMP/p-$host")" blocked "$host: natlab probe finds UDP blocked"
	else
		t_is "$(echo "$c" | cut -d' ' -f1-2)" "$2 $3" "$host: coturn classifies $2/$3"
		[ "$4" != - ] && t_is "${c##* }" "$4" "$host: coturn finds hairpinning $4"
		t_is "$p" "$c" "$host: natlab probe agrees with coturn"
	fi
	if [ -x "$RELAY" ]; then
		t_is "$(coturn_class "$T_TMP/r-$host")" "$c" "$host: coturn's client finds the same against natlab-relay"
	fi
	# coturn judges UDP; lab_probe_tcp judges TCP.
	t_is "$(jq -r .udp_match "$T_TMP/p-$host")" true "$host: natlab probe matches the declared profile (UDP)" \
		|| cat "$T_TMP/p-$host" "$T_TMP/p-$host.err" | sed 's/^/# /'
done
t_done
