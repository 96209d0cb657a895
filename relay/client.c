/* SPDX-License-Identifier: MIT */
/*
 * One relay connection: handshake, frame dispatch, forwarding, the outgoing queue
 * (dropping the oldest frame when full) and the token bucket that pauses reads.
 */
#include "natlab/relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "natlab/log.h"

/* Before auth a client can make us buffer this much and no more. */
#define RELAY_HANDSHAKE_MAX_PAYLOAD 1024
#define RELAY_WRITE_BATCH           64
/* Frames handed to the kernel in one write stop growing past this many bytes. */
#define RELAY_WRITE_BATCH_BYTES (256 * 1024)
/* Frames at least this large skip the batch when the socket is idle: the syscall is
 * cheap next to the copy it saves. */
#define RELAY_DIRECT_WRITE_MIN 4096

static void relay_out_free_list(struct relay_out *o)
{
	while (o) {
		struct relay_out *next = o->next;

		free(o);
		o = next;
	}
}

static void relay_client_closed_cb(uv_handle_t *h)
{
	struct relay_client *c = h->data;

	if (--c->pending_closes > 0)
		return;
	relay_batch_forget(c->srv, c);
	frame_reader_close(&c->reader);
	tls_conn_free(c->tls);
	relay_out_free_list(c->q_head);
	relay_out_free_list(c->inflight);
	relay_server_client_gone(c->srv, c);
	free(c->record);
	free(c->record_waiters);
	free(c);
}

/* Tells the clients that recently sent to c that it has left. */
static void relay_client_notify_watchers(struct relay_client *c)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_KEY_LEN + 1];
	int len =
	    relay_peer_gone_encode(frame, sizeof(frame), c->key, RELAY_PEER_GONE_DISCONNECTED);
	uint8_t i;

	for (i = 0; i < c->n_watchers; i++) {
		struct relay_client *w = relay_server_lookup(c->srv, c->watchers[i]);

		if (w && w != c)
			relay_client_send(w, frame, (size_t)len);
	}
}

void relay_client_close(struct relay_client *c, enum relay_close_reason reason, const char *text)
{
	uint8_t frame[FRAME_HEADER_LEN + 1 + RELAY_CLOSE_TEXT_MAX];
	int was_active = c->state == RELAY_CLIENT_ACTIVE;
	int len;

	if (c->state == RELAY_CLIENT_CLOSING)
		return;
	/* Whole frames still batched go first (SERVER_INFO before a later refusal); a
	 * write error there closes c already. */
	if (reason != RELAY_CLOSE_NONE) {
		relay_client_flush(c);
		if (c->state == RELAY_CLIENT_CLOSING)
			return;
	}
	c->state = RELAY_CLIENT_CLOSING;
	relay_server_handshake_end(c->srv, c);
	if (reason != RELAY_CLOSE_NONE) {
		c->srv->closes[reason]++;
		/* Best effort, and only between frames: never cut into a partial write. */
		len = relay_close_encode(frame, sizeof(frame), (uint8_t)reason, text);
		if (len > 0 && !c->writing && !c->q_head && c->tls) {
			relay_tls_try_close(c, frame, (size_t)len);
		} else if (len > 0 && !c->writing && !c->q_head) {
			uv_buf_t b = uv_buf_init((char *)frame, (unsigned)len);

			uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		}
		log_debug("client closed: %s%s%s", relay_close_reason_str(reason), text ? ": " : "",
		          text ? text : "");
	}
	if (was_active) {
		relay_server_unregister(c->srv, c);
		if (reason != RELAY_CLOSE_REPLACED)
			relay_client_notify_watchers(c);
	}
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->timer);
	c->pending_closes = 2;
	uv_close((uv_handle_t *)&c->tcp, relay_client_closed_cb);
	uv_close((uv_handle_t *)&c->timer, relay_client_closed_cb);
}

static void relay_client_write_cb(uv_write_t *req, int status)
{
	struct relay_client *c = container_of(req, struct relay_client, wreq);

	relay_out_free_list(c->inflight);
	c->inflight = NULL;
	c->writing = 0;
	if (status < 0) {
		if (c->state != RELAY_CLIENT_CLOSING) {
			c->srv->counters[RELAY_C_DISCONNECT_ERROR]++;
			relay_client_close(c, RELAY_CLOSE_NONE, NULL);
		}
		return;
	}
	relay_client_flush(c);
}

void relay_client_consume(struct relay_client *c, size_t n)
{
	while (n && c->q_head) {
		struct relay_out *o = c->q_head;

		if (n < o->len) {
			memmove(o->data, o->data + n, o->len - n);
			o->len -= (uint32_t)n;
			c->q_bytes -= (uint32_t)n;
			return;
		}
		n -= o->len;
		c->q_head = o->next;
		if (!c->q_head)
			c->q_tail = NULL;
		c->q_len--;
		c->q_bytes -= o->len;
		free(o);
	}
}

/*
 * A TLS client's queued frames go to its session, plaintext, sealed together up to
 * 16 KiB per record (relay_tls_seal; only once the handshake is done), and the
 * ciphertext with any handshake bytes is written as plain frames are: as far as the
 * socket takes it at once, the rest to libuv in one write. Frames queued meanwhile stay
 * whole and plaintext, so a slow receiver still loses whole frames only.
 */
static void relay_client_flush_tls(struct relay_client *c)
{
	struct relay_out *o;
	uv_buf_t b;
	int rc;

	while (!c->writing && c->state != RELAY_CLIENT_CLOSING) {
		o = relay_tls_seal(c);
		if (!o)
			return; /* nothing to send, or c was closed */
		b = uv_buf_init((char *)o->data, o->len);
		rc = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		if (rc == (int)o->len) {
			free(o);
			continue;
		}
		if (rc < 0 && rc != UV_EAGAIN) {
			free(o);
			c->srv->counters[RELAY_C_DISCONNECT_ERROR]++;
			relay_client_close(c, RELAY_CLOSE_NONE, NULL);
			return;
		}
		if (rc > 0) {
			memmove(o->data, o->data + rc, o->len - (uint32_t)rc);
			o->len -= (uint32_t)rc;
			b = uv_buf_init((char *)o->data, o->len);
		}
		c->inflight = o;
		rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, relay_client_write_cb);
		if (rc < 0) {
			c->srv->counters[RELAY_C_DISCONNECT_ERROR]++;
			relay_client_close(c, RELAY_CLOSE_NONE, NULL);
			return;
		}
		c->writing = 1;
	}
}

/*
 * Writes queued frames, up to RELAY_WRITE_BATCH (or RELAY_WRITE_BATCH_BYTES) to a
 * writev, for as long as the socket takes them; what it does not take is handed to libuv
 * in one write, and the rest waits for its callback. A partly written frame is never
 * dropped: once any of it is out, it is in flight. A TLS client's frames go to its
 * session instead (relay_client_flush_tls).
 */
void relay_client_flush(struct relay_client *c)
{
	uv_buf_t bufs[RELAY_WRITE_BATCH];
	struct relay_out *o, *last;
	size_t bytes;
	unsigned n;
	int rc;

	if (c->tls) {
		relay_client_flush_tls(c);
		return;
	}
	while (!c->writing && c->q_head && c->state != RELAY_CLIENT_CLOSING) {
		bytes = 0;
		n = 0;
		last = NULL;
		for (o = c->q_head; o && n < RELAY_WRITE_BATCH && bytes < RELAY_WRITE_BATCH_BYTES;
		     o = o->next) {
			bufs[n++] = uv_buf_init((char *)o->data, o->len);
			bytes += o->len;
			last = o;
		}
		rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
		if (rc == (int)bytes) {
			relay_client_consume(c, bytes);
			continue;
		}
		if (rc < 0 && rc != UV_EAGAIN) {
			c->srv->counters[RELAY_C_DISCONNECT_ERROR]++;
			relay_client_close(c, RELAY_CLOSE_NONE, NULL);
			return;
		}
		if (rc > 0) {
			relay_client_consume(c, (size_t)rc);
			continue; /* the kernel is full now: the next try_write says EAGAIN */
		}
		/* EAGAIN: this batch goes to libuv as a whole and leaves the queue. */
		c->inflight = c->q_head;
		c->q_head = last->next;
		if (!c->q_head)
			c->q_tail = NULL;
		last->next = NULL;
		c->q_len -= n;
		c->q_bytes -= (uint32_t)bytes;
		rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, n, relay_client_write_cb);
		if (rc < 0) {
			c->srv->counters[RELAY_C_DISCONNECT_ERROR]++;
			relay_client_close(c, RELAY_CLOSE_NONE, NULL);
			return;
		}
		c->writing = 1;
	}
}

/* Queues o, first dropping the oldest frames while either limit would be exceeded. */
static void relay_client_enqueue(struct relay_client *c, struct relay_out *o)
{
	const struct relay_config *cfg = &c->srv->cfg;

	while (c->q_head &&
	       (c->q_len >= cfg->queue_frames || c->q_bytes + o->len > cfg->queue_bytes)) {
		struct relay_out *old = c->q_head;

		c->q_head = old->next;
		if (!c->q_head)
			c->q_tail = NULL;
		c->q_len--;
		c->q_bytes -= old->len;
		free(old);
		c->srv->counters[RELAY_C_DROP_QUEUE_FULL]++;
	}
	if (c->q_tail)
		c->q_tail->next = o;
	else
		c->q_head = o;
	c->q_tail = o;
	c->q_len++;
	c->q_bytes += o->len;
}

/*
 * Queues a frame (bufs, copied) for c. Frames to one receiver are written in batches:
 * once RELAY_WRITE_BATCH are queued, else at the end of the loop iteration
 * (relay_batch_flush), so a burst of small frames costs one writev, not one write each.
 * A large frame to an idle socket is written at once, from bufs, without a copy.
 */
static int relay_client_write(struct relay_client *c, const uv_buf_t *bufs, unsigned nbufs)
{
	size_t total = 0, skip;
	struct relay_out *o;
	unsigned i;
	int rc = 0;

	if (c->state == RELAY_CLIENT_CLOSING)
		return -ECANCELED;
	for (i = 0; i < nbufs; i++)
		total += bufs[i].len;
	/* TLS frames stay whole in the queue until sealed: no partial plaintext write. */
	if (!c->writing && !c->q_head && !c->tls && total >= RELAY_DIRECT_WRITE_MIN) {
		rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
		if (rc == (int)total)
			return 0;
		if (rc < 0 && rc != UV_EAGAIN) {
			c->srv->counters[RELAY_C_DISCONNECT_ERROR]++;
			relay_client_close(c, RELAY_CLOSE_NONE, NULL);
			return rc;
		}
		if (rc < 0)
			rc = 0;
	}
	o = malloc(sizeof(*o) + total - (size_t)rc);
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->len = (uint32_t)(total - (size_t)rc);
	skip = (size_t)rc;
	total = 0;
	for (i = 0; i < nbufs; i++) {
		size_t len = bufs[i].len, off = skip < len ? skip : len;

		skip -= off;
		memcpy(o->data + total, bufs[i].base + off, len - off);
		total += len - off;
	}
	relay_client_enqueue(c, o);
	/* A partly written frame must follow at once; a full batch need not wait. */
	if (rc > 0 || c->q_len >= RELAY_WRITE_BATCH || c->q_bytes >= RELAY_WRITE_BATCH_BYTES)
		relay_client_flush(c);
	else
		relay_batch_add(c->srv, c);
	return 0;
}

int relay_client_send(struct relay_client *c, const uint8_t *frame, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)frame, (unsigned)len);

	return relay_client_write(c, &b, 1);
}

int relay_client_heard_from(const struct relay_client *c, const uint8_t key[RELAY_KEY_LEN])
{
	for (uint8_t i = 0; i < c->n_watchers; i++)
		if (memcmp(c->watchers[i], key, RELAY_KEY_LEN) == 0)
			return 1;
	return 0;
}

static void relay_client_watch(struct relay_client *dst, const uint8_t src[RELAY_KEY_LEN])
{
	if (relay_client_heard_from(dst, src))
		return;
	memcpy(dst->watchers[dst->watcher_next], src, RELAY_KEY_LEN);
	dst->watcher_next = (uint8_t)((dst->watcher_next + 1) % RELAY_WATCHERS);
	if (dst->n_watchers < RELAY_WATCHERS)
		dst->n_watchers++;
}

int relay_client_forward(struct relay_client *c, const uint8_t src[RELAY_KEY_LEN],
                         const uint8_t *data, size_t len)
{
	uint8_t hdr[FRAME_HEADER_LEN + RELAY_KEY_LEN];
	uv_buf_t bufs[2];
	int rc;

	rc = frame_header_write(hdr, RELAY_FRAME_RECV, RELAY_KEY_LEN + len);
	if (rc < 0)
		return rc;
	memcpy(hdr + FRAME_HEADER_LEN, src, RELAY_KEY_LEN);
	bufs[0] = uv_buf_init((char *)hdr, sizeof(hdr));
	bufs[1] = uv_buf_init((char *)data, (unsigned)len);
	relay_client_watch(c, src);
	rc = relay_client_write(c, bufs, 2);
	if (rc == 0) {
		c->srv->counters[RELAY_C_FRAMES_FORWARDED]++;
		c->srv->counters[RELAY_C_BYTES_FORWARDED] += len;
	}
	return rc;
}

static void relay_client_send_status(struct relay_client *c, uint8_t status)
{
	uint8_t frame[FRAME_HEADER_LEN + 1];
	int len = relay_status_encode(frame, sizeof(frame), status);

	relay_client_send(c, frame, (size_t)len);
}

static void relay_client_refill(struct relay_client *c)
{
	uint64_t now = uv_now(c->srv->loop);
	double burst = c->srv->cfg.burst_bytes;

	c->tokens += (double)(now - c->refill_ms) * c->srv->cfg.rate_bytes_per_sec / 1000.0;
	if (c->tokens > burst)
		c->tokens = burst;
	c->refill_ms = now;
}

static uint64_t relay_client_wait_ms(const struct relay_client *c)
{
	/* Rounded up, plus one, so the timer never fires before the bucket is refilled. */
	return (uint64_t)(-c->tokens * 1000.0 / c->srv->cfg.rate_bytes_per_sec) + 2;
}

static void relay_client_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void relay_client_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void relay_client_resume_cb(uv_timer_t *t)
{
	struct relay_client *c = t->data;

	relay_client_refill(c);
	if (c->tokens < 0) {
		uv_timer_start(&c->timer, relay_client_resume_cb, relay_client_wait_ms(c), 0);
		return;
	}
	c->paused = 0;
	/* The idle clock starts again: the pause was ours. */
	c->last_frame_ms = uv_now(c->srv->loop);
	relay_client_send_status(c, RELAY_STATUS_HEALTHY);
	if (c->state == RELAY_CLIENT_ACTIVE)
		uv_read_start((uv_stream_t *)&c->tcp, relay_client_alloc_cb, relay_client_read_cb);
}

/* Charges n bytes to the bucket; an empty bucket pauses reads until it refills. */
static void relay_client_rate_account(struct relay_client *c, size_t n)
{
	if (!c->srv->cfg.rate_bytes_per_sec)
		return;
	relay_client_refill(c);
	c->tokens -= (double)n;
	if (c->tokens >= 0)
		return;
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->paused = 1;
	c->srv->counters[RELAY_C_RATE_LIMIT_PAUSES]++;
	relay_client_send_status(c, RELAY_STATUS_RATE_LIMITED);
	uv_timer_start(&c->timer, relay_client_resume_cb, relay_client_wait_ms(c), 0);
}

static const enum relay_close_reason verdict_reason[] = {
	[TOKEN_OK] = RELAY_CLOSE_NONE,
	[TOKEN_FOREIGN] = RELAY_CLOSE_TOKEN_FOREIGN,
	[TOKEN_BAD_SIGNATURE] = RELAY_CLOSE_TOKEN_BAD_SIGNATURE,
	[TOKEN_EXPIRED] = RELAY_CLOSE_TOKEN_EXPIRED,
};

/* Checks the token of an AUTH frame; returns the refusal reason or RELAY_CLOSE_NONE. */
static enum relay_close_reason relay_client_check_token(struct relay_client *c,
                                                        const struct relay_auth *a)
{
	struct relay_server *srv = c->srv;
	enum relay_close_reason why;
	struct token t;
	enum token_verdict v;

	if (!c->auth_required)
		return RELAY_CLOSE_NONE;
	/* Fail closed: without its lists the relay cannot tell a revoked token. */
	if (srv->auth_failed)
		return RELAY_CLOSE_SERVER_FULL;
	if (!a->token_len)
		return RELAY_CLOSE_NO_TOKEN;
	if (token_decode(&t, a->token, a->token_len) < 0)
		return RELAY_CLOSE_TOKEN_MALFORMED;
	if (!relay_issuers_has(&srv->issuers, t.issuer))
		return RELAY_CLOSE_TOKEN_FOREIGN;
	v = token_verify(&t, t.issuer, relay_now_unix());
	if (v != TOKEN_OK)
		return verdict_reason[v];
	if (memcmp(t.peer, a->key, RELAY_KEY_LEN) != 0)
		return RELAY_CLOSE_TOKEN_WRONG_PEER;
	why = relay_auth_check_new(srv, &t);
	if (why != RELAY_CLOSE_NONE)
		return why;
	memcpy(c->token_id, t.id, sizeof(c->token_id));
	memcpy(c->token_issuer, t.issuer, RELAY_KEY_LEN);
	c->token_expiry = t.expiry;
	return RELAY_CLOSE_NONE;
}

static void relay_client_send_info(struct relay_client *c)
{
	const struct relay_config *cfg = &c->srv->cfg;
	struct relay_server_info si = {
		.version = RELAY_PROTO_VERSION,
		.max_packet = RELAY_MAX_PACKET,
		.queue_frames = cfg->queue_frames,
		.queue_bytes = cfg->queue_bytes,
		.rate_bytes_per_sec = cfg->rate_bytes_per_sec,
		.burst_bytes = cfg->burst_bytes,
		.keepalive_ms = cfg->keepalive_ms,
		.token_expiry = c->token_expiry,
	};
	uint8_t frame[FRAME_HEADER_LEN + RELAY_SERVER_INFO_LEN];
	int len = relay_server_info_encode(frame, sizeof(frame), &si);

	relay_client_send(c, frame, (size_t)len);
}

/*
 * Decodes an AUTH frame and checks its signature over this connection's challenge and
 * its token. Returns 0, or closes c with the reason and returns -1. A renewal must
 * also come from the key that authenticated.
 */
static int relay_client_auth_check(struct relay_client *c, const struct frame *f,
                                   struct relay_auth *a, int renewal)
{
	enum relay_close_reason why;

	if (relay_auth_decode(a, f->payload, f->len) < 0) {
		relay_client_close(c, RELAY_CLOSE_PROTOCOL, "malformed auth frame");
		return -1;
	}
	if (relay_auth_verify(a, c->nonce) != 0) {
		relay_client_close(c, RELAY_CLOSE_BAD_SIGNATURE,
		                   "challenge signature does not verify for this key");
		return -1;
	}
	if (renewal && memcmp(a->key, c->key, RELAY_KEY_LEN) != 0) {
		relay_client_close(c, RELAY_CLOSE_UNEXPECTED,
		                   "a renewal must come from the key that authenticated");
		return -1;
	}
	why = relay_client_check_token(c, a);
	if (why == RELAY_CLOSE_NONE)
		return 0;
	relay_client_close(c, why,
	                   why == RELAY_CLOSE_SERVER_FULL
	                       ? "relay cannot read its issuer keys or revocation list; try "
	                         "another relay"
	                       : "access token refused; ask the issuer for a new one");
	return -1;
}

static void relay_client_auth(struct relay_client *c, const struct frame *f)
{
	struct relay_client *old;
	struct relay_auth a;

	if (relay_client_auth_check(c, f, &a, 0) < 0)
		return;
	memcpy(c->key, a.key, RELAY_KEY_LEN);
	old = relay_server_lookup(c->srv, c->key);
	/* Authenticated clients alone count toward --max-clients; replacing is not growing. */
	if (!old && c->srv->n_active >= c->srv->cfg.max_clients) {
		relay_client_close(c, RELAY_CLOSE_SERVER_FULL, "relay is full, try another relay");
		return;
	}
	relay_server_handshake_end(c->srv, c);
	if (old)
		relay_client_close(old, RELAY_CLOSE_REPLACED, "the same key connected again");
	uv_timer_stop(&c->timer);
	c->state = RELAY_CLIENT_ACTIVE;
	c->reader.max_payload = FRAME_MAX_PAYLOAD;
	c->tokens = c->srv->cfg.burst_bytes;
	c->refill_ms = uv_now(c->srv->loop);
	relay_server_register(c->srv, c);
	c->srv->counters[RELAY_C_AUTH_OK]++;
	/* Most sessions idle from here on: the handshake's network buffers go. */
	if (c->tls && tls_conn_trim(c->tls) < 0) {
		relay_client_close(c, RELAY_CLOSE_NONE, NULL);
		return;
	}
	relay_client_send_info(c);
}

/*
 * A second AUTH on an authenticated connection renews its token (same key, signed over
 * the same challenge, checked as at the handshake); SERVER_INFO answers with the new
 * expiry. A refusal closes the session as at the handshake.
 */
static void relay_client_renew(struct relay_client *c, const struct frame *f)
{
	struct relay_auth a;

	if (relay_client_auth_check(c, f, &a, 1) < 0)
		return;
	c->srv->counters[RELAY_C_TOKEN_RENEWALS]++;
	relay_client_send_info(c);
}

/*
 * Counts len relayed bytes against c's session; past --byte-cap the session is closed
 * (1), so one session cannot take the relay's bandwidth for ever.
 */
static int relay_client_over_cap(struct relay_client *c, size_t len)
{
	uint64_t cap = c->srv->cfg.byte_cap;
	char why[96];

	c->relayed += len;
	if (!cap || c->relayed <= cap)
		return 0;
	snprintf(why, sizeof(why), "session relayed %llu bytes, the cap is %llu",
	         (unsigned long long)c->relayed, (unsigned long long)cap);
	relay_client_close(c, RELAY_CLOSE_BYTE_CAP, why);
	return 1;
}

static void relay_client_on_send(struct relay_client *c, const struct frame *f)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_KEY_LEN + 1];
	struct relay_packet pkt;
	struct relay_client *dst;
	int len;

	if (relay_packet_decode(&pkt, f->payload, f->len) < 0) {
		relay_client_close(c, RELAY_CLOSE_PROTOCOL, "send frame shorter than a key");
		return;
	}
	dst = relay_server_lookup(c->srv, pkt.key);
	if (!dst) {
		c->srv->counters[RELAY_C_DROP_NO_PEER]++;
		len =
		    relay_peer_gone_encode(frame, sizeof(frame), pkt.key, RELAY_PEER_GONE_NOT_HERE);
		relay_client_send(c, frame, (size_t)len);
		return;
	}
	if (relay_client_over_cap(c, pkt.len))
		return;
	relay_client_forward(dst, c->key, pkt.data, pkt.len);
	relay_client_over_cap(dst, pkt.len);
}

static void relay_client_dispatch(struct relay_client *c, const struct frame *f)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_PING_LEN];
	int len;

	if (c->state == RELAY_CLIENT_HANDSHAKE) {
		if (f->type == RELAY_FRAME_AUTH)
			relay_client_auth(c, f);
		else
			relay_client_close(c, RELAY_CLOSE_UNEXPECTED, "expected an auth frame");
		return;
	}
	switch (f->type) {
	case RELAY_FRAME_SEND:
		relay_client_on_send(c, f);
		break;
	case RELAY_FRAME_PING:
		if (f->len != RELAY_PING_LEN) {
			relay_client_close(c, RELAY_CLOSE_PROTOCOL, "ping payload must be 8 bytes");
			break;
		}
		c->srv->counters[RELAY_C_PINGS]++;
		len = relay_ping_encode(frame, sizeof(frame), RELAY_FRAME_PONG, f->payload);
		relay_client_send(c, frame, (size_t)len);
		break;
	case RELAY_FRAME_PONG:
		break;
	case RELAY_FRAME_AUTH:
		relay_client_renew(c, f);
		break;
	case RELAY_FRAME_PUBLISH:
	case RELAY_FRAME_LOOKUP:
		if (c->srv->cfg.no_records) {
			relay_client_close(c, RELAY_CLOSE_UNEXPECTED,
			                   "frame type not accepted from clients");
			break;
		}
		if (f->type == RELAY_FRAME_PUBLISH)
			relay_records_on_publish(c, f);
		else
			relay_records_on_lookup(c, f);
		break;
	default:
		relay_client_close(c, RELAY_CLOSE_UNEXPECTED,
		                   "frame type not accepted from clients");
		break;
	}
}

static void relay_client_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct relay_client *c = h->data;

	*buf = uv_buf_init((char *)c->srv->readbuf, sizeof(c->srv->readbuf));
}

size_t relay_client_on_plain(struct relay_client *c, const uint8_t *p, size_t n)
{
	uint32_t cost = c->srv->cfg.frame_cost;
	size_t extra = 0;
	struct frame f;
	int rc;

	while (c->state != RELAY_CLIENT_CLOSING) {
		rc = frame_reader_next(&c->reader, &p, &n, &f);
		if (rc == 0)
			break;
		if (rc < 0) {
			relay_client_close(
			    c, rc == -EMSGSIZE ? RELAY_CLOSE_OVERSIZED : RELAY_CLOSE_PROTOCOL,
			    rc == -EMSGSIZE ? "frame longer than allowed" : "out of memory");
			break;
		}
		c->srv->counters[RELAY_C_FRAMES_IN]++;
		c->last_frame_ms = uv_now(c->srv->loop);
		/* A frame costs the relay work whatever its size: small ones pay a minimum. */
		if (FRAME_HEADER_LEN + f.len < cost)
			extra += cost - (FRAME_HEADER_LEN + f.len);
		relay_client_dispatch(c, &f);
	}
	return extra;
}

static void relay_client_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct relay_client *c = s->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t n = (size_t)(nread > 0 ? nread : 0), charge = n;

	if (nread < 0) {
		c->srv->counters[nread == UV_EOF ? RELAY_C_DISCONNECT_EOF
		                                 : RELAY_C_DISCONNECT_ERROR]++;
		relay_client_close(c, RELAY_CLOSE_NONE, NULL);
		return;
	}
	c->srv->counters[RELAY_C_BYTES_IN] += n;
	if (c->tls)
		charge += relay_tls_on_read(c, p, n);
	else
		charge += relay_client_on_plain(c, p, n);
	if (c->state == RELAY_CLIENT_ACTIVE)
		relay_client_rate_account(c, charge);
}

static void relay_client_handshake_timeout_cb(uv_timer_t *t)
{
	relay_client_close(t->data, RELAY_CLOSE_HANDSHAKE_TIMEOUT, "no auth frame in time");
}

void relay_client_start(struct relay_client *c)
{
	struct relay_challenge ch = { .version = RELAY_PROTO_VERSION };
	uint8_t frame[FRAME_HEADER_LEN + 2 + RELAY_NONCE_LEN];
	int len;

	frame_reader_init(&c->reader, RELAY_HANDSHAKE_MAX_PAYLOAD);
	randombytes_buf(c->nonce, sizeof(c->nonce));
	memcpy(ch.nonce, c->nonce, sizeof(ch.nonce));
	/* The switch (SIGUSR1/SIGUSR2) applies from the next challenge on. */
	c->auth_required = c->srv->auth_on;
	ch.flags = c->auth_required ? RELAY_CHALLENGE_AUTH_REQUIRED : 0;
	if (!c->srv->cfg.no_records)
		ch.flags |= RELAY_CHALLENGE_RECORDS;
	len = relay_challenge_encode(frame, sizeof(frame), &ch);
	uv_tcp_nodelay(&c->tcp, 1);
	/* Dead peers (no FIN, no RST) are found by TCP keepalive, not by us. */
	uv_tcp_keepalive(&c->tcp, 1, 60);
	uv_timer_start(&c->timer, relay_client_handshake_timeout_cb,
	               c->srv->cfg.handshake_timeout_ms, 0);
	if (relay_client_send(c, frame, (size_t)len) < 0)
		return;
	uv_read_start((uv_stream_t *)&c->tcp, relay_client_alloc_cb, relay_client_read_cb);
}
