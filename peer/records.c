/* SPDX-License-Identifier: MIT */
/*
 * Signed address records (docs/events.md, "Address records"; codec in addr_record.h).
 *
 * A connector that hears of the listener only through the relay learns the listener's
 * addresses from its answer (1 relay RTT after its HELLO) or from its first probe (half
 * an RTT): its own probe's answer comes one more RTT later, 1.5 RTT at best. Tailscale's
 * control server hands every node its peers' endpoints beforehand, iroh publishes signed
 * address records; here the listener publishes its candidates and the seal session it
 * will use to each relay, signed with its key, and the connector looks it up right behind
 * its AUTH: it has the record with SERVER_INFO and probes at once, bound to that session,
 * so its probe is answered one RTT later. The listener accepts the probe because it is
 * bound to its session (seal.h); a record that is stale (another run's session, old
 * addresses) only costs unanswered probes: the HELLO exchange goes on as without it.
 * The relay can withhold or replay a record (until it expires), not forge one.
 */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "natlab/addr_record.h"
#include "natlab/log.h"
#include "peer.h"

#define PEER_RECORD_TTL_S     600
#define PEER_RECORD_REFRESH_S 240 /* published again this often: well before it expires */

void peer_records_init(struct peer *p)
{
	/* --relay-only: nothing to probe, so nothing to disclose. */
	if (p->o->no_addr_record || !p->o->listen || p->o->relay_only)
		return;
	do
		randombytes_buf(p->rec_session, sizeof(p->rec_session));
	while (sodium_is_zero(p->rec_session, sizeof(p->rec_session)));
	p->rec_own = 1;
}

static int relay_has_records(const struct peer_relay *r)
{
	return (r->challenge.flags & RELAY_CHALLENGE_RECORDS) &&
	       (r->state == PEER_RELAY_READY || (r->state == PEER_RELAY_HANDSHAKE && r->auth_sent));
}

/* Our candidates that a peer can probe: local, reflexive and mapped ones, either family. */
static void record_fill(const struct peer *p, struct addr_record *rec)
{
	struct timespec ts;
	uint64_t seq;
	int i;

	memset(rec, 0, sizeof(*rec));
	for (i = 0; i < p->n_local && rec->n < ADDR_RECORD_MAX_CANDS; i++) {
		const struct peer_cand *c = &p->local[i];
		struct addr_record_cand *o = &rec->cand[rec->n];

		if (c->kind != PEER_CAND_LOCAL && c->kind != PEER_CAND_REFLEXIVE &&
		    c->kind != PEER_CAND_MAPPED)
			continue;
		o->kind = c->kind;
		if (c->addr.sa.sa_family == AF_INET) {
			o->family = 4;
			memcpy(o->ip, &c->addr.in.sin_addr, 4);
			o->port = ntohs(c->addr.in.sin_port);
		} else {
			o->family = 6;
			memcpy(o->ip, &c->addr.in6.sin6_addr, 16);
			o->port = ntohs(c->addr.in6.sin6_port);
		}
		rec->n++;
	}
	/* Microseconds of wall time: a restarted listener's records still count up. */
	clock_gettime(CLOCK_REALTIME, &ts);
	seq = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	rec->seq = seq > p->rec_seq ? seq : p->rec_seq + 1;
	rec->expiry = (uint64_t)ts.tv_sec + PEER_RECORD_TTL_S;
	memcpy(rec->session, p->rec_session, sizeof(rec->session));
}

static void publish(struct peer_relay *r, const uint8_t *rec, size_t len)
{
	uint8_t frame[FRAME_HEADER_LEN + ADDR_RECORD_MAX_LEN];
	int rc = frame_header_write(frame, RELAY_FRAME_PUBLISH, len);

	if (rc < 0)
		return;
	memcpy(frame + FRAME_HEADER_LEN, rec, len);
	rc = peer_relay_write_frame(r, frame, FRAME_HEADER_LEN + len);
	if (rc < 0)
		log_debug("relay %s: address record not published: %s", r->text, strerror(-rc));
}

/* Publishes a fresh record on r, or on every relay that keeps records (r NULL). */
static void publish_on(struct peer *p, struct peer_relay *r)
{
	uint8_t rec[ADDR_RECORD_MAX_LEN];
	struct addr_record ar;
	int i, n, sent = 0;

	if (!p->rec_own || !p->stun_done || p->stopping)
		return;
	record_fill(p, &ar);
	n = addr_record_encode(rec, sizeof(rec), &ar, &p->id);
	if (n < 0) {
		log_warnx("cannot sign our address record: %s", strerror(-n));
		return;
	}
	p->rec_seq = ar.seq;
	for (i = 0; i < p->n_relays; i++) {
		struct peer_relay *x = &p->relays[i];

		if ((r && x != r) || !relay_has_records(x))
			continue;
		publish(x, rec, (size_t)n);
		sent++;
	}
	if (sent) {
		p->rec_published_ns = peer_now_ns();
		event_emit("addr_record", "{s:s, s:I, s:i, s:i}", "action", "published", "seq",
		           (json_int_t)ar.seq, "candidates", ar.n, "relays", sent);
	}
}

void peer_records_on_auth_sent(struct peer *p, struct peer_relay *r)
{
	publish_on(p, r);
}

void peer_records_publish_all(struct peer *p)
{
	publish_on(p, NULL);
}

void peer_records_tick(struct peer *p, uint64_t now)
{
	if (p->rec_own && p->rec_published_ns &&
	    now - p->rec_published_ns >= (uint64_t)PEER_RECORD_REFRESH_S * 1000 * PEER_MS)
		publish_on(p, NULL);
}

void peer_records_lookup(struct peer *p)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_KEY_LEN];
	int i = peer_relay_out(p), n;

	if (p->o->no_addr_record || p->o->listen || p->o->relay_only || !p->have_peer ||
	    p->established || p->rec_hint || i < 0 || !relay_has_records(&p->relays[i]))
		return;
	n = relay_lookup_encode(frame, sizeof(frame), p->peer_key);
	if (n > 0)
		peer_relay_write_frame(&p->relays[i], frame, (size_t)n);
}

void peer_records_on_frame(struct peer *p, struct peer_relay *r, const uint8_t *m, size_t len)
{
	struct addr_record rec;
	union peer_sa a;
	int i, rc;

	if (p->o->no_addr_record || p->o->listen || !p->have_peer ||
	    memcmp(m, p->peer_key, RELAY_KEY_LEN) != 0 || len == RELAY_KEY_LEN)
		return; /* not asked for, or the relay holds none */
	rc = addr_record_decode(&rec, m + RELAY_KEY_LEN, len - RELAY_KEY_LEN, p->peer_key,
	                        (uint64_t)time(NULL));
	if (rc < 0) {
		event_emit("addr_record", "{s:s, s:s, s:s}", "action", "refused", "relay", r->text,
		           "reason",
		           rc == -EPERM    ? "bad_signature"
		           : rc == -ESTALE ? "expired"
		           : rc == -EACCES ? "wrong_key"
		                           : "malformed");
		return;
	}
	/* Too late (the listener's packets came first: on loopback its probe can beat our
	 * SERVER_INFO), or no newer than the one we use. */
	if (p->established || p->direct || (p->rec_hint && rec.seq <= p->rec_peer_seq)) {
		event_emit("addr_record", "{s:s, s:s, s:I, s:i, s:b}", "action", "received",
		           "relay", r->text, "seq", (json_int_t)rec.seq, "candidates", rec.n,
		           "used", 0);
		return;
	}
	for (i = 0; i < rec.n; i++) {
		const struct addr_record_cand *c = &rec.cand[i];

		if (c->kind != PEER_CAND_LOCAL && c->kind != PEER_CAND_REFLEXIVE &&
		    c->kind != PEER_CAND_MAPPED)
			continue;
		memset(&a, 0, sizeof(a));
		if (c->family == 4) {
			a.in.sin_family = AF_INET;
			memcpy(&a.in.sin_addr, c->ip, 4);
			a.in.sin_port = htons(c->port);
		} else {
			a.in6.sin6_family = AF_INET6;
			memcpy(&a.in6.sin6_addr, c->ip, 16);
			a.in6.sin6_port = htons(c->port);
		}
		if (peer_family_usable(p, a.sa.sa_family))
			peer_cand_add(p->remote, &p->n_remote, c->kind, &a);
	}
	p->rec_hint = 1;
	p->rec_peer_seq = rec.seq;
	memcpy(p->rec_peer_session, rec.session, sizeof(p->rec_peer_session));
	event_emit("addr_record", "{s:s, s:s, s:I, s:i, s:b}", "action", "received", "relay",
	           r->text, "seq", (json_int_t)rec.seq, "candidates", rec.n, "used", 1);
	peer_cands_event(p, "remote");
	peer_punch_on_record(p);
}

void peer_records_on_adopt(struct peer *p)
{
	if (p->rec_own && seal_use_session(&p->seal, p->rec_session) < 0)
		log_warnx("cannot use the session of our address record");
}

int peer_records_seal(struct peer *p, const void *msg, size_t len, uint8_t *out, size_t cap)
{
	if (p->rec_hint && sodium_is_zero(p->seal.dst_session, SEAL_SESSION_LEN))
		return seal_seal_to(&p->seal, p->rec_peer_session, msg, len, out, cap);
	return seal_seal(&p->seal, msg, len, out, cap);
}
