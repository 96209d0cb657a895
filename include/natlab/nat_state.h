/* SPDX-License-Identifier: MIT */
/*
 * What the NAT boxes of a lab hold at a moment: each box's mapping table (conntrack,
 * original and translated tuples), its rules with the packets each matched, and the
 * sets and maps its rules learned. Snapshotted at the end of a run and at every failed
 * expectation (<out>/nat/), and live with `natlab ls NAME NAT --mappings`.
 */
#ifndef NATLAB_NAT_STATE_H
#define NATLAB_NAT_STATE_H

#include "natlab/model.h"

#include <jansson.h>
#include <stdio.h>

/*
 * The state of NAT node i of m, read inside its namespace: {conntrack: [...], rules:
 * [...], sets: {...}} (new reference), or NULL with a sentence in err.
 */
json_t *nat_state_read_node(const struct lab_model *m, int i, char *err, size_t errlen);

/* Prints one NAT's state for a person: mappings, rules with their counts, sets. */
void nat_state_print(FILE *f, const char *nat, const json_t *state);

/*
 * Snapshots every NAT of m into dir/<name>.json ({reason, t_ms, nats: {NAT: state}}) and
 * dir/<name>.txt (the same as nat_state_print), opened through outdir_fopen() in dir, an
 * out dir the caller made with outdir_make(). 0 or -errno; a NAT that cannot be read is
 * recorded with its error.
 */
int nat_state_snapshot(const struct lab_model *m, const char *dir, const char *name,
                       const char *reason, double t_ms);

#endif
