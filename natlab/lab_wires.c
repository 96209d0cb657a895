/* SPDX-License-Identifier: MIT */
/* Turning a lab's wired links (TAP fd pairs) into running forwarders. */
#include "natlab/topology.h"
#include "natlab/wire.h"
#include "natlab/wire_sched.h"

#include <stdio.h>
#include <string.h>

int lab_wires_start(uv_loop_t *loop, const struct lab_model *m, struct lab_wires *fds,
                    struct wire **wires, char *err, size_t errlen)
{
	int rc = 0;

	for (int k = 0; k < fds->n && rc == 0; k++) {
		struct lab_wire_fds *f = &fds->v[k];
		const struct lab_node *n = &m->nodes[f->node];
		struct wire *w;

		rc = wire_new(loop, f->fd_parent, f->fd_child,
		              m->seed * 1000003u + (uint64_t)f->node, &w);
		f->fd_parent = f->fd_child = -1; /* the wire owns them now, also on failure */
		if (rc == 0 && ((rc = wire_set_impairment(w, WIRE_A_TO_B, &n->link)) < 0 ||
		                (rc = wire_set_impairment(w, WIRE_B_TO_A, &n->link)) < 0))
			wire_free(w);
		else if (rc == 0)
			wires[f->node] = w;
		if (rc < 0)
			snprintf(err, errlen, "wire of \"%s\": %s", n->name, strerror(-rc));
	}
	/* Only a process that forwards frames needs the timing (natlab/wire_sched.h). */
	if (rc == 0 && fds->n > 0)
		wire_sched_realtime();
	lab_wires_close(fds);
	return rc;
}
