/* SPDX-License-Identifier: MIT */
/*
 * Wire accounting inside a lab node: loads a scenario's counters (tables inet and bridge
 * natlab_wire) into the node's namespace and reads them back, so a run can tell from the NAT boxes
 * what went directly between two peers and what went through a relay, whatever the
 * peers say about it.
 */
#ifndef NATLAB_WIRE_COUNT_H
#define NATLAB_WIRE_COUNT_H

#include "natlab/model.h"
#include "natlab/nat.h"

#include <stddef.h>

/*
 * Loads `ruleset` (tables natlab_wire: see nat_wire_apply) into node i's namespace, replacing
 * its previous counters. Returns 0, or -errno with the cause in err.
 */
int lab_wire_count_load(const struct lab_model *m, int i, const char *ruleset, char *err,
                        size_t errlen);

/* Calls fn for every counter of node i's natlab_wire table (see nat_wire_read). */
int lab_wire_count_read(const struct lab_model *m, int i, nat_counter_cb fn, void *arg, char *err,
                        size_t errlen);

#endif
