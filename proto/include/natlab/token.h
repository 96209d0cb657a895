/* SPDX-License-Identifier: MIT */
/*
 * Relay access tokens: an issuer (the relay operator's key) grants one peer key
 * access until an expiry time. A token names its issuer so a relay can tell a token
 * from a foreign issuer from a forged one, and carries an id so it can be revoked.
 *
 * Binary form (all integers big-endian):
 *   u8 version (1) | issuer pub[32] | peer pub[32] | u64 expiry (unix seconds)
 *   | u8 id_len (1..64) | id[id_len] | signature[64]
 * The Ed25519 signature by the issuer covers every byte before it, signed under the
 * context TOKEN_SIGN_CONTEXT (identity_sign). Text form: the binary form in
 * unpadded base64url, safe as one CLI argument.
 */
#ifndef NATLAB_TOKEN_H
#define NATLAB_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "natlab/identity.h"

#define TOKEN_VERSION      1
#define TOKEN_ID_MAX       64
#define TOKEN_BIN_MAX      (1 + 32 + 32 + 8 + 1 + TOKEN_ID_MAX + 64)
#define TOKEN_TEXT_MAX     256 /* base64url of TOKEN_BIN_MAX, plus NUL */
#define TOKEN_SIGN_CONTEXT "natlab-relay token v1"

struct token {
	uint8_t issuer[IDENTITY_PUB_LEN];
	uint8_t peer[IDENTITY_PUB_LEN];
	uint64_t expiry;
	char id[TOKEN_ID_MAX + 1];
	uint8_t sig[IDENTITY_SIG_LEN];
};

enum token_verdict {
	TOKEN_OK = 0,
	TOKEN_FOREIGN,       /* issued by another issuer than the one we trust */
	TOKEN_BAD_SIGNATURE, /* names our issuer but the signature does not verify */
	TOKEN_EXPIRED,
};

/* An id is 1..64 characters of [A-Za-z0-9._-] (so a revocation file is plain lines). */
int token_id_valid(const char *id);

/* Fills t for peer with expiry and id, and signs it with issuer. -EINVAL on a bad id. */
int token_issue(struct token *t, const struct identity *issuer,
                const uint8_t peer[IDENTITY_PUB_LEN], uint64_t expiry, const char *id);

/* Returns the encoded length, or -ENOBUFS. */
int token_encode(const struct token *t, uint8_t *out, size_t cap);
/* Parses the binary form; -EINVAL if malformed (trailing bytes included). */
int token_decode(struct token *t, const uint8_t *in, size_t len);

/* Text form. encode returns the length written (without NUL) or -ENOBUFS. */
int token_encode_text(const struct token *t, char *out, size_t cap);
int token_decode_text(struct token *t, const char *text);

/* Checks issuer, signature and expiry (now in unix seconds), in that order. */
enum token_verdict token_verify(const struct token *t, const uint8_t issuer[IDENTITY_PUB_LEN],
                                uint64_t now);

const char *token_verdict_str(enum token_verdict v);

#endif
