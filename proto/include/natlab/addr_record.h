/* SPDX-License-Identifier: MIT */
/*
 * A peer's signed address record: its candidates (the addresses its UDP socket is
 * reached at) and the seal session id it will use, signed with its identity key, so that
 * a peer that wants to reach it can probe at once instead of waiting for its answer
 * through the relay. The relay keeps the last one per key and hands it to a client that
 * asks (docs/relay.md, "Address records"); it can withhold or replay a record, never
 * forge or alter one. Pure codec, no I/O.
 *
 * Binary form (integers big-endian):
 *   u8 version (1) | key[32] | u64 seq | u64 expiry (unix seconds) | session[8] |
 *   u8 n (0..ADDR_RECORD_MAX_CANDS) | n x (u8 kind | u8 family (4 or 6) | ip[4 or 16] |
 *   u16 port) | sig[64]
 * sig = Ed25519(key's secret, ADDR_RECORD_CONTEXT || 0x00 || every byte before sig).
 */
#ifndef NATLAB_ADDR_RECORD_H
#define NATLAB_ADDR_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "natlab/identity.h"

#define ADDR_RECORD_VERSION     1
#define ADDR_RECORD_CONTEXT     "natlab-peer address record v1"
#define ADDR_RECORD_SESSION_LEN 8
#define ADDR_RECORD_MAX_CANDS   12
#define ADDR_RECORD_HEAD        (1 + IDENTITY_PUB_LEN + 8 + 8 + ADDR_RECORD_SESSION_LEN + 1)
#define ADDR_RECORD_MAX_LEN     (ADDR_RECORD_HEAD + ADDR_RECORD_MAX_CANDS * 20 + IDENTITY_SIG_LEN)
/* The longest life a record may claim: a replayed record dies within this. */
#define ADDR_RECORD_MAX_TTL_S 3600

struct addr_record_cand {
	uint8_t kind;   /* the peer's candidate kind (opaque here) */
	uint8_t family; /* 4 or 6 */
	uint8_t ip[16]; /* network order; the first 4 bytes for family 4 */
	uint16_t port;  /* host order */
};

struct addr_record {
	uint8_t key[IDENTITY_PUB_LEN];
	uint64_t seq;
	uint64_t expiry; /* unix seconds: invalid from this second on */
	uint8_t session[ADDR_RECORD_SESSION_LEN];
	int n;
	struct addr_record_cand cand[ADDR_RECORD_MAX_CANDS];
};

/*
 * Encodes r signed by id (r->key is taken from id) into out. Returns the length,
 * -EINVAL (more than ADDR_RECORD_MAX_CANDS candidates, or a family other than 4 or 6),
 * -ENOBUFS, or identity_sign's error.
 */
int addr_record_encode(uint8_t *out, size_t cap, const struct addr_record *r,
                       const struct identity *id);

/*
 * Decodes and checks a record: -EBADMSG (malformed: short, long, bad version, family or
 * count), -EPERM (the signature does not verify for its key), -EACCES (want_key given
 * and the record is another key's), -ESTALE (expired at now_s, or its expiry is more than
 * ADDR_RECORD_MAX_TTL_S away). 0 and *r filled otherwise.
 */
int addr_record_decode(struct addr_record *r, const uint8_t *p, size_t len, const uint8_t *want_key,
                       uint64_t now_s);

#endif
