/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes natlab-peer's handling of what the other peer sends: every message type after
 * seal_open (HELLO and CONNECT offers with their candidate lists, probes and their
 * answers, pings, transfer DATA/ACK/END/RESULT, BYE), as a listener would get them over
 * the relay or by UDP (from IPv4 or IPv6). The input's first byte picks the path; the
 * rest is the message, sealed by a real peer (so the fuzzer gets past authentication)
 * and, separately, fed raw. The peer has no sockets (relay-only, no relay connection): what it
 * sends fails quietly. Events go to /dev/null. When a message stops the peer, a fresh one is made.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "../peer/peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct peer P;
static struct peer_opts O;
static struct identity me, other;
static struct seal_ctx sender;

static void peer_fresh(void)
{
	struct peer *p = &P;

	if (p->loop) {
		uv_run(p->loop, UV_RUN_DEFAULT); /* finish closing what peer_stop closed */
		peer_xfer_rx_free(&p->rx);
	}
	memset(p, 0, sizeof(*p));
	p->o = &O;
	p->id = me;
	p->loop = uv_default_loop();
	p->start_ns = peer_now_ns();
	p->cur_relay = -1;
	if (seal_init(&p->seal, &me, other.pub) < 0 || seal_init(&sender, &other, me.pub) < 0)
		__builtin_trap();
	p->have_peer = 1;
	memcpy(p->peer_key, other.pub, IDENTITY_PUB_LEN);
	identity_pub_format(other.pub, p->peer_text);
	uv_timer_init(p->loop, &p->tick);
	uv_timer_init(p->loop, &p->stun_timer);
	peer_punch_init(p);
}

static void setup(void)
{
	static int done;
	uint8_t seed[32];

	if (done)
		return;
	done = 1;
	if (sodium_init() < 0 || !freopen("/dev/null", "w", stdout))
		__builtin_trap();
	memset(seed, 3, sizeof(seed));
	crypto_sign_seed_keypair(me.pub, me.secret, seed);
	memset(seed, 4, sizeof(seed));
	crypto_sign_seed_keypair(other.pub, other.secret, seed);
	O.listen = 1;
	O.relay_only = 1;
	O.transfer = 0;
	peer_fresh();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pkt[PEER_MAX_PKT];
	union peer_sa from = { .in = { .sin_family = AF_INET, .sin_port = htons(4000) } };
	int n;

	setup();
	if (size < 2 || size - 1 > PEER_MAX_MSG)
		return 0;
	from.in.sin_addr.s_addr = htonl(0xc0000201);
	/* Bit 2: from an IPv6 address (the peer's IPv6 socket). */
	if (data[0] & 4) {
		memset(&from, 0, sizeof(from));
		from.in6.sin6_family = AF_INET6;
		from.in6.sin6_port = htons(4000);
		inet_pton(AF_INET6, "2001:db8::9", &from.in6.sin6_addr);
	}
	/* The raw bytes, as anything arriving on the socket or from the relay. */
	peer_on_sealed(&P, data + 1, size - 1, (data[0] & 1) ? &from : NULL);
	if (!P.stopping) {
		/* The same bytes as a message the real peer sealed, bound unless bit 1 is set. */
		seal_set_dst(&sender, (data[0] & 2) ? (const uint8_t[SEAL_SESSION_LEN]){ 0 }
		                                    : P.seal.my_session);
		n = seal_seal(&sender, data + 1, size - 1, pkt, sizeof(pkt));
		if (n > 0)
			peer_on_sealed(&P, pkt, (size_t)n, (data[0] & 1) ? &from : NULL);
	}
	uv_run(P.loop, UV_RUN_NOWAIT);
	if (P.stopping)
		peer_fresh();
	return 0;
}
