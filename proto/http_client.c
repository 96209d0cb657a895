/* SPDX-License-Identifier: MIT */
/* One-shot HTTP/1.0 requests on a libuv loop (http_client.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/http_client.h"
#include "natlab/util.h"

struct http_client {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t connect;
	uv_write_t write;
	http_client_cb cb;
	void *arg;
	int closing;  /* handles closing: 2, 1, then free */
	int finished; /* cb ran, or the request was cancelled */
	char *req;
	size_t req_len;
	char *resp;
	size_t len;
};

static void http_closed_cb(uv_handle_t *h)
{
	struct http_client *c = h->data;

	if (--c->closing == 0) {
		free(c->req);
		free(c->resp);
		free(c);
	}
}

static void http_close(struct http_client *c)
{
	if (c->closing)
		return;
	c->closing = 2;
	uv_close((uv_handle_t *)&c->tcp, http_closed_cb);
	uv_close((uv_handle_t *)&c->timer, http_closed_cb);
}

/* Calls back once with what we have, then closes. */
static void http_finish(struct http_client *c, int status)
{
	const char *body = "";
	size_t blen = 0;
	char *sep;
	int code;

	if (!c->finished && status == 0) {
		c->resp[c->len] = '\0';
		sep = strstr(c->resp, "\r\n\r\n");
		if (sscanf(c->resp, "HTTP/1.%*1[01] %3d", &code) != 1 || code < 100 || code > 599 ||
		    !sep) {
			status = -EBADMSG;
		} else {
			status = code;
			body = sep + 4;
			blen = c->len - (size_t)(body - c->resp);
		}
	}
	if (!c->finished) {
		c->finished = 1;
		c->cb(c->arg, status, body, blen);
	}
	http_close(c);
}

static void http_timeout_cb(uv_timer_t *t)
{
	http_finish(t->data, -ETIMEDOUT);
}

static void http_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct http_client *c = h->data;

	*buf = uv_buf_init(c->resp + c->len, (unsigned)(HTTP_CLIENT_MAX - c->len));
}

static void http_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct http_client *c = s->data;

	if (nread == UV_EOF)
		http_finish(c, 0);
	else if (nread < 0)
		http_finish(c, (int)nread);
	else if ((c->len += (size_t)nread) >= HTTP_CLIENT_MAX)
		http_finish(c, -EMSGSIZE);
}

static void http_written_cb(uv_write_t *w, int status)
{
	struct http_client *c = w->data;

	if (status < 0)
		http_finish(c, status);
}

static void http_connect_cb(uv_connect_t *req, int status)
{
	struct http_client *c = req->data;
	uv_buf_t b = uv_buf_init(c->req, (unsigned)c->req_len);
	int rc = status;

	if (rc == UV_ECANCELED || c->finished)
		return;
	if (rc == 0)
		rc = uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, http_written_cb);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&c->tcp, http_alloc_cb, http_read_cb);
	if (rc < 0)
		http_finish(c, rc);
}

struct http_client *http_client_request(uv_loop_t *loop, const struct sockaddr *to,
                                        const char *method, const char *path, const char *body,
                                        unsigned timeout_ms, http_client_cb cb, void *arg)
{
	struct http_client *c = calloc(1, sizeof(*c));
	size_t blen = body ? strlen(body) : 0, cap = strlen(method) + strlen(path) + blen + 128;
	int n, rc = -ENOMEM;

	if (!c)
		goto out;
	c->req = malloc(cap);
	c->resp = malloc(HTTP_CLIENT_MAX + 1);
	if (!c->req || !c->resp)
		goto out;
	n = body ? snprintf(c->req, cap,
	                    "%s %s HTTP/1.0\r\nContent-Type: application/json\r\n"
	                    "Content-Length: %zu\r\n\r\n%s",
	                    method, path, blen, body)
	         : snprintf(c->req, cap, "%s %s HTTP/1.0\r\n\r\n", method, path);
	if (n < 0 || (size_t)n >= cap) {
		rc = -EOVERFLOW;
		goto out;
	}
	c->req_len = (size_t)n;
	c->cb = cb;
	c->arg = arg;
	rc = uv_tcp_init(loop, &c->tcp);
	if (rc < 0)
		goto out;
	uv_timer_init(loop, &c->timer);
	c->tcp.data = c->timer.data = c->connect.data = c->write.data = c;
	rc = uv_tcp_connect(&c->connect, &c->tcp, to, http_connect_cb);
	if (rc < 0) {
		c->finished = 1; /* a synchronous failure never calls back */
		http_close(c);
		errno = -rc;
		return NULL;
	}
	uv_timer_start(&c->timer, http_timeout_cb, timeout_ms, 0);
	return c;
out:
	if (c) {
		free(c->req);
		free(c->resp);
		free(c);
	}
	errno = -rc;
	return NULL;
}

void http_client_cancel(struct http_client *c)
{
	if (!c)
		return;
	c->finished = 1;
	http_close(c);
}
