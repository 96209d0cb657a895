/* SPDX-License-Identifier: MIT */
/*
 * Address records (docs/relay.md, "Address records"): a client publishes its own signed
 * record (addr_record.h), the relay keeps the last one on the client's connection (it
 * goes when the connection goes), and answers a LOOKUP of a key with it. The relay checks
 * the signature and that the record is the publisher's own, so it holds only what that
 * key signed; it cannot forge one, and a peer checks the signature again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natlab/addr_record.h"
#include "natlab/log.h"
#include "natlab/relay.h"

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
}

void relay_records_on_lookup(struct relay_client *c, const struct frame *f)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_KEY_LEN + ADDR_RECORD_MAX_LEN];
	const struct relay_client *dst;
	int len;

	if (f->len != RELAY_KEY_LEN) {
		relay_client_close(c, RELAY_CLOSE_PROTOCOL, "lookup payload must be a 32-byte key");
		return;
	}
	dst = relay_server_lookup(c->srv, f->payload);
	len = relay_record_encode(frame, sizeof(frame), f->payload, dst ? dst->record : NULL,
	                          dst && dst->record ? dst->record_len : 0);
	c->srv->counters[dst && dst->record ? RELAY_C_LOOKUPS_FOUND : RELAY_C_LOOKUPS_NONE]++;
	if (len > 0)
		relay_client_send(c, frame, (size_t)len);
}
