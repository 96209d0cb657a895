/* SPDX-License-Identifier: MIT */
/* Wire counters in a node's namespace: enter it, let nat.c speak nftables, come back. */
#include "natlab/wire_count.h"
#include "natlab/netns.h"
#include "natlab/state.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The note, kept with the lab, of the ruleset loaded into a node: its length and hash. */
static void wire_note_name(const struct lab_node *n, char *buf, size_t len)
{
	snprintf(buf, len, "wire-%s", n->name);
}

static void ruleset_sum(const char *ruleset, char *buf, size_t len)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	size_t n = 0;

	for (const unsigned char *c = (const unsigned char *)ruleset; *c; c++, n++)
		h = (h ^ *c) * 1099511628211ULL;
	snprintf(buf, len, "%zu %016llx\n", n, (unsigned long long)h);
}

/*
 * The same ruleset as the one loaded (a reused lab's next cell) only has its counters
 * reset: replacing the tables would wait for an RCU grace period per node. The note is
 * removed before a load and written after it succeeded, so a failed or interrupted load
 * never passes for the ruleset.
 */
int lab_wire_count_load(const struct lab_model *m, int i, const char *ruleset, char *err,
                        size_t errlen)
{
	char note[LAB_NODE_MAX + 8], want[48], have[48];
	int rc;

	wire_note_name(&m->nodes[i], note, sizeof(note));
	ruleset_sum(ruleset, want, sizeof(want));
	rc = lab_node_netns_enter(m->name, m->nodes[i].name, err, errlen);
	if (rc < 0)
		return rc;
	if (lab_state_read_note(m->name, note, have, sizeof(have)) == 0 &&
	    strcmp(have, want) == 0 && nat_wire_reset(ruleset, err, errlen) == 0)
		goto out;
	lab_state_write_note(m->name, note, NULL);
	rc = nat_wire_apply(ruleset, err, errlen);
	if (rc == 0)
		lab_state_write_note(m->name, note, want);
out:
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
