/* SPDX-License-Identifier: MIT */
#include "natlab/token.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "natlab/frame.h"

#define TOKEN_FIXED_LEN (1 + 32 + 32 + 8 + 1)

int token_id_valid(const char *id)
{
	size_t i, len = strlen(id);

	if (len < 1 || len > TOKEN_ID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Writes the signed body; returns its length. out must hold TOKEN_BIN_MAX bytes. */
static size_t token_body(const struct token *t, uint8_t *out)
{
	size_t id_len = strlen(t->id);

	out[0] = TOKEN_VERSION;
	memcpy(out + 1, t->issuer, 32);
	memcpy(out + 33, t->peer, 32);
	frame_put_u64(out + 65, t->expiry);
	out[73] = (uint8_t)id_len;
	memcpy(out + TOKEN_FIXED_LEN, t->id, id_len);
	return TOKEN_FIXED_LEN + id_len;
}

int token_issue(struct token *t, const struct identity *issuer,
                const uint8_t peer[IDENTITY_PUB_LEN], uint64_t expiry, const char *id)
{
	uint8_t body[TOKEN_BIN_MAX];
	size_t len;

	if (!token_id_valid(id))
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	memcpy(t->issuer, issuer->pub, 32);
	memcpy(t->peer, peer, 32);
	t->expiry = expiry;
	strcpy(t->id, id);
	len = token_body(t, body);
	return identity_sign(issuer, TOKEN_SIGN_CONTEXT, body, len, t->sig);
}

int token_encode(const struct token *t, uint8_t *out, size_t cap)
{
	uint8_t buf[TOKEN_BIN_MAX];
	size_t len = token_body(t, buf);

	if (cap < len + IDENTITY_SIG_LEN)
		return -ENOBUFS;
	memcpy(out, buf, len);
	memcpy(out + len, t->sig, IDENTITY_SIG_LEN);
	return (int)(len + IDENTITY_SIG_LEN);
}

int token_decode(struct token *t, const uint8_t *in, size_t len)
{
	size_t id_len;

	if (len < TOKEN_FIXED_LEN || in[0] != TOKEN_VERSION)
		return -EINVAL;
	id_len = in[73];
	if (id_len < 1 || id_len > TOKEN_ID_MAX ||
	    len != TOKEN_FIXED_LEN + id_len + IDENTITY_SIG_LEN)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	memcpy(t->issuer, in + 1, 32);
	memcpy(t->peer, in + 33, 32);
	t->expiry = frame_get_u64(in + 65);
	memcpy(t->id, in + TOKEN_FIXED_LEN, id_len);
	t->id[id_len] = '\0';
	if (!token_id_valid(t->id))
		return -EINVAL;
	memcpy(t->sig, in + TOKEN_FIXED_LEN + id_len, IDENTITY_SIG_LEN);
	return 0;
}

int token_encode_text(const struct token *t, char *out, size_t cap)
{
	uint8_t bin[TOKEN_BIN_MAX];
	int len = token_encode(t, bin, sizeof(bin));
	size_t need;

	if (len < 0)
		return len;
	need = sodium_base64_encoded_len((size_t)len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (cap < need)
		return -ENOBUFS;
	sodium_bin2base64(out, cap, bin, (size_t)len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return (int)strlen(out);
}

int token_decode_text(struct token *t, const char *text)
{
	uint8_t bin[TOKEN_BIN_MAX + 1];
	size_t len = 0;

	if (strlen(text) >= TOKEN_TEXT_MAX)
		return -EINVAL;
	if (sodium_base642bin(bin, sizeof(bin), text, strlen(text), NULL, &len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -EINVAL;
	return token_decode(t, bin, len);
}

enum token_verdict token_verify(const struct token *t, const uint8_t issuer[IDENTITY_PUB_LEN],
                                uint64_t now)
{
	uint8_t body[TOKEN_BIN_MAX];
	size_t len;

	if (sodium_memcmp(t->issuer, issuer, 32) != 0)
		return TOKEN_FOREIGN;
	len = token_body(t, body);
	if (identity_verify(issuer, TOKEN_SIGN_CONTEXT, body, len, t->sig) != 0)
		return TOKEN_BAD_SIGNATURE;
	if (t->expiry <= now)
		return TOKEN_EXPIRED;
	return TOKEN_OK;
}

const char *token_verdict_str(enum token_verdict v)
{
	switch (v) {
	case TOKEN_OK:
		return "ok";
	case TOKEN_FOREIGN:
		return "token_foreign";
	case TOKEN_BAD_SIGNATURE:
		return "token_bad_signature";
	case TOKEN_EXPIRED:
		return "token_expired";
	}
	return "unknown";
}
