/* SPDX-License-Identifier: MIT */
/*
 * Workloads, in order once connected (with --no-relay, once direct): ping, transfer
 * (xfer.c), hold; then, once a hard-NAT attempt under way has ended (hardnat.c), BYE
 * both ways and exit.
 */
#include "peer.h"

#define PEER_PING_TIMEOUT_MS 2000
#define PEER_BYE_MS          200
#define PEER_LINGER_MS       2000

/* PHASE_PING: one ping per interval, then the lost ones' timeout. 1 while it runs. */
static int ping_step(struct peer *p, uint64_t now)
{
	uint8_t m[PEER_STAMP_LEN];

	if (p->ping_sent < p->o->ping) {
		if (p->ping_sent == 0 ||
		    now - p->last_ping_ns >= p->o->ping_interval_ms * PEER_MS) {
			peer_stamp_build(m, PEER_MSG_PING, (uint32_t)p->ping_sent, now);
			peer_send(p, m, sizeof(m));
			p->ping_sent++;
			p->last_ping_ns = now;
		}
		return 1;
	}
	if (p->o->ping && p->ping_recv < p->ping_sent &&
	    now - p->last_ping_ns < PEER_PING_TIMEOUT_MS * PEER_MS)
		return 1;
	if (p->o->ping) {
		event_emit("ping_done", "{s:i, s:i}", "sent", p->ping_sent, "received",
		           p->ping_recv);
		if (p->ping_recv == 0)
			p->exit_code = PEER_EXIT_FAILED;
	}
	return 0;
}

/* --hold-direct: the hold has done its part once the path has been direct that long. */
static bool hold_settled(const struct peer *p, uint64_t now)
{
	return p->o->hold_direct_ms && p->direct &&
	       now - p->direct_since_ns >= p->o->hold_direct_ms * PEER_MS;
}

/* PHASE_DONE: BYE until acknowledged; exit once both sides are done. */
static void done_step(struct peer *p, uint64_t now)
{
	if (!p->bye_acked && now - p->last_bye_ns >= PEER_BYE_MS * PEER_MS) {
		/* Direct only once direct: the relay steps back. A BYE lost on a path that
		 * just died is sent again through the relay after the fallback. */
		peer_send_type(p, PEER_VIA_PATH, PEER_MSG_BYE);
		p->last_bye_ns = now;
	}
	/* Both done; a lost BYE_ACK must not keep us forever. */
	if (p->peer_done && (p->bye_acked || now - p->my_done_ns > PEER_LINGER_MS * PEER_MS))
		peer_stop(p, p->exit_code);
}

void peer_workloads_step(struct peer *p, uint64_t now)
{
	switch (p->phase) {
	case PEER_PHASE_WAIT:
		if (!p->established || (p->o->no_relay && !p->direct) ||
		    (p->o->turn.only && !p->direct && !peer_turn_usable(p)))
			return;
		p->phase = PEER_PHASE_PING;
		/* fall through */
	case PEER_PHASE_PING:
		if (ping_step(p, now))
			return;
		p->phase = PEER_PHASE_TRANSFER;
		if (p->o->transfer &&
		    peer_xfer_tx_start(&p->tx, p->o->transfer, p->o->pattern) < 0) {
			peer_error(p, PEER_EXIT_USAGE, "bad_transfer", "--transfer %llu: too large",
			           (unsigned long long)p->o->transfer);
			return;
		}
		/* fall through */
	case PEER_PHASE_TRANSFER:
		if (p->o->transfer && !p->tx.done) {
			peer_xfer_tx_pump(p, &p->tx);
			return;
		}
		p->phase = PEER_PHASE_HOLD;
		p->hold_until_ns = now + (uint64_t)(p->o->hold_s * 1e9);
		/* fall through */
	case PEER_PHASE_HOLD:
		/* A hard-NAT attempt under way ends first (bounded by --hard-nat-time). */
		if ((now < p->hold_until_ns && !hold_settled(p, now)) || peer_hardnat_busy(p))
			return;
		p->phase = PEER_PHASE_DONE;
		p->my_done = 1;
		p->my_done_ns = now;
		/* fall through */
	case PEER_PHASE_DONE:
		done_step(p, now);
		return;
	}
}

void peer_on_ping(struct peer *p, uint8_t *m, size_t n, const union peer_sa *from)
{
	/*
	 * Back on the path the ping came on, as a probe's answer goes: each RTT sample is
	 * then one path both ways and its label (where the pong arrived) says which. On our
	 * path of the moment, a ping sent over the relay just before the path went direct
	 * came back direct, a half-relay sample labelled "direct".
	 */
	m[0] = PEER_MSG_PONG;
	if (from)
		peer_send_via(p, PEER_VIA_UDP, from, m, n);
	else if (!p->o->no_relay)
		peer_send_via(p, PEER_VIA_RELAY, NULL, m, n);
}

void peer_on_pong(struct peer *p, const uint8_t *m, size_t len, const union peer_sa *from)
{
	uint64_t sent;

	if (len < 12)
		return;
	sent = frame_get_u64(m + 4);
	p->ping_recv++;
	event_emit("rtt", "{s:f, s:s, s:s, s:i}", "ms", (double)(peer_now_ns() - sent) / 1e6,
	           "path", from ? "direct" : "relay", "source", "ping", "seq",
	           (int)frame_get_u32(m));
}
