/* SPDX-License-Identifier: MIT */
/*
 * One relay connection: TCP connect, the challenge/auth handshake (relay_proto.h),
 * packets to and from peer keys, keepalive pings, and reconnection with backoff (or
 * after the delay a RESTARTING frame suggests). The peer keeps one of these per
 * --relay address, all connected at once, so failing over is only a matter of
 * choosing another ready one.
 *
 * Early data: packets may be sent right behind AUTH, before SERVER_INFO comes back.
 * The relay reads a connection's frames in order and registers the key as it accepts
 * AUTH, so they are forwarded as if sent after SERVER_INFO, half a relay round trip
 * sooner; if AUTH is refused they are dropped with the connection (as with TLS 1.3
 * early data, the sender must be ready to send them again).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/log.h"
#include "natlab/stun.h"
#include "peer.h"

#define RELAY_BACKOFF_MIN_MS  100
#define RELAY_BACKOFF_MAX_MS  2000
#define RELAY_PING_MS         1000 /* at most; twice as often as the relay asks, if faster */
#define RELAY_DEAD_MS         4000 /* nothing received for this long: reconnect */
#define RELAY_WRITE_QUEUE_MAX (4u << 20)

struct relay_write {
	uv_write_t req;
	uv_buf_t buf;
	uint8_t data[];
};

static void relay_schedule(struct peer_relay *r, uint32_t ms);
static void relay_connect(struct peer_relay *r);

int peer_relay_init(struct peer_relay *r, struct peer *p, int index, const char *text)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
	char host[64];
	const char *colon = strrchr(text, ':'), *h = text;
	size_t n;
	int rc;

	memset(r, 0, sizeof(*r));
	r->peer = p;
	r->index = index;
	if (!colon || colon == text || (size_t)(colon - text) >= sizeof(host) || !colon[1])
		return -EINVAL;
	rc = snprintf(r->text, sizeof(r->text), "%s", text);
	if (rc < 0 || (size_t)rc >= sizeof(r->text))
		return -EINVAL;
	/* [v6]:port is an IPv6 relay; a name or a.b.c.d resolves to IPv4, as before. */
	n = (size_t)(colon - text);
	if (text[0] == '[' && colon[-1] == ']') {
		h = text + 1;
		n -= 2;
		hints.ai_family = AF_INET6;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	memcpy(r->host, host, sizeof(r->host));
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0 || !res)
		return -EINVAL;
	memcpy(&r->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	rc = uv_timer_init(uv_default_loop(), &r->timer);
	if (rc < 0)
		return rc;
	r->timer.data = r;
	frame_reader_init(&r->reader, 0);
	r->backoff_ms = RELAY_BACKOFF_MIN_MS;
	relay_connect(r);
	return 0;
}

static void relay_write_cb(uv_write_t *req, int status)
{
	free(container_of(req, struct relay_write, req));
}

int peer_relay_write_raw(struct peer_relay *r, const uint8_t *data, size_t len)
{
	struct relay_write *w;
	int rc;

	if (uv_stream_get_write_queue_size((uv_stream_t *)&r->tcp) > RELAY_WRITE_QUEUE_MAX)
		return -ENOBUFS;
	w = malloc(sizeof(*w) + len);
	if (!w)
		return -ENOMEM;
	memcpy(w->data, data, len);
	w->buf = uv_buf_init((char *)w->data, (unsigned)len);
	rc = uv_write(&w->req, (uv_stream_t *)&r->tcp, &w->buf, 1, relay_write_cb);
	if (rc < 0)
		free(w);
	return rc;
}

static int relay_write(struct peer_relay *r, const uint8_t *data, size_t len)
{
	if (r->state != PEER_RELAY_HANDSHAKE && r->state != PEER_RELAY_READY)
		return -ENOTCONN;
	if (r->tls)
		return peer_relay_tls_write(r, data, len);
	return peer_relay_write_raw(r, data, len);
}

int peer_relay_write_frame(struct peer_relay *r, const uint8_t *frame, size_t len)
{
	if (r->state != PEER_RELAY_READY && !(r->state == PEER_RELAY_HANDSHAKE && r->auth_sent))
		return -ENOTCONN;
	return relay_write(r, frame, len);
}

int peer_relay_send(struct peer_relay *r, const uint8_t key[RELAY_KEY_LEN], const void *data,
                    size_t len)
{
	uint8_t frame[FRAME_HEADER_LEN + FRAME_MAX_PAYLOAD];
	int n;

	if (r->state != PEER_RELAY_READY && !(r->state == PEER_RELAY_HANDSHAKE && r->auth_sent))
		return -ENOTCONN;
	n = relay_packet_encode(frame, sizeof(frame), RELAY_FRAME_SEND, key, data, len);
	if (n < 0)
		return n;
	return relay_write(r, frame, (size_t)n);
}

int peer_relay_renew(struct peer_relay *r)
{
	uint8_t out[FRAME_HEADER_LEN + 512];
	int n;

	if (r->state != PEER_RELAY_READY)
		return -ENOTCONN;
	n = relay_auth_build(out, sizeof(out), peer_identity(r->peer), &r->challenge,
	                     peer_token(r->peer));
	return n < 0 ? n : relay_write(r, out, (size_t)n);
}

static void relay_closed_cb(uv_handle_t *h)
{
	struct peer_relay *r = container_of((uv_tcp_t *)h, struct peer_relay, tcp);

	frame_reader_close(&r->reader);
	frame_reader_init(&r->reader, 0);
	tls_conn_free(r->tls);
	r->tls = NULL;
	r->proxy_wait = 0;
	r->state = PEER_RELAY_IDLE;
	if (r->peer && !r->capped)
		relay_schedule(r, r->reconnect_in_ms ? r->reconnect_in_ms : r->backoff_ms);
	r->reconnect_in_ms = 0;
}

void peer_relay_fail(struct peer_relay *r, const char *reason)
{
	int was_ready = r->state == PEER_RELAY_READY;

	if (r->state == PEER_RELAY_CLOSING || r->state == PEER_RELAY_IDLE)
		return;
	log_info("relay %s: %s", r->text, reason);
	r->state = PEER_RELAY_CLOSING;
	r->auth_sent = 0;
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->tcp, relay_closed_cb);
	if (!was_ready) {
		r->failures++;
		r->backoff_ms = r->backoff_ms * 2 > RELAY_BACKOFF_MAX_MS ? RELAY_BACKOFF_MAX_MS
		                                                         : r->backoff_ms * 2;
	}
	peer_on_relay_down(r->peer, r, reason);
}

/* A keepalive ping; its PONG is a fresh RTT sample. */
static void relay_ping(struct peer_relay *r, uint64_t now)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_PING_LEN], data[RELAY_PING_LEN];
	int n;

	frame_put_u64(data, now);
	n = relay_ping_encode(frame, sizeof(frame), RELAY_FRAME_PING, data);
	if (n > 0)
		relay_write(r, frame, (size_t)n);
	r->last_ping_ns = now;
}

static void relay_timer_cb(uv_timer_t *t)
{
	struct peer_relay *r = t->data;
	uint64_t now = peer_now_ns();

	switch (r->state) {
	case PEER_RELAY_IDLE:
		relay_connect(r);
		break;
	case PEER_RELAY_CONNECTING:
		peer_relay_fail(r, "connect timed out");
		break;
	case PEER_RELAY_HANDSHAKE:
		peer_relay_fail(r, "handshake timed out");
		break;
	case PEER_RELAY_READY:
		if (now - r->last_rx_ns > (uint64_t)RELAY_DEAD_MS * 1000000) {
			peer_relay_fail(r, "no answer to keepalives");
			break;
		}
		relay_ping(r, now);
		break;
	case PEER_RELAY_CLOSING:
		break;
	}
}

/* Pings well within the keepalive the relay advertised (its idle timeout is above it). */
static uint32_t relay_ping_ms(const struct peer_relay *r)
{
	uint32_t half = r->info.keepalive_ms / 2;

	return half && half < RELAY_PING_MS ? half : RELAY_PING_MS;
}

static void relay_schedule(struct peer_relay *r, uint32_t ms)
{
	uv_timer_start(&r->timer, relay_timer_cb, ms, 0);
}

static void relay_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[65536];

	*buf = uv_buf_init(slab, sizeof(slab));
}

static void relay_on_frame(struct peer_relay *r, const struct frame *f)
{
	uint8_t out[FRAME_HEADER_LEN + 512];
	struct relay_challenge ch;
	struct relay_packet pkt;
	const uint8_t *key;
	uint8_t reason;
	uint32_t in_ms, try_ms;
	char text[RELAY_CLOSE_TEXT_MAX + 1];
	int n;

	switch (f->type) {
	case RELAY_FRAME_CHALLENGE:
		if (r->state != PEER_RELAY_HANDSHAKE ||
		    relay_challenge_decode(&ch, f->payload, f->len) < 0) {
			peer_relay_fail(r, "bad challenge");
			return;
		}
		n = relay_auth_build(out, sizeof(out), peer_identity(r->peer), &ch,
		                     peer_token(r->peer));
		if (n < 0 || relay_write(r, out, (size_t)n) < 0) {
			peer_relay_fail(r, "cannot send auth");
			return;
		}
		r->auth_sent = 1;
		r->challenge = ch; /* signs token renewals on this connection */
		r->auth_sent_ns = peer_now_ns();
		peer_on_relay_auth_sent(r->peer, r);
		return;
	case RELAY_FRAME_SERVER_INFO:
		if (r->state == PEER_RELAY_READY) {
			/* The answer to a renewal (peer_relay_renew): the new expiry. */
			if (relay_server_info_decode(&r->info, f->payload, f->len) < 0) {
				peer_relay_fail(r, "bad server info");
				return;
			}
			peer_on_relay_renewed(r->peer, r);
			return;
		}
		if (r->state != PEER_RELAY_HANDSHAKE ||
		    relay_server_info_decode(&r->info, f->payload, f->len) < 0) {
			peer_relay_fail(r, "bad server info");
			return;
		}
		r->state = PEER_RELAY_READY;
		r->auth_sent = 0;
		r->failures = 0;
		r->ever_ready = 1;
		r->backoff_ms = RELAY_BACKOFF_MIN_MS;
		/* AUTH to SERVER_INFO is a second round trip: the smaller sample is the less
		 * delayed by our own start-up work; a ping at once gives a third. */
		if (peer_now_ns() - r->auth_sent_ns < r->rtt_ns)
			r->rtt_ns = peer_now_ns() - r->auth_sent_ns;
		r->srtt_ns = r->rtt_ns; /* pings smooth it from here (home.c) */
		relay_ping(r, peer_now_ns());
		uv_timer_start(&r->timer, relay_timer_cb, relay_ping_ms(r), relay_ping_ms(r));
		peer_on_relay_ready(r->peer, r);
		return;
	case RELAY_FRAME_RECV:
		if (r->state == PEER_RELAY_READY &&
		    relay_packet_decode(&pkt, f->payload, f->len) == 0)
			peer_on_relay_packet(r->peer, r, pkt.key, pkt.data, pkt.len);
		return;
	case RELAY_FRAME_PEER_GONE:
		if (relay_peer_gone_decode(&key, &reason, f->payload, f->len) == 0)
			peer_on_relay_peer_gone(r->peer, r, key, reason);
		return;
	case RELAY_FRAME_PING:
		if (f->len == RELAY_PING_LEN) {
			n = relay_ping_encode(out, sizeof(out), RELAY_FRAME_PONG, f->payload);
			if (n > 0)
				relay_write(r, out, (size_t)n);
		}
		return;
	case RELAY_FRAME_PONG:
		/* Our keepalive's echo: a fresh round trip to the relay. */
		if (f->len == RELAY_PING_LEN && frame_get_u64(f->payload) == r->last_ping_ns) {
			r->rtt_ns = peer_now_ns() - r->last_ping_ns;
			peer_home_on_rtt(r);
		}
		return;
	case RELAY_FRAME_STATUS:
		if (f->len >= 1)
			log_info("relay %s: status %s", r->text,
			         f->payload[0] == RELAY_STATUS_RATE_LIMITED ? "rate-limited"
			                                                    : "healthy");
		return;
	case RELAY_FRAME_RESTARTING:
		if (relay_restarting_decode(&in_ms, &try_ms, f->payload, f->len) == 0) {
			log_info("relay %s: restarting, reconnect in %u ms", r->text, in_ms);
			r->reconnect_in_ms = in_ms ? in_ms : RELAY_BACKOFF_MIN_MS;
		}
		return;
	case RELAY_FRAME_RECORD:
		if (r->state == PEER_RELAY_READY && f->len >= RELAY_KEY_LEN)
			peer_records_on_frame(r->peer, r, f->payload, f->len);
		return;
	case RELAY_FRAME_CLOSE:
		if (relay_close_decode(&reason, text, sizeof(text), f->payload, f->len) < 0) {
			peer_relay_fail(r, "bad close frame");
			return;
		}
		if (reason == RELAY_CLOSE_BYTE_CAP) {
			/* A new session would start a new count: that is not what the cap means. */
			r->capped = 1;
			peer_on_relay_capped(r->peer, r, text);
			peer_relay_fail(r, "closed by relay: byte_cap");
			return;
		}
		if (reason >= RELAY_CLOSE_BAD_SIGNATURE && reason <= RELAY_CLOSE_TOKEN_WRONG_PEER) {
			/* Our credentials are refused: retrying will not change that. */
			peer_on_relay_refused(r->peer, r, reason, text);
			return;
		}
		n = snprintf(r->close_reason, sizeof(r->close_reason), "closed by relay: %s%s%s",
		             relay_close_reason_str(reason), text[0] ? ": " : "", text);
		if (n < 0 || (size_t)n >= sizeof(r->close_reason))
			snprintf(r->close_reason, sizeof(r->close_reason), "closed by relay");
		peer_relay_fail(r, r->close_reason);
		return;
	default:
		log_debug("relay %s: ignoring frame type %u", r->text, f->type);
	}
}

void peer_relay_on_bytes(struct peer_relay *r, const uint8_t *p, size_t n)
{
	struct frame f;
	int rc;

	while ((rc = frame_reader_next(&r->reader, &p, &n, &f)) == 1) {
		relay_on_frame(r, &f);
		if (r->state == PEER_RELAY_CLOSING || r->state == PEER_RELAY_IDLE)
			return;
	}
	if (rc < 0)
		peer_relay_fail(r, "malformed frame");
}

/* TCP is up (and the proxy's tunnel, if any): the relay handshake starts. */
static void relay_on_transport(struct peer_relay *r)
{
	int rc;

	r->state = PEER_RELAY_HANDSHAKE;
	if (r->peer->tls) {
		rc = peer_relay_tls_start(r);
		if (rc < 0)
			peer_relay_fail(r, r->close_reason);
	}
}

static void relay_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct peer_relay *r = container_of((uv_tcp_t *)s, struct peer_relay, tcp);
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t n = nread > 0 ? (size_t)nread : 0;
	int rc;

	if (nread < 0) {
		peer_relay_fail(r, nread == UV_EOF ? (r->proxy_wait ? "proxy closed the connection"
		                                                    : "connection closed")
		                                   : uv_strerror((int)nread));
		return;
	}
	r->last_rx_ns = peer_now_ns();
	if (r->proxy_wait) {
		rc = peer_relay_proxy_on_read(r, &p, &n);
		if (rc < 0)
			peer_relay_fail(r, r->close_reason);
		if (rc <= 0)
			return;
		relay_on_transport(r);
		if (r->state != PEER_RELAY_HANDSHAKE)
			return;
	}
	if (r->tls)
		peer_relay_tls_on_read(r, p, n);
	else
		peer_relay_on_bytes(r, p, n);
}

static void relay_connect_cb(uv_connect_t *req, int status)
{
	struct peer_relay *r = container_of(req, struct peer_relay, connect_req);
	int rc;

	if (r->state != PEER_RELAY_CONNECTING)
		return;
	if (status < 0) {
		peer_relay_fail(r, uv_strerror(status));
		return;
	}
	/* SYN to SYN-ACK: the first measured round trip to the relay (or its proxy). */
	r->rtt_ns = peer_now_ns() - r->connect_start_ns;
	uv_tcp_nodelay(&r->tcp, 1);
	rc = uv_read_start((uv_stream_t *)&r->tcp, relay_alloc_cb, relay_read_cb);
	if (rc < 0) {
		peer_relay_fail(r, uv_strerror(rc));
		return;
	}
	if (r->peer->have_proxy) {
		rc = peer_relay_proxy_request(r);
		if (rc < 0)
			peer_relay_fail(r, "cannot send the CONNECT request to the proxy");
		return;
	}
	relay_on_transport(r);
}

static void relay_connect(struct peer_relay *r)
{
	int rc;

	rc = uv_tcp_init(uv_default_loop(), &r->tcp);
	if (rc < 0) {
		relay_schedule(r, r->backoff_ms);
		return;
	}
	r->state = PEER_RELAY_CONNECTING;
	r->auth_sent = 0;
	r->connect_start_ns = peer_now_ns();
	rc = uv_tcp_connect(
	    &r->connect_req, &r->tcp,
	    (const struct sockaddr *)(r->peer->have_proxy ? &r->peer->proxy_addr : &r->addr),
	    relay_connect_cb);
	if (rc < 0) {
		peer_relay_fail(r, uv_strerror(rc));
		return;
	}
	/* Covers both the connect and the handshake. */
	relay_schedule(r, 3000);
}

void peer_relay_close(struct peer_relay *r)
{
	r->peer = NULL;
	if (!uv_is_closing((uv_handle_t *)&r->timer))
		uv_close((uv_handle_t *)&r->timer, NULL);
	if (r->state != PEER_RELAY_IDLE && r->state != PEER_RELAY_CLOSING) {
		r->state = PEER_RELAY_CLOSING;
		r->auth_sent = 0;
		uv_close((uv_handle_t *)&r->tcp, relay_closed_cb);
	}
}
