/* SPDX-License-Identifier: MIT */
/*
 * A blocking STUN responder over TCP (RFC 8489 section 6.2.2) on the four RFC 5780
 * endpoints, for classifying a NAT's TCP behaviour: natlab forks a child into a public
 * host's namespace and serves from there while the TCP probe (probe.h) runs behind the NAT.
 *
 * A Binding request on an accepted connection is answered on it, by stun_server_handle()
 * like the UDP responder's. A connection cannot change its source, so CHANGE-REQUEST
 * means, over TCP, "dial me back": the same answer goes, in addition, on a new connection
 * that the responder opens from the changed endpoint to the address the request came from
 * (the client's mapped address). Whether that connection gets through the NAT is what the
 * client's filtering test observes. RFC 5780 defines filtering tests for UDP only; this is
 * natlab's own extension, documented in docs/lab.md.
 */
#ifndef NATLAB_STUN_TCP_RESPONDER_H
#define NATLAB_STUN_TCP_RESPONDER_H

#include <signal.h>

#include "natlab/stun.h"

/* Connections served at once (accepted and dialled); more wait in the listen backlog. */
#define STUN_TCP_CONNS 32
/* An accepted connection is closed after this long without a complete request. */
#define STUN_TCP_IDLE_MS 10000
/* A dial-back that has not connected by then is given up (the NAT dropped its SYNs). */
#define STUN_TCP_DIAL_MS 5000

struct stun_tcp_conn {
	int fd; /* -1 when the slot is free */
	enum stun_endpoint ep;
	bool dialing; /* a dial-back whose connect is pending; buf holds the answer to send */
	long long deadline_ms;
	size_t have;
	uint8_t buf[STUN_MAX_MESSAGE];
};

struct stun_tcp_responder {
	struct stun_server_config cfg; /* with the ports actually bound */
	int fd[STUN_EP_COUNT];         /* listeners, -1 where the endpoint does not exist */
	struct stun_tcp_conn conn[STUN_TCP_CONNS];
};

/*
 * Listens on A1:P1 and A1:P2, plus A2:P1 and A2:P2 when cfg has an alternate address,
 * with SO_REUSEADDR and SO_REUSEPORT so that dial-backs can leave from the same
 * endpoints. A zero port lets the kernel pick one free on both addresses; r->cfg then
 * holds the ports chosen. cfg->software is borrowed and must outlive r. Returns 0 or
 * -errno (-EADDRINUSE when a port is taken); on failure nothing stays open.
 */
int stun_tcp_responder_init(struct stun_tcp_responder *r, const struct stun_server_config *cfg);

/*
 * Serves until *stop becomes non-zero, checked at least every 200 ms. A client that
 * sends something other than STUN is disconnected; failed dial-backs are logged at debug
 * level (they are what a filtering NAT looks like). Returns 0 once stopped, or -errno if
 * poll fails.
 */
int stun_tcp_responder_serve(struct stun_tcp_responder *r, volatile sig_atomic_t *stop);

/* Closes listeners and connections. Safe to call twice. */
void stun_tcp_responder_close(struct stun_tcp_responder *r);

#endif
