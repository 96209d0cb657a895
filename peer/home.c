/* SPDX-License-Identifier: MIT */
/*
 * Home relays and relay addresses (libp2p's circuit relays with autorelay, iroh's home
 * relay). A peer's home relay is the nearest of its own ready relays by measured round
 * trip (the TCP connect, then each keepalive ping), not the first in list order; its
 * relay address, relay://HOST:PORT/KEY (relay_addr.h), is how another peer finds it.
 * Each offer and answer carries the sender's relays, home first, after its candidates.
 *
 * Traffic to the peer goes where the peer is known to be: a connector uses the peer's
 * home relay (from a --connect relay address, or from the listener's answer), dialling it
 * on demand when it is not one of its own, else its own home relay unless that one said
 * the peer is not there; a listener answers on the relay the connector's last packet
 * came through. So two peers whose relay lists differ, or do
 * not overlap at all, meet on the listener's home relay, and both report it in `path`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "natlab/addr.h"
#include "natlab/relay_addr.h"
#include "peer.h"

/* A relay later in the list is the home only when nearer than the earlier ones by this
 * much: equally near relays (on loopback, or side by side) keep list order, whichever
 * answered first, instead of flapping with each sample. */
#define HOME_MARGIN_MIN_NS (1 * PEER_MS)
#define HOME_MARGIN_DIV    5 /* or a fifth of the current RTT, if more */
#define OFFER_RELAY        6 /* ip[4] | port[2], in a PEER_TLV_RELAYS */
/* Relays an offer announces at most (tag 3): 8, what peers read (PEER_MAX_CANDS was 8). */
#define OFFER_RELAYS_MAX 8
/* A relay's "the peer is not here" holds this long: the peer may connect to it later
 * (both sides start at once: the connector's first HELLO can beat the listener). */
#define ABSENT_MS 1000

const char *peer_relay_source_name(int source)
{
	switch (source) {
	case PEER_RELAY_ADDRESS:
		return "address";
	case PEER_RELAY_PEER:
		return "peer";
	case PEER_RELAY_DIRECTORY:
		return "directory";
	default:
		return "config";
	}
}

static int relay_ok(const struct peer *p, int i)
{
	return i >= 0 && i < p->n_relays && !p->relays[i].dropped &&
	       p->relays[i].state == PEER_RELAY_READY;
}

/* The smoothed round trip (RFC 6298's SRTT, 1/8 gain): one slow sample on a busy
 * machine must not move the home. */
static uint64_t relay_rtt(const struct peer_relay *r)
{
	return r->srtt_ns ? r->srtt_ns : r->rtt_ns;
}

void peer_home_on_rtt(struct peer_relay *r)
{
	r->srtt_ns = r->srtt_ns ? (7 * r->srtt_ns + r->rtt_ns) / 8 : r->rtt_ns;
	/* Also the moment to look again at relays whose "not here" has lapsed. */
	if (r->peer)
		peer_path_pick_relay(r->peer);
}

/* One of our own relays (not one dialled for the peer), ready, with an RTT sample. */
static int home_eligible(const struct peer *p, int i)
{
	const struct peer_relay *r = &p->relays[i];

	return relay_ok(p, i) && r->rtt_ns &&
	       (r->source == PEER_RELAY_CONFIG || r->source == PEER_RELAY_DIRECTORY);
}

/* Whether b is nearer than a by more than the margin. */
static int nearer(const struct peer_relay *b, const struct peer_relay *a)
{
	uint64_t margin = relay_rtt(a) / HOME_MARGIN_DIV;

	if (margin < HOME_MARGIN_MIN_NS)
		margin = HOME_MARGIN_MIN_NS;
	return relay_rtt(b) + margin < relay_rtt(a);
}

int peer_relay_find(const struct peer *p, const union peer_sa *a)
{
	int i;

	for (i = 0; i < p->n_relays; i++)
		if (!p->relays[i].dropped &&
		    peer_addr_equal((const union peer_sa *)&p->relays[i].addr, a))
			return i;
	return -1;
}

int peer_relay_add_at(struct peer *p, int i, const char *text, enum peer_relay_source source)
{
	int rc;

	if (i < 0 || i >= PEER_MAX_SLOTS || i > p->n_relays)
		return -ENOSPC;
	rc = peer_relay_init(&p->relays[i], p, i, text);
	if (rc < 0)
		return rc;
	p->relays[i].source = source;
	if (i == p->n_relays)
		p->n_relays++;
	return i;
}

int peer_relay_add(struct peer *p, const char *text, enum peer_relay_source source)
{
	return peer_relay_add_at(p, p->n_relays, text, source);
}

static void home_event(struct peer *p, uint32_t adv)
{
	char addr[RELAY_ADDR_TEXT_MAX];
	json_t *addrs = json_array(), *o;
	int i;

	for (i = -1; i < p->n_relays; i++) {
		/* The home first, then the others in list order. */
		int j = i < 0 ? p->home : i;

		if (j < 0 || (i >= 0 && j == p->home) || !(adv & (1u << j)))
			continue;
		if (relay_addr_format(p->relays[j].text, p->id.pub, addr, sizeof(addr)) == 0)
			json_array_append_new(addrs, json_string(addr));
	}
	if (p->home < 0) {
		o = json_pack("{s:n, s:i, s:o}", "relay", "index", -1, "addrs", addrs);
	} else {
		relay_addr_format(p->relays[p->home].text, p->id.pub, addr, sizeof(addr));
		o = json_pack("{s:s, s:i, s:f, s:s, s:o}", "relay", p->relays[p->home].text,
		              "index", p->home, "rtt_ms",
		              (double)relay_rtt(&p->relays[p->home]) / 1e6, "addr", addr, "addrs",
		              addrs);
	}
	event_emit_obj("home_relay", o);
}

void peer_home_update(struct peer *p)
{
	uint32_t adv = 0;
	int i, best = -1;

	if (p->stopping)
		return;
	for (i = 0; i < p->n_relays; i++) {
		if (!home_eligible(p, i))
			continue;
		adv |= 1u << i;
		if (best < 0 || nearer(&p->relays[i], &p->relays[best]))
			best = i;
	}
	if (best == p->home && adv == p->advertised)
		return;
	p->home = best;
	p->advertised = adv;
	home_event(p, adv);
}

static int absent(const struct peer *p, int i, uint64_t now)
{
	uint64_t t = p->relays[i].peer_absent_ns;

	return t && now - t < ABSENT_MS * PEER_MS;
}

int peer_home_pick(const struct peer *p)
{
	uint64_t now = peer_now_ns();
	int i;

#define USABLE(i) (relay_ok(p, (i)) && !absent(p, (i), now))
	if (!p->o->listen && USABLE(p->peer_home))
		return p->peer_home;
	/* The connector sends through its own home while the peer is there (the listener
	 * follows it), not wherever its first HELLO happened to go out. */
	if (!p->o->listen && USABLE(p->home))
		return p->home;
	if (relay_ok(p, p->peer_heard))
		return p->peer_heard;
	if (USABLE(p->home))
		return p->home;
	for (i = 0; i < p->n_relays; i++)
		if (USABLE(i))
			return i;
	for (i = 0; i < p->n_relays; i++)
		if (relay_ok(p, i))
			return i;
#undef USABLE
	return -1;
}

size_t peer_home_offer_tail(const struct peer *p, uint8_t *out, size_t cap)
{
	const union peer_sa *a;
	size_t off = 2;
	int i;

	/* Sent even when empty: "no relays" clears what an earlier offer announced. */
	if (cap < 2)
		return 0;
	out[0] = PEER_TLV_RELAYS;
	for (i = -1; i < p->n_relays; i++) {
		int j = i < 0 ? p->home : i;

		if (j < 0 || (i >= 0 && j == p->home) || !(p->advertised & (1u << j)) ||
		    p->relays[j].addr.ss_family != AF_INET || off + OFFER_RELAY > cap ||
		    off - 2 == OFFER_RELAYS_MAX * OFFER_RELAY)
			continue;
		a = (const union peer_sa *)&p->relays[j].addr;
		memcpy(out + off, &a->in.sin_addr, 4);
		memcpy(out + off + 4, &a->in.sin_port, 2);
		off += OFFER_RELAY;
	}
	out[1] = (uint8_t)(off - 2);
	return off;
}

/* The connector reaches the listener where the listener lives: dial its home relay. */
static void dial_peer_home(struct peer *p, const union peer_sa *a)
{
	char text[ADDR_TEXT_MAX];
	int i = peer_relay_find(p, a);

	if (i < 0) {
		peer_addr_text(a, text, sizeof(text));
		i = peer_relay_add(p, text, PEER_RELAY_PEER);
		if (i < 0) {
			peer_error(p, 0, "bad_relay", "the peer's home relay %s: %s", text,
			           i == -ENOSPC ? "no relay slot left" : "cannot connect");
			return;
		}
	}
	if (p->peer_home != i) {
		p->peer_home = i;
		peer_path_pick_relay(p);
	}
}

void peer_home_on_offer_tail(struct peer *p, const uint8_t *m, size_t len)
{
	union peer_sa a;
	const uint8_t *v = NULL;
	int i, n;

	/* Skip the TLVs of others (hardnat's type) and of later versions. */
	while (len >= 2 && (size_t)m[1] + 2 <= len && !v) {
		if (m[0] == PEER_TLV_RELAYS)
			v = m + 2;
		else {
			len -= (size_t)m[1] + 2;
			m += (size_t)m[1] + 2;
		}
	}
	if (!v)
		return; /* an older peer: no relays announced */
	n = m[1] / OFFER_RELAY;
	if (n > OFFER_RELAYS_MAX)
		n = OFFER_RELAYS_MAX;
	p->n_peer_relays = 0;
	for (i = 0; i < n; i++) {
		memset(&a, 0, sizeof(a));
		a.in.sin_family = AF_INET;
		memcpy(&a.in.sin_addr, v + i * OFFER_RELAY, 4);
		memcpy(&a.in.sin_port, v + i * OFFER_RELAY + 4, 2);
		if (a.in.sin_port == 0 || a.in.sin_addr.s_addr == 0)
			continue;
		p->peer_relays[p->n_peer_relays++] = a;
	}
	if (!p->o->listen && p->n_peer_relays > 0)
		dial_peer_home(p, &p->peer_relays[0]);
}

json_t *peer_home_peer_relays_json(const struct peer *p)
{
	char hp[ADDR_TEXT_MAX], addr[RELAY_ADDR_TEXT_MAX];
	json_t *arr;
	int i;

	if (!p->n_peer_relays)
		return NULL;
	arr = json_array();
	for (i = 0; i < p->n_peer_relays; i++) {
		peer_addr_text(&p->peer_relays[i], hp, sizeof(hp));
		if (relay_addr_format(hp, p->peer_key, addr, sizeof(addr)) == 0)
			json_array_append_new(arr, json_string(addr));
	}
	return arr;
}

void peer_home_on_heard(struct peer *p, struct peer_relay *r)
{
	r->peer_absent_ns = 0;
	if (p->peer_heard == r->index)
		return;
	p->peer_heard = r->index;
	peer_path_pick_relay(p);
}

void peer_home_on_not_here(struct peer *p, struct peer_relay *r)
{
	int i;

	r->peer_absent_ns = peer_now_ns();
	if (p->peer_heard == r->index)
		p->peer_heard = -1;
	/* Every ready relay said so: forget the others' answers, so the next HELLO tries
	 * them again (the peer may have connected since), this one last. */
	for (i = 0; i < p->n_relays; i++)
		if (relay_ok(p, i) && !absent(p, i, r->peer_absent_ns))
			break;
	if (i == p->n_relays)
		for (i = 0; i < p->n_relays; i++)
			if (i != r->index)
				p->relays[i].peer_absent_ns = 0;
	peer_path_pick_relay(p);
}
