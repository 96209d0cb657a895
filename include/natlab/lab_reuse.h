/* SPDX-License-Identifier: MIT */
/*
 * Reusing a lab between the cells a matrix worker runs one after another (issue 18): a
 * cell that passed leaves its lab built (namespaces, links, wires' TAP devices, the
 * lab's state); the next cell whose lab has the same shape (the same nodes, addresses
 * and links; only NAT profiles may differ) takes it instead of building one: every NAT
 * box gets the new cell's ruleset and an empty conntrack table (lab_topology_nat_reload,
 * nat:set_profile's path), the lab's state its model and no measurement. Labs with IPv6,
 * port mapping or NAT64 are never reused (their daemons and addresses belong to a run),
 * nor the lab of a cell that took a link down (its routes went with it).
 * A failed cell tears its lab down, as every cell did before.
 */
#ifndef NATLAB_LAB_REUSE_H
#define NATLAB_LAB_REUSE_H

#include <stddef.h>

struct scenario;

/*
 * Before building s's lab: takes the kept lab if it has s's shape (1: s->model.name and
 * s->wire_fds are the kept lab's, its TAP queues emptied, its NATs set to s's profiles
 * and flushed), else tears the kept one down (0: build as usual), also when resetting it
 * fails (the cause, written to err, is logged: s is not to blame). Never negative.
 */
int lab_reuse_take(struct scenario *s, char *err, size_t errlen);

/* After a fresh build, before the wires own the TAP fds: copies of them, kept. */
int lab_reuse_remember(const struct scenario *s);

/*
 * At the end of a cell that passed, its captures and wires stopped: the lab stays for the
 * next cell (s no longer owns it).
 */
int lab_reuse_keep(struct scenario *s);

/* The lab s tears down itself (a failed cell) is not kept: the copies are closed. */
void lab_reuse_forget(void);

/* Tears the kept lab down, if any: the worker's end, or a cell of another shape. */
void lab_reuse_drop(void);

#endif
