/* SPDX-License-Identifier: MIT */
/*
 * The path messages take. Direct once a sealed probe answer came back by UDP, while the
 * path stays valid: keepalive probes every PEER_KEEPALIVE_MS keep NAT mappings alive and
 * detect a dead path after PEER_DEAD_MS of silence, when traffic falls back to the relay
 * and the connector punches again. Otherwise a relay where the peer is (home.c).
 *
 * Silence counts only while we were there to hear: a path is dead once PEER_DEAD_MS
 * passed without a packet from it AND PEER_DEAD_KEEPALIVES keepalives went out unanswered
 * since the last one. Normally both hold together (keepalives at 200, 400, 600 ms of
 * silence). After a stall (a loaded machine that ran neither peer nor the lab's wires
 * for ~1 s) the clock alone says "silent" although nothing was sent or delivered either
 * way meanwhile, and the first tick after it (libuv runs timers before it polls the
 * sockets) fell back before any keepalive could be answered: both peers at the same
 * instant, and a hard-NAT pair, whose path the ordinary rounds cannot find again, ended
 * on the relay. Now the keepalives sent after the stall must go unanswered first.
 */
#include "natlab/addr.h"
#include "natlab/log.h"
#include "peer.h"

#define PEER_KEEPALIVE_MS       200  /* direct path keepalive: far below any NAT timeout */
#define PEER_DEAD_MS            700  /* direct path silent this long: back to the relay */
#define PEER_DEAD_KEEPALIVES    3    /* ... and this many keepalives unanswered meanwhile */
#define PEER_RELAY_KEEPALIVE_MS 2000 /* peer-level keepalive while on the relay */

const char *peer_path_name(const struct peer *p)
{
	return p->direct ? "direct" : "relay";
}

/* No path at all: --no-relay and not direct, or no relay ready. */
static void report_none(struct peer *p)
{
	if (p->reported != PEER_PATH_NONE)
		event_emit("path", "{s:s, s:n}", "kind", "none", "remote");
	p->reported = PEER_PATH_NONE;
}

void peer_path_report(struct peer *p)
{
	char a[ADDR_TEXT_MAX];

	if (!p->established || p->stopping)
		return;
	if (p->direct) {
		if (p->reported == PEER_PATH_DIRECT)
			return;
		p->reported = PEER_PATH_DIRECT;
		peer_addr_text(&p->direct_addr, a, sizeof(a));
		event_emit("path", "{s:s, s:s, s:s}", "kind", "direct", "remote", a, "family",
		           peer_sa_family_name(&p->direct_addr));
		return;
	}
	if (!p->o->no_relay && peer_turn_path_report(p))
		return;
	if (p->o->no_relay || p->o->turn.only || p->cur_relay < 0) {
		report_none(p);
		return;
	}
	if (p->reported == PEER_PATH_RELAY && p->reported_relay == p->cur_relay)
		return;
	p->reported = PEER_PATH_RELAY;
	p->reported_relay = p->cur_relay;
	event_emit("path", "{s:s, s:s, s:i, s:s, s:s}", "kind", "relay", "remote",
	           p->relays[p->cur_relay].text, "relay", p->cur_relay, "relay_kind", "natlab",
	           "family", p->relays[p->cur_relay].addr.ss_family == AF_INET6 ? "ipv6" : "ipv4");
}

void peer_path_pick_relay(struct peer *p)
{
	peer_home_update(p);
	p->cur_relay = peer_home_pick(p);
	peer_path_report(p);
}

static void go_direct(struct peer *p, const union peer_sa *from, uint64_t rtt_ns)
{
	char a[ADDR_TEXT_MAX];

	if (!p->direct)
		p->direct_since_ns = peer_now_ns();
	p->direct = 1;
	p->direct_addr = *from;
	/* The socket the answer came in on: one of hardnat.c's keeps that 4-tuple. */
	p->direct_sock = p->rx_sock != &p->udp && p->rx_sock != &p->udp6 ? p->rx_sock : NULL;
	p->last_direct_rx_ns = p->last_keepalive_ns = peer_now_ns();
	p->direct_unanswered = 0;
	peer_punch_on_direct(p);
	peer_hardnat_on_direct(p);
	peer_addr_text(from, a, sizeof(a));
	log_info("direct path to %s validated (%.3f ms)", a, (double)rtt_ns / 1e6);
	peer_path_report(p);
	event_emit("rtt", "{s:f, s:s, s:s}", "ms", (double)rtt_ns / 1e6, "path", "direct", "source",
	           "probe");
}

static void fall_back(struct peer *p, const char *why)
{
	char a[ADDR_TEXT_MAX];

	peer_addr_text(&p->direct_addr, a, sizeof(a));
	log_info("direct path to %s lost (%s): back to the relay", a, why);
	p->direct = 0;
	p->nodirect_since_ns = peer_now_ns();
	peer_path_report(p);
	peer_punch_on_path_lost(p);
}

void peer_path_on_probe_ack(struct peer *p, const uint8_t *m, size_t len, const union peer_sa *from)
{
	uint64_t sent;

	if (len < 12 || !from)
		return;
	sent = frame_get_u64(m + 4);
	if (!p->direct && !p->o->relay_only)
		go_direct(p, from, peer_now_ns() - sent);
}

static void send_keepalive(struct peer *p, enum peer_via via, uint64_t now)
{
	uint8_t m[PEER_STAMP_LEN];

	peer_stamp_build(m, PEER_MSG_PROBE, 0, now);
	peer_send_via(p, via, via == PEER_VIA_UDP ? &p->direct_addr : NULL, m, sizeof(m));
}

void peer_path_tick(struct peer *p, uint64_t now)
{
	if (p->direct) {
		if (now - p->last_direct_rx_ns > PEER_DEAD_MS * PEER_MS &&
		    p->direct_unanswered >= PEER_DEAD_KEEPALIVES) {
			fall_back(p, "silent");
		} else if (now - p->last_keepalive_ns >= PEER_KEEPALIVE_MS * PEER_MS) {
			send_keepalive(p, PEER_VIA_UDP, now);
			p->last_keepalive_ns = now;
			p->direct_unanswered++;
		}
	} else if (p->established &&
	           now - p->last_relay_tx_ns >= PEER_RELAY_KEEPALIVE_MS * PEER_MS) {
		send_keepalive(p, PEER_VIA_RELAY, now);
	}
}
