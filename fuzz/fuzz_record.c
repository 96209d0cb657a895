/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes addr_record_decode, which reads address records from the network twice: the
 * relay on PUBLISH and the connector on RECORD. Each input is decoded raw (with and
 * without a wanted key); then its bytes become the fields of a record signed with a fixed
 * key, which must decode back to the same fields, and fail once a byte of it is flipped
 * (the properties, checked with a trap).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "natlab/addr_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000ull

static struct identity me;

static void setup(void)
{
	static int done;
	uint8_t seed[32];

	if (done)
		return;
	done = 1;
	if (sodium_init() < 0)
		__builtin_trap();
	memset(seed, 3, sizeof(seed));
	crypto_sign_seed_keypair(me.pub, me.secret, seed);
}

/* Record fields from the input's bytes: count, then per candidate kind, family, ip, port. */
static void fields_from(struct addr_record *r, const uint8_t *d, size_t n)
{
	size_t off = 1;
	int i;

	memset(r, 0, sizeof(*r));
	r->seq = n;
	r->expiry = NOW + 1 + (n ? d[0] : 0);
	memset(r->session, 0x11, sizeof(r->session));
	r->n = n ? d[0] % (ADDR_RECORD_MAX_CANDS + 1) : 0;
	for (i = 0; i < r->n; i++) {
		struct addr_record_cand *c = &r->cand[i];

		c->kind = off < n ? d[off] : 1;
		c->family = off + 1 < n && (d[off + 1] & 1) ? 6 : 4;
		if (off + 2 < n)
			memcpy(c->ip, d + off + 2, n - off - 2 < 16 ? n - off - 2 : 16);
		if (c->family == 4)
			memset(c->ip + 4, 0, 12);
		c->port = off + 3 < n ? (uint16_t)(d[off + 2] << 8 | d[off + 3]) : 0;
		off += 4;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[ADDR_RECORD_MAX_LEN];
	struct addr_record r, back;
	int n, i;

	setup();
	addr_record_decode(&back, data, size, NULL, NOW);
	addr_record_decode(&back, data, size, me.pub, NOW);
	fields_from(&r, data, size);
	n = addr_record_encode(buf, sizeof(buf), &r, &me);
	if (n < 0 || addr_record_decode(&back, buf, (size_t)n, me.pub, NOW) != 0 || back.n != r.n ||
	    back.seq != r.seq || back.expiry != r.expiry)
		__builtin_trap();
	for (i = 0; i < r.n; i++)
		if (memcmp(&back.cand[i], &r.cand[i], sizeof(r.cand[i])) != 0)
			__builtin_trap();
	if (size) {
		i = (int)(data[size - 1] % (unsigned)n);
		buf[i] ^= 0x80;
		if (addr_record_decode(&back, buf, (size_t)n, me.pub, NOW) == 0)
			__builtin_trap();
	}
	return 0;
}
