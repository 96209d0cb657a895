#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab reuse between matrix cells (issue 18; natlab/lab_reuse.c): one worker (--jobs 1)
# runs the cells whose b side is symmetric, costliest first (their `cost`), then in plan
# order: the hard-NAT cell port-restricted-cone/symmetric (built), then the diagonal
# symmetric/symmetric, full-cone/symmetric and restricted-cone/symmetric, each on the
# lab the cell before it left, its NAT boxes set to the new profiles and flushed, and
# none/symmetric (its own shape, built). The same
# cells with --no-reuse (a lab each) must give the same outcomes, the same wire verdicts
# and relayed byte counts within 2x, and natlab probe on the reused box (a
# port-restricted cone one cell earlier) must measure what symmetric declares.
. "$(dirname "$0")/lib/lab.sh"
t_require_root
t_require jq
run() { # DIR [ARGS...]
	local o=$1
	shift
	"$NATLAB" run "$SRC/scenarios/matrix.lua" --filter '*/symmetric' --jobs 1 --pcap none \
		--out "$o" "$@" >"$o.tap" 2>"$o.err"
}
R=$T_TMP/reuse F=$T_TMP/fresh
run "$R"
t_ok $? "reused labs: the 5 cells as expected" "$(grep -v '^ok' "$R.tap"; tail -3 "$R.err")"
run "$F" --no-reuse
t_ok $? "--no-reuse: the 5 cells as expected" "$(grep -v '^ok' "$F.tap"; tail -3 "$F.err")"
reused() { grep -l 'reused: ' "$1"/cells/*/run.log 2>/dev/null | xargs -r -n1 dirname | xargs -r -n1 basename | sort | tr '\n' ' '; }
t_is "$(reused "$R")" "full-cone_symmetric restricted-cone_symmetric symmetric_symmetric " \
	"the three cells after port-restricted-cone/symmetric ran on its lab, reset"
order() { grep -o '\] [a-z/-]*:' "$1.err" | tr -d ']:' | tr -d '\n'; }
t_is "$(order "$R")" " port-restricted-cone/symmetric symmetric/symmetric full-cone/symmetric restricted-cone/symmetric none/symmetric" \
	"the costliest first (hard NAT, then the diagonal's NAT measurement), then as listed, a shape at a time"
t_is "$(reused "$F")" "" "--no-reuse: no cell took another's lab"
outcomes() { jq -c '[.cells[] | [.name, .outcome, .wire.direct, .wire.relayed, (.wire.bytes_direct > 0)]]' "$1/report.json"; }
t_is "$(outcomes "$R")" "$(outcomes "$F")" "same outcomes and wire verdicts, reused or not"
# Relayed bytes vary by a retransmission or a keepalive, and by when the path turns
# direct: the same within 2x (1.5x failed once under the sanitizer suite's ctest -j 3,
# on full-cone/symmetric), but for the hard-NAT cell, whose relayed bytes depend on when
# birthday probing finds the path (random in both modes). Direct bytes vary 40-fold in
# both modes (whether the peer's birthday probing started before the path was found):
# only whether there were any is compared, above. A failure names the cell and both counts.
t_is "$(jq -n --slurpfile r "$R/report.json" --slurpfile f "$F/report.json" '[range($r[0].cells | length) as $i |
	select($r[0].cells[$i].name != "port-restricted-cone/symmetric") |
	[$r[0].cells[$i].wire.bytes_relay, $f[0].cells[$i].wire.bytes_relay] as [$a, $b] |
	select($a > 2 * $b or $b > 2 * $a) | "\($r[0].cells[$i].name): \($a) reused, \($b) fresh"]')" "[]" \
	"relayed byte counts the same within 2x, reused or not (the hard-NAT cell aside)"
nat() { jq -c '[.nats[] | select(.name == "symmetric") | .as_declared, .measured.mapping, .measured.filtering, .measured.tcp.mapping, .measured.tcp.filtering]' "$1/report.json"; }
t_is "$(nat "$R")" '[1,"address-and-port-dependent","address-and-port-dependent","address-and-port-dependent","address-and-port-dependent"]' \
	"natlab probe on the reused box (a port-restricted cone the cell before) measures symmetric as declared"
t_is "$(nat "$F")" "$(nat "$R")" "the same measurement on a fresh box"
labs=$(grep -ho 'lab "run[0-9]*"' "$R"/cells/*/run.log | sort -u | tr -d '"' | cut -d' ' -f2)
t_is "$(for l in $labs; do ip netns | grep -c "^nl-$l\."; done | sort -u | tr '\n' ' ')" "0 " \
	"the workers' labs ($(echo $labs)) are gone at the end"
t_done
