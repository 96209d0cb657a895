/* SPDX-License-Identifier: MIT */
/*
 * The relay protocol on a second address family: a second --listen (an IPv6 address next
 * to an IPv4 one, or the reverse) is a second plain TCP listener feeding the same clients
 * table. A dual-stack wildcard ([::]:PORT, net.ipv6.bindv6only 0) needs none: one socket
 * takes both families; a second listener exists for a specific address of the other
 * family, which a lab host with one address of each has. The STUN side of the second
 * family is stun.c's (a second --stun).
 */
#include "natlab/relay.h"

#include <errno.h>
#include <stdlib.h>

#include "natlab/addr.h"
#include "natlab/log.h"

struct relay_listen2 {
	uv_tcp_t tcp;
	struct relay_server *srv;
	struct sockaddr_storage bound;
};

static void relay_listen2_accept_cb(uv_stream_t *listener, int status)
{
	struct relay_listen2 *l = container_of(listener, struct relay_listen2, tcp);
	struct relay_client *c;

	if (status < 0) {
		log_warnx("accept: %s", uv_strerror(status));
		return;
	}
	c = relay_server_accept(l->srv, listener);
	if (c)
		relay_server_admit(l->srv, c);
}

static void relay_listen2_closed_cb(uv_handle_t *h)
{
	free(container_of((uv_tcp_t *)h, struct relay_listen2, tcp));
}

int relay_listen2_start(struct relay_server *srv)
{
	struct relay_listen2 *l;
	char addr[ADDR_TEXT_MAX];
	int len = sizeof(l->bound), rc;

	if (srv->cfg.listen2.ss_family == AF_UNSPEC)
		return 0;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->srv = srv;
	uv_tcp_init(srv->loop, &l->tcp);
	srv->listen2 = l;
	/* The other family's socket takes its own family only, whatever bindv6only says. */
	rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&srv->cfg.listen2,
	                 srv->cfg.listen2.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&l->tcp, RELAY_LISTEN_BACKLOG,
		               relay_listen2_accept_cb);
	if (rc == 0)
		rc = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&l->bound, &len);
	if (rc < 0) {
		addr_format((const struct sockaddr *)&srv->cfg.listen2, addr, sizeof(addr));
		log_warnx("second --listen on %s: %s (is the address configured on this host, "
		          "or another relay on that port?)",
		          addr, uv_strerror(rc));
	}
	return rc;
}

const struct sockaddr *relay_listen2_bound(const struct relay_server *srv)
{
	return srv->listen2 ? (const struct sockaddr *)&srv->listen2->bound : NULL;
}

void relay_listen2_stop(struct relay_server *srv)
{
	struct relay_listen2 *l = srv->listen2;

	if (!l)
		return;
	srv->listen2 = NULL;
	uv_close((uv_handle_t *)&l->tcp, relay_listen2_closed_cb);
}
