/* SPDX-License-Identifier: MIT */
/*
 * Address records (docs/relay.md, "Address records"): a client publishes its own signed
 * record (addr_record.h), the relay keeps the last one on the client's connection (it
 * goes when the connection goes), and answers a LOOKUP of a key with it. The relay checks
 * the signature and that the record is the publisher's own, so it holds only what that
 * key signed; it cannot forge one, and a peer checks the signature again. A client that
 * looked up a connected client with no record yet (peers starting together: the
 * listener publishes only once its candidates are gathered) is sent the record when it
 * comes, once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natlab/addr_record.h"
#include "natlab/log.h"
#include "natlab/relay.h"

/* Sends c's new record to the clients that looked it up before it had one. */
static void push_to_waiters(struct relay_client *c)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_KEY_LEN + ADDR_RECORD_MAX_LEN];
	int len = relay_record_encode(frame, sizeof(frame), c->key, c->record, c->record_len);

	for (int i = 0; len > 0 && i < c->n_record_waiters; i++) {
		struct relay_client *w = relay_server_lookup(c->srv, c->record_waiters[i]);

		/* One c already sent to through us has its answer: the record would come too
		 * late, and only add bytes to the relay's share of the pair's traffic. */
		if (w && w != c && w->state == RELAY_CLIENT_ACTIVE &&
		    !relay_client_heard_from(w, c->key)) {
			relay_client_send(w, frame, (size_t)len);
			c->srv->counters[RELAY_C_RECORDS_PUSHED]++;
		}
	}
	free(c->record_waiters);
	c->record_waiters = NULL;
	c->n_record_waiters = 0;
}

/* Remembers that key looked dst up while it had no record (the oldest of a full list
 * gives way: a waiter left out only waits for the listener's answer, as without records). */
static void add_waiter(struct relay_client *dst, const uint8_t key[RELAY_KEY_LEN])
{
	int i;

	for (i = 0; i < dst->n_record_waiters; i++)
		if (memcmp(dst->record_waiters[i], key, RELAY_KEY_LEN) == 0)
			return;
	if (!dst->record_waiters &&
	    !(dst->record_waiters = calloc(RELAY_RECORD_WAITERS, RELAY_KEY_LEN)))
		return;
	if (dst->n_record_waiters == RELAY_RECORD_WAITERS) {
		memmove(dst->record_waiters[0], dst->record_waiters[1],
		        (RELAY_RECORD_WAITERS - 1) * RELAY_KEY_LEN);
		dst->n_record_waiters--;
	}
	memcpy(dst->record_waiters[dst->n_record_waiters++], key, RELAY_KEY_LEN);
}

void relay_records_on_publish(struct relay_client *c, const struct frame *f)
{
	struct addr_record rec;
	uint8_t *copy;
	int rc;

	rc = addr_record_decode(&rec, f->payload, f->len, c->key, (uint64_t)time(NULL));
	if (rc == -ESTALE) {
		log_debug("client published an expired address record: ignored");
		return;
	}
	if (rc < 0) {
		relay_client_close(c, RELAY_CLOSE_PROTOCOL,
		                   rc == -EACCES
		                       ? "address record of another key: publish your own"
		                       : "address record does not parse or its signature fails "
		                         "(docs/relay.md, Address records)");
		return;
	}
	/* A replay of an older record (its own, from earlier) never replaces a newer one. */
	if (c->record && rec.seq <= c->record_seq)
		return;
	copy = malloc(f->len);
	if (!copy)
		return;
	memcpy(copy, f->payload, f->len);
	free(c->record);
	c->record = copy;
	c->record_len = (uint16_t)f->len;
	c->record_seq = rec.seq;
	c->srv->counters[RELAY_C_RECORDS_KEPT]++;
	push_to_waiters(c);
}

void relay_records_on_lookup(struct relay_client *c, const struct frame *f)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_KEY_LEN + ADDR_RECORD_MAX_LEN];
	struct relay_client *dst;
	int len;

	if (f->len != RELAY_KEY_LEN) {
		relay_client_close(c, RELAY_CLOSE_PROTOCOL, "lookup payload must be a 32-byte key");
		return;
	}
	dst = relay_server_lookup(c->srv, f->payload);
	if (dst && dst != c && !dst->record)
		add_waiter(dst, c->key);
	len = relay_record_encode(frame, sizeof(frame), f->payload, dst ? dst->record : NULL,
	                          dst && dst->record ? dst->record_len : 0);
	c->srv->counters[dst && dst->record ? RELAY_C_LOOKUPS_FOUND : RELAY_C_LOOKUPS_NONE]++;
	if (len > 0)
		relay_client_send(c, frame, (size_t)len);
}
