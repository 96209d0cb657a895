/* SPDX-License-Identifier: MIT */
/*
 * The peer: one session with one other peer, reached through the relays, then
 * directly once a hole is punched.
 *
 * 1. Relays: connected all at once (relay_conn.c); messages go through the first ready one.
 * 2. Candidates: local addresses of the UDP socket, and the reflexive address a STUN
 *    Binding to the relay's STUN port reports.
 * 3. Session and first punch in one exchange (ICE's offer/answer, DCUtR's CONNECT):
 *    the connector's first sealed HELLO carries its candidates (an offer), sent right
 *    behind its AUTH to the relay; the listener answers with a HELLO carrying its own.
 *    The first bound packet each way establishes the session (seal.h). Later rounds are
 *    the same exchange in CONNECT messages. Both sides then probe, starting together as
 *    the measured relay round trips allow (DCUtR's SYNC, docs/events.md): in later
 *    rounds the connector starts half a measured round trip after its offer, the
 *    listener on receipt; in a first round with --first-punch sync the listener waits
 *    one relay leg after answering, the connector starts on the answer; in an eager
 *    first round the listener starts on receipt. Probes are sealed; a sealed PROBE_ACK
 *    received on UDP validates that address as the direct path.
 * 4. Path: messages go direct while the path is valid; keepalive probes every
 *    PEER_KEEPALIVE_MS keep NAT mappings alive and detect a dead path after
 *    PEER_DEAD_MS of silence, when traffic falls back to the relay and the connector
 *    punches again (backoff between failed rounds).
 * 5. Workloads: ping, transfer, hold, in that order; then BYE both ways and exit.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <sodium.h>

#include "natlab/addr.h"
#include "natlab/log.h"
#include "natlab/stun.h"
#include "peer.h"

#define MS			   1000000ull
#define PEER_TICK_MS		   10
#define PEER_HELLO_MS		   300
#define PEER_KEEPALIVE_MS	   200	/* direct path keepalive: far below any NAT timeout */
#define PEER_DEAD_MS		   700	/* direct path silent this long: back to the relay */
#define PEER_RELAY_KEEPALIVE_MS	   2000 /* peer-level keepalive while on the relay */
#define PEER_LOST_MS		   10000 /* nothing at all from the peer: give up */
#define PEER_PROBE_INTERVAL_MS	   25
#define PEER_PROBE_COUNT	   40
#define PEER_PUNCH_GRACE_MS	   500
#define PEER_SYNC_WAIT_MAX_MS	   1000 /* a synchronised start waits at most this long */
#define PEER_PUNCH_BACKOFF_MIN_MS  500
#define PEER_PUNCH_BACKOFF_MAX_MS  8000
#define PEER_STUN_TRIES		   5
#define PEER_PING_TIMEOUT_MS	   2000
#define PEER_BYE_MS		   200
#define PEER_LINGER_MS		   2000
#define PEER_RELAY_GIVE_UP_TRIES   5

/*
 * WAIT_REPLY: the connector's offer is out, probing starts on the answer (or a first
 * probe of the round); the timer fails the round. WAIT_START: probing starts when the
 * timer fires, at the moment the other side is expected to start (or sooner, on its
 * answer or first probe).
 */
enum punch_state { PUNCH_IDLE, PUNCH_WAIT_REPLY, PUNCH_WAIT_START, PUNCH_PROBING };
enum phase { PHASE_WAIT, PHASE_PING, PHASE_TRANSFER, PHASE_HOLD, PHASE_DONE };

struct peer {
	const struct peer_opts *o;
	struct identity id;
	uv_loop_t *loop;
	int exit_code;
	int stopping;
	uint64_t start_ns;

	struct peer_relay relays[PEER_MAX_RELAYS];
	int n_relays;
	int cur_relay; /* -1: none ready */
	int refused;

	int have_peer;
	uint8_t peer_key[IDENTITY_PUB_LEN];
	char peer_text[IDENTITY_PUB_TEXT_LEN + 1];
	struct seal_ctx seal;
	int established;
	int peer_not_here;
	uint64_t last_hello_ns, last_peer_rx_ns, last_relay_tx_ns;

	uv_udp_t udp;
	int udp_open;
	struct sockaddr_in udp_local;

	struct sockaddr_in stun_srv[PEER_MAX_RELAYS];
	int n_stun;
	uint8_t stun_txid[STUN_TXID_SIZE];
	int stun_tries;
	int stun_done;
	uv_timer_t stun_timer;

	struct peer_cand local[PEER_MAX_CANDS], remote[PEER_MAX_CANDS];
	int n_local, n_remote;

	enum punch_state punch;
	uint32_t punch_id;
	int punch_round;
	int probes_left;
	uint64_t connect_sent_ns, relay_rtt_ns, next_punch_ns;
	int offer_sends;   /* copies of the current offer sent (retransmitted HELLOs) */
	int offer_sampled; /* its answer gave an RTT sample already */
	uint64_t punch_delay_ns; /* WAIT_START: how long after the offer (or answer) */
	uint32_t punch_backoff_ms;
	int offer_full; /* our last offer had every candidate (STUN was done) */
	uv_timer_t punch_timer;

	int direct;
	struct sockaddr_in direct_addr;
	uint64_t last_direct_rx_ns, last_keepalive_ns, nodirect_since_ns;
	int reported; /* last path event: 0 none, 1 relay (reported_relay), 2 direct */
	uint64_t bytes_direct, bytes_relay; /* sealed bytes sent and received, probes aside */
	int reported_relay;

	uv_timer_t tick;
	uv_signal_t sigint, sigterm;

	enum phase phase;
	int ping_sent, ping_recv;
	uint64_t last_ping_ns;
	struct peer_xfer_tx tx;
	struct peer_xfer_rx rx;
	uint64_t hold_until_ns;
	int my_done, peer_done, bye_acked;
	uint64_t my_done_ns, last_bye_ns;
};

uint64_t peer_now_ns(void)
{
	return uv_hrtime();
}

const struct identity *peer_identity(const struct peer *p)
{
	return &p->id;
}

const char *peer_token(const struct peer *p)
{
	return p->o->token;
}

const char *peer_path_name(const struct peer *p)
{
	return p->direct ? "direct" : "relay";
}

/* An address as text for events and logs; "?" never happens for our IPv4 addresses. */
static void addr_text(const struct sockaddr_in *a, char *buf, size_t cap)
{
	if (addr_format((const struct sockaddr *)a, buf, cap) < 0)
		snprintf(buf, cap, "?");
}

static bool cand_addr_equal(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return addr_equal((const struct sockaddr *)a, (const struct sockaddr *)b);
}

static void peer_stop(struct peer *p, int code);

/* An error event, a log line, and (if fatal) the exit. */
static void peer_error(struct peer *p, int exit_code, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void peer_error(struct peer *p, int exit_code, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	event_error_v(reason, fmt, ap);
	va_end(ap);
	if (exit_code)
		peer_stop(p, exit_code);
}

/* --- sending --- */

static int msg_is_workload(uint8_t type)
{
	return type >= PEER_MSG_PING && type <= PEER_MSG_RESULT;
}

static int send_udp(struct peer *p, const struct sockaddr_in *to, const uint8_t *pkt, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)pkt, (unsigned)len);
	int rc;

	if (!p->udp_open)
		return -ENOTCONN;
	rc = uv_udp_try_send(&p->udp, &b, 1, (const struct sockaddr *)to);
	return rc < 0 ? rc : 0;
}

/* The relay to send through: the current one, else one that took our AUTH (early data). */
static int relay_out(const struct peer *p)
{
	int i;

	if (p->cur_relay >= 0)
		return p->cur_relay;
	for (i = 0; i < p->n_relays; i++)
		if (p->relays[i].state == PEER_RELAY_HANDSHAKE && p->relays[i].auth_sent)
			return i;
	return -1;
}

static int send_relay(struct peer *p, const uint8_t *pkt, size_t len)
{
	int rc, i = relay_out(p);

	if (i < 0)
		return -ENOTCONN;
	rc = peer_relay_send(&p->relays[i], p->peer_key, pkt, len);
	if (rc == 0)
		p->last_relay_tx_ns = peer_now_ns();
	return rc;
}

enum via { VIA_PATH, VIA_RELAY, VIA_UDP };

/*
 * The per-path byte counters of the exit event: sealed packets (what a UDP datagram or
 * a relay SEND/RECV frame carries for the peer) both ways. Probes are left out: they
 * go to every candidate whether or not a path exists, so counting them would make a
 * pair that never went direct look as if some traffic did.
 */
static void count_bytes(struct peer *p, int direct, uint8_t type, size_t len)
{
	if (type == PEER_MSG_PROBE || type == PEER_MSG_PROBE_ACK)
		return;
	if (direct)
		p->bytes_direct += len;
	else
		p->bytes_relay += len;
}

static int peer_send_via(struct peer *p, enum via via, const struct sockaddr_in *to,
			 const void *msg, size_t len)
{
	uint8_t pkt[PEER_MAX_PKT];
	int n, rc;

	if (!p->have_peer)
		return -ENOTCONN;
	if (via == VIA_PATH) {
		if (p->direct) {
			via = VIA_UDP;
			to = &p->direct_addr;
		} else if (p->o->no_relay && msg_is_workload(((const uint8_t *)msg)[0])) {
			return -ENETUNREACH;
		} else {
			via = VIA_RELAY;
		}
	}
	n = seal_seal(&p->seal, msg, len, pkt, sizeof(pkt));
	if (n < 0)
		return n;
	rc = via == VIA_UDP ? send_udp(p, to, pkt, (size_t)n) : send_relay(p, pkt, (size_t)n);
	if (rc == 0)
		count_bytes(p, via == VIA_UDP, ((const uint8_t *)msg)[0], (size_t)n);
	return rc;
}

int peer_send(struct peer *p, const void *msg, size_t len)
{
	return peer_send_via(p, VIA_PATH, NULL, msg, len);
}

static void send_simple(struct peer *p, enum via via, uint8_t type)
{
	peer_send_via(p, via, NULL, &type, 1);
}

/* --- path reporting --- */

static void report_path(struct peer *p)
{
	char a[64];

	if (!p->established || p->stopping)
		return;
	if (p->direct) {
		if (p->reported == 2)
			return;
		p->reported = 2;
		addr_text(&p->direct_addr, a, sizeof(a));
		event_emit("path", "{s:s, s:s}", "kind", "direct", "remote", a);
		return;
	}
	if (p->o->no_relay) {
		if (p->reported != 0)
			event_emit("path", "{s:s, s:n}", "kind", "none", "remote");
		p->reported = 0;
		return;
	}
	if (p->cur_relay < 0) {
		if (p->reported != 0)
			event_emit("path", "{s:s, s:n}", "kind", "none", "remote");
		p->reported = 0;
		return;
	}
	if (p->reported == 1 && p->reported_relay == p->cur_relay)
		return;
	p->reported = 1;
	p->reported_relay = p->cur_relay;
	event_emit("path", "{s:s, s:s, s:i}", "kind", "relay", "remote",
		   p->relays[p->cur_relay].text, "relay", p->cur_relay);
}

static void pick_relay(struct peer *p)
{
	int i;

	p->cur_relay = -1;
	for (i = 0; i < p->n_relays; i++)
		if (p->relays[i].state == PEER_RELAY_READY) {
			p->cur_relay = i;
			break;
		}
	report_path(p);
}

/* --- relay callbacks --- */

static void connector_hello(struct peer *p);
static void punch_offer(struct peer *p);
static void punch_maybe(struct peer *p);

/* Connector: the first HELLO goes out as soon as a relay can carry it. */
static void hello_maybe(struct peer *p)
{
	uint64_t now = peer_now_ns();

	if (!p->o->listen && p->have_peer && !p->established && !p->stopping &&
	    relay_out(p) >= 0 && (!p->last_hello_ns || now - p->last_hello_ns >= PEER_HELLO_MS * MS))
		connector_hello(p);
}

void peer_on_relay_auth_sent(struct peer *p, struct peer_relay *r)
{
	/* Right behind AUTH (early data): the listener gets it half a relay RTT sooner. */
	hello_maybe(p);
}

void peer_on_relay_ready(struct peer *p, struct peer_relay *r)
{
	event_emit("relay_connected", "{s:s, s:i, s:i}", "relay", r->text, "index", r->index,
		   "keepalive_ms", (int)r->info.keepalive_ms);
	pick_relay(p);
	/* A new relay may mean the peer lost us: say hello again through it. */
	if (p->established && p->cur_relay == r->index)
		send_simple(p, VIA_RELAY, PEER_MSG_HELLO);
	hello_maybe(p);
	punch_maybe(p);
}

void peer_on_relay_down(struct peer *p, struct peer_relay *r, const char *reason)
{
	if (r->ever_ready && r->failures == 0)
		event_emit("relay_disconnected", "{s:s, s:i, s:s}", "relay", r->text, "index",
			   r->index, "reason", reason);
	pick_relay(p);
}

void peer_on_relay_refused(struct peer *p, struct peer_relay *r, uint8_t reason, const char *text)
{
	p->refused = 1;
	peer_error(p, PEER_EXIT_REFUSED, "token_refused", "relay %s refused us: %s%s%s", r->text,
		   relay_close_reason_str(reason), text[0] ? ": " : "", text);
}

void peer_on_relay_peer_gone(struct peer *p, struct peer_relay *r, const uint8_t *key,
			     uint8_t reason)
{
	if (!p->have_peer || memcmp(key, p->peer_key, IDENTITY_PUB_LEN) != 0)
		return;
	if (reason == RELAY_PEER_GONE_NOT_HERE)
		p->peer_not_here = 1;
	if (p->established)
		event_emit("peer_gone", "{s:s, s:s}", "relay", r->text, "reason",
			   reason == RELAY_PEER_GONE_NOT_HERE ? "not_here" : "disconnected");
	/* The peer left after saying it was done: nothing more to wait for. */
	if (p->peer_done && p->my_done)
		p->bye_acked = 1;
}

static void handle_sealed(struct peer *p, const uint8_t *pkt, size_t len, const struct sockaddr_in *from);

void peer_on_relay_packet(struct peer *p, struct peer_relay *r, const uint8_t *key,
			  const uint8_t *data, size_t len)
{
	uint8_t m[PEER_MAX_PKT];
	int bound, n;

	if (!p->have_peer) {
		/* A listener adopts the first key whose sealed hello opens. */
		if (!p->o->listen || seal_init(&p->seal, &p->id, key) < 0)
			return;
		n = seal_open(&p->seal, data, len, m, sizeof(m), &bound);
		seal_close(&p->seal);
		if (n < 1 || m[0] != PEER_MSG_HELLO)
			return;
		if (seal_init(&p->seal, &p->id, key) < 0)
			return;
		p->have_peer = 1;
		memcpy(p->peer_key, key, IDENTITY_PUB_LEN);
		identity_pub_format(key, p->peer_text);
	}
	if (memcmp(key, p->peer_key, IDENTITY_PUB_LEN) != 0)
		return;
	handle_sealed(p, data, len, NULL);
}

/* --- candidates and STUN --- */

static void cand_add(struct peer_cand *list, int *n, uint8_t kind, const struct sockaddr_in *a)
{
	int i;

	for (i = 0; i < *n; i++)
		if (cand_addr_equal(&list[i].addr, a))
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
	default:
		return "peer_reflexive";
	}
}

static json_t *cands_json(const struct peer_cand *list, int n)
{
	json_t *arr = json_array();
	char a[64];
	int i;

	for (i = 0; i < n; i++) {
		addr_text(&list[i].addr, a, sizeof(a));
		json_array_append_new(arr, json_pack("{s:s, s:s}", "kind",
						     cand_kind_name(list[i].kind),
						     "addr", a));
	}
	return arr;
}

static void gather_local(struct peer *p)
{
	uv_interface_address_t *ifs;
	struct sockaddr_in a;
	int i, n;

	if (p->udp_local.sin_addr.s_addr != htonl(INADDR_ANY)) {
		cand_add(p->local, &p->n_local, PEER_CAND_LOCAL, &p->udp_local);
		return;
	}
	if (uv_interface_addresses(&ifs, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET)
			continue;
		a = ifs[i].address.address4;
		a.sin_port = p->udp_local.sin_port;
		cand_add(p->local, &p->n_local, PEER_CAND_LOCAL, &a);
	}
	uv_free_interface_addresses(ifs, n);
}

static void stun_finish(struct peer *p)
{
	if (p->stun_done)
		return;
	p->stun_done = 1;
	uv_timer_stop(&p->stun_timer);
	event_emit_obj("candidates", json_pack("{s:s, s:o}", "side", "local", "list",
					       cands_json(p->local, p->n_local)));
	/* An offer that went out before STUN answered lacks the reflexive candidate. */
	if (!p->o->listen && p->punch != PUNCH_IDLE && !p->offer_full && !p->direct)
		punch_offer(p);
	punch_maybe(p);
}

static void stun_send(struct peer *p)
{
	uint8_t req[STUN_MAX_MESSAGE];
	int i, n;

	n = stun_binding_request_encode(req, sizeof(req), p->stun_txid, 0, true);
	if (n < 0)
		return;
	for (i = 0; i < p->n_stun; i++)
		send_udp(p, &p->stun_srv[i], req, (size_t)n);
}

static void stun_timer_cb(uv_timer_t *t)
{
	struct peer *p = container_of(t, struct peer, stun_timer);

	if (p->stun_done)
		return;
	if (++p->stun_tries >= PEER_STUN_TRIES) {
		event_emit("reflexive_failed", "{s:i}", "servers", p->n_stun);
		log_warnx("no STUN answer from %d server(s): no reflexive candidate", p->n_stun);
		stun_finish(p);
		return;
	}
	stun_send(p);
	uv_timer_start(&p->stun_timer, stun_timer_cb, 100u << p->stun_tries, 0);
}

static void on_stun(struct peer *p, const uint8_t *buf, size_t len, const struct sockaddr_in *from)
{
	struct stun_msg msg;
	struct sockaddr_in *x;
	char a[64], s[64];

	if (p->stun_done || stun_msg_decode(buf, len, &msg) < 0 || msg.type != STUN_BINDING_SUCCESS ||
	    memcmp(msg.txid, p->stun_txid, STUN_TXID_SIZE) != 0 ||
	    !(msg.present & STUN_HAS_XOR_MAPPED) || msg.xor_mapped.ss_family != AF_INET)
		return;
	x = (struct sockaddr_in *)&msg.xor_mapped;
	addr_text(x, a, sizeof(a));
	addr_text(from, s, sizeof(s));
	event_emit("reflexive", "{s:s, s:s}", "addr", a, "server", s);
	cand_add(p->local, &p->n_local, PEER_CAND_REFLEXIVE, x);
	stun_finish(p);
}

/* --- punching --- */

static void punch_timer_cb(uv_timer_t *t);

static int can_punch(const struct peer *p)
{
	return !p->o->relay_only && p->udp_open;
}

/* Our last measured round trip to the relay we send through, in us; 0 if unknown. */
static uint32_t own_relay_rtt_us(const struct peer *p)
{
	int i = relay_out(p);
	uint64_t us = i < 0 ? 0 : p->relays[i].rtt_ns / 1000;

	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/*
 * An offer: our candidates under the round's punch id, in a HELLO (the connector's first
 * round, before it knows the listener's session, and the listener's answer to it) or a
 * CONNECT (later rounds, inside the session), with our relay round trip; flags as
 * enum peer_offer_flag (ANSWER: the answer to the peer's offer).
 */
static void send_offer(struct peer *p, uint8_t type, uint8_t flags)
{
	uint8_t m[11 + PEER_MAX_CANDS * 7];
	size_t off = 11;
	int i;

	m[0] = type;
	frame_put_u32(m + 1, p->punch_id);
	m[5] = flags;
	frame_put_u32(m + 6, own_relay_rtt_us(p));
	m[10] = (uint8_t)p->n_local;
	for (i = 0; i < p->n_local; i++) {
		m[off] = p->local[i].kind;
		memcpy(m + off + 1, &p->local[i].addr.sin_addr, 4);
		memcpy(m + off + 5, &p->local[i].addr.sin_port, 2);
		off += 7;
	}
	peer_send_via(p, VIA_RELAY, NULL, m, off);
}

static void send_probes(struct peer *p)
{
	uint8_t m[13];
	int i;

	m[0] = PEER_MSG_PROBE;
	frame_put_u32(m + 1, p->punch_id);
	frame_put_u64(m + 5, peer_now_ns());
	for (i = 0; i < p->n_remote; i++)
		peer_send_via(p, VIA_UDP, &p->remote[i].addr, m, sizeof(m));
}

static void punch_start_probing(struct peer *p)
{
	p->punch = PUNCH_PROBING;
	p->probes_left = PEER_PROBE_COUNT;
	send_probes(p);
	p->probes_left--;
	uv_timer_start(&p->punch_timer, punch_timer_cb, PEER_PROBE_INTERVAL_MS, PEER_PROBE_INTERVAL_MS);
}

/* trigger: what started the round (docs/events.md); delay_ms only for "rtt". */
static void punch_event(struct peer *p, const char *trigger)
{
	int timed = strcmp(trigger, "rtt") == 0;

	event_emit_obj("punch", json_pack("{s:i, s:I, s:s, s:s, s:f, s:f, s:o}", "attempt",
					  p->punch_round, "punch_id", (json_int_t)p->punch_id, "role",
					  p->o->listen ? "listener" : "connector", "start", trigger,
					  "relay_rtt_ms", (double)p->relay_rtt_ns / 1e6, "delay_ms",
					  timed ? (double)p->punch_delay_ns / 1e6 : 0.0, "targets",
					  cands_json(p->remote, p->n_remote)));
}

static void punch_failed(struct peer *p)
{
	uv_timer_stop(&p->punch_timer);
	p->punch = PUNCH_IDLE;
	/* Rounds that failed count; an unanswered HELLO only means no listener yet. */
	if (!p->o->listen && p->established) {
		p->next_punch_ns = peer_now_ns() + p->punch_backoff_ms * MS;
		p->punch_backoff_ms = p->punch_backoff_ms * 2 > PEER_PUNCH_BACKOFF_MAX_MS
					      ? PEER_PUNCH_BACKOFF_MAX_MS
					      : p->punch_backoff_ms * 2;
	}
}

static void punch_begin(struct peer *p, const char *trigger);

static void punch_timer_cb(uv_timer_t *t)
{
	struct peer *p = container_of(t, struct peer, punch_timer);

	switch (p->punch) {
	case PUNCH_PROBING:
		if (p->direct) {
			uv_timer_stop(t);
			p->punch = PUNCH_IDLE;
			return;
		}
		if (p->probes_left > 0) {
			send_probes(p);
			if (--p->probes_left == 0)
				uv_timer_start(t, punch_timer_cb, PEER_PUNCH_GRACE_MS, 0);
			return;
		}
		punch_failed(p);
		return;
	case PUNCH_WAIT_REPLY:
		/* The other side never answered this round. */
		punch_failed(p);
		return;
	case PUNCH_WAIT_START:
		punch_begin(p, "rtt");
		return;
	case PUNCH_IDLE:
		uv_timer_stop(t);
		return;
	}
}

static uint8_t offer_flags(const struct peer *p)
{
	return !p->established && p->o->first_punch_sync ? PEER_OFFER_SYNC : 0;
}

/* A synchronised start's wait, capped so that a bad estimate (a huge RTT in an offer, a
 * TCP connect that needed SYN retransmits) cannot stall a round. */
static uint64_t sync_wait_ns(uint64_t ns)
{
	return ns > PEER_SYNC_WAIT_MAX_MS * MS ? PEER_SYNC_WAIT_MAX_MS * MS : ns;
}

static uint64_t ms_round(uint64_t ns)
{
	return (ns + MS / 2) / MS;
}

/*
 * Connector: a new round, with a fresh punch id. Before the session is up the offer
 * rides in the HELLO, so the listener can answer and start probing on the very first
 * message it gets from us. In later rounds we know the listener's candidates and the
 * round trip through the relay (measured on the last answer): as DCUtR's SYNC does,
 * we start probing half that round trip after the offer, when it reaches the listener,
 * which starts on receipt.
 */
static void punch_offer(struct peer *p)
{
	uv_timer_stop(&p->punch_timer);
	p->punch_id = randombytes_uniform(0x7fffffff) + 1;
	p->connect_sent_ns = peer_now_ns();
	p->offer_sends = 1;
	p->offer_sampled = 0;
	p->offer_full = p->stun_done;
	send_offer(p, p->established ? PEER_MSG_CONNECT : PEER_MSG_HELLO, offer_flags(p));
	if (p->established && p->relay_rtt_ns && p->n_remote > 0) {
		p->punch = PUNCH_WAIT_START;
		p->punch_delay_ns = sync_wait_ns(p->relay_rtt_ns / 2);
		uv_timer_start(&p->punch_timer, punch_timer_cb, ms_round(p->punch_delay_ns), 0);
		return;
	}
	p->punch = PUNCH_WAIT_REPLY;
	uv_timer_start(&p->punch_timer, punch_timer_cb, 3000, 0);
}

/*
 * Connector, until the session is up: the HELLO, with our offer when we can punch. A
 * retransmission repeats the outstanding offer (same punch id), so a listener already
 * probing for it only answers again.
 */
static void connector_hello(struct peer *p)
{
	p->last_hello_ns = peer_now_ns();
	if (!can_punch(p)) {
		send_simple(p, VIA_RELAY, PEER_MSG_HELLO);
	} else if (p->punch == PUNCH_WAIT_REPLY) {
		p->offer_sends++;
		send_offer(p, PEER_MSG_HELLO, offer_flags(p));
	} else {
		punch_offer(p);
	}
}

/* Connector: a new round when none runs, the path is not direct and the backoff is over. */
static void punch_maybe(struct peer *p)
{
	if (!p->o->listen && p->established && !p->stopping && p->stun_done && !p->direct &&
	    can_punch(p) && p->punch == PUNCH_IDLE && peer_now_ns() >= p->next_punch_ns &&
	    p->cur_relay >= 0)
		punch_offer(p);
}

/*
 * Probing for the current round starts: on the timer of a synchronised start, or when
 * the other side shows it started (its answer, its first probe of the round), or, for
 * the listener of an eager round, on the offer.
 */
static void punch_begin(struct peer *p, const char *trigger)
{
	if (p->n_remote == 0) {
		punch_failed(p);
		return;
	}
	p->punch_round++;
	punch_event(p, trigger);
	punch_start_probing(p);
}

/* The offer's candidates into remote; keep the peer-reflexive ones (if keep_prflx). */
static int offer_parse(struct peer *p, const uint8_t *m, size_t len, int keep_prflx)
{
	struct peer_cand old[PEER_MAX_CANDS];
	struct sockaddr_in a;
	int i, n, n_old = p->n_remote;

	n = m[9];
	if (len < 10 + (size_t)n * 7)
		return -EBADMSG;
	memcpy(old, p->remote, sizeof(old));
	p->n_remote = 0;
	for (i = 0; i < n; i++) {
		const uint8_t *c = m + 10 + i * 7;

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		memcpy(&a.sin_addr, c + 1, 4);
		memcpy(&a.sin_port, c + 5, 2);
		if (c[0] == PEER_CAND_LOCAL || c[0] == PEER_CAND_REFLEXIVE)
			cand_add(p->remote, &p->n_remote, c[0], &a);
	}
	for (i = 0; keep_prflx && i < n_old; i++)
		if (old[i].kind == PEER_CAND_PEER_REFLEXIVE)
			cand_add(p->remote, &p->n_remote, old[i].kind, &old[i].addr);
	event_emit_obj("candidates", json_pack("{s:s, s:o}", "side", "remote", "list",
					       cands_json(p->remote, p->n_remote)));
	return 0;
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
 * The listener gets an offer: it answers at once with its own candidates and starts
 * probing the connector's. Eagerly, on receipt (ICE's answerer; DCUtR's side that
 * receives SYNC): its first probes open its NAT towards the connector, whose probes
 * then get through. Or, when the offer asks for a synchronised start, one relay leg
 * later, when its answer reaches the connector, which starts on the answer.
 */
static void on_offer(struct peer *p, uint8_t type, uint32_t id, uint8_t flags,
		     uint32_t peer_rtt_us, const uint8_t *m, size_t len)
{
	uint64_t wait;

	if (id == p->punch_id) {
		/* A retransmission of the offer we answered: answer again only. */
		send_offer(p, type, PEER_OFFER_ANSWER);
		return;
	}
	if (offer_parse(p, m, len, 0) < 0)
		return;
	uv_timer_stop(&p->punch_timer);
	p->punch = PUNCH_IDLE;
	p->punch_id = id;
	send_offer(p, type, PEER_OFFER_ANSWER);
	if (!can_punch(p) || p->n_remote == 0)
		return;
	wait = flags & PEER_OFFER_SYNC ? sync_wait_ns(relay_one_way_ns(p, peer_rtt_us)) : 0;
	p->relay_rtt_ns = 2 * wait;
	if (!wait) {
		punch_begin(p, "offer");
		return;
	}
	p->punch = PUNCH_WAIT_START;
	p->punch_delay_ns = wait;
	uv_timer_start(&p->punch_timer, punch_timer_cb, ms_round(wait), 0);
}

/*
 * The connector gets the answer to its current offer: the listener's candidates and
 * the round trip through the relay. Probing starts now unless it started already (on
 * the timer of a synchronised round, or on a first probe of the listener).
 */
static void on_answer(struct peer *p, uint8_t type, uint32_t id, const uint8_t *m, size_t len)
{
	if (id != p->punch_id || offer_parse(p, m, len, 1) < 0)
		return;
	if (type == PEER_MSG_HELLO)
		/* Bound to the listener's session: its side of the handshake completes too. */
		send_simple(p, VIA_RELAY, PEER_MSG_HELLO);
	/*
	 * One RTT sample per offer, and none from an offer sent more than once: which copy
	 * an answer belongs to is unknown (Karn's rule); the last good sample stays.
	 */
	if (!p->offer_sampled && p->offer_sends == 1)
		p->relay_rtt_ns = peer_now_ns() - p->connect_sent_ns;
	p->offer_sampled = 1;
	if (p->punch == PUNCH_WAIT_REPLY || p->punch == PUNCH_WAIT_START)
		punch_begin(p, "answer");
	else if (p->punch == PUNCH_PROBING)
		send_probes(p); /* the candidates the round's first probe did not name */
}

/* An offer or an answer, in a HELLO or a CONNECT (type): m is what follows the type. */
static void on_offer_msg(struct peer *p, uint8_t type, const uint8_t *m, size_t len)
{
	uint32_t id;
	uint8_t flags;

	if (len < 10)
		return;
	id = frame_get_u32(m);
	flags = m[4];
	if (p->o->listen && !(flags & PEER_OFFER_ANSWER))
		on_offer(p, type, id, flags, frame_get_u32(m + 5), m, len);
	else if (!p->o->listen && (flags & PEER_OFFER_ANSWER))
		on_answer(p, type, id, m, len);
}

static void go_direct(struct peer *p, const struct sockaddr_in *from, uint64_t rtt_ns)
{
	char a[64];

	p->direct = 1;
	p->direct_addr = *from;
	p->last_direct_rx_ns = p->last_keepalive_ns = peer_now_ns();
	p->punch_backoff_ms = PEER_PUNCH_BACKOFF_MIN_MS;
	if (p->punch != PUNCH_IDLE) {
		uv_timer_stop(&p->punch_timer);
		p->punch = PUNCH_IDLE;
	}
	addr_text(from, a, sizeof(a));
	log_info("direct path to %s validated (%.3f ms)", a, (double)rtt_ns / 1e6);
	report_path(p);
	event_emit("rtt", "{s:f, s:s, s:s}", "ms", (double)rtt_ns / 1e6, "path", "direct", "source",
		   "probe");
}

static void fall_back(struct peer *p, const char *why)
{
	char a[64];

	addr_text(&p->direct_addr, a, sizeof(a));
	log_info("direct path to %s lost (%s): back to the relay", a, why);
	p->direct = 0;
	p->nodirect_since_ns = peer_now_ns();
	report_path(p);
	/* Punch again right away; the backoff applies to failed rounds only. */
	if (!p->o->listen && p->punch == PUNCH_IDLE)
		p->next_punch_ns = peer_now_ns();
	punch_maybe(p);
}

/* --- session and messages --- */

static void workloads_step(struct peer *p, uint64_t now);

/* The first bound packet from the peer: it knows our session, we know its. */
static void on_established(struct peer *p)
{
	p->established = 1;
	p->nodirect_since_ns = peer_now_ns();
	event_emit("connected", "{s:s, s:s}", "peer", p->peer_text, "role",
		   p->o->listen ? "listener" : "connector");
	report_path(p);
	punch_maybe(p);
	workloads_step(p, peer_now_ns());
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
static void on_peer_reflexive(struct peer *p, const struct sockaddr_in *from)
{
	uint8_t m[13];
	int i, n = p->n_remote;

	for (i = 0; i < p->n_remote; i++)
		if (cand_addr_equal(&p->remote[i].addr, from))
			break;
	if (i == p->n_remote) {
		cand_add(p->remote, &p->n_remote, PEER_CAND_PEER_REFLEXIVE, from);
		if (p->n_remote > n)
			event_emit_obj("candidates",
				       json_pack("{s:s, s:o}", "side", "remote", "list",
						 cands_json(p->remote, p->n_remote)));
	}
	m[0] = PEER_MSG_PROBE;
	frame_put_u32(m + 1, p->punch_id);
	frame_put_u64(m + 5, peer_now_ns());
	peer_send_via(p, VIA_UDP, from, m, sizeof(m));
}

static void on_probe_ack(struct peer *p, const uint8_t *m, size_t len,
			 const struct sockaddr_in *from)
{
	uint64_t sent;

	if (len < 12 || !from)
		return;
	sent = frame_get_u64(m + 4);
	if (!p->direct && !p->o->relay_only)
		go_direct(p, from, peer_now_ns() - sent);
}

static void on_pong(struct peer *p, const uint8_t *m, size_t len, const struct sockaddr_in *from)
{
	uint64_t sent;

	if (len < 12)
		return;
	sent = frame_get_u64(m + 4);
	p->ping_recv++;
	event_emit("rtt", "{s:f, s:s, s:s, s:i}", "ms", (double)(peer_now_ns() - sent) / 1e6,
		   "path", from ? "direct" : "relay", "source", "ping", "seq", (int)frame_get_u32(m));
}

static void handle_sealed(struct peer *p, const uint8_t *pkt, size_t len, const struct sockaddr_in *from)
{
	uint8_t m[PEER_MAX_PKT];
	int bound, n;
	uint64_t now = peer_now_ns();

	n = seal_open(&p->seal, pkt, len, m, sizeof(m), &bound);
	if (n < 1) {
		log_debug("dropped a sealed packet: %s", n < 0 ? strerror(-n) : "empty");
		return;
	}
	if (!bound && m[0] != PEER_MSG_HELLO)
		return;
	count_bytes(p, from != NULL, m[0], len);
	p->last_peer_rx_ns = now;
	if (from && p->direct && cand_addr_equal(from, &p->direct_addr))
		p->last_direct_rx_ns = now;
	if (bound)
		seal_set_dst(&p->seal, seal_packet_src(pkt));
	/* Any bound packet (a HELLO answer, or a probe that beat it) completes the handshake. */
	if (bound && !p->established) {
		if (m[0] == PEER_MSG_HELLO && n == 1)
			send_simple(p, VIA_RELAY, PEER_MSG_HELLO);
		on_established(p);
		if (p->stopping)
			return;
	}

	switch (m[0]) {
	case PEER_MSG_HELLO:
		seal_set_dst(&p->seal, seal_packet_src(pkt));
		if (n > 1)
			on_offer_msg(p, PEER_MSG_HELLO, m + 1, (size_t)n - 1);
		else if (!bound)
			send_simple(p, VIA_RELAY, PEER_MSG_HELLO);
		break;
	case PEER_MSG_CONNECT:
		on_offer_msg(p, PEER_MSG_CONNECT, m + 1, (size_t)n - 1);
		break;
	case PEER_MSG_PROBE:
		m[0] = PEER_MSG_PROBE_ACK;
		peer_send_via(p, from ? VIA_UDP : VIA_RELAY, from, m, (size_t)n);
		if (from && !p->direct && !p->o->relay_only) {
			on_peer_reflexive(p, from);
			/* The other side probes for our round: it has started, so do we. */
			if ((p->punch == PUNCH_WAIT_REPLY || p->punch == PUNCH_WAIT_START) &&
			    n >= 5 && frame_get_u32(m + 1) == p->punch_id)
				punch_begin(p, "probe");
		}
		break;
	case PEER_MSG_PROBE_ACK:
		on_probe_ack(p, m + 1, (size_t)n - 1, from);
		break;
	case PEER_MSG_PING:
		/*
		 * Back on the path the ping came on, as a probe's answer goes: each RTT sample
		 * is then one path both ways and its label (where the pong arrived) says which.
		 * On our path of the moment, a ping sent over the relay just before the path
		 * went direct came back direct, a half-relay sample labelled "direct".
		 */
		m[0] = PEER_MSG_PONG;
		if (from)
			peer_send_via(p, VIA_UDP, from, m, (size_t)n);
		else if (!p->o->no_relay)
			peer_send_via(p, VIA_RELAY, NULL, m, (size_t)n);
		break;
	case PEER_MSG_PONG:
		on_pong(p, m + 1, (size_t)n - 1, from);
		break;
	case PEER_MSG_DATA:
		peer_xfer_rx_on_data(p, &p->rx, m + 1, (size_t)n - 1);
		break;
	case PEER_MSG_ACK:
		peer_xfer_tx_on_ack(p, &p->tx, m + 1, (size_t)n - 1);
		break;
	case PEER_MSG_END:
		peer_xfer_rx_on_end(p, &p->rx, m + 1, (size_t)n - 1);
		if (p->rx.done && sodium_memcmp(p->rx.sum, m + 9, 32) != 0)
			p->exit_code = PEER_EXIT_FAILED;
		break;
	case PEER_MSG_RESULT:
		if (peer_xfer_tx_on_result(p, &p->tx, m + 1, (size_t)n - 1) && !p->tx.ok)
			p->exit_code = PEER_EXIT_FAILED;
		break;
	case PEER_MSG_BYE:
		p->peer_done = 1;
		send_simple(p, VIA_PATH, PEER_MSG_BYE_ACK);
		break;
	case PEER_MSG_BYE_ACK:
		p->bye_acked = 1;
		break;
	default:
		log_debug("unknown message type %u", m[0]);
	}
}

static void udp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[65536];

	*buf = uv_buf_init(slab, sizeof(slab));
}

static void udp_recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *addr, unsigned flags)
{
	struct peer *p = container_of(u, struct peer, udp);
	const uint8_t *d = (const uint8_t *)buf->base;
	struct sockaddr_in from;

	if (nread <= 0 || !addr || addr->sa_family != AF_INET || (flags & UV_UDP_PARTIAL))
		return;
	memcpy(&from, addr, sizeof(from));
	if (stun_header_check(d, (size_t)nread, NULL, NULL) == 0) {
		on_stun(p, d, (size_t)nread, &from);
		return;
	}
	if (p->have_peer && d[0] == SEAL_MAGIC)
		handle_sealed(p, d, (size_t)nread, &from);
}

/* --- workloads and the tick --- */

static void workloads_step(struct peer *p, uint64_t now)
{
	uint8_t m[13];

	switch (p->phase) {
	case PHASE_WAIT:
		if (!p->established || (p->o->no_relay && !p->direct))
			return;
		p->phase = PHASE_PING;
		/* fall through */
	case PHASE_PING:
		if (p->ping_sent < p->o->ping) {
			if (p->ping_sent == 0 || now - p->last_ping_ns >= p->o->ping_interval_ms * MS) {
				m[0] = PEER_MSG_PING;
				frame_put_u32(m + 1, (uint32_t)p->ping_sent);
				frame_put_u64(m + 5, now);
				peer_send(p, m, sizeof(m));
				p->ping_sent++;
				p->last_ping_ns = now;
			}
			return;
		}
		if (p->o->ping && p->ping_recv < p->ping_sent &&
		    now - p->last_ping_ns < PEER_PING_TIMEOUT_MS * MS)
			return;
		if (p->o->ping) {
			event_emit("ping_done", "{s:i, s:i}", "sent", p->ping_sent, "received",
				   p->ping_recv);
			if (p->ping_recv == 0)
				p->exit_code = PEER_EXIT_FAILED;
		}
		p->phase = PHASE_TRANSFER;
		if (p->o->transfer && peer_xfer_tx_start(&p->tx, p->o->transfer, p->o->pattern) < 0) {
			peer_error(p, PEER_EXIT_USAGE, "bad_transfer", "--transfer %llu: too large",
				   (unsigned long long)p->o->transfer);
			return;
		}
		/* fall through */
	case PHASE_TRANSFER:
		if (p->o->transfer && !p->tx.done) {
			peer_xfer_tx_pump(p, &p->tx);
			return;
		}
		p->phase = PHASE_HOLD;
		p->hold_until_ns = now + (uint64_t)(p->o->hold_s * 1e9);
		/* fall through */
	case PHASE_HOLD:
		if (now < p->hold_until_ns)
			return;
		p->phase = PHASE_DONE;
		p->my_done = 1;
		p->my_done_ns = now;
		/* fall through */
	case PHASE_DONE:
		if (!p->bye_acked && now - p->last_bye_ns >= PEER_BYE_MS * MS) {
			/* Direct only once direct: the relay steps back. A BYE lost on a path
			 * that just died is sent again through the relay after the fallback. */
			send_simple(p, VIA_PATH, PEER_MSG_BYE);
			p->last_bye_ns = now;
		}
		/* Both done; a lost BYE_ACK must not keep us forever. */
		if (p->peer_done && (p->bye_acked || now - p->my_done_ns > PEER_LINGER_MS * MS))
			peer_stop(p, p->exit_code);
		return;
	}
}

static int relays_all_failed(const struct peer *p)
{
	int i;

	for (i = 0; i < p->n_relays; i++)
		if (p->relays[i].ever_ready || p->relays[i].failures < PEER_RELAY_GIVE_UP_TRIES)
			return 0;
	return 1;
}

static int relays_ever_ready(const struct peer *p)
{
	int i;

	for (i = 0; i < p->n_relays; i++)
		if (p->relays[i].ever_ready)
			return 1;
	return 0;
}

static void tick_cb(uv_timer_t *t)
{
	struct peer *p = container_of(t, struct peer, tick);
	uint64_t now = peer_now_ns(), timeout = (uint64_t)(p->o->timeout_s * 1e9);

	if (p->stopping)
		return;
	if (!relays_ever_ready(p) && (relays_all_failed(p) || now - p->start_ns > timeout)) {
		peer_error(p, PEER_EXIT_REFUSED, "relay_unreachable",
			   "cannot reach any relay (%s%s): %s", p->relays[0].text,
			   p->n_relays > 1 ? ", ..." : "",
			   p->relays[0].close_reason[0] ? p->relays[0].close_reason : "no answer");
		return;
	}
	if (!p->o->listen && !p->established) {
		if (now - p->start_ns > timeout) {
			if (p->peer_not_here)
				peer_error(p, PEER_EXIT_REFUSED, "unknown_peer",
					   "peer %s is not connected to any of our relays",
					   p->peer_text);
			else
				peer_error(p, PEER_EXIT_REFUSED, "peer_unreachable",
					   "peer %s did not answer within %.1f s", p->peer_text,
					   p->o->timeout_s);
			return;
		}
		hello_maybe(p);
	}
	if (p->established && now - p->last_peer_rx_ns > PEER_LOST_MS * MS && !p->peer_done) {
		peer_error(p, PEER_EXIT_FAILED, "peer_lost", "nothing from peer %s for %d s",
			   p->peer_text, PEER_LOST_MS / 1000);
		return;
	}
	if (p->o->no_relay && p->established && !p->direct && now - p->nodirect_since_ns > timeout) {
		peer_error(p, PEER_EXIT_FAILED, "no_direct_path",
			   "no direct path to %s within %.1f s (--no-relay)", p->peer_text,
			   p->o->timeout_s);
		return;
	}
	if (p->direct) {
		if (now - p->last_direct_rx_ns > PEER_DEAD_MS * MS) {
			fall_back(p, "silent");
		} else if (now - p->last_keepalive_ns >= PEER_KEEPALIVE_MS * MS) {
			uint8_t m[13];

			m[0] = PEER_MSG_PROBE;
			frame_put_u32(m + 1, 0);
			frame_put_u64(m + 5, now);
			peer_send_via(p, VIA_UDP, &p->direct_addr, m, sizeof(m));
			p->last_keepalive_ns = now;
		}
	} else if (p->established && now - p->last_relay_tx_ns >= PEER_RELAY_KEEPALIVE_MS * MS) {
		uint8_t m[13];

		m[0] = PEER_MSG_PROBE;
		frame_put_u32(m + 1, 0);
		frame_put_u64(m + 5, now);
		peer_send_via(p, VIA_RELAY, NULL, m, sizeof(m));
	}
	punch_maybe(p);
	workloads_step(p, now);
}

static void signal_cb(uv_signal_t *s, int signum)
{
	struct peer *p = s->data;

	log_info("signal %d: stopping", signum);
	peer_stop(p, p->exit_code);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void peer_stop(struct peer *p, int code)
{
	int i;

	if (p->stopping)
		return;
	p->stopping = 1;
	p->exit_code = code;
	event_emit("exit", "{s:i, s:I, s:I}", "code", code, "bytes_direct",
		   (json_int_t)p->bytes_direct, "bytes_relay", (json_int_t)p->bytes_relay);
	for (i = 0; i < p->n_relays; i++)
		peer_relay_close(&p->relays[i]);
	uv_walk(p->loop, close_walk_cb, NULL);
}

static int peer_udp_open(struct peer *p)
{
	struct sockaddr_storage ss;
	int rc, len = sizeof(p->udp_local);

	memset(&ss, 0, sizeof(ss));
	if (p->o->bind) {
		rc = addr_parse(p->o->bind, &ss, ADDR_PORT_OPTIONAL);
		if (rc < 0 || ss.ss_family != AF_INET)
			return -EINVAL;
	} else {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
	}
	rc = uv_udp_init(p->loop, &p->udp);
	if (rc < 0)
		return rc;
	p->udp_open = 1;
	rc = uv_udp_bind(&p->udp, (const struct sockaddr *)&ss, 0);
	if (rc < 0)
		return rc;
	/* Best effort: a transfer window in flight should not overflow the buffers. */
	{
		int size = 1 << 20;

		uv_recv_buffer_size((uv_handle_t *)&p->udp, &size);
		size = 1 << 20;
		uv_send_buffer_size((uv_handle_t *)&p->udp, &size);
	}
	rc = uv_udp_getsockname(&p->udp, (struct sockaddr *)&p->udp_local, &len);
	if (rc < 0)
		return rc;
	return uv_udp_recv_start(&p->udp, udp_alloc_cb, udp_recv_cb);
}

/* The STUN servers: --stun, or each relay's host on the standard STUN port. */
static int peer_stun_setup(struct peer *p)
{
	struct sockaddr_storage ss;
	int i, rc;

	for (i = 0; i < (p->o->n_stun ? p->o->n_stun : p->n_relays); i++) {
		if (p->o->n_stun) {
			rc = addr_parse(p->o->stun[i], &ss, ADDR_PORT_REQUIRED);
		} else {
			ss = p->relays[i].addr;
			((struct sockaddr_in *)&ss)->sin_port = htons(PEER_DEFAULT_STUN);
			rc = 0;
		}
		if (rc < 0 || ss.ss_family != AF_INET ||
		    ((struct sockaddr_in *)&ss)->sin_port == 0)
			return -EINVAL;
		p->stun_srv[p->n_stun++] = *(struct sockaddr_in *)&ss;
	}
	stun_txid_new(p->stun_txid);
	stun_send(p);
	return uv_timer_start(&p->stun_timer, stun_timer_cb, 100, 0);
}

int peer_run(const struct peer_opts *o, const struct identity *id)
{
	static struct peer peer;
	struct peer *p = &peer;
	char pub[IDENTITY_PUB_TEXT_LEN + 1];
	int i, rc;

	memset(p, 0, sizeof(*p));
	p->o = o;
	p->id = *id;
	p->loop = uv_default_loop();
	p->start_ns = peer_now_ns();
	p->cur_relay = -1;
	p->punch_backoff_ms = PEER_PUNCH_BACKOFF_MIN_MS;
	identity_pub_format(id->pub, pub);
	event_emit("started", "{s:s, s:s, s:f}", "key", pub, "role",
		   o->listen ? "listener" : "connector", "clock_ms", event_t0_ms());

	if (o->have_peer_key) {
		if (seal_init(&p->seal, &p->id, o->peer_key) < 0) {
			peer_error(p, 0, "bad_peer_key", "cannot seal to peer key %s",
				   "(itself, or not a valid Ed25519 point)");
			return PEER_EXIT_USAGE;
		}
		p->have_peer = 1;
		memcpy(p->peer_key, o->peer_key, IDENTITY_PUB_LEN);
		identity_pub_format(o->peer_key, p->peer_text);
	}
	uv_timer_init(p->loop, &p->tick);
	uv_timer_init(p->loop, &p->stun_timer);
	uv_timer_init(p->loop, &p->punch_timer);
	uv_signal_init(p->loop, &p->sigint);
	uv_signal_init(p->loop, &p->sigterm);
	p->sigint.data = p->sigterm.data = p;
	uv_signal_start(&p->sigint, signal_cb, SIGINT);
	uv_signal_start(&p->sigterm, signal_cb, SIGTERM);

	for (i = 0; i < o->n_relays; i++) {
		rc = peer_relay_init(&p->relays[i], p, i, o->relays[i]);
		if (rc < 0) {
			peer_error(p, PEER_EXIT_USAGE, "bad_relay",
				   "--relay %s: expected HOST:PORT with a resolvable host", o->relays[i]);
			goto run;
		}
		p->n_relays++;
	}
	if (!o->relay_only) {
		rc = peer_udp_open(p);
		if (rc < 0) {
			peer_error(p, PEER_EXIT_USAGE, "udp", "UDP socket%s%s: %s",
				   o->bind ? " on " : "", o->bind ? o->bind : "",
				   rc == -EINVAL ? "bad address" : uv_strerror(rc));
			goto run;
		}
		gather_local(p);
		rc = peer_stun_setup(p);
		if (rc < 0) {
			peer_error(p, PEER_EXIT_USAGE, "bad_stun", "--stun: expected ADDR:PORT");
			goto run;
		}
	}
	uv_timer_start(&p->tick, tick_cb, PEER_TICK_MS, PEER_TICK_MS);
run:
	uv_run(p->loop, UV_RUN_DEFAULT);
	peer_xfer_rx_free(&p->rx);
	seal_close(&p->seal);
	for (i = 0; i < p->n_relays; i++)
		frame_reader_close(&p->relays[i].reader);
	uv_loop_close(p->loop);
	sodium_memzero(&p->id, sizeof(p->id));
	return p->exit_code;
}
