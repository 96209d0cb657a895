/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes seal_open, the first parser every packet from the other peer (or a relay, or
 * anyone on the direct path) meets. Fixed identities, so the state carries over inputs
 * and the fuzzer can find packets that pass the header checks. Each input is opened
 * raw; then, sealed by the real peer as a bound packet, it must open to itself once and
 * be refused as a replay the second time (the properties, checked with a trap).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "natlab/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct seal_ctx me, peer;

static void setup(void)
{
	static int done;
	struct identity a, b;
	uint8_t seed[32];

	if (done)
		return;
	done = 1;
	if (sodium_init() < 0)
		__builtin_trap();
	memset(seed, 1, sizeof(seed));
	crypto_sign_seed_keypair(a.pub, a.secret, seed);
	memset(seed, 2, sizeof(seed));
	crypto_sign_seed_keypair(b.pub, b.secret, seed);
	if (seal_init(&me, &a, b.pub) < 0 || seal_init(&peer, &b, a.pub) < 0)
		__builtin_trap();
	seal_set_dst(&peer, me.my_session);
	seal_set_dst(&me, peer.my_session);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pkt[2048 + SEAL_OVERHEAD], out[2048 + SEAL_OVERHEAD];
	int bound, n;

	setup();
	if (size > 2048)
		return 0;
	seal_open(&me, data, size, out, sizeof(out), &bound);
	/* A fuzzed packet may have moved us to a pending session: follow the real peer. */
	seal_set_dst(&peer, me.my_session);
	seal_set_dst(&me, peer.my_session);
	n = seal_seal(&peer, data, size, pkt, sizeof(pkt));
	if (n < 0)
		return 0;
	if (seal_open(&me, pkt, (size_t)n, out, sizeof(out), &bound) != (int)size || !bound ||
	    memcmp(out, data, size) != 0)
		__builtin_trap();
	if (seal_open(&me, pkt, (size_t)n, out, sizeof(out), &bound) != -EALREADY)
		__builtin_trap();
	return 0;
}
