/* SPDX-License-Identifier: MIT */
/*
 * The session with the other peer: sealed messages out on a path (direct by UDP, or
 * through a relay), sealed messages in and where each goes, and the handshake.
 *
 * Session and first punch are one exchange (ICE's offer/answer, DCUtR's CONNECT): the
 * connector's first sealed HELLO carries its candidates (an offer), sent right behind its
 * AUTH to the relay; the listener answers with a HELLO carrying its own. The first bound
 * packet each way establishes the session (seal.h). Later rounds are the same exchange
 * in CONNECT messages (punch_io.c).
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "natlab/log.h"
#include "peer.h"

#define PEER_HELLO_MS      300
#define PEER_HELLO_SOON_MS 2000

static int msg_is_workload(uint8_t type)
{
	return type >= PEER_MSG_PING && type <= PEER_MSG_RESULT;
}

void peer_stamp_build(uint8_t m[PEER_STAMP_LEN], uint8_t type, uint32_t value, uint64_t sent_ns)
{
	m[0] = type;
	frame_put_u32(m + 1, value);
	frame_put_u64(m + 5, sent_ns);
}

int peer_send_udp(struct peer *p, const union peer_sa *to, const uint8_t *pkt, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)pkt, (unsigned)len);
	int rc;

	if (!p->udp_open)
		return -ENOTCONN;
	rc = uv_udp_try_send(peer_udp_sock(p, to), &b, 1, &to->sa);
	return rc < 0 ? rc : 0;
}

int peer_relay_out(const struct peer *p)
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
	int rc, i = peer_relay_out(p);

	if (peer_turn_usable(p)) {
		rc = peer_turn_send(p, pkt, len);
		if (rc == 0)
			p->last_relay_tx_ns = peer_now_ns();
		return rc;
	}
	if (i < 0)
		return -ENOTCONN;
	rc = peer_relay_send(&p->relays[i], p->peer_key, pkt, len);
	if (rc == 0)
		p->last_relay_tx_ns = peer_now_ns();
	return rc;
}

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

int peer_send_via(struct peer *p, enum peer_via via, const union peer_sa *to, const void *msg,
                  size_t len)
{
	uint8_t pkt[PEER_MAX_PKT];
	int n, rc;

	if (!p->have_peer)
		return -ENOTCONN;
	if (via == PEER_VIA_PATH) {
		if (p->direct) {
			via = PEER_VIA_UDP;
			to = &p->direct_addr;
		} else if ((p->o->no_relay || (p->o->turn.only && !peer_turn_usable(p))) &&
		           msg_is_workload(((const uint8_t *)msg)[0])) {
			return -ENETUNREACH;
		} else {
			via = PEER_VIA_RELAY;
		}
	}
	n = via == PEER_VIA_UDP ? peer_records_seal(p, msg, len, pkt, sizeof(pkt))
	                        : seal_seal(&p->seal, msg, len, pkt, sizeof(pkt));
	if (n < 0)
		return n;
	rc = via == PEER_VIA_UDP    ? peer_send_udp(p, to, pkt, (size_t)n)
	     : via == PEER_VIA_TURN ? peer_turn_send(p, pkt, (size_t)n)
	                            : send_relay(p, pkt, (size_t)n);
	if (rc == 0)
		count_bytes(p, via == PEER_VIA_UDP, ((const uint8_t *)msg)[0], (size_t)n);
	return rc;
}

int peer_send(struct peer *p, const void *msg, size_t len)
{
	return peer_send_via(p, PEER_VIA_PATH, NULL, msg, len);
}

void peer_send_type(struct peer *p, enum peer_via via, uint8_t type)
{
	peer_send_via(p, via, NULL, &type, 1);
}

void peer_hello_maybe(struct peer *p)
{
	uint64_t now = peer_now_ns();

	if (!p->o->listen && p->have_peer && !p->established && !p->stopping &&
	    peer_relay_out(p) >= 0 &&
	    (!p->last_hello_ns || now - p->last_hello_ns >= PEER_HELLO_MS * PEER_MS)) {
		p->last_hello_ns = now;
		peer_records_lookup(p);
		peer_punch_hello(p);
	}
}

void peer_hello_soon(struct peer *p, const struct peer_relay *r)
{
	uint64_t now = peer_now_ns(), wait = r->srtt_ns ? r->srtt_ns : r->rtt_ns;

	if (p->o->listen || p->established || now - p->start_ns > PEER_HELLO_SOON_MS * PEER_MS ||
	    !p->last_hello_ns)
		return;
	/* At least 1 ms (the next tick sends it), at most the usual gap. */
	if (wait < PEER_MS)
		wait = PEER_MS;
	if (wait > PEER_HELLO_MS * PEER_MS)
		wait = PEER_HELLO_MS * PEER_MS;
	log_info("relay %s: the peer is not there yet: HELLO again in %.1f ms", r->text,
	         (double)wait / 1e6);
	p->last_hello_ns = now + wait - PEER_HELLO_MS * PEER_MS;
}

void peer_on_relay_packet(struct peer *p, struct peer_relay *r, const uint8_t *key,
                          const uint8_t *data, size_t len)
{
	uint8_t m[PEER_MAX_PKT];
	int bound, n;

	if (!p->have_peer) {
		/* A listener adopts the first key whose sealed hello opens (or only --accept's). */
		if (!p->o->listen ||
		    (p->o->have_accept && memcmp(key, p->o->accept_key, IDENTITY_PUB_LEN) != 0) ||
		    seal_init(&p->seal, &p->id, key) < 0)
			return;
		n = seal_open(&p->seal, data, len, m, sizeof(m), &bound);
		seal_close(&p->seal);
		if (n < 1 || m[0] != PEER_MSG_HELLO)
			return;
		if (seal_init(&p->seal, &p->id, key) < 0)
			return;
		p->have_peer = 1;
		peer_records_on_adopt(p);
		memcpy(p->peer_key, key, IDENTITY_PUB_LEN);
		identity_pub_format(key, p->peer_text);
	}
	if (memcmp(key, p->peer_key, IDENTITY_PUB_LEN) != 0)
		return;
	peer_home_on_heard(p, r);
	peer_on_sealed(p, data, len, NULL);
}

/* The first bound packet from the peer: it knows our session, we know its. */
static void on_established(struct peer *p)
{
	p->established = 1;
	p->nodirect_since_ns = peer_now_ns();
	punch_set_established(&p->punch);
	event_emit("connected", "{s:s, s:s}", "peer", p->peer_text, "role",
	           p->o->listen ? "listener" : "connector");
	peer_path_report(p);
	peer_punch_maybe(p);
	peer_workloads_step(p, peer_now_ns());
}

/* Where each message goes once opened; m[0] is the type, n counts it. */
/* The peer failed (its ABORT): we fail with its code, so both sides agree. */
static void on_abort(struct peer *p, const uint8_t *m, size_t len)
{
	char reason[PEER_ABORT_REASON_MAX + 1];
	size_t i, n = len > 1 ? len - 1 : 0;
	int code = len ? m[0] : PEER_EXIT_FAILED;

	if (n > PEER_ABORT_REASON_MAX)
		n = PEER_ABORT_REASON_MAX;
	for (i = 0; i < n; i++)
		reason[i] = m[1 + i] >= 0x20 && m[1 + i] < 0x7f ? (char)m[1 + i] : '?';
	reason[n] = '\0';
	if (code <= PEER_EXIT_OK || code > PEER_EXIT_REFUSED)
		code = PEER_EXIT_FAILED;
	peer_error(p, code, "peer_failed", "peer %s ended its run with %s (exit %d)", p->peer_text,
	           n ? reason : "an error", code);
}

void peer_send_abort(struct peer *p, int code, const char *reason)
{
	uint8_t m[2 + PEER_ABORT_REASON_MAX];
	size_t n = strnlen(reason, PEER_ABORT_REASON_MAX);

	m[0] = PEER_MSG_ABORT;
	m[1] = (uint8_t)code;
	memcpy(m + 2, reason, n);
	/* Through the relay (it also carries --no-relay's signalling) and on a direct path. */
	peer_send_via(p, PEER_VIA_RELAY, NULL, m, 2 + n);
	if (p->direct)
		peer_send_via(p, PEER_VIA_UDP, &p->direct_addr, m, 2 + n);
}

static void dispatch(struct peer *p, uint8_t *m, size_t n, int bound, const union peer_sa *from)
{
	switch (m[0]) {
	case PEER_MSG_HELLO:
		if (n > 1)
			peer_punch_on_offer_msg(p, PEER_MSG_HELLO, m + 1, n - 1);
		else if (!bound)
			peer_send_type(p, PEER_VIA_RELAY, PEER_MSG_HELLO);
		break;
	case PEER_MSG_CONNECT:
		peer_punch_on_offer_msg(p, PEER_MSG_CONNECT, m + 1, n - 1);
		break;
	case PEER_MSG_PROBE:
		m[0] = PEER_MSG_PROBE_ACK;
		peer_send_via(p, from ? PEER_VIA_UDP : PEER_VIA_RELAY, from, m, n);
		if (from && !p->direct && !p->o->relay_only)
			peer_punch_on_probe(p, m, n, from);
		break;
	case PEER_MSG_PROBE_ACK:
		peer_path_on_probe_ack(p, m + 1, n - 1, from);
		break;
	case PEER_MSG_PING:
		peer_on_ping(p, m, n, from);
		break;
	case PEER_MSG_PONG:
		peer_on_pong(p, m + 1, n - 1, from);
		break;
	case PEER_MSG_DATA:
		peer_xfer_rx_on_data(p, &p->rx, m + 1, n - 1);
		break;
	case PEER_MSG_ACK:
		peer_xfer_tx_on_ack(p, &p->tx, m + 1, n - 1);
		break;
	case PEER_MSG_END:
		peer_xfer_rx_on_end(p, &p->rx, m + 1, n - 1);
		if (p->rx.done && sodium_memcmp(p->rx.sum, m + 9, 32) != 0)
			p->exit_code = PEER_EXIT_FAILED;
		break;
	case PEER_MSG_RESULT:
		if (peer_xfer_tx_on_result(p, &p->tx, m + 1, n - 1) && !p->tx.ok)
			p->exit_code = PEER_EXIT_FAILED;
		break;
	case PEER_MSG_BYE:
		p->peer_done = 1;
		peer_send_type(p, PEER_VIA_PATH, PEER_MSG_BYE_ACK);
		break;
	case PEER_MSG_BYE_ACK:
		p->bye_acked = 1;
		break;
	case PEER_MSG_HARDNAT:
		peer_hardnat_on_msg(p, m + 1, n - 1);
		break;
	case PEER_MSG_ABORT:
		on_abort(p, m + 1, n - 1);
		break;
	default:
		log_debug("unknown message type %u", m[0]);
	}
}

void peer_on_sealed(struct peer *p, const uint8_t *pkt, size_t len, const union peer_sa *from)
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
	if (from && p->direct && peer_addr_equal(from, &p->direct_addr)) {
		p->last_direct_rx_ns = now;
		p->direct_unanswered = 0;
	}
	/* A HELLO answers to the session it names, bound or not (the connector's first). */
	if (bound || m[0] == PEER_MSG_HELLO)
		seal_set_dst(&p->seal, seal_packet_src(pkt));
	/* Any bound packet (a HELLO answer, or a probe that beat it) completes the handshake. */
	if (bound && !p->established) {
		if (m[0] == PEER_MSG_HELLO && n == 1)
			peer_send_type(p, PEER_VIA_RELAY, PEER_MSG_HELLO);
		on_established(p);
		if (p->stopping)
			return;
	}
	dispatch(p, m, (size_t)n, bound, from);
}
