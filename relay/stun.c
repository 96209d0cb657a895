/* SPDX-License-Identifier: MIT */
/*
 * The relay's UDP STUN endpoints. The protocol is stun_server_handle() in proto/;
 * this file only owns the sockets: A1:P1 alone, or with --stun-alt the four RFC 5780
 * endpoints A1:P1, A1:P2, A2:P1, A2:P2 where P2 = P1 + 1. A second --stun (with its own
 * --stun-alt) of the other address family is a second such set: a client is answered in
 * its own family, as RFC 5780's endpoints must all be of one.
 */
#include "natlab/addr.h"
#include "natlab/relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "natlab/log.h"
#include "natlab/stun.h"

struct relay_stun_ep {
	uv_udp_t udp;
	struct relay_stun *st;
	enum stun_endpoint ep;
	int open;
};

struct relay_stun {
	struct relay_server *srv;
	struct sockaddr_storage *report; /* the configured --stun, updated with a chosen port */
	struct stun_server_config cfg;
	struct relay_stun_ep eps[STUN_EP_COUNT];
	int pending_closes;
	uint8_t rbuf[STUN_MAX_MESSAGE];
	uint8_t out[STUN_MAX_MESSAGE];
};

static void relay_stun_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct relay_stun_ep *e = h->data;

	*buf = uv_buf_init((char *)e->st->rbuf, sizeof(e->st->rbuf));
}

static void relay_stun_recv_cb(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf,
                               const struct sockaddr *src, unsigned flags)
{
	struct relay_stun_ep *e = udp->data;
	struct relay_stun *st = e->st;
	struct relay_server *srv = st->srv;
	enum stun_endpoint send_ep;
	uv_buf_t b;
	int len, rc;

	if (nread <= 0 || !src || (flags & UV_UDP_PARTIAL))
		return;
	srv->counters[RELAY_C_STUN_REQUESTS]++;
	len = stun_server_handle(&st->cfg, e->ep, (const uint8_t *)buf->base, (size_t)nread, src,
	                         st->out, sizeof(st->out), &send_ep);
	if (len <= 0 || !st->eps[send_ep].open) {
		srv->counters[RELAY_C_STUN_DROPPED]++;
		return;
	}
	b = uv_buf_init((char *)st->out, (unsigned)len);
	rc = uv_udp_try_send(&st->eps[send_ep].udp, &b, 1, src);
	srv->counters[rc == len ? RELAY_C_STUN_RESPONSES : RELAY_C_STUN_DROPPED]++;
}

static int relay_stun_open(struct relay_stun *st, enum stun_endpoint ep)
{
	struct relay_stun_ep *e = &st->eps[ep];
	struct sockaddr_storage addr;
	char text[64];
	int rc;

	if (stun_server_endpoint(&st->cfg, ep, &addr) < 0)
		return 0;
	e->st = st;
	e->ep = ep;
	uv_udp_init(st->srv->loop, &e->udp);
	e->udp.data = e;
	e->open = 1;
	/* An IPv6 wildcard would take IPv4 too, as mapped addresses a client cannot read
	 * back in XOR-MAPPED-ADDRESS: IPv4 gets a --stun of its own. */
	rc = uv_udp_bind(&e->udp, (const struct sockaddr *)&addr,
	                 addr.ss_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
	if (rc == 0)
		rc = uv_udp_recv_start(&e->udp, relay_stun_alloc_cb, relay_stun_recv_cb);
	if (rc < 0) {
		addr_format((const struct sockaddr *)&addr, text, sizeof(text));
		log_warnx("stun on %s: %s (is the address configured on this host?)", text,
		          uv_strerror(rc));
	}
	return rc;
}

/* Port 0 for --stun alone: learn the port the kernel chose so it can be reported. */
static void relay_stun_learn_port(struct relay_stun *st)
{
	struct sockaddr_storage bound;
	int len = sizeof(bound);

	if (uv_udp_getsockname(&st->eps[STUN_EP_A1P1].udp, (struct sockaddr *)&bound, &len) == 0) {
		st->cfg.primary = bound;
		*st->report = bound;
	}
}

/* The endpoints of one family: stun (A1:P1) and alt (A2, or AF_UNSPEC), into *slot. */
static int relay_stun_start_one(struct relay_server *srv, struct sockaddr_storage *stun,
                                const struct sockaddr_storage *alt, struct relay_stun **slot)
{
	struct relay_stun *st;
	uint16_t port;
	int rc, i;

	if (stun->ss_family == AF_UNSPEC)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->srv = srv;
	st->report = stun;
	*slot = st;
	st->cfg.primary = *stun;
	st->cfg.software = "natlab-relay";
	port = ntohs(((struct sockaddr_in *)stun)->sin_port);
	if (alt->ss_family != AF_UNSPEC) {
		if (port == 0 || port == 65535) {
			log_warnx(
			    "--stun-alt needs a fixed --stun port below 65535 (P2 is P1 + 1)");
			return -EINVAL;
		}
		st->cfg.alternate = *alt;
		st->cfg.alt_port = htons((uint16_t)(port + 1));
	}
	/* Port 0 (no --stun-alt, above): the port the socket gets is learnt below. */
	rc = port == 0 ? 0 : stun_server_config_check(&st->cfg);
	if (rc < 0) {
		log_warnx("--stun and --stun-alt must be addresses of the same family");
		return rc;
	}
	for (i = 0; i < STUN_EP_COUNT; i++) {
		rc = relay_stun_open(st, (enum stun_endpoint)i);
		if (rc < 0)
			return rc;
		if (i == STUN_EP_A1P1 && port == 0)
			relay_stun_learn_port(st);
	}
	return 0;
}

int relay_stun_start(struct relay_server *srv)
{
	int rc = relay_stun_start_one(srv, &srv->cfg.stun, &srv->cfg.stun_alt, &srv->stun);

	if (rc == 0)
		rc = relay_stun_start_one(srv, &srv->cfg.stun2, &srv->cfg.stun2_alt, &srv->stun2);
	return rc;
}

static void relay_stun_closed_cb(uv_handle_t *h)
{
	struct relay_stun *st = ((struct relay_stun_ep *)h->data)->st;

	if (--st->pending_closes == 0)
		free(st);
}

static void relay_stun_stop_one(struct relay_stun **slot)
{
	struct relay_stun *st = *slot;
	int i;

	if (!st)
		return;
	*slot = NULL;
	for (i = 0; i < STUN_EP_COUNT; i++)
		if (st->eps[i].open)
			st->pending_closes++;
	if (!st->pending_closes) {
		free(st);
		return;
	}
	for (i = 0; i < STUN_EP_COUNT; i++)
		if (st->eps[i].open)
			uv_close((uv_handle_t *)&st->eps[i].udp, relay_stun_closed_cb);
}

void relay_stun_stop(struct relay_server *srv)
{
	relay_stun_stop_one(&srv->stun);
	relay_stun_stop_one(&srv->stun2);
}
