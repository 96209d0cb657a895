/* SPDX-License-Identifier: MIT */
/*
 * A one-shot HTTP/1.0 client on a libuv loop, for the small JSON services around the
 * relay: the relay directory's health polls of each relay, a relay enrolling with the
 * directory, a peer asking the directory for relays. One request per connection, the
 * answer read to EOF (at most HTTP_CLIENT_MAX bytes), a time limit on the whole.
 */
#ifndef NATLAB_HTTP_CLIENT_H
#define NATLAB_HTTP_CLIENT_H

#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

#define HTTP_CLIENT_MAX (64 * 1024)

struct http_client;

/*
 * Called once per request: status is the HTTP status code (100..599), or -errno /
 * a libuv error (connection refused, -ETIMEDOUT, -EBADMSG: not an HTTP answer,
 * -EMSGSIZE: longer than HTTP_CLIENT_MAX). body is the answer's body (NUL-terminated,
 * len bytes; "" on error), valid during the call only.
 */
typedef void (*http_client_cb)(void *arg, int status, const char *body, size_t len);

/*
 * Sends METHOD PATH (with body as application/json if not NULL) to the address and
 * calls cb with the answer. Returns the request (owned by the loop until cb has run; do
 * not free it), or NULL with errno set when nothing was started (then cb never runs).
 */
struct http_client *http_client_request(uv_loop_t *loop, const struct sockaddr *to,
                                        const char *method, const char *path, const char *body,
                                        unsigned timeout_ms, http_client_cb cb, void *arg);

/* Abandons a request: cb will not run; its memory goes once its handles are closed. */
void http_client_cancel(struct http_client *c);

#endif
