/* SPDX-License-Identifier: MIT */
/* Wire counters in a node's namespace: enter it, let nat.c speak nftables, come back. */
#include "natlab/wire_count.h"
#include "natlab/netns.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int lab_wire_count_load(const struct lab_model *m, int i, const char *ruleset, char *err,
                        size_t errlen)
{
	int rc = lab_node_netns_enter(m->name, m->nodes[i].name, err, errlen);

	if (rc < 0)
		return rc;
	rc = nat_wire_apply(ruleset, err, errlen);
	lab_netns_leave();
	return rc;
}

int lab_wire_count_read(const struct lab_model *m, int i, nat_counter_cb fn, void *arg, char *err,
                        size_t errlen)
{
	int rc = lab_node_netns_enter(m->name, m->nodes[i].name, err, errlen);

	if (rc < 0)
		return rc;
	rc = nat_wire_read(fn, arg, err, errlen);
	lab_netns_leave();
	return rc;
}
