/* SPDX-License-Identifier: MIT */
/*
 * Candidates: where the other peer may reach us (the local addresses of our UDP socket,
 * and the reflexive address a STUN Binding to the relay's host reports), and where we
 * may reach it (from its offers, and peer-reflexive: where its probes came from).
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "natlab/addr.h"
#include "natlab/log.h"
#include "peer.h"
#include "portmap.h"

#define PEER_STUN_TRIES 5
/* After one family's STUN answer, the other's is waited for at least this long (until the
 * next retry); the retries come at 100, 300, 700, 1500 ms. */
#define PEER_STUN_FAMILY_WAIT_MS 50

void peer_cand_add(struct peer_cand *list, int *n, uint8_t kind, const union peer_sa *a)
{
	int i;

	for (i = 0; i < *n; i++)
		if (peer_addr_equal(&list[i].addr, a))
			return;
	if (*n >= PEER_MAX_CANDS)
		return;
	list[*n].kind = kind;
	list[*n].addr = *a;
	(*n)++;
}

static const char *cand_kind_name(uint8_t kind)
{
	switch (kind) {
	case PEER_CAND_LOCAL:
		return "local";
	case PEER_CAND_REFLEXIVE:
		return "reflexive";
	case PEER_CAND_RELAYED:
		return "relayed";
	case PEER_CAND_MAPPED:
		return "mapped";
	default:
		return "peer_reflexive";
	}
}

json_t *peer_cands_json(const struct peer_cand *list, int n)
{
	json_t *arr = json_array();
	char a[ADDR_TEXT_MAX];
	int i;

	for (i = 0; i < n; i++) {
		peer_addr_text(&list[i].addr, a, sizeof(a));
		json_array_append_new(
		    arr, json_pack("{s:s, s:s}", "kind", cand_kind_name(list[i].kind), "addr", a));
	}
	return arr;
}

void peer_cands_event(const struct peer *p, const char *side)
{
	int local = strcmp(side, "local") == 0;
	json_t *o = json_pack("{s:s, s:o}", "side", side, "list",
	                      local ? peer_cands_json(p->local, p->n_local)
	                            : peer_cands_json(p->remote, p->n_remote)),
	       *relays = local ? NULL : peer_home_peer_relays_json(p);

	if (relays)
		json_object_set_new(o, "relays", relays);
	event_emit_obj("candidates", o);
}

void peer_cands_gather(struct peer *p)
{
	uv_interface_address_t *ifs;
	union peer_sa a;
	int i, n;

	/* Bound to an address (--bind): that one, of either family. */
	if (p->udp_local.sa.sa_family != AF_INET ||
	    p->udp_local.in.sin_addr.s_addr != htonl(INADDR_ANY)) {
		peer_cand_add(p->local, &p->n_local, PEER_CAND_LOCAL, &p->udp_local);
		return;
	}
	if (uv_interface_addresses(&ifs, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET)
			continue;
		memset(&a, 0, sizeof(a));
		a.in = ifs[i].address.address4;
		a.in.sin_port = p->udp_local.in.sin_port;
		peer_cand_add(p->local, &p->n_local, PEER_CAND_LOCAL, &a);
	}
	uv_free_interface_addresses(ifs, n);
}

/* The candidates are complete (but for TURN's): the offer may go out. */
static void stun_settle(struct peer *p)
{
	if (p->stun_done)
		return;
	uv_timer_stop(&p->stun_timer);
	/* STUN is over, with or without an IPv4 answer: a PCP request waiting for the
	 * reflexive port goes on (with the internal port if none came). */
	if (!p->stun_ended) {
		p->stun_ended = 1;
		peer_portmap_on_stun(p);
	}
	/* The offer waits for the relayed candidate too: the TURN path needs it; and for a
	 * port mapping while the gateway is asked (briefly: portmap.h). */
	if (peer_turn_gathering(p) || peer_portmap_gathering(p)) {
		p->turn.stun_finished = 1;
		return;
	}
	p->stun_done = 1;
	peer_cands_event(p, "local");
	peer_punch_on_stun_done(p);
}

/* Bit of a family in p->stun_families. */
static int family_bit(int family)
{
	return family == AF_INET6 ? 2 : 1;
}

/* The families we asked a STUN server in (and have a socket for). */
static int stun_families_wanted(const struct peer *p)
{
	int i, want = 0;

	for (i = 0; i < p->n_stun; i++)
		if (peer_family_usable(p, p->stun_srv[i].sa.sa_family))
			want |= family_bit(p->stun_srv[i].sa.sa_family);
	return want;
}

/*
 * Settled once every family we asked in answered, or the other family was waited for
 * long enough; never while hardnat.c's detection (of the IPv4 mapping) runs.
 */
static void stun_maybe_settle(struct peer *p)
{
	if (p->stun_done || (p->stun_by_hardnat && !p->stun_hardnat_over))
		return;
	if ((stun_families_wanted(p) & ~p->stun_families) == 0 || p->stun_family_waited)
		stun_settle(p);
}

void peer_stun_finish(struct peer *p)
{
	p->stun_hardnat_over = 1;
	stun_maybe_settle(p);
}

void peer_cands_turn_done(struct peer *p)
{
	if (p->turn.stun_finished)
		stun_settle(p);
}

static void stun_send(struct peer *p)
{
	uint8_t req[STUN_MAX_MESSAGE];
	int i, n;

	n = stun_binding_request_encode(req, sizeof(req), p->stun_txid, 0, true);
	if (n < 0)
		return;
	for (i = 0; i < p->n_stun; i++)
		peer_send_udp(p, &p->stun_srv[i], req, (size_t)n);
}

static void stun_timer_cb(uv_timer_t *t)
{
	struct peer *p = container_of(t, struct peer, stun_timer);

	if (p->stun_done)
		return;
	/* One family answered a while ago: the other one's candidate is not worth a later
	 * offer (an IPv6 host whose IPv6 goes nowhere would wait seconds). */
	if (p->stun_families &&
	    peer_now_ns() - p->stun_first_ns >= PEER_STUN_FAMILY_WAIT_MS * PEER_MS) {
		p->stun_family_waited = 1;
		stun_maybe_settle(p);
		if (p->stun_done)
			return;
	}
	if (++p->stun_tries >= PEER_STUN_TRIES) {
		if (!p->stun_families) {
			event_emit("reflexive_failed", "{s:i}", "servers", p->n_stun);
			log_warnx("no STUN answer from %d server(s): no reflexive candidate",
			          p->n_stun);
		}
		stun_settle(p);
		return;
	}
	stun_send(p);
	uv_timer_start(&p->stun_timer, stun_timer_cb, 100u << p->stun_tries, 0);
}

/*
 * One reflexive address per family: the first answer of each. STUN is settled once every
 * family we asked in answered (IPv4's may wait for hardnat.c's NAT type detection, which
 * then finishes it), or at the timer's last try.
 */
void peer_on_stun(struct peer *p, const uint8_t *buf, size_t len, const union peer_sa *from)
{
	struct stun_msg msg;
	union peer_sa x;
	char a[ADDR_TEXT_MAX], s[ADDR_TEXT_MAX];
	int bit;

	if (stun_msg_decode(buf, len, &msg) < 0 || msg.type != STUN_BINDING_SUCCESS ||
	    peer_hardnat_on_stun(p, &msg, from) || p->stun_done || p->turn.stun_finished ||
	    memcmp(msg.txid, p->stun_txid, STUN_TXID_SIZE) != 0 ||
	    !(msg.present & STUN_HAS_XOR_MAPPED) ||
	    msg.xor_mapped.ss_family != from->sa.sa_family ||
	    peer_sa_set(&x, (const struct sockaddr *)&msg.xor_mapped) < 0)
		return;
	bit = family_bit(x.sa.sa_family);
	if (p->stun_families & bit)
		return;
	if (!p->stun_families)
		p->stun_first_ns = peer_now_ns();
	p->stun_families |= bit;
	peer_addr_text(&x, a, sizeof(a));
	peer_addr_text(from, s, sizeof(s));
	event_emit("reflexive", "{s:s, s:s, s:s}", "addr", a, "server", s, "family",
	           peer_sa_family_name(&x));
	peer_cand_add(p->local, &p->n_local, PEER_CAND_REFLEXIVE, &x);
	/* PCP suggests our IPv4 reflexive port: it waits for the first IPv4 answer. */
	if (x.sa.sa_family == AF_INET) {
		p->stun_ended = 1;
		peer_portmap_on_stun(p);
	}
	if (x.sa.sa_family == AF_INET && peer_hardnat_on_reflexive(p, &msg, from))
		p->stun_by_hardnat = 1;
	stun_maybe_settle(p);
}

int peer_stun_start(struct peer *p)
{
	struct sockaddr_storage ss;
	int i, rc;

	for (i = 0; i < (p->o->n_stun ? p->o->n_stun : p->n_relays) && i < PEER_MAX_RELAYS; i++) {
		if (p->o->n_stun) {
			rc = addr_parse(p->o->stun[i], &ss, ADDR_PORT_REQUIRED);
		} else {
			ss = p->relays[i].addr;
			((struct sockaddr_in *)&ss)->sin_port = htons(PEER_DEFAULT_STUN);
			rc = 0;
		}
		/* The port sits at one offset in both families. */
		if (rc < 0 || peer_sa_set(&p->stun_srv[p->n_stun], (struct sockaddr *)&ss) < 0 ||
		    p->stun_srv[p->n_stun].in.sin_port == 0)
			return -EINVAL;
		p->n_stun++;
	}
	stun_txid_new(p->stun_txid);
	stun_send(p);
	return uv_timer_start(&p->stun_timer, stun_timer_cb, 100, 0);
}
