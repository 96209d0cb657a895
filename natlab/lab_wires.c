/* SPDX-License-Identifier: MIT */
/*
 * Turning a lab's wired links (TAP fd pairs) into running forwarders, on the wires' own
 * thread (wire_thread.h): every function here runs its work there.
 */
#include "natlab/topology.h"
#include "natlab/wire.h"
#include "natlab/wire_thread.h"

#include <stdio.h>
#include <string.h>

struct wires_start {
	const struct lab_model *m;
	struct lab_wires *fds;
	struct wire **wires;
	char *err;
	size_t errlen;
	int rc;
};

static void wires_start_cb(uv_loop_t *loop, void *arg)
{
	struct wires_start *c = arg;
	int rc = 0;

	for (int k = 0; k < c->fds->n && rc == 0; k++) {
		struct lab_wire_fds *f = &c->fds->v[k];
		const struct lab_node *n = &c->m->nodes[f->node];
		struct wire *w;

		rc = wire_new(loop, f->fd_parent, f->fd_child,
		              c->m->seed * 1000003u + (uint64_t)f->node, &w);
		f->fd_parent = f->fd_child = -1; /* the wire owns them now, also on failure */
		if (rc == 0 && ((rc = wire_set_impairment(w, WIRE_A_TO_B, &n->link)) < 0 ||
		                (rc = wire_set_impairment(w, WIRE_B_TO_A, &n->link)) < 0))
			wire_free(w);
		else if (rc == 0)
			c->wires[f->node] = w;
		if (rc < 0)
			snprintf(c->err, c->errlen, "wire of \"%s\": %s", n->name, strerror(-rc));
	}
	c->rc = rc;
}

int lab_wires_start(const struct lab_model *m, struct lab_wires *fds, struct wire **wires,
                    char *err, size_t errlen)
{
	struct wires_start c = { m, fds, wires, err, errlen, 0 };
	int rc = 0;

	/* A lab without wires starts no thread. */
	if (fds->n > 0)
		rc = wire_thread_call(wires_start_cb, &c);
	if (rc < 0)
		snprintf(err, errlen, "the wires' thread: %s", strerror(-rc));
	lab_wires_close(fds);
	return rc < 0 ? rc : c.rc;
}

struct wire_link {
	struct wire *w;
	const struct wire_impairment *imp;
	int rc;
};

static void set_link_cb(uv_loop_t *loop, void *arg)
{
	struct wire_link *c = arg;

	(void)loop;
	c->rc = wire_set_impairment(c->w, WIRE_A_TO_B, c->imp);
	if (c->rc == 0)
		c->rc = wire_set_impairment(c->w, WIRE_B_TO_A, c->imp);
}

int lab_wires_set_link(struct wire *w, const struct wire_impairment *imp)
{
	struct wire_link c = { w, imp, 0 };
	int rc = wire_thread_call(set_link_cb, &c);

	return rc < 0 ? rc : c.rc;
}

struct wires_free {
	struct wire **wires;
	int n;
};

static void free_cb(uv_loop_t *loop, void *arg)
{
	struct wires_free *c = arg;

	(void)loop;
	for (int i = 0; i < c->n; i++)
		wire_free(c->wires[i]);
}

void lab_wires_free(struct wire **wires, int n)
{
	struct wires_free c = { wires, n };

	if (!wires)
		return;
	/* Never fails once wires exist: their thread is running or held. */
	wire_thread_call(free_cb, &c);
	wire_thread_stop();
	for (int i = 0; i < n; i++)
		wires[i] = NULL;
}
