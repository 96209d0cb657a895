/* SPDX-License-Identifier: MIT */
#include "natlab/lab_reuse.h"
#include "natlab/fd_close.h"
#include "natlab/fd_limit.h"
#include "natlab/log.h"
#include "natlab/nat.h"
#include "natlab/netns.h"
#include "natlab/scenario.h"
#include "natlab/state.h"
#include "natlab/topology.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * The worker's one lab: its name, a copy of the model it was last run with (its shape),
 * copies of its wires' TAP fds (a TAP device lives while one of its fds is open, and the
 * cell's wires close theirs when the cell ends), and whether it is kept (no cell holds
 * it) or in use by the running cell.
 */
static struct {
	char name[LAB_NAME_MAX + 1];
	int kept;
	struct lab_model shape;
	struct lab_wires fds;
} slot;

/* A knob that starts a daemon or decides addresses at build time: never reused. */
static int node_pinned(const struct lab_node *n)
{
	return n->kind == LAB_NODE_NAT &&
	       (nat_knobs_portmap(&n->knobs) || n->knobs.nat64 || n->knobs.nptv6);
}

/* Same node but for its NAT profile; a NAT stays a NAT (or a plain router) either way. */
static int node_same(const struct lab_node *a, const struct lab_node *b)
{
	return strcmp(a->name, b->name) == 0 && a->kind == b->kind && a->parent == b->parent &&
	       a->naddrs == b->naddrs &&
	       memcmp(a->addrs, b->addrs, sizeof(a->addrs[0]) * (size_t)a->naddrs) == 0 &&
	       a->has_link == b->has_link &&
	       (!a->has_link || memcmp(&a->link, &b->link, sizeof(a->link)) == 0) &&
	       a->prefix.s_addr == b->prefix.s_addr && a->prefix_len == b->prefix_len &&
	       a->knobs.translate == b->knobs.translate &&
	       a->knobs.isolation == b->knobs.isolation && !a->clat && !b->clat &&
	       !node_pinned(a) && !node_pinned(b);
}

static int shape_same(const struct lab_model *a, const struct lab_model *b)
{
	if (a->nnodes != b->nnodes || a->v6 || b->v6 || a->hops != b->hops ||
	    a->inet_len != b->inet_len || a->inet_prefix.s_addr != b->inet_prefix.s_addr)
		return 0;
	for (int i = 0; i < a->nnodes; i++)
		if (!node_same(&a->nodes[i], &b->nodes[i]))
			return 0;
	return 1;
}

/* Copies of from's fds into to (close-on-exec: no process of a cell inherits them). */
static int fds_dup(const struct lab_wires *from, struct lab_wires *to)
{
	to->v = calloc((size_t)from->n + 1, sizeof(*to->v));
	to->n = 0;
	if (!to->v)
		return -ENOMEM;
	for (int k = 0; k < from->n; k++) {
		struct lab_wire_fds *f = &to->v[to->n++];

		f->node = from->v[k].node;
		/* Above FD_SETSIZE, as the wires' own (fd_limit.h: libnftables needs those below).
		 */
		f->fd_parent = lab_fd_high(fcntl(from->v[k].fd_parent, F_DUPFD_CLOEXEC, 3));
		f->fd_child = lab_fd_high(fcntl(from->v[k].fd_child, F_DUPFD_CLOEXEC, 3));
		if (f->fd_parent < 0 || f->fd_child < 0) {
			int rc = -errno;

			lab_wires_close(to);
			return rc;
		}
	}
	return 0;
}

void lab_reuse_forget(void)
{
	/* A TAP fd's close waits on the kernel: side by side (fd_close.h). */
	for (int k = 0; k < slot.fds.n; k++) {
		lab_fd_close_bg(slot.fds.v[k].fd_parent);
		lab_fd_close_bg(slot.fds.v[k].fd_child);
	}
	free(slot.fds.v);
	slot.fds.v = NULL;
	slot.fds.n = 0;
	lab_model_close(&slot.shape);
	slot.name[0] = '\0';
	slot.kept = 0;
}

void lab_reuse_drop(void)
{
	char name[sizeof(slot.name)];

	if (!slot.kept)
		return;
	memcpy(name, slot.name, sizeof(name));
	lab_reuse_forget();
	lab_topology_down(name);
	lab_state_remove(name);
	lab_fd_close_wait();
}

int lab_reuse_remember(const struct scenario *s)
{
	int rc;

	lab_reuse_forget();
	snprintf(slot.name, sizeof(slot.name), "%s", s->model.name);
	rc = fds_dup(&s->wire_fds, &slot.fds);
	if (rc < 0)
		lab_reuse_forget();
	return rc;
}

int lab_reuse_keep(struct scenario *s)
{
	struct lab_node *nodes;

	if (!slot.name[0] || strcmp(slot.name, s->model.name) != 0)
		return -ENOENT;
	/* No later cell could take it (node_pinned): down with the cell, as before. */
	for (int i = 0; i < s->model.nnodes; i++)
		if (node_pinned(&s->model.nodes[i]) || s->model.nodes[i].clat)
			return -EPERM;
	/* A link taken down (and maybe up again) drops routes: not the lab a fresh build is. */
	if (s->model.v6 || s->link_downed)
		return -EPERM;
	nodes = malloc((size_t)s->model.nnodes * sizeof(*nodes) + 1);
	if (!nodes)
		return -ENOMEM;
	memcpy(nodes, s->model.nodes, (size_t)s->model.nnodes * sizeof(*nodes));
	lab_model_close(&slot.shape);
	slot.shape = s->model;
	slot.shape.nodes = nodes;
	slot.shape.cap = s->model.nnodes;
	slot.kept = 1;
	return 0;
}

/*
 * Throws away the frames queued in the lab's TAP devices: once the last cell's wires
 * stopped, what its namespaces still sent (keepalives, the FINs of killed processes) was
 * queued there, and the next cell's wires would forward it through NATs just flushed,
 * making mappings and pinholes no fresh lab has. Returns the count.
 */
static int taps_drain(void)
{
	char frame[65536];
	int n = 0;

	for (int k = 0; k < slot.fds.n; k++) {
		int fds[2] = { slot.fds.v[k].fd_parent, slot.fds.v[k].fd_child };

		/* Non-blocking (wire.c): read until EAGAIN, bounded by any TAP queue's length. */
		for (int j = 0; j < 2; j++)
			for (int reads = 0;
			     reads < 100000 && read(fds[j], frame, sizeof(frame)) >= 0; reads++)
				n++;
	}
	return n;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

int lab_reuse_take(struct scenario *s, char *err, size_t errlen)
{
	struct lab_model *m = &s->model;
	char prefix[LAB_NAME_MAX + 16], own[sizeof(m->name)];
	struct timespec t0, t1, t2;
	int rc = 0, kills, stale = 0;

	if (!slot.kept)
		return 0;
	if (!shape_same(&slot.shape, m)) {
		log_info("lab \"%s\": the next cell's lab has another shape: built anew",
		         slot.name);
		lab_reuse_drop();
		return 0;
	}
	memcpy(own, m->name, sizeof(own));
	memcpy(m->name, slot.name, sizeof(m->name));
	/* The last cell's processes died with its run; one that forked in a namespace too. */
	snprintf(prefix, sizeof(prefix), LAB_NETNS_PREFIX "%s.", m->name);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = lab_netns_kill_procs(prefix, 2000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	kills = rc;
	if (rc >= 0)
		stale = taps_drain();
	if (rc < 0)
		snprintf(err, errlen, "lab \"%s\": the last cell's processes: %s", m->name,
		         strerror(-rc));
	if (rc >= 0)
		rc = lab_state_write_model(m->name, m);
	if (rc < 0)
		snprintf(err, errlen, "cannot write the state of lab \"%s\": %s", m->name,
		         strerror(-rc));
	/* What natlab probe measured belonged to the last cell's profiles. */
	if (rc == 0 && (rc = lab_state_remove_measured(m->name)) < 0)
		snprintf(err, errlen, "lab \"%s\": removing the last cell's measurements: %s",
		         m->name, strerror(-rc));
	/* Every box, whether its profile changed or not: its mappings were the last cell's. */
	for (int i = 0; rc == 0 && i < m->nnodes; i++)
		if (m->nodes[i].kind == LAB_NODE_NAT)
			rc = lab_topology_nat_reload(m, i, err, errlen);
	if (rc == 0 && (rc = fds_dup(&slot.fds, &s->wire_fds)) < 0)
		snprintf(err, errlen, "lab \"%s\": its wires' TAP fds: %s", m->name, strerror(-rc));
	/* This cell is not to blame: it gets a lab built anew, as for another shape. */
	if (rc < 0) {
		log_warnx("%s: built anew", err);
		lab_reuse_drop();
		memcpy(m->name, own, sizeof(m->name));
		return 0;
	}
	slot.kept = 0;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	log_info("lab \"%s\" reused: %d nodes, NATs set to this cell's profiles and flushed "
	         "(%d processes left killed in %.0f ms, %d queued frames dropped, NATs reset in "
	         "%.0f ms)",
	         m->name, m->nnodes, kills, ms_between(&t0, &t1), stale, ms_between(&t1, &t2));
	return 1;
}
