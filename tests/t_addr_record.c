/* SPDX-License-Identifier: MIT */
/* Address records (addr_record.h): round trip, signature, expiry, key, malformed input. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "natlab/addr_record.h"
#include "tap.h"

#define NOW 1800000000ull

static void identity_from(struct identity *id, uint8_t seed_byte)
{
	uint8_t seed[32];

	memset(seed, seed_byte, sizeof(seed));
	crypto_sign_seed_keypair(id->pub, id->secret, seed);
}

static void sample(struct addr_record *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = 42;
	r->expiry = NOW + 600;
	memset(r->session, 0x5a, sizeof(r->session));
	r->n = 2;
	r->cand[0] = (struct addr_record_cand){
		.kind = 2, .family = 4, .ip = { 198, 18, 0, 7 }, .port = 40000
	};
	r->cand[1] = (struct addr_record_cand){ .kind = 1, .family = 6, .port = 5 };
	r->cand[1].ip[0] = 0x20;
	r->cand[1].ip[15] = 9;
}

static void test_round_trip(const struct identity *a)
{
	uint8_t buf[ADDR_RECORD_MAX_LEN];
	struct addr_record in, out;
	int n;

	sample(&in);
	n = addr_record_encode(buf, sizeof(buf), &in, a);
	is_int(n, ADDR_RECORD_HEAD + 8 + 20 + 64,
	       "encoded length: head, an IPv4 and an IPv6 candidate, signature");
	is_int(addr_record_decode(&out, buf, (size_t)n, a->pub, NOW), 0, "decodes and verifies");
	ok(out.seq == 42 && out.expiry == NOW + 600 && out.n == 2 &&
	       memcmp(out.key, a->pub, 32) == 0 && memcmp(out.session, in.session, 8) == 0,
	   "head fields survive");
	ok(memcmp(&out.cand[0], &in.cand[0], sizeof(in.cand[0])) == 0 &&
	       memcmp(&out.cand[1], &in.cand[1], sizeof(in.cand[1])) == 0,
	   "candidates survive");
	is_int(addr_record_decode(&out, buf, (size_t)n, NULL, NOW), 0,
	       "any key accepted without want_key");
}

static void test_forgery(const struct identity *a, const struct identity *b)
{
	uint8_t buf[ADDR_RECORD_MAX_LEN];
	struct addr_record in, out;
	int n, i, bad = 0;

	sample(&in);
	n = addr_record_encode(buf, sizeof(buf), &in, a);
	is_int(addr_record_decode(&out, buf, (size_t)n, b->pub, NOW), -EACCES,
	       "another key's record refused when a key is wanted");
	/* Every single-bit change of the signed part or the signature fails. */
	for (i = 1; i < n; i++) {
		buf[i] ^= 0x01;
		if (addr_record_decode(&out, buf, (size_t)n, NULL, NOW) == 0)
			bad++;
		buf[i] ^= 0x01;
	}
	is_int(bad, 0, "no altered byte verifies");
	/* A relay that swaps in its own key and signs: it is that key's record, not a's. */
	n = addr_record_encode(buf, sizeof(buf), &in, b);
	is_int(addr_record_decode(&out, buf, (size_t)n, a->pub, NOW), -EACCES,
	       "a record re-signed by another key is not the wanted key's");
	/* The key field replaced by a's, signature b's: the signature fails. */
	memcpy(buf + 1, a->pub, 32);
	is_int(addr_record_decode(&out, buf, (size_t)n, a->pub, NOW), -EPERM,
	       "a's key with b's signature does not verify");
}

static void test_expiry(const struct identity *a)
{
	uint8_t buf[ADDR_RECORD_MAX_LEN];
	struct addr_record in, out;
	int n;

	sample(&in);
	n = addr_record_encode(buf, sizeof(buf), &in, a);
	is_int(addr_record_decode(&out, buf, (size_t)n, a->pub, NOW + 599), 0,
	       "valid a second before expiry");
	is_int(addr_record_decode(&out, buf, (size_t)n, a->pub, NOW + 600), -ESTALE,
	       "expired at its expiry");
	in.expiry = NOW + ADDR_RECORD_MAX_TTL_S + 1;
	n = addr_record_encode(buf, sizeof(buf), &in, a);
	is_int(addr_record_decode(&out, buf, (size_t)n, a->pub, NOW), -ESTALE,
	       "an expiry beyond the longest life is refused");
}

static void test_malformed(const struct identity *a)
{
	uint8_t buf[ADDR_RECORD_MAX_LEN + 8];
	struct addr_record in, out;
	int n, cut, bad = 0;

	sample(&in);
	in.n = ADDR_RECORD_MAX_CANDS + 1;
	is_int(addr_record_encode(buf, sizeof(buf), &in, a), -EINVAL,
	       "too many candidates refused");
	sample(&in);
	in.cand[0].family = 5;
	is_int(addr_record_encode(buf, sizeof(buf), &in, a), -EINVAL,
	       "a family other than 4 or 6 refused");
	sample(&in);
	is_int(addr_record_encode(buf, 100, &in, a), -ENOBUFS, "short buffer refused");
	n = addr_record_encode(buf, sizeof(buf), &in, a);
	for (cut = 0; cut < n; cut++)
		if (addr_record_decode(&out, buf, (size_t)cut, NULL, NOW) != -EBADMSG)
			bad++;
	is_int(bad, 0, "every truncation is malformed");
	buf[n] = 0;
	is_int(addr_record_decode(&out, buf, (size_t)n + 1, NULL, NOW), -EBADMSG,
	       "a trailing byte is malformed");
	buf[0] = 2;
	is_int(addr_record_decode(&out, buf, (size_t)n, NULL, NOW), -EBADMSG,
	       "version 2 is malformed");
	buf[0] = 1;
	buf[ADDR_RECORD_HEAD - 1] = ADDR_RECORD_MAX_CANDS + 1;
	is_int(addr_record_decode(&out, buf, (size_t)n, NULL, NOW), -EBADMSG,
	       "a count above the maximum is malformed");
	buf[ADDR_RECORD_HEAD - 1] = 2;
	buf[ADDR_RECORD_HEAD + 1] = 7;
	is_int(addr_record_decode(&out, buf, (size_t)n, NULL, NOW), -EBADMSG,
	       "family 7 is malformed");
	/* The largest record fits ADDR_RECORD_MAX_LEN exactly. */
	in.n = ADDR_RECORD_MAX_CANDS;
	for (cut = 0; cut < in.n; cut++)
		in.cand[cut] = (struct addr_record_cand){ .kind = 1, .family = 6, .port = 1 };
	n = addr_record_encode(buf, sizeof(buf), &in, a);
	is_int(n, ADDR_RECORD_MAX_LEN, "twelve IPv6 candidates: the bound");
	is_int(addr_record_decode(&out, buf, (size_t)n, a->pub, NOW), 0,
	       "the largest record decodes");
}

int main(void)
{
	struct identity a, b;

	if (sodium_init() < 0)
		return 1;
	identity_from(&a, 1);
	identity_from(&b, 2);
	test_round_trip(&a);
	test_forgery(&a, &b);
	test_expiry(&a);
	test_malformed(&a);
	return tap_done();
}
