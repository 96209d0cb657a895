/* SPDX-License-Identifier: MIT */
/*
 * Hard NATs on the wire; hardnat_plan.c decides, this file does the sockets, STUN and
 * probes (docs/events.md, "Hard NATs").
 *
 * 1. Detection. After the first STUN answer (the reflexive candidate), the same socket
 *    asks two more endpoints: the relay's RFC 5780 OTHER-ADDRESS (other address, other
 *    port) and the first server's address on that other port; without OTHER-ADDRESS,
 *    the other --stun servers. Equal reflexive addresses: easy; different ones: hard,
 *    sequential when the ports follow each other. The `nat_type` event reports it; the
 *    offers carry it after the candidates, and a HARDNAT message through the relay
 *    tells the peer once the session is up (the offer may have gone out first).
 * 2. Once both kinds are known and the session is up, a technique runs (at most one
 *    attempt per run, driven by the peer's 10 ms tick): birthday probing or port
 *    prediction. It stops at the first validated direct path (found by it or by the
 *    ordinary rounds, which go on meanwhile), or when its probe count or time budget is
 *    spent. Sockets it opened are closed then, except the one the direct path uses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <sodium.h>

#include "natlab/addr.h"
#include "natlab/log.h"
#include "peer.h"

#define HN_DETECT_TRIES      3
#define HN_DETECT_RETRY_MS   200
#define HN_TARGETS           3  /* the first answer, and two more endpoints */
#define HN_REFRESH_SOCKETS   1  /* hard side: sockets re-probing per tick (keeps mappings) */
#define HN_PREDICT_RESEND_MS 50 /* prediction: the window again this often */
#define HN_TLV_TYPE          PEER_TLV_HARDNAT_TYPE /* peer.h: the offer's TLV tags */
#define HN_TLV_PREDICT       PEER_TLV_HARDNAT_PREDICT

/* A socket opened for a technique: birthday's K, or prediction's one. */
struct hn_sock {
	uv_udp_t udp;
	struct peer_hardnat *hn;
	int open;
};

struct peer_hardnat {
	struct peer *p;
	/* Detection: slot 0 is the first answer; slots 1.. the endpoints asked after it. */
	int detecting, detected;
	union peer_sa det_to[HN_TARGETS];
	uint8_t det_txid[STUN_TXID_SIZE];
	struct hardnat_obs obs[HN_TARGETS];
	bool got[HN_TARGETS];
	int n_targets, det_tries;
	uint64_t det_sent_ns;
	struct hardnat_type self, peer;
	bool have_peer, told_peer;

	/* The attempt. */
	enum hardnat_technique tech;
	bool started, over;
	const char *reason;
	uint64_t start_ns, over_ns;
	uint32_t probes;
	union peer_sa target; /* the peer's reflexive address */
	struct hardnat_perm perm;
	struct hn_sock *socks;
	int n_socks, n_open, rr;

	/* Prediction: our socket's observed port, the peer's. */
	uint8_t pred_txid[STUN_TXID_SIZE];
	uint16_t pred_port, peer_pred_port;
	int peer_pred_step;
	bool pred_asked, have_pred, have_peer_pred;
	uint64_t pred_sent_ns, pred_probe_ns;
};

static struct peer_hardnat hardnat_state;

static uint64_t ms_of(uint64_t ns)
{
	return ns / PEER_MS;
}

static void put_u16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static bool enabled(const struct peer *p)
{
	return !p->o->hard_nat_off && !p->o->relay_only && p->udp_open;
}

static void obs_of(struct hardnat_obs *o, const union peer_sa *a)
{
	o->ip = ntohl(a->in.sin_addr.s_addr);
	o->port = ntohs(a->in.sin_port);
}

/* --- detection --- */

static void detect_send(struct peer_hardnat *hn)
{
	uint8_t req[STUN_MAX_MESSAGE];
	int i, n;

	n = stun_binding_request_encode(req, sizeof(req), hn->det_txid, 0, true);
	if (n < 0)
		return;
	/* In slot order: a sequential NAT numbers the mappings in the order they are made. */
	for (i = 1; i < hn->n_targets; i++)
		if (!hn->got[i])
			peer_send_udp(hn->p, &hn->det_to[i], req, (size_t)n);
	hn->det_tries++;
	hn->det_sent_ns = peer_now_ns();
}

static void detect_finish(struct peer_hardnat *hn)
{
	struct hardnat_obs o[HN_TARGETS];
	json_t *seen = json_array();
	char a[ADDR_TEXT_MAX];
	union peer_sa s = { .in = { .sin_family = AF_INET } };
	int i, n = 0;

	hn->detecting = 0;
	hn->detected = 1;
	for (i = 0; i < hn->n_targets; i++) {
		if (!hn->got[i])
			continue;
		o[n++] = hn->obs[i];
		s.in.sin_addr.s_addr = htonl(hn->obs[i].ip);
		s.in.sin_port = htons(hn->obs[i].port);
		peer_addr_text(&s, a, sizeof(a));
		json_array_append_new(seen, json_string(a));
	}
	hardnat_classify(o, n, &hn->self);
	event_emit_obj("nat_type",
	               json_pack("{s:s, s:i, s:i, s:o}", "type", hardnat_kind_name(hn->self.kind),
	                         "step", hn->self.step, "endpoints", hn->n_targets, "observed",
	                         seen));
	peer_stun_finish(hn->p);
}

/*
 * The endpoints to ask after the first answer (from server, with its message): the
 * relay's OTHER-ADDRESS, then the first server's address on OTHER-ADDRESS's port;
 * without it, the other STUN servers.
 */
static void detect_targets(struct peer_hardnat *hn, const struct stun_msg *msg,
                           const union peer_sa *from)
{
	const struct peer *p = hn->p;
	int i;

	hn->n_targets = 1;
	if ((msg->present & STUN_HAS_OTHER) && msg->other.ss_family == AF_INET) {
		hn->det_to[1] = *(const union peer_sa *)&msg->other;
		hn->det_to[2] = *from;
		hn->det_to[2].in.sin_port = hn->det_to[1].in.sin_port;
		hn->n_targets = 3;
		return;
	}
	for (i = 0; i < p->n_stun && hn->n_targets < HN_TARGETS; i++)
		if (p->stun_srv[i].sa.sa_family == AF_INET &&
		    !peer_addr_equal(&p->stun_srv[i], from))
			hn->det_to[hn->n_targets++] = p->stun_srv[i];
}

int peer_hardnat_on_reflexive(struct peer *p, const struct stun_msg *msg, const union peer_sa *from)
{
	struct peer_hardnat *hn = p->hardnat;

	if (!enabled(p) || hn->detecting || hn->detected)
		return 0;
	obs_of(&hn->obs[0], (const union peer_sa *)&msg->xor_mapped);
	hn->got[0] = true;
	hn->det_to[0] = *from;
	detect_targets(hn, msg, from);
	if (hn->n_targets < 2) {
		detect_finish(hn);
		return 1;
	}
	hn->detecting = 1;
	stun_txid_new(hn->det_txid);
	detect_send(hn);
	return 1;
}

static void on_pred_stun(struct peer_hardnat *hn, const union peer_sa *x);

int peer_hardnat_on_stun(struct peer *p, const struct stun_msg *msg, const union peer_sa *from)
{
	struct peer_hardnat *hn = p->hardnat;
	const union peer_sa *x = (const union peer_sa *)&msg->xor_mapped;
	int i;

	if (!enabled(p) || !(msg->present & STUN_HAS_XOR_MAPPED) || x->in.sin_family != AF_INET)
		return 0;
	/* The first request went to every server: their answers are observations too. */
	if (hn->detecting && (memcmp(msg->txid, hn->det_txid, STUN_TXID_SIZE) == 0 ||
	                      memcmp(msg->txid, p->stun_txid, STUN_TXID_SIZE) == 0)) {
		for (i = 1; i < hn->n_targets; i++)
			if (peer_addr_equal(&hn->det_to[i], from) && !hn->got[i]) {
				obs_of(&hn->obs[i], x);
				hn->got[i] = true;
			}
		for (i = 1; i < hn->n_targets && hn->got[i]; i++)
			;
		if (i == hn->n_targets)
			detect_finish(hn);
		return 1;
	}
	if (hn->pred_asked && !hn->have_pred &&
	    memcmp(msg->txid, hn->pred_txid, STUN_TXID_SIZE) == 0) {
		on_pred_stun(hn, x);
		return 1;
	}
	return 0;
}

/* --- the type on the wire: TLVs after an offer's candidates, and HARDNAT messages --- */

size_t peer_hardnat_offer_put(const struct peer *p, uint8_t *m, size_t cap)
{
	const struct peer_hardnat *hn = p->hardnat;

	if (!enabled(p) || !hn->detected || cap < 6)
		return 0;
	m[0] = HN_TLV_TYPE;
	m[1] = 4;
	m[2] = (uint8_t)hn->self.kind;
	m[3] = (uint8_t)(int8_t)hn->self.step;
	put_u16(m + 4, hn->self.last_port);
	return 6;
}

static void on_tlvs(struct peer_hardnat *hn, const uint8_t *m, size_t len)
{
	while (len >= 2 && (size_t)m[1] + 2 <= len) {
		if (m[0] == HN_TLV_TYPE && m[1] >= 4 && m[2] <= HARDNAT_HARD_RAND) {
			hn->peer.kind = (enum hardnat_kind)m[2];
			hn->peer.step = (int8_t)m[3];
			hn->peer.last_port = get_u16(m + 4);
			hn->have_peer = true;
		} else if (m[0] == HN_TLV_PREDICT && m[1] >= 3) {
			hn->peer_pred_port = get_u16(m + 2);
			hn->peer_pred_step = (int8_t)m[4];
			hn->have_peer_pred = true;
		}
		len -= (size_t)m[1] + 2;
		m += (size_t)m[1] + 2;
	}
}

void peer_hardnat_offer_parse(struct peer *p, const uint8_t *m, size_t len)
{
	if (enabled(p))
		on_tlvs(p->hardnat, m, len);
}

void peer_hardnat_on_msg(struct peer *p, const uint8_t *m, size_t len)
{
	if (enabled(p))
		on_tlvs(p->hardnat, m, len);
}

/* A HARDNAT message through the relay: our type, and our prediction port if known. */
static void send_msg(struct peer_hardnat *hn)
{
	uint8_t m[1 + 6 + 5];
	size_t n = 1;

	m[0] = PEER_MSG_HARDNAT;
	n += peer_hardnat_offer_put(hn->p, m + n, sizeof(m) - n);
	if (hn->have_pred) {
		m[n] = HN_TLV_PREDICT;
		m[n + 1] = 3;
		put_u16(m + n + 2, hn->pred_port);
		m[n + 4] = (uint8_t)(int8_t)hn->self.step;
		n += 5;
	}
	peer_send_via(hn->p, PEER_VIA_RELAY, NULL, m, n);
}

/* --- probes from our own sockets --- */

static void hn_close_cb(uv_handle_t *h)
{
	struct hn_sock *s = container_of((uv_udp_t *)h, struct hn_sock, udp);

	s->hn->n_open--;
}

static void hn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[PEER_MAX_PKT + 64];

	*buf = uv_buf_init(slab, sizeof(slab));
}

/* A packet on one of our sockets: sealed ones go to the session, answered from here. */
static void hn_recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                       unsigned flags)
{
	struct hn_sock *s = container_of(u, struct hn_sock, udp);
	struct peer *p = s->hn->p;
	const uint8_t *d = (const uint8_t *)buf->base;
	union peer_sa from;

	if (nread <= 0 || !addr || addr->sa_family != AF_INET || (flags & UV_UDP_PARTIAL))
		return;
	peer_sa_set(&from, addr);
	peer_on_udp(p, u, d, (size_t)nread, &from);
}

static int sock_open(struct peer_hardnat *hn, struct hn_sock *s)
{
	struct sockaddr_in any = { .sin_family = AF_INET };
	int rc;

	s->hn = hn;
	rc = uv_udp_init(hn->p->loop, &s->udp);
	if (rc < 0)
		return rc;
	s->open = 1;
	hn->n_open++;
	rc = uv_udp_bind(&s->udp, (const struct sockaddr *)&any, 0);
	if (rc == 0)
		rc = uv_udp_recv_start(&s->udp, hn_alloc_cb, hn_recv_cb);
	return rc;
}

static void sock_close(struct hn_sock *s)
{
	if (!s->open)
		return;
	s->open = 0;
	if (!uv_is_closing((uv_handle_t *)&s->udp))
		uv_close((uv_handle_t *)&s->udp, hn_close_cb);
}

/* A sealed PROBE (punch id 0: no round's) from socket u (NULL: the peer's own) to to. */
static void send_probe(struct peer_hardnat *hn, uv_udp_t *u, const union peer_sa *to)
{
	struct peer *p = hn->p;
	uint8_t m[PEER_STAMP_LEN], pkt[PEER_STAMP_LEN + SEAL_OVERHEAD];
	uv_buf_t b;
	int n;

	peer_stamp_build(m, PEER_MSG_PROBE, 0, peer_now_ns());
	if (!u) {
		peer_send_via(p, PEER_VIA_UDP, to, m, sizeof(m));
	} else {
		n = seal_seal(&p->seal, m, sizeof(m), pkt, sizeof(pkt));
		if (n < 0)
			return;
		b = uv_buf_init((char *)pkt, (unsigned)n);
		uv_udp_try_send(u, &b, 1, (const struct sockaddr *)to);
	}
	hn->probes++;
}

/* --- the attempt --- */

static const char *tech_name(enum hardnat_technique t)
{
	return t == HARDNAT_TECH_PREDICT ? "prediction"
	       : t == HARDNAT_TECH_NONE  ? "none"
	                                 : "birthday";
}

static const char *role_name(enum hardnat_technique t)
{
	switch (t) {
	case HARDNAT_TECH_BIRTHDAY_HARD:
		return "hard";
	case HARDNAT_TECH_BIRTHDAY_EASY:
		return "easy";
	case HARDNAT_TECH_PREDICT:
		return "both";
	default:
		return "none";
	}
}

/* The `hard_nat` event: state, and the fields every state has. */
static void hn_event(struct peer_hardnat *hn, const char *state, json_t *extra)
{
	const struct peer_opts *o = hn->p->o;
	json_t *e = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "state", state, "technique", tech_name(hn->tech),
	    "role", role_name(hn->tech), "local", hardnat_kind_name(hn->self.kind), "remote",
	    hardnat_kind_name(hn->peer.kind), "probes", (json_int_t)hn->probes, "elapsed_ms",
	    (json_int_t)(hn->start_ns ? ms_of(peer_now_ns() - hn->start_ns) : 0));

	if (hn->reason)
		json_object_set_new(e, "reason", json_string(hn->reason));
	if (hn->tech == HARDNAT_TECH_BIRTHDAY_HARD || hn->tech == HARDNAT_TECH_BIRTHDAY_EASY) {
		json_object_set_new(e, "sockets", json_integer(o->hn_sockets));
		json_object_set_new(e, "rate", json_integer(o->hn_rate));
		json_object_set_new(e, "max_probes", json_integer(o->hn_probes));
	}
	json_object_set_new(e, "budget_ms", json_integer((json_int_t)(o->hn_time_s * 1000)));
	if (extra)
		json_object_update(e, extra);
	json_decref(extra);
	event_emit_obj("hard_nat", e);
}

/* Closes every socket of ours but keep (the direct path's); returns how many. */
static int close_socks(struct peer_hardnat *hn, const uv_udp_t *keep)
{
	int i, n = 0;

	for (i = 0; i < hn->n_socks; i++)
		if (hn->socks[i].open && &hn->socks[i].udp != keep) {
			sock_close(&hn->socks[i]);
			n++;
		}
	return n;
}

static void finish(struct peer_hardnat *hn, const char *state, json_t *extra)
{
	const uv_udp_t *keep = hn->p->direct ? hn->p->direct_sock : NULL;
	int closed = close_socks(hn, keep);

	hn->over = true;
	if (!extra)
		extra = json_object();
	json_object_set_new(extra, "sockets_closed", json_integer(closed));
	json_object_set_new(extra, "sockets_kept", json_integer(hn->n_open - closed > 0 ? 1 : 0));
	hn_event(hn, state, extra);
}

static const struct peer_cand *peer_reflexive(const struct peer *p)
{
	int i;

	/* The techniques guess IPv4 NAT ports: IPv6 has no NAT to guess. */
	for (i = 0; i < p->n_remote; i++)
		if (p->remote[i].kind == PEER_CAND_REFLEXIVE &&
		    p->remote[i].addr.sa.sa_family == AF_INET)
			return &p->remote[i];
	return NULL;
}

/* Whether a's address is one of our relays' or STUN servers'. */
static bool is_server_addr(const struct peer *p, const union peer_sa *a)
{
	int i;

	for (i = 0; i < p->n_relays; i++)
		if (p->relays[i].addr.ss_family == AF_INET &&
		    ((const union peer_sa *)&p->relays[i].addr)->in.sin_addr.s_addr ==
		        a->in.sin_addr.s_addr)
			return true;
	for (i = 0; i < p->n_stun; i++)
		if (p->stun_srv[i].sa.sa_family == AF_INET &&
		    p->stun_srv[i].in.sin_addr.s_addr == a->in.sin_addr.s_addr)
			return true;
	return false;
}

static int socks_alloc(struct peer_hardnat *hn, int n)
{
	hn->socks = calloc((size_t)n, sizeof(*hn->socks));
	if (!hn->socks)
		return -ENOMEM;
	hn->n_socks = n;
	return 0;
}

/* Hard side: K sockets, each probing the easy side's reflexive address once now. */
static int start_birthday_hard(struct peer_hardnat *hn)
{
	int i, rc;

	rc = socks_alloc(hn, (int)hn->p->o->hn_sockets);
	for (i = 0; rc == 0 && i < hn->n_socks; i++) {
		rc = sock_open(hn, &hn->socks[i]);
		if (rc == 0)
			send_probe(hn, &hn->socks[i].udp, &hn->target);
	}
	if (rc < 0)
		log_warnx("hard NAT: %d of %d sockets opened: %s", i, hn->n_socks, uv_strerror(rc));
	return i > 0 ? 0 : rc;
}

/* Prediction: our socket asks the first STUN server which port its NAT gave it. */
static void predict_ask(struct peer_hardnat *hn)
{
	uint8_t req[STUN_MAX_MESSAGE];
	uv_buf_t b;
	int n;

	n = stun_binding_request_encode(req, sizeof(req), hn->pred_txid, 0, true);
	if (n < 0)
		return;
	b = uv_buf_init((char *)req, (unsigned)n);
	uv_udp_try_send(&hn->socks[0].udp, &b, 1, (const struct sockaddr *)&hn->det_to[0]);
	hn->pred_sent_ns = peer_now_ns();
}

/* Prediction: one fresh socket, whose first mapping (to the STUN server) we observe. */
static int start_predict(struct peer_hardnat *hn)
{
	int rc;

	/* The sweeper (connector) probes from this socket; the fan (listener) from S more. */
	rc = socks_alloc(hn, 1 + (hn->p->o->listen ? HARDNAT_PREDICT_SPAN : 0));
	if (rc == 0)
		rc = sock_open(hn, &hn->socks[0]);
	if (rc < 0)
		return rc;
	stun_txid_new(hn->pred_txid);
	hn->pred_asked = true;
	predict_ask(hn);
	return 0;
}

static void on_pred_stun(struct peer_hardnat *hn, const union peer_sa *x)
{
	hn->pred_port = ntohs(x->in.sin_port);
	hn->have_pred = true;
	send_msg(hn);
}

static void start(struct peer_hardnat *hn, uint64_t now)
{
	const struct peer_cand *rx = peer_reflexive(hn->p);
	json_t *extra = NULL;
	int rc = 0;

	hn->started = true;
	hn->tech = hardnat_choose(hn->self.kind, hn->peer.kind, &hn->reason);
	if (hn->tech == HARDNAT_TECH_NONE) {
		if (hn->reason) {
			hn->over = true;
			hn_event(hn, "skipped", NULL);
		}
		return;
	}
	if (!rx) {
		hn->tech = HARDNAT_TECH_NONE;
		hn->reason = "the peer offered no reflexive address to aim at";
		hn->over = true;
		hn_event(hn, "skipped", NULL);
		return;
	}
	hn->target = rx->addr;
	if (is_server_addr(hn->p, &hn->target)) {
		hn->tech = HARDNAT_TECH_NONE;
		hn->reason = "the peer's reflexive address is a relay's or STUN server's: "
		             "probing it would spray that server";
		hn->over = true;
		hn_event(hn, "skipped", NULL);
		return;
	}
	hn->start_ns = now;
	if (hn->tech == HARDNAT_TECH_BIRTHDAY_HARD)
		rc = start_birthday_hard(hn);
	else if (hn->tech == HARDNAT_TECH_PREDICT)
		rc = start_predict(hn);
	else
		hardnat_perm_init(&hn->perm, randombytes_random(), randombytes_random());
	if (rc < 0) {
		hn->reason = "cannot open sockets";
		finish(hn, "failed", json_pack("{s:s}", "error", uv_strerror(rc)));
		return;
	}
	if (hn->tech != HARDNAT_TECH_PREDICT)
		extra = json_pack("{s:f}", "p_success",
		                  hardnat_birthday_p(hn->p->o->hn_sockets, HARDNAT_PORT_COUNT,
		                                     hn->p->o->hn_probes));
	hn_event(hn, "start", extra);
}

static void tick_birthday_easy(struct peer_hardnat *hn, uint64_t now)
{
	const struct peer_opts *o = hn->p->o;
	uint32_t due = hardnat_due(hn->start_ns, now, o->hn_rate, o->hn_probes,
	                           (uint64_t)(o->hn_time_s * 1e9), hn->probes);
	union peer_sa to = hn->target;

	while (due--) {
		to.in.sin_port = htons(hardnat_perm_port(&hn->perm, hn->probes));
		send_probe(hn, NULL, &to);
	}
}

static void tick_birthday_hard(struct peer_hardnat *hn)
{
	int i;

	/* Round robin: each mapping is refreshed every n_socks ticks. */
	for (i = 0; i < HN_REFRESH_SOCKETS && hn->n_socks; i++) {
		hn->rr = (hn->rr + 1) % hn->n_socks;
		if (hn->socks[hn->rr].open)
			send_probe(hn, &hn->socks[hn->rr].udp, &hn->target);
	}
}

static void tick_predict(struct peer_hardnat *hn, uint64_t now)
{
	union peer_sa to = hn->target;
	bool sweep = !hn->p->o->listen;
	struct hn_sock *s;
	int i;

	if (!hn->have_pred && now - hn->pred_sent_ns > HN_DETECT_RETRY_MS * PEER_MS) {
		predict_ask(hn);
		return;
	}
	if (!hn->have_pred || !hn->have_peer_pred ||
	    now - hn->pred_probe_ns < HN_PREDICT_RESEND_MS * PEER_MS)
		return;
	/* The fan's sockets open only now: their mappings must come after the observed one. */
	for (i = 1; !sweep && !hn->pred_probe_ns && i < hn->n_socks; i++)
		if (sock_open(hn, &hn->socks[i]) < 0)
			sock_close(&hn->socks[i]);
	hn->pred_probe_ns = now;
	/* In order: our k-th new mapping is the one the peer's probes may be aimed at. */
	for (i = 0; i < HARDNAT_PREDICT_SPAN; i++) {
		s = &hn->socks[sweep ? 0 : 1 + i];
		to.in.sin_port =
		    htons(hardnat_predict_target(sweep, hn->peer_pred_port, hn->peer_pred_step, i));
		if (s->open)
			send_probe(hn, &s->udp, &to);
	}
}

void peer_hardnat_tick(struct peer *p, uint64_t now)
{
	struct peer_hardnat *hn = p->hardnat;
	const struct peer_opts *o = p->o;

	if (!enabled(p) || p->stopping)
		return;
	if (hn->detecting && now - hn->det_sent_ns > HN_DETECT_RETRY_MS * PEER_MS) {
		if (hn->det_tries >= HN_DETECT_TRIES)
			detect_finish(hn);
		else
			detect_send(hn);
	}
	if (!hn->detected || !p->established)
		return;
	if (!hn->told_peer) {
		hn->told_peer = true;
		send_msg(hn);
	}
	if (!hn->started && hn->have_peer && !p->direct)
		start(hn, now);
	if (!hn->started || hn->over || hn->tech == HARDNAT_TECH_NONE)
		return;
	if (hardnat_over(hn->start_ns, now,
	                 hn->tech == HARDNAT_TECH_BIRTHDAY_EASY ? o->hn_probes : UINT32_MAX,
	                 (uint64_t)(o->hn_time_s * 1e9), hn->probes)) {
		if (!hn->over_ns)
			hn->over_ns = now;
		if (now - hn->over_ns >= HARDNAT_GRACE_MS * PEER_MS) {
			hn->reason = "the probe budget is spent without a direct path";
			finish(hn, "gave_up", NULL);
		}
		return;
	}
	if (hn->tech == HARDNAT_TECH_BIRTHDAY_EASY)
		tick_birthday_easy(hn, now);
	else if (hn->tech == HARDNAT_TECH_BIRTHDAY_HARD)
		tick_birthday_hard(hn);
	else
		tick_predict(hn, now);
}

void peer_hardnat_on_direct(struct peer *p)
{
	struct peer_hardnat *hn = p->hardnat;
	char a[ADDR_TEXT_MAX];
	bool ours;

	if (!hn || !hn->started || hn->over || hn->tech == HARDNAT_TECH_NONE)
		return;
	/* Found by us: on one of our sockets, or (easy side) on a port we probed. */
	ours = p->direct_sock != NULL ||
	       (hn->tech == HARDNAT_TECH_BIRTHDAY_EASY && p->direct_addr.sa.sa_family == AF_INET &&
	        p->direct_addr.in.sin_addr.s_addr == hn->target.in.sin_addr.s_addr &&
	        p->direct_addr.in.sin_port != hn->target.in.sin_port);
	hn->reason = NULL;
	peer_addr_text(&p->direct_addr, a, sizeof(a));
	finish(hn, "direct", json_pack("{s:s, s:b}", "remote_addr", a, "found", ours));
}

bool peer_hardnat_busy(const struct peer *p)
{
	const struct peer_hardnat *hn = p->hardnat;

	return hn && hn->started && !hn->over && hn->tech != HARDNAT_TECH_NONE && !p->stopping;
}

uv_udp_t *peer_hardnat_sock_for(struct peer *p, const union peer_sa *to)
{
	if (p->rx_sock && p->rx_from && peer_addr_equal(to, p->rx_from))
		return p->rx_sock;
	if (p->direct && p->direct_sock && peer_addr_equal(to, &p->direct_addr))
		return p->direct_sock;
	return &p->udp;
}

void peer_hardnat_init(struct peer *p)
{
	memset(&hardnat_state, 0, sizeof(hardnat_state));
	hardnat_state.p = p;
	p->hardnat = &hardnat_state;
}

void peer_hardnat_free(struct peer *p)
{
	if (!p->hardnat)
		return;
	free(p->hardnat->socks);
	p->hardnat->socks = NULL;
	p->hardnat = NULL;
}
