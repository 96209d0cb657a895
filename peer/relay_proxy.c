/* SPDX-License-Identifier: MIT */
/*
 * Relays through an HTTP CONNECT proxy (--proxy HOST:PORT), as a corporate network
 * allows: TCP to the proxy, "CONNECT relay:port", and once it answers 2xx the tunnel
 * carries the relay protocol (in TLS when asked) as if connected directly.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

int peer_proxy_setup(struct peer *p)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
	const char *text = p->o->proxy, *colon;
	char host[64];

	if (!text)
		return 0;
	colon = strrchr(text, ':');
	if (!colon || colon == text || (size_t)(colon - text) >= sizeof(host) || !colon[1])
		goto bad;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		goto bad;
	memcpy(&p->proxy_addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	p->have_proxy = 1;
	return 0;
bad:
	peer_error(p, PEER_EXIT_USAGE, "bad_proxy",
	           "--proxy %s: expected HOST:PORT with a resolvable host", text);
	return -1;
}

int peer_relay_proxy_request(struct peer_relay *r)
{
	char req[256];
	int n;

	n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", r->text, r->text);
	if (n < 0 || (size_t)n >= sizeof(req))
		return -EINVAL;
	r->proxy_wait = 1;
	r->proxy_len = 0;
	return peer_relay_write_raw(r, (const uint8_t *)req, (size_t)n);
}

int peer_relay_proxy_on_read(struct peer_relay *r, const uint8_t **p, size_t *n)
{
	size_t room = sizeof(r->proxy_buf) - 1 - r->proxy_len, take = *n < room ? *n : room;
	char *end, *eol;
	size_t head;
	int code = 0;

	memcpy(r->proxy_buf + r->proxy_len, *p, take);
	r->proxy_len += take;
	r->proxy_buf[r->proxy_len] = '\0';
	end = strstr(r->proxy_buf, "\r\n\r\n");
	if (!end) {
		if (r->proxy_len < sizeof(r->proxy_buf) - 1)
			return 0;
		snprintf(r->close_reason, sizeof(r->close_reason),
		         "proxy: answer headers longer than %zu bytes", sizeof(r->proxy_buf) - 1);
		return -1;
	}
	head = (size_t)(end + 4 - r->proxy_buf);
	eol = strstr(r->proxy_buf, "\r\n");
	*eol = '\0';
	if (sscanf(r->proxy_buf, "HTTP/1.%*d %d", &code) != 1 || code < 200 || code > 299) {
		snprintf(r->close_reason, sizeof(r->close_reason),
		         "proxy refused CONNECT %s: %.80s", r->text, r->proxy_buf);
		return -1;
	}
	/* What followed the headers in this read is the relay's. */
	*p += head - (r->proxy_len - take);
	*n -= head - (r->proxy_len - take);
	r->proxy_wait = 0;
	return 1;
}
