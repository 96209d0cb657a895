/* SPDX-License-Identifier: MIT */
/*
 * Punching on the wire: punch.c decides, this file carries its decisions out. Offers and
 * answers (our candidates, the round's punch id, our relay round trip) go through the
 * relay, sealed; probes go by UDP to every candidate of the other side, sealed; a probe
 * answer received on UDP validates that address as the direct path (path.c). One libuv
 * timer fires at the round's deadline.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "peer.h"
#include "portmap.h"

_Static_assert((int)PUNCH_OFFER_HELLO == (int)PEER_MSG_HELLO &&
                   (int)PUNCH_OFFER_CONNECT == (int)PEER_MSG_CONNECT,
               "an offer's message kind is its message type");

/* An offer: u32 punch | u8 flags | u32 relay_rtt_us | u8 n | n x (u8 kind | ip[4] | u16 port) */
#define OFFER_HEAD 10
#define OFFER_CAND 7
/* After the candidates, TLVs (u8 tag | u8 len | value, enum peer_tlv_tag) that older
 * peers ignore: hardnat's type (6 bytes), our relays (2 + 6 x PEER_MAX_CANDS) and our
 * IPv6 candidates (2 + 19 x PEER_MAX_CANDS). The list before them is IPv4 only. */
#define OFFER_TLVS_MAX (6 + 2 + 6 * PEER_MAX_CANDS + 2 + 19 * PEER_MAX_CANDS)

static int can_punch(const struct peer *p)
{
	return !p->o->relay_only && p->udp_open;
}

/* Punch ids are never 0: a probe with id 0 is a keepalive. */
static uint32_t fresh_id(void)
{
	return randombytes_uniform(0x7fffffff) + 1;
}

static uint64_t ms_round(uint64_t ns)
{
	return (ns + PEER_MS / 2) / PEER_MS;
}

/* Our last measured round trip to the relay we send through, in us; 0 if unknown. */
static uint32_t own_relay_rtt_us(const struct peer *p)
{
	int i = peer_relay_out(p);
	uint64_t us = i < 0 ? 0 : p->relays[i].rtt_ns / 1000;

	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/*
 * The one-way time of an offer through the relay, as a listener estimates it: half its
 * own round trip to the relay plus half the connector's (carried in the offer). 0 when
 * either is unknown.
 */
static uint64_t relay_one_way_ns(const struct peer *p, uint32_t peer_rtt_us)
{
	uint32_t own = own_relay_rtt_us(p);

	return own && peer_rtt_us ? ((uint64_t)own + peer_rtt_us) * 1000 / 2 : 0;
}

/*
 * An offer: our candidates under the round's punch id, in a HELLO (the connector's first
 * round, before it knows the listener's session, and the listener's answer to it) or a
 * CONNECT (later rounds, inside the session), with our relay round trip; flags as
 * enum punch_offer_flag (ANSWER: the answer to the peer's offer).
 */
static void send_offer(struct peer *p, uint8_t type, uint8_t flags)
{
	uint8_t m[1 + OFFER_HEAD + PEER_MAX_CANDS * OFFER_CAND + OFFER_TLVS_MAX];
	size_t off = 1 + OFFER_HEAD;
	int i;

	m[0] = type;
	frame_put_u32(m + 1, p->punch.id);
	m[5] = flags;
	frame_put_u32(m + 6, own_relay_rtt_us(p));
	m[10] = 0;
	for (i = 0; i < p->n_local; i++) {
		if (p->local[i].addr.sa.sa_family != AF_INET)
			continue;
		m[off] = p->local[i].kind;
		memcpy(m + off + 1, &p->local[i].addr.in.sin_addr, 4);
		memcpy(m + off + 5, &p->local[i].addr.in.sin_port, 2);
		off += OFFER_CAND;
		m[10]++;
	}
	off += peer_hardnat_offer_put(p, m + off, sizeof(m) - off);
	off += peer_cands6_offer_put(p, m + off, sizeof(m) - off);
	off += peer_home_offer_tail(p, m + off, sizeof(m) - off); /* our relays, home first */
	peer_send_via(p, PEER_VIA_RELAY, NULL, m, off);
}

/* The offer's candidates (m after the type) into remote; keep the peer-reflexive ones
 * (if keep_prflx). */
static int offer_parse(struct peer *p, const uint8_t *m, size_t len, int keep_prflx)
{
	struct peer_cand old[PEER_MAX_CANDS];
	union peer_sa a;
	int i, n, n_old = p->n_remote;

	n = m[OFFER_HEAD - 1];
	if (len < OFFER_HEAD + (size_t)n * OFFER_CAND)
		return -EBADMSG;
	memcpy(old, p->remote, sizeof(old));
	p->n_remote = 0;
	for (i = 0; i < n; i++) {
		const uint8_t *c = m + OFFER_HEAD + i * OFFER_CAND;

		memset(&a, 0, sizeof(a));
		a.in.sin_family = AF_INET;
		memcpy(&a.in.sin_addr, c + 1, 4);
		memcpy(&a.in.sin_port, c + 5, 2);
		if (c[0] == PEER_CAND_LOCAL || c[0] == PEER_CAND_REFLEXIVE ||
		    c[0] == PEER_CAND_RELAYED || c[0] == PEER_CAND_MAPPED)
			peer_cand_add(p->remote, &p->n_remote, c[0], &a);
	}
	peer_hardnat_offer_parse(p, m + OFFER_HEAD + n * OFFER_CAND,
	                         len - OFFER_HEAD - (size_t)n * OFFER_CAND);
	peer_cands6_offer_parse(p, m + OFFER_HEAD + n * OFFER_CAND,
	                        len - OFFER_HEAD - (size_t)n * OFFER_CAND);
	for (i = 0; keep_prflx && i < n_old; i++)
		if (old[i].kind == PEER_CAND_PEER_REFLEXIVE)
			peer_cand_add(p->remote, &p->n_remote, old[i].kind, &old[i].addr);
	peer_home_on_offer_tail(p, m + OFFER_HEAD + (size_t)n * OFFER_CAND,
	                        len - OFFER_HEAD - (size_t)n * OFFER_CAND);
	peer_cands_event(p, "remote");
	return 0;
}

static void send_probe(struct peer *p, const union peer_sa *to)
{
	uint8_t m[PEER_STAMP_LEN];

	peer_stamp_build(m, PEER_MSG_PROBE, p->punch.id, peer_now_ns());
	peer_send_via(p, PEER_VIA_UDP, to, m, sizeof(m));
}

/* One burst: IPv6 targets first, IPv4 ones once the family stagger is over (family.c). */
static void send_probes(struct peer *p)
{
	int burst = PUNCH_PROBE_COUNT - 1 - p->punch.probes_left, i, pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < p->n_remote; i++)
			if (p->remote[i].kind != PEER_CAND_RELAYED && /* through TURN (turn.c) */
			    (p->remote[i].addr.sa.sa_family == AF_INET6) == (pass == 0) &&
			    peer_family_probe_now(p, &p->remote[i].addr, burst))
				send_probe(p, &p->remote[i].addr);
}

static void punch_event(struct peer *p, enum punch_trigger trigger)
{
	const struct punch *pp = &p->punch;

	event_emit_obj(
	    "punch",
	    json_pack("{s:i, s:I, s:s, s:s, s:f, s:f, s:o}", "attempt", pp->round, "punch_id",
	              (json_int_t)pp->id, "role", p->o->listen ? "listener" : "connector", "start",
	              punch_trigger_name(trigger), "relay_rtt_ms", (double)pp->relay_rtt_ns / 1e6,
	              "delay_ms", trigger == PUNCH_BY_RTT ? (double)pp->delay_ns / 1e6 : 0.0,
	              "targets", peer_cands_json(p->remote, p->n_remote)));
}

static void punch_timer_cb(uv_timer_t *t);

/* Carries out what punch.c decided, then sets the timer to its deadline. */
static void punch_apply(struct peer *p, const struct punch_out *out, uint64_t now)
{
	uint64_t deadline = p->punch.deadline_ns;

	if (out->act & PUNCH_ACT_OFFER)
		send_offer(p, (uint8_t)out->offer_msg, out->offer_flags);
	if (out->act & PUNCH_ACT_BEGIN)
		punch_event(p, out->trigger);
	if (out->act & PUNCH_ACT_PROBE)
		send_probes(p);
	if (deadline == p->punch_armed_ns || p->stopping)
		return;
	p->punch_armed_ns = deadline;
	if (!deadline)
		uv_timer_stop(&p->punch_timer);
	else
		uv_timer_start(&p->punch_timer, punch_timer_cb,
		               deadline > now ? ms_round(deadline - now) : 0, 0);
}

static void punch_timer_cb(uv_timer_t *t)
{
	struct peer *p = container_of(t, struct peer, punch_timer);
	uint64_t now = peer_now_ns();
	struct punch_out out;

	p->punch_armed_ns = 0;
	punch_on_timer(&p->punch, now, p->direct, p->n_remote, &out);
	punch_apply(p, &out, now);
}

void peer_punch_init(struct peer *p)
{
	punch_init(&p->punch, p->o->listen, p->o->first_punch_sync);
	uv_timer_init(p->loop, &p->punch_timer);
}

void peer_punch_maybe(struct peer *p)
{
	uint64_t now = peer_now_ns();
	struct punch_out out;

	if (p->stopping || !p->stun_done || p->direct || !can_punch(p) || p->cur_relay < 0 ||
	    !punch_round_due(&p->punch, now))
		return;
	punch_offer(&p->punch, now, fresh_id(), p->stun_done, p->n_remote, &out);
	punch_apply(p, &out, now);
}

void peer_punch_hello(struct peer *p)
{
	uint64_t now = peer_now_ns();
	struct punch_out out;

	if (!can_punch(p)) {
		peer_send_type(p, PEER_VIA_RELAY, PEER_MSG_HELLO);
		return;
	}
	punch_hello(&p->punch, now, fresh_id(), p->stun_done, p->n_remote, &out);
	punch_apply(p, &out, now);
}

void peer_punch_on_stun_done(struct peer *p)
{
	uint64_t now = peer_now_ns();
	struct punch_out out;

	punch_on_stun_done(&p->punch, now, fresh_id(), p->direct, p->n_remote, &out);
	punch_apply(p, &out, now);
	peer_punch_maybe(p);
	peer_records_publish_all(p);
}

void peer_punch_on_record(struct peer *p)
{
	uint64_t now = peer_now_ns();
	struct punch_out out;

	if (!can_punch(p) || p->direct)
		return;
	punch_on_record(&p->punch, now, p->n_remote, &out);
	punch_apply(p, &out, now);
}

/*
 * The listener gets an offer: it answers at once with its own candidates and starts
 * probing the connector's, eagerly or synchronised (punch_on_offer()).
 */
static void on_offer(struct peer *p, uint8_t type, uint32_t id, uint8_t flags, uint32_t peer_rtt_us,
                     const uint8_t *m, size_t len)
{
	uint64_t now = peer_now_ns();
	struct punch_out out;

	if (id != p->punch.id && offer_parse(p, m, len, 0) < 0)
		return;
	punch_on_offer(&p->punch, now, (enum punch_offer_msg)type, id, flags,
	               relay_one_way_ns(p, peer_rtt_us), can_punch(p) && p->n_remote > 0, &out);
	punch_apply(p, &out, now);
}

/* The connector gets the answer to its current offer: the listener's candidates. */
static void on_answer(struct peer *p, uint8_t type, uint32_t id, const uint8_t *m, size_t len)
{
	uint64_t now;
	struct punch_out out;

	if (id != p->punch.id || offer_parse(p, m, len, 1) < 0)
		return;
	if (type == PEER_MSG_HELLO)
		/* Bound to the listener's session: its side of the handshake completes too. */
		peer_send_type(p, PEER_VIA_RELAY, PEER_MSG_HELLO);
	now = peer_now_ns();
	punch_on_answer(&p->punch, now, p->n_remote, &out);
	punch_apply(p, &out, now);
}

void peer_punch_on_offer_msg(struct peer *p, uint8_t type, const uint8_t *m, size_t len)
{
	uint32_t id;
	uint8_t flags;

	if (len < OFFER_HEAD)
		return;
	id = frame_get_u32(m);
	flags = m[4];
	if (p->o->listen && !(flags & PUNCH_OFFER_ANSWER))
		on_offer(p, type, id, flags, frame_get_u32(m + 5), m, len);
	else if (!p->o->listen && (flags & PUNCH_OFFER_ANSWER))
		on_answer(p, type, id, m, len);
}

/*
 * A sealed probe came from an address we are not direct with. If the peer sits behind
 * an address-and-port-dependent mapping (symmetric NAT), that is a mapping its NAT made
 * for us alone, which neither of its candidates names: our probes to its reflexive
 * address die at its filter, while our answers to this address get through. So, as
 * ICE's triggered checks do, probe the address the probe came from (a peer-reflexive
 * candidate), at once and with every later probe of this round; otherwise only the
 * peer would validate a direct path, and we would answer it over the relay.
 */
void peer_punch_on_probe(struct peer *p, const uint8_t *m, size_t n, const union peer_sa *from)
{
	uint64_t now = peer_now_ns();
	struct punch_out out;
	int had = p->n_remote;

	peer_cand_add(p->remote, &p->n_remote, PEER_CAND_PEER_REFLEXIVE, from);
	if (p->n_remote > had)
		peer_cands_event(p, "remote");
	send_probe(p, from);
	if (n < 5)
		return;
	/* The other side probes for our round: it has started, so do we. */
	punch_on_probe(&p->punch, now, frame_get_u32(m + 1), p->n_remote, &out);
	punch_apply(p, &out, now);
}

void peer_punch_on_direct(struct peer *p)
{
	struct punch_out out = { 0 };

	punch_on_direct(&p->punch);
	punch_apply(p, &out, peer_now_ns());
}

void peer_punch_on_path_lost(struct peer *p)
{
	punch_on_path_lost(&p->punch, peer_now_ns());
	peer_punch_maybe(p);
	/* A router that rebooted forgot our mapping too: ask it. */
	peer_portmap_on_path_lost(p);
}

void peer_punch_on_cands_changed(struct peer *p)
{
	/* As if STUN finished now: an outstanding offer goes out again, complete. */
	p->punch.offer_full = false;
	peer_punch_on_stun_done(p);
}
