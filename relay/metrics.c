/* SPDX-License-Identifier: MIT */
/*
 * /healthz and /metrics over a deliberately tiny HTTP/1.0 server: one GET per
 * connection, the answer, then close. Connections are bounded in number, request size
 * and time, so a scraper gone wrong cannot hurt the relay.
 */
#include "natlab/addr.h"
#include "natlab/relay.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/log.h"

#define RELAY_HTTP_MAX_CONNS  32
#define RELAY_HTTP_REQ_MAX    2048
#define RELAY_HTTP_TIMEOUT_MS 5000

struct relay_metrics {
	struct relay_server *srv;
	uv_tcp_t listener;
	unsigned n_conns;
};

struct relay_http_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wreq;
	struct relay_metrics *m;
	int closing;
	int pending_closes;
	size_t len;
	char *resp;
	char req[RELAY_HTTP_REQ_MAX];
};

static const char *const counter_names[RELAY_C_COUNT] = {
	[RELAY_C_ACCEPTED] = "connections_accepted_total",
	[RELAY_C_AUTH_OK] = "auth_ok_total",
	[RELAY_C_FRAMES_IN] = "frames_received_total",
	[RELAY_C_BYTES_IN] = "bytes_received_total",
	[RELAY_C_FRAMES_FORWARDED] = "frames_forwarded_total",
	[RELAY_C_BYTES_FORWARDED] = "bytes_forwarded_total",
	[RELAY_C_DROP_QUEUE_FULL] = "drops_total{reason=\"queue_full\"}",
	[RELAY_C_DROP_NO_PEER] = "drops_total{reason=\"peer_not_here\"}",
	[RELAY_C_RATE_LIMIT_PAUSES] = "rate_limit_pauses_total",
	[RELAY_C_PINGS] = "pings_total",
	[RELAY_C_DISCONNECT_EOF] = "disconnects_total{reason=\"client_closed\"}",
	[RELAY_C_DISCONNECT_ERROR] = "disconnects_total{reason=\"io_error\"}",
	[RELAY_C_STUN_REQUESTS] = "stun_requests_total",
	[RELAY_C_STUN_RESPONSES] = "stun_responses_total",
	[RELAY_C_STUN_DROPPED] = "stun_dropped_total",
	[RELAY_C_HTTP_REQUESTS] = "http_requests_total",
	[RELAY_C_TOKEN_RENEWALS] = "token_renewals_total",
	[RELAY_C_SOURCE_REFUSALS] = "source_refusals_total",
	[RELAY_C_TLS_HANDSHAKES] = "tls_handshakes_total",
	[RELAY_C_TLS_FAILURES] = "tls_failures_total",
	[RELAY_C_RECORDS_KEPT] = "records_published_total",
	[RELAY_C_LOOKUPS_FOUND] = "record_lookups_total{result=\"found\"}",
	[RELAY_C_LOOKUPS_NONE] = "record_lookups_total{result=\"none\"}",
	[RELAY_C_RECORDS_PUSHED] = "records_pushed_total",
};

/* Whether a close reason is an authentication refusal (also exported as such). */
static int relay_reason_is_auth(int r)
{
	return r >= RELAY_CLOSE_BAD_SIGNATURE && r <= RELAY_CLOSE_TOKEN_WRONG_PEER;
}

struct relay_text {
	char *buf;
	size_t len, cap;
	int err;
};

static void relay_text_add(struct relay_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void relay_text_add(struct relay_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->err = -EINVAL;
			return;
		}
		if ((size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (size_t)n;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf) {
			t->err = -ENOMEM;
			return;
		}
	}
	t->len += (size_t)n;
}

static size_t relay_family_len(const char *name)
{
	const char *brace = strchr(name, '{');

	return brace ? (size_t)(brace - name) : strlen(name);
}

/* Renders the Prometheus text exposition format. */
static void relay_metrics_render(const struct relay_server *srv, struct relay_text *t)
{
	const char *p = "natlab_relay_";
	int i;

	relay_text_add(t, "# TYPE %sclients gauge\n%sclients %u\n", p, p, srv->n_active);
	relay_text_add(t, "# TYPE %sconnections gauge\n%sconnections %u\n", p, p, srv->n_conns);
	relay_text_add(t, "# TYPE %shandshakes gauge\n%shandshakes %u\n", p, p, srv->n_handshakes);
	relay_text_add(t, "# TYPE %sdraining gauge\n%sdraining %d\n", p, p, srv->draining ? 1 : 0);
	relay_text_add(t, "# TYPE %srevoked_tokens gauge\n%srevoked_tokens %zu\n", p, p,
	               srv->revoked.n_ids);
	relay_text_add(t, "# TYPE %sissuer_keys gauge\n%sissuer_keys %zu\n", p, p, srv->issuers.n);
	relay_text_add(t, "# TYPE %srevoked_keys gauge\n%srevoked_keys %zu\n", p, p,
	               srv->revoked.n_keys);
	relay_text_add(t, "# TYPE %sauth_required gauge\n%sauth_required %d\n", p, p,
	               srv->auth_on ? 1 : 0);
	relay_text_add(t, "# TYPE %sauth_lists_failed gauge\n%sauth_lists_failed %d\n", p, p,
	               srv->auth_failed ? 1 : 0);
	for (i = 0; i < RELAY_C_COUNT; i++) {
		const char *name = counter_names[i];
		size_t base = relay_family_len(name);

		/* One TYPE line per family: labelled counters of a family are adjacent. */
		if (!i || relay_family_len(counter_names[i - 1]) != base ||
		    strncmp(counter_names[i - 1], name, base) != 0)
			relay_text_add(t, "# TYPE %s%.*s counter\n", p, (int)base, name);
		relay_text_add(t, "%s%s %llu\n", p, name, (unsigned long long)srv->counters[i]);
	}
	relay_text_add(t, "# TYPE %scloses_total counter\n", p);
	for (i = 1; i < RELAY_CLOSE_REASON_COUNT; i++)
		relay_text_add(t, "%scloses_total{reason=\"%s\"} %llu\n", p,
		               relay_close_reason_str((enum relay_close_reason)i),
		               (unsigned long long)srv->closes[i]);
	relay_text_add(t, "# TYPE %sauth_refusals_total counter\n", p);
	for (i = 1; i < RELAY_CLOSE_REASON_COUNT; i++)
		if (relay_reason_is_auth(i))
			relay_text_add(t, "%sauth_refusals_total{reason=\"%s\"} %llu\n", p,
			               relay_close_reason_str((enum relay_close_reason)i),
			               (unsigned long long)srv->closes[i]);
}

static void relay_http_closed_cb(uv_handle_t *h)
{
	struct relay_http_conn *hc = h->data;

	if (--hc->pending_closes > 0)
		return;
	hc->m->n_conns--;
	free(hc->resp);
	free(hc);
}

static void relay_http_close(struct relay_http_conn *hc)
{
	if (hc->closing)
		return;
	hc->closing = 1;
	hc->pending_closes = 2;
	uv_close((uv_handle_t *)&hc->tcp, relay_http_closed_cb);
	uv_close((uv_handle_t *)&hc->timer, relay_http_closed_cb);
}

static void relay_http_written_cb(uv_write_t *req, int status)
{
	relay_http_close(container_of(req, struct relay_http_conn, wreq));
}

static void relay_http_respond(struct relay_http_conn *hc, int code, const char *ctype,
                               const char *body, size_t body_len)
{
	struct relay_text t = { 0 };
	uv_buf_t b;

	relay_text_add(&t,
	               "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	               "Connection: close\r\n\r\n%.*s",
	               code,
	               code == 200   ? "OK"
	               : code == 404 ? "Not Found"
	               : code == 503 ? "Service Unavailable"
	                             : "Bad Request",
	               ctype, body_len, (int)body_len, body);
	if (t.err) {
		free(t.buf);
		relay_http_close(hc);
		return;
	}
	hc->resp = t.buf;
	b = uv_buf_init(hc->resp, (unsigned)t.len);
	uv_read_stop((uv_stream_t *)&hc->tcp);
	if (uv_write(&hc->wreq, (uv_stream_t *)&hc->tcp, &b, 1, relay_http_written_cb) < 0)
		relay_http_close(hc);
}

static void relay_http_route(struct relay_http_conn *hc)
{
	struct relay_server *srv = hc->m->srv;
	struct relay_text t = { 0 };

	srv->counters[RELAY_C_HTTP_REQUESTS]++;
	if (strncmp(hc->req, "GET ", 4) != 0) {
		relay_http_respond(hc, 400, "text/plain", "GET only\n", 9);
	} else if (strncmp(hc->req + 4, "/healthz ", 9) == 0 ||
	           strncmp(hc->req + 4, "/healthz?", 9) == 0) {
		if (srv->draining) {
			relay_http_respond(hc, 503, "text/plain", "draining\n", 9);
		} else if (srv->auth_on && srv->auth_failed) {
			/* Failing closed: a directory or balancer should send peers elsewhere. */
			relay_text_add(&t, "refusing new sessions: %s\n", srv->auth_error);
			if (t.err)
				relay_http_close(hc);
			else
				relay_http_respond(hc, 503, "text/plain", t.buf, t.len);
			free(t.buf);
		} else {
			relay_http_respond(hc, 200, "text/plain", "ok\n", 3);
		}
	} else if (strncmp(hc->req + 4, "/metrics ", 9) == 0 ||
	           strncmp(hc->req + 4, "/metrics?", 9) == 0) {
		relay_metrics_render(srv, &t);
		if (t.err)
			relay_http_close(hc);
		else
			relay_http_respond(hc, 200, "text/plain; version=0.0.4", t.buf, t.len);
		free(t.buf);
	} else {
		relay_http_respond(hc, 404, "text/plain", "try /healthz or /metrics\n", 25);
	}
}

static void relay_http_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct relay_http_conn *hc = h->data;

	*buf = uv_buf_init(hc->req + hc->len, (unsigned)(sizeof(hc->req) - 1 - hc->len));
}

static void relay_http_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct relay_http_conn *hc = s->data;

	if (nread < 0) {
		relay_http_close(hc);
		return;
	}
	hc->len += (size_t)nread;
	hc->req[hc->len] = '\0';
	if (strstr(hc->req, "\r\n\r\n") || strstr(hc->req, "\n\n"))
		relay_http_route(hc);
	else if (hc->len >= sizeof(hc->req) - 1)
		relay_http_respond(hc, 400, "text/plain", "request too long\n", 17);
}

static void relay_http_timeout_cb(uv_timer_t *t)
{
	relay_http_close(t->data);
}

static void relay_http_accept_cb(uv_stream_t *l, int status)
{
	struct relay_metrics *m = container_of(l, struct relay_metrics, listener);
	struct relay_http_conn *hc;

	if (status < 0)
		return;
	hc = calloc(1, sizeof(*hc));
	if (!hc)
		return;
	hc->m = m;
	m->n_conns++;
	uv_tcp_init(l->loop, &hc->tcp);
	uv_timer_init(l->loop, &hc->timer);
	hc->tcp.data = hc->timer.data = hc;
	if (uv_accept(l, (uv_stream_t *)&hc->tcp) < 0 || m->n_conns > RELAY_HTTP_MAX_CONNS) {
		relay_http_close(hc);
		return;
	}
	uv_timer_start(&hc->timer, relay_http_timeout_cb, RELAY_HTTP_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&hc->tcp, relay_http_alloc_cb, relay_http_read_cb);
}

int relay_metrics_start(struct relay_server *srv)
{
	struct relay_metrics *m;
	char addr[64];
	int len = sizeof(srv->cfg.metrics), rc;

	if (srv->cfg.metrics.ss_family == AF_UNSPEC)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->srv = srv;
	uv_tcp_init(srv->loop, &m->listener);
	srv->metrics = m;
	rc = uv_tcp_bind(&m->listener, (const struct sockaddr *)&srv->cfg.metrics, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&m->listener, 64, relay_http_accept_cb);
	if (rc == 0)
		rc = uv_tcp_getsockname(&m->listener, (struct sockaddr *)&srv->cfg.metrics, &len);
	if (rc < 0) {
		addr_format((const struct sockaddr *)&srv->cfg.metrics, addr, sizeof(addr));
		log_warnx("metrics on %s: %s", addr, uv_strerror(rc));
	}
	return rc;
}

static void relay_metrics_closed_cb(uv_handle_t *h)
{
	free(container_of((uv_tcp_t *)h, struct relay_metrics, listener));
}

void relay_metrics_stop(struct relay_server *srv)
{
	if (!srv->metrics)
		return;
	uv_close((uv_handle_t *)&srv->metrics->listener, relay_metrics_closed_cb);
	srv->metrics = NULL;
}
