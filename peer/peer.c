/* SPDX-License-Identifier: MIT */
/*
 * The peer: one session with one other peer, reached through the relays, then
 * directly once a hole is punched (peer.h lists the files, one concern each).
 *
 * 1. Relays: connected all at once (relay_conn.c); messages go through the first ready one.
 * 2. Candidates (candidates.c): local addresses of the UDP socket, and the reflexive
 *    address a STUN Binding to the relay's STUN port reports.
 * 3. Session and first punch in one exchange (session.c): the connector's first sealed
 *    HELLO carries its candidates, the listener's answer its own. Both sides then probe
 *    each other's candidates, starting together as the measured relay round trips allow
 *    (punch.c decides when, punch_io.c sends; docs/events.md, "Punching").
 * 4. Path (path.c): direct while a validated path stays alive, else the relay; a lost
 *    direct path falls back to the relay and the connector punches again.
 * 5. Workloads (workloads.c): ping, transfer, hold, in that order; then BYE both ways.
 *
 * This file holds the peer's life: start, the tick that drives timeouts, the relays'
 * callbacks, the UDP socket, and the stop.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <sodium.h>

#include "natlab/addr.h"
#include "natlab/log.h"
#include "natlab/relay_addr.h"
#include "peer.h"
#include "portmap.h"

#define PEER_TICK_MS             10
#define PEER_LOST_MS             10000 /* nothing at all from the peer: give up */
#define PEER_RELAY_GIVE_UP_TRIES 5

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
	const char *renewed = peer_token_cmd_token(p);

	return renewed ? renewed : p->o->token;
}

void peer_addr_text(const union peer_sa *a, char *buf, size_t cap)
{
	/* Our addresses are IPv4 or IPv6 and buffers ADDR_TEXT_MAX: this cannot fail, but
	 * say so. */
	if (addr_format(&a->sa, buf, cap) < 0)
		snprintf(buf, cap, "?");
}

bool peer_addr_equal(const union peer_sa *a, const union peer_sa *b)
{
	return addr_equal(&a->sa, &b->sa);
}

void peer_error(struct peer *p, int exit_code, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	event_error_v(reason, fmt, ap);
	va_end(ap);
	/* A failed run is failed on both sides: the peer learns it now, not at its timeout. */
	if (exit_code && p->established && !p->stopping && strcmp(reason, "peer_failed") != 0)
		peer_send_abort(p, exit_code, reason);
	if (exit_code)
		peer_stop(p, exit_code);
}

/* --- relay callbacks --- */

void peer_on_relay_auth_sent(struct peer *p, struct peer_relay *r)
{
	/* Right behind AUTH (early data): the listener gets it half a relay RTT sooner. */
	peer_records_on_auth_sent(p, r);
	peer_hello_maybe(p);
}

void peer_on_relay_ready(struct peer *p, struct peer_relay *r)
{
	if (r->tls)
		event_emit("relay_connected", "{s:s, s:i, s:i, s:s, s:s}", "relay", r->text,
		           "index", r->index, "keepalive_ms", (int)r->info.keepalive_ms, "source",
		           peer_relay_source_name(r->source), "tls", tls_conn_version(r->tls));
	else
		event_emit("relay_connected", "{s:s, s:i, s:i, s:s}", "relay", r->text, "index",
		           r->index, "keepalive_ms", (int)r->info.keepalive_ms, "source",
		           peer_relay_source_name(r->source));
	peer_path_pick_relay(p);
	/* A new relay may mean the peer lost us: say hello again through it. */
	if (p->established && p->cur_relay == r->index)
		peer_send_type(p, PEER_VIA_RELAY, PEER_MSG_HELLO);
	peer_hello_maybe(p);
	peer_punch_maybe(p);
}

void peer_on_relay_down(struct peer *p, struct peer_relay *r, const char *reason)
{
	if (r->ever_ready && r->failures == 0)
		event_emit("relay_disconnected", "{s:s, s:i, s:s}", "relay", r->text, "index",
		           r->index, "reason", reason);
	peer_path_pick_relay(p);
}

void peer_on_relay_refused(struct peer *p, struct peer_relay *r, uint8_t reason, const char *text)
{
	p->refused = 1;
	peer_error(p, PEER_EXIT_REFUSED, "token_refused", "relay %s refused us: %s%s%s", r->text,
	           relay_close_reason_str(reason), text[0] ? ": " : "", text);
}

void peer_on_relay_capped(struct peer *p, struct peer_relay *r, const char *text)
{
	peer_error(p, 0, "relay_byte_cap", "relay %s closed our session at its byte cap: %s",
	           r->text, text);
}

void peer_on_relay_peer_gone(struct peer *p, struct peer_relay *r, const uint8_t *key,
                             uint8_t reason)
{
	if (!p->have_peer || memcmp(key, p->peer_key, IDENTITY_PUB_LEN) != 0)
		return;
	if (reason == RELAY_PEER_GONE_NOT_HERE) {
		p->peer_not_here = 1;
		peer_home_on_not_here(p, r);
		peer_hello_soon(p, r);
	}
	if (p->established)
		event_emit("peer_gone", "{s:s, s:s}", "relay", r->text, "reason",
		           reason == RELAY_PEER_GONE_NOT_HERE ? "not_here" : "disconnected");
	/* The peer left after saying it was done: nothing more to wait for. */
	if (p->peer_done && p->my_done)
		p->bye_acked = 1;
}

/* --- the UDP socket: STUN answers and sealed packets --- */

static void udp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[65536];

	*buf = uv_buf_init(slab, sizeof(slab));
}

static void udp_recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags)
{
	struct peer *p = u->data; /* the IPv4 socket's or the IPv6 one's (family.c) */
	union peer_sa from;

	if (nread <= 0 || !addr || (flags & UV_UDP_PARTIAL) || peer_sa_set(&from, addr) < 0)
		return;
	peer_on_udp(p, u, (const uint8_t *)buf->base, (size_t)nread, &from);
}

void peer_on_udp(struct peer *p, uv_udp_t *u, const uint8_t *d, size_t n, const union peer_sa *from)
{
	if (stun_header_check(d, n, NULL, NULL) == 0) {
		peer_on_stun(p, d, n, from);
		return;
	}
	if (p->have_peer && d[0] == SEAL_MAGIC) {
		/* Answers to from go out on the socket this came in on (hardnat.c's or ours). */
		p->rx_sock = u;
		p->rx_from = from;
		peer_on_sealed(p, d, n, from);
		p->rx_sock = NULL;
		p->rx_from = NULL;
	}
}

void peer_udp_buffers(uv_udp_t *u)
{
	/* Best effort: a transfer window in flight should not overflow the buffers. */
	int size = 1 << 20;

	uv_recv_buffer_size((uv_handle_t *)u, &size);
	size = 1 << 20;
	uv_send_buffer_size((uv_handle_t *)u, &size);
}

int peer_udp_recv_start(struct peer *p, uv_udp_t *u)
{
	u->data = p;
	return uv_udp_recv_start(u, udp_alloc_cb, udp_recv_cb);
}

static int peer_udp_open(struct peer *p)
{
	struct sockaddr_storage ss;
	int rc, len = sizeof(p->udp_local);

	memset(&ss, 0, sizeof(ss));
	if (p->o->bind) {
		rc = addr_parse(p->o->bind, &ss, ADDR_PORT_OPTIONAL);
		if (rc < 0)
			return -EINVAL;
	} else {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
	}
	rc = uv_udp_init(p->loop, &p->udp);
	if (rc < 0)
		return rc;
	p->udp_open = 1;
	rc = uv_udp_bind(&p->udp, (const struct sockaddr *)&ss,
	                 ss.ss_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
	if (rc < 0)
		return rc;
	peer_udp_buffers(&p->udp);
	rc = uv_udp_getsockname(&p->udp, &p->udp_local.sa, &len);
	if (rc < 0)
		return rc;
	if (!p->o->bind)
		peer_udp6_open(p);
	return peer_udp_recv_start(p, &p->udp);
}

/* --- the tick, signals, stop --- */

static int relays_all_failed(const struct peer *p)
{
	int i;

	if (p->n_relays == 0)
		return 0; /* a directory has not listed any yet: --timeout decides */
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
		           "cannot reach any relay (%s%s): %s",
		           p->n_relays ? p->relays[0].text : "none listed by the directory",
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
		peer_hello_maybe(p);
	}
	/* A peer that said BYE still owes the ACKs of a transfer we are sending. */
	if (p->established && now - p->last_peer_rx_ns > PEER_LOST_MS * PEER_MS &&
	    (!p->peer_done || (p->tx.active && !p->tx.done))) {
		peer_error(p, PEER_EXIT_FAILED, "peer_lost", "nothing from peer %s for %d s",
		           p->peer_text, PEER_LOST_MS / 1000);
		return;
	}
	if (p->o->no_relay && p->established && !p->direct &&
	    now - p->nodirect_since_ns > timeout) {
		peer_error(p, PEER_EXIT_FAILED, "no_direct_path",
		           "no direct path to %s within %.1f s (--no-relay)", p->peer_text,
		           p->o->timeout_s);
		return;
	}
	if (p->o->turn.only && p->established && !p->direct && !peer_turn_usable(p) &&
	    now - p->nodirect_since_ns > timeout) {
		peer_error(p, PEER_EXIT_FAILED, "no_turn_path",
		           "no direct or TURN path to %s within %.1f s (--turn-only)", p->peer_text,
		           p->o->timeout_s);
		return;
	}
	peer_turn_tick(p, now);
	if (p->stopping)
		return;
	peer_path_tick(p, now);
	peer_records_tick(p, now);
	peer_punch_maybe(p);
	peer_hardnat_tick(p, now);
	peer_workloads_step(p, now);
}

static void signal_cb(uv_signal_t *s, int signum)
{
	struct peer *p = s->data;

	/* 128 + the signal, as a shell reports a process the signal killed: a run stopped
	 * from outside did not succeed, and a harness must not read it as exit 0. */
	log_info("signal %d: stopping", signum);
	peer_stop(p, PEER_EXIT_SIGNAL + signum);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The run's last line (docs/events.md): after every error that ends it once started. */
static void exit_event(const struct peer *p, int code)
{
	event_emit("exit", "{s:i, s:I, s:I, s:I}", "code", code, "bytes_direct",
	           (json_int_t)p->bytes_direct, "bytes_relay", (json_int_t)p->bytes_relay,
	           "bytes_turn", (json_int_t)peer_turn_bytes(p));
}

void peer_stop(struct peer *p, int code)
{
	int i;

	if (p->stopping)
		return;
	p->stopping = 1;
	p->exit_code = code;
	peer_token_cmd_stop(p);
	peer_portmap_stop(p);
	exit_event(p, code);
	peer_turn_close(p);
	peer_dir_stop(p);
	for (i = 0; i < p->n_relays; i++)
		if (!p->relays[i].dropped)
			peer_relay_close(&p->relays[i]);
	uv_walk(p->loop, close_walk_cb, NULL);
}

/* The relay of a --connect relay address: one of ours, or dialled for the peer. */
static int peer_start_connect_relay(struct peer *p)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
	int i = -1, rc;
	char host[RELAY_ADDR_HOSTPORT_MAX];
	const char *hp = p->o->connect_relay, *colon = strrchr(hp, ':');

	/* Already one of ours (the same address, however it was written): use it. */
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
	if (getaddrinfo(host, colon + 1, &hints, &res) == 0 && res) {
		i = peer_relay_find(p, (const union peer_sa *)res->ai_addr);
		freeaddrinfo(res);
	}
	rc = i >= 0 ? i : peer_relay_add(p, hp, PEER_RELAY_ADDRESS);
	if (rc < 0) {
		peer_error(p, PEER_EXIT_USAGE, "bad_relay",
		           "--connect relay://%s/...: the relay's HOST:PORT %s", hp,
		           rc == -ENOSPC ? "does not fit: too many relays"
		                         : "does not resolve (an IPv4 address or name expected)");
		return -1;
	}
	p->peer_home = rc;
	return 0;
}

/* Relays, the UDP socket, STUN: 0, or -1 once the error is reported (and the peer stops). */
static int peer_start(struct peer *p)
{
	const struct peer_opts *o = p->o;
	int i, rc;

	if (peer_tls_setup(p) < 0 || peer_proxy_setup(p) < 0)
		return -1;
	for (i = 0; i < o->n_relays; i++) {
		rc = peer_relay_add(p, o->relays[i], PEER_RELAY_CONFIG);
		if (rc < 0) {
			peer_error(p, PEER_EXIT_USAGE, "bad_relay",
			           "--relay %s: expected HOST:PORT with a resolvable host",
			           o->relays[i]);
			return -1;
		}
	}
	if (peer_turn_start(p, &p->turn, &o->turn) < 0)
		return -1;
	if (o->connect_relay && peer_start_connect_relay(p) < 0)
		return -1;
	if (o->directory && peer_dir_start(p) < 0) {
		peer_error(p, PEER_EXIT_USAGE, "bad_directory",
		           "--directory %s: expected ADDR:PORT (a.b.c.d:port)", o->directory);
		return -1;
	}
	if (o->relay_only)
		return 0;
	rc = peer_udp_open(p);
	if (rc < 0) {
		peer_error(p, PEER_EXIT_USAGE, "udp", "UDP socket%s%s: %s", o->bind ? " on " : "",
		           o->bind ? o->bind : "", rc == -EINVAL ? "bad address" : uv_strerror(rc));
		return -1;
	}
	peer_cands_gather(p);
	peer_cands6_gather(p);
	if (peer_stun_start(p) < 0) {
		peer_error(p, PEER_EXIT_USAGE, "bad_stun", "--stun: expected ADDR:PORT");
		return -1;
	}
	if (peer_portmap_start(p) < 0) {
		peer_error(p, PEER_EXIT_FAILED, "no_memory", "port mapping: out of memory");
		return -1;
	}
	return 0;
}

int peer_run(const struct peer_opts *o, const struct identity *id)
{
	static struct peer peer;
	struct peer *p = &peer;
	char pub[IDENTITY_PUB_TEXT_LEN + 1];
	int i;

	memset(p, 0, sizeof(*p));
	p->o = o;
	p->id = *id;
	p->loop = uv_default_loop();
	p->start_ns = peer_now_ns();
	p->cur_relay = -1;
	p->home = p->peer_home = p->peer_heard = -1;
	identity_pub_format(id->pub, pub);
	event_emit("started", "{s:s, s:s, s:f}", "key", pub, "role",
	           o->listen ? "listener" : "connector", "clock_ms", event_t0_ms());

	if (o->have_peer_key) {
		if (seal_init(&p->seal, &p->id, o->peer_key) < 0) {
			peer_error(p, 0, "bad_peer_key", "cannot seal to peer key %s",
			           "(itself, or not a valid Ed25519 point)");
			exit_event(p, PEER_EXIT_USAGE);
			return PEER_EXIT_USAGE;
		}
		p->have_peer = 1;
		memcpy(p->peer_key, o->peer_key, IDENTITY_PUB_LEN);
		identity_pub_format(o->peer_key, p->peer_text);
	}
	uv_timer_init(p->loop, &p->tick);
	uv_timer_init(p->loop, &p->stun_timer);
	peer_punch_init(p);
	peer_hardnat_init(p);
	peer_records_init(p);
	uv_signal_init(p->loop, &p->sigint);
	uv_signal_init(p->loop, &p->sigterm);
	p->sigint.data = p->sigterm.data = p;
	uv_signal_start(&p->sigint, signal_cb, SIGINT);
	uv_signal_start(&p->sigterm, signal_cb, SIGTERM);
	if ((!o->token_cmd || peer_token_cmd_start(p) == 0) && peer_start(p) == 0)
		uv_timer_start(&p->tick, tick_cb, PEER_TICK_MS, PEER_TICK_MS);
	uv_run(p->loop, UV_RUN_DEFAULT);
	free(p->token_cmd);
	peer_hardnat_free(p);
	peer_portmap_free(p);
	peer_xfer_rx_free(&p->rx);
	peer_turn_free(p);
	seal_close(&p->seal);
	for (i = 0; i < p->n_relays; i++) {
		frame_reader_close(&p->relays[i].reader);
		tls_conn_free(p->relays[i].tls);
	}
	tls_ctx_free(p->tls);
	uv_loop_close(p->loop);
	sodium_memzero(&p->id, sizeof(p->id));
	return p->exit_code;
}
