/* SPDX-License-Identifier: MIT */
/*
 * A blocking RFC 5780 STUN responder for the current network namespace: natlab forks a
 * child into a public host's namespace and serves from there while it probes NATs. The
 * answers come from stun_server_handle(), the same logic the relay serves with libuv.
 */
#ifndef NATLAB_STUN_RESPONDER_H
#define NATLAB_STUN_RESPONDER_H

#include <signal.h>

#include "natlab/stun.h"

struct stun_responder {
	struct stun_server_config cfg; /* with the ports actually bound */
	int fd[STUN_EP_COUNT];         /* -1 where the endpoint does not exist */
};

/*
 * Binds one UDP socket per endpoint: A1:P1 and A1:P2, plus A2:P1 and A2:P2 when cfg has
 * an alternate address. A zero port (the primary's or alt_port) lets the kernel pick
 * one that is free on both addresses; r->cfg then holds the ports chosen. cfg->software
 * is borrowed and must outlive r. Returns 0 or -errno; on failure nothing stays open.
 */
int stun_responder_init(struct stun_responder *r, const struct stun_server_config *cfg);

/*
 * Binds one socket of type (SOCK_DGRAM, or SOCK_STREAM: listening, with SO_REUSEADDR and
 * SO_REUSEPORT) per endpoint of cfg, non-blocking, into fd[] (-1 where an endpoint does
 * not exist), and the configuration with the ports actually bound into *bound. Zero
 * ports are picked as stun_responder_init() says. Returns 0 or -errno; on failure
 * nothing stays open.
 */
int stun_endpoints_bind(const struct stun_server_config *cfg, int type,
                        struct stun_server_config *bound, int fd[STUN_EP_COUNT]);

/*
 * Answers Binding requests until *stop becomes non-zero, checked at least every 200 ms.
 * Send errors (an unreachable client) are logged and do not stop serving.
 * Returns 0 once stopped, or -errno if poll fails.
 */
int stun_responder_serve(struct stun_responder *r, volatile sig_atomic_t *stop);

/* Closes the sockets. Safe to call twice. */
void stun_responder_close(struct stun_responder *r);

#endif
