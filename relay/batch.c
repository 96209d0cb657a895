/* SPDX-License-Identifier: MIT */
/*
 * Batched writes: frames queued for a receiver during one loop iteration are written
 * together when the iteration's I/O is done (a uv_check handle), one writev per
 * receiver instead of one write per frame. Small frames (a flood of tiny SENDs or
 * PINGs) then cost the relay a copy each, not a syscall each.
 */
#include "natlab/relay.h"

static void relay_batch_cb(uv_check_t *h)
{
	struct relay_server *srv = container_of(h, struct relay_server, batch_check);
	struct relay_client *c;

	while ((c = srv->batch_head)) {
		srv->batch_head = c->batch_next;
		c->batch_next = NULL;
		c->batched = 0;
		relay_client_flush(c);
	}
}

void relay_batch_add(struct relay_server *srv, struct relay_client *c)
{
	if (c->batched)
		return;
	c->batched = 1;
	c->batch_next = srv->batch_head;
	srv->batch_head = c;
}

void relay_batch_forget(struct relay_server *srv, struct relay_client *c)
{
	struct relay_client **pp;

	if (!c->batched)
		return;
	for (pp = &srv->batch_head; *pp; pp = &(*pp)->batch_next) {
		if (*pp == c) {
			*pp = c->batch_next;
			break;
		}
	}
	c->batched = 0;
	c->batch_next = NULL;
}

int relay_batch_start(struct relay_server *srv)
{
	int rc = uv_check_init(srv->loop, &srv->batch_check);

	if (rc == 0)
		rc = uv_check_start(&srv->batch_check, relay_batch_cb);
	if (rc < 0)
		return rc;
	/* It runs every iteration but must not keep the loop alive after the drain. */
	uv_unref((uv_handle_t *)&srv->batch_check);
	srv->batch_on = 1;
	return 0;
}

static void relay_batch_closed_cb(uv_handle_t *h)
{
}

void relay_batch_stop(struct relay_server *srv)
{
	if (!srv->batch_on)
		return;
	srv->batch_on = 0;
	uv_close((uv_handle_t *)&srv->batch_check, relay_batch_closed_cb);
}
