/* SPDX-License-Identifier: MIT */
/*
 * The relay protocol over TLS on a port of its own (--tls-listen), next to the plain
 * one: same frames, same limits, same clients table. The TLS itself is proto/tls.c;
 * this file connects it to a relay_client: ciphertext read from the socket goes in,
 * frames come out to relay_client_on_plain(); queued frames are sealed only when they
 * are written (relay_client_flush), so dropping the oldest queued frame for a slow
 * receiver still works, on whole frames, as on the plain port.
 */
#include "natlab/relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/addr.h"
#include "natlab/log.h"

/* One TLS record's plaintext at most per tls_conn_read. */
#define RELAY_TLS_CHUNK (16 * 1024)

static void relay_tls_fail(struct relay_client *c, const char *what)
{
	c->srv->counters[RELAY_C_TLS_FAILURES]++;
	log_debug("TLS client: %s: %s", what, tls_conn_error(c->tls));
	relay_client_close(c, RELAY_CLOSE_NONE, NULL);
}

size_t relay_tls_on_read(struct relay_client *c, const uint8_t *buf, size_t n)
{
	static uint8_t plain[RELAY_TLS_CHUNK];
	int was_established = tls_conn_established(c->tls), rc;
	size_t extra = 0;

	if (tls_conn_feed(c->tls, buf, n) < 0) {
		relay_tls_fail(c, "out of memory");
		return 0;
	}
	while (c->state != RELAY_CLIENT_CLOSING) {
		rc = tls_conn_read(c->tls, plain, sizeof(plain));
		if (!was_established && tls_conn_established(c->tls)) {
			was_established = 1;
			c->srv->counters[RELAY_C_TLS_HANDSHAKES]++;
		}
		if (rc == 0)
			break;
		if (rc == -EPIPE) {
			/* close_notify: the client left cleanly, as EOF on the plain port. */
			c->srv->counters[RELAY_C_DISCONNECT_EOF]++;
			relay_client_close(c, RELAY_CLOSE_NONE, NULL);
			return extra;
		}
		if (rc < 0) {
			relay_tls_fail(c, "read");
			return extra;
		}
		extra += relay_client_on_plain(c, plain, (size_t)rc);
	}
	/* Handshake replies, and the CHALLENGE queued at accept once the handshake is done. */
	relay_client_flush(c);
	return extra;
}

/*
 * Seals the queued frames. Small frames share records (one seal per 16 KiB, not one
 * per 1.2 KiB frame): copied into batch, sealed when it is full and at the end.
 */
static int relay_tls_seal_queue(struct relay_client *c)
{
	static uint8_t batch[RELAY_TLS_CHUNK];
	size_t used = 0;
	int rc = 0;

	while (rc == 0 && tls_conn_established(c->tls) && c->q_head) {
		struct relay_out *o = c->q_head;

		if (used && used + o->len > sizeof(batch)) {
			rc = tls_conn_write(c->tls, batch, used);
			used = 0;
			continue;
		}
		if (o->len > sizeof(batch)) {
			rc = tls_conn_write(c->tls, o->data, o->len);
		} else {
			memcpy(batch + used, o->data, o->len);
			used += o->len;
		}
		if (rc == 0)
			relay_client_consume(c, o->len); /* sealed: it leaves the queue */
	}
	if (rc == 0 && used)
		rc = tls_conn_write(c->tls, batch, used);
	return rc;
}

struct relay_out *relay_tls_seal(struct relay_client *c)
{
	struct relay_out *o;
	size_t pending;

	if (relay_tls_seal_queue(c) < 0) {
		relay_tls_fail(c, "write");
		return NULL;
	}
	pending = tls_conn_pending(c->tls);
	if (!pending)
		return NULL;
	o = malloc(sizeof(*o) + pending);
	if (!o) {
		relay_tls_fail(c, "out of memory");
		return NULL;
	}
	o->next = NULL;
	o->len = (uint32_t)tls_conn_take(c->tls, o->data, pending);
	return o;
}

void relay_tls_try_close(struct relay_client *c, const uint8_t *frame, size_t len)
{
	uint8_t out[1024];
	uv_buf_t b;
	size_t n;

	if (!tls_conn_established(c->tls) || tls_conn_write(c->tls, frame, len) < 0)
		return;
	tls_conn_shutdown(c->tls);
	n = tls_conn_take(c->tls, out, sizeof(out));
	b = uv_buf_init((char *)out, (unsigned)n);
	if (n)
		uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
}

static void relay_tls_accept_cb(uv_stream_t *listener, int status)
{
	struct relay_server *srv = container_of(listener, struct relay_server, tls_listener);
	struct relay_client *c;
	int rc;

	if (status < 0) {
		log_warnx("TLS accept: %s", uv_strerror(status));
		return;
	}
	c = relay_server_accept(srv, listener);
	if (!c)
		return;
	rc = tls_conn_new(&c->tls, srv->tls, NULL);
	if (rc < 0) {
		log_warnx("TLS accept: %s", strerror(-rc));
		relay_client_close(c, RELAY_CLOSE_NONE, NULL);
		return;
	}
	relay_server_admit(srv, c);
}

int relay_tls_start(struct relay_server *srv)
{
	struct tls_config tc = { .role = TLS_ROLE_SERVER,
		                 .cert_file = srv->cfg.tls_cert,
		                 .key_file = srv->cfg.tls_key };
	char err[TLS_ERR_MAX], addr[64];
	int len = sizeof(srv->tls_bound), rc;

	if (srv->cfg.tls_listen.ss_family == AF_UNSPEC)
		return 0;
	rc = tls_ctx_new(&srv->tls, &tc, err, sizeof(err));
	if (rc < 0) {
		log_warnx("--tls-listen: %s", err);
		return rc;
	}
	uv_tcp_init(srv->loop, &srv->tls_listener);
	srv->tls_listening = 1;
	rc = uv_tcp_bind(&srv->tls_listener, (const struct sockaddr *)&srv->cfg.tls_listen, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&srv->tls_listener, 1024, relay_tls_accept_cb);
	if (rc == 0)
		rc = uv_tcp_getsockname(&srv->tls_listener, (struct sockaddr *)&srv->tls_bound,
		                        &len);
	if (rc < 0) {
		addr_format((const struct sockaddr *)&srv->cfg.tls_listen, addr, sizeof(addr));
		log_warnx("TLS listen on %s: %s (is another relay on that port?)", addr,
		          uv_strerror(rc));
	}
	return rc;
}

static void relay_tls_closed_cb(uv_handle_t *h)
{
}

void relay_tls_stop(struct relay_server *srv)
{
	if (srv->tls_listening && !uv_is_closing((uv_handle_t *)&srv->tls_listener))
		uv_close((uv_handle_t *)&srv->tls_listener, relay_tls_closed_cb);
	srv->tls_listening = 0;
}
