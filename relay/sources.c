/* SPDX-License-Identifier: MIT */
/*
 * Per-source limits: for each client address, how many of its connections are still
 * handshaking and a token bucket of new connections per second. A reconnect storm
 * from one address is refused at accept, cheaply and before any signature check, so
 * it cannot take the handshake slots honest clients need. Entries live while a
 * handshake is open or the bucket is refilling; the sweep frees the rest.
 */
#include "natlab/relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct relay_source {
	struct relay_source *next;
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	uint32_t handshakes;
	double tokens;
	uint64_t refill_ms;
};

static void relay_source_addr(const struct sockaddr_storage *ss, uint8_t out[16])
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	} else if (ss->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	}
}

int relay_sources_init(struct relay_sources *s)
{
	s->size = RELAY_SOURCES_SLOTS;
	s->n = 0;
	randombytes_buf(s->hash_key, sizeof(s->hash_key));
	s->slots = calloc(s->size, sizeof(*s->slots));
	return s->slots ? 0 : -ENOMEM;
}

void relay_sources_free(struct relay_sources *s)
{
	size_t i;

	for (i = 0; s->slots && i < s->size; i++) {
		while (s->slots[i]) {
			struct relay_source *e = s->slots[i];

			s->slots[i] = e->next;
			free(e);
		}
	}
	free(s->slots);
	s->slots = NULL;
}

/* Addresses are chosen by clients: a keyed hash keeps them from sharing one chain. */
static struct relay_source **relay_sources_slot(struct relay_sources *s, const uint8_t addr[16])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, addr, 16, s->hash_key);
	memcpy(&v, h, sizeof(v));
	return &s->slots[v & (s->size - 1)];
}

static void relay_source_refill(const struct relay_config *cfg, struct relay_source *e,
                                uint64_t now)
{
	e->tokens += (double)(now - e->refill_ms) * cfg->source_rate / 1000.0;
	if (e->tokens > cfg->source_rate)
		e->tokens = cfg->source_rate;
	e->refill_ms = now;
}

const char *relay_sources_admit(struct relay_server *srv, struct relay_client *c,
                                const struct sockaddr_storage *peer)
{
	struct relay_sources *s = &srv->sources;
	const struct relay_config *cfg = &srv->cfg;
	uint64_t now = uv_now(srv->loop);
	struct relay_source **slot, *e;
	uint8_t addr[16];

	relay_source_addr(peer, addr);
	slot = relay_sources_slot(s, addr);
	for (e = *slot; e; e = e->next)
		if (!memcmp(e->addr, addr, 16))
			break;
	if (!e) {
		/* Past the table's bound sources go untracked rather than refused. */
		if (s->n >= RELAY_SOURCES_MAX)
			return NULL;
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		memcpy(e->addr, addr, 16);
		e->tokens = cfg->source_rate;
		e->refill_ms = now;
		e->next = *slot;
		*slot = e;
		s->n++;
	}
	if (cfg->source_rate) {
		relay_source_refill(cfg, e, now);
		if (e->tokens < 1.0)
			return "too many new connections from your address, slow down";
		e->tokens -= 1.0;
	}
	if (e->handshakes >= cfg->source_handshakes)
		return "too many handshakes in progress from your address";
	e->handshakes++;
	c->source = e;
	return NULL;
}

void relay_sources_release(struct relay_client *c)
{
	if (!c->source)
		return;
	c->source->handshakes--;
	c->source = NULL;
}

void relay_sources_sweep(struct relay_server *srv)
{
	struct relay_sources *s = &srv->sources;
	uint64_t now = uv_now(srv->loop);
	struct relay_source **pp, *e;
	size_t i;

	for (i = 0; i < s->size; i++) {
		for (pp = &s->slots[i]; (e = *pp);) {
			if (srv->cfg.source_rate)
				relay_source_refill(&srv->cfg, e, now);
			if (!e->handshakes &&
			    (!srv->cfg.source_rate || e->tokens >= (double)srv->cfg.source_rate)) {
				*pp = e->next;
				free(e);
				s->n--;
				continue;
			}
			pp = &e->next;
		}
	}
}
