/* SPDX-License-Identifier: MIT */
#include "natlab/relay_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const close_reason_names[RELAY_CLOSE_REASON_COUNT] = {
	[RELAY_CLOSE_NONE] = "none",
	[RELAY_CLOSE_PROTOCOL] = "malformed",
	[RELAY_CLOSE_OVERSIZED] = "oversized",
	[RELAY_CLOSE_UNEXPECTED] = "unexpected_frame",
	[RELAY_CLOSE_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	[RELAY_CLOSE_BAD_SIGNATURE] = "bad_signature",
	[RELAY_CLOSE_NO_TOKEN] = "no_token",
	[RELAY_CLOSE_TOKEN_MALFORMED] = "token_malformed",
	[RELAY_CLOSE_TOKEN_FOREIGN] = "token_foreign",
	[RELAY_CLOSE_TOKEN_BAD_SIGNATURE] = "token_bad_signature",
	[RELAY_CLOSE_TOKEN_EXPIRED] = "token_expired",
	[RELAY_CLOSE_TOKEN_REVOKED] = "token_revoked",
	[RELAY_CLOSE_TOKEN_WRONG_PEER] = "token_wrong_peer",
	[RELAY_CLOSE_SERVER_FULL] = "server_full",
	[RELAY_CLOSE_REPLACED] = "replaced",
	[RELAY_CLOSE_SHUTDOWN] = "shutdown",
	[RELAY_CLOSE_IDLE] = "idle",
	[RELAY_CLOSE_BYTE_CAP] = "byte_cap",
};

const char *relay_close_reason_str(enum relay_close_reason r)
{
	if ((unsigned)r >= RELAY_CLOSE_REASON_COUNT)
		return "unknown";
	return close_reason_names[r];
}

const char *relay_frame_type_str(uint8_t type)
{
	static const char *const names[] = {
		"invalid",    "challenge", "auth",    "server_info", "send",
		"recv",       "peer_gone", "ping",    "pong",        "status",
		"restarting", "close",     "publish", "lookup",      "record",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

/* Writes a header for a payload of len into out, checking room for all of it. */
static int begin(uint8_t *out, size_t cap, uint8_t type, size_t len)
{
	int rc = frame_header_write(out, type, len);

	if (rc < 0)
		return rc;
	return cap < FRAME_HEADER_LEN + len ? -ENOBUFS : 0;
}

int relay_challenge_encode(uint8_t *out, size_t cap, const struct relay_challenge *c)
{
	const size_t len = 2 + RELAY_NONCE_LEN;
	int rc = begin(out, cap, RELAY_FRAME_CHALLENGE, len);

	if (rc < 0)
		return rc;
	out[5] = c->version;
	out[6] = c->flags;
	memcpy(out + 7, c->nonce, RELAY_NONCE_LEN);
	return (int)(FRAME_HEADER_LEN + len);
}

int relay_challenge_decode(struct relay_challenge *c, const uint8_t *p, size_t len)
{
	if (len < 2 + RELAY_NONCE_LEN)
		return -EINVAL;
	c->version = p[0];
	c->flags = p[1];
	memcpy(c->nonce, p + 2, RELAY_NONCE_LEN);
	return 0;
}

/* nonce || key || token: what the AUTH signature covers. */
static uint8_t *auth_message(const uint8_t *nonce, const uint8_t *key, const uint8_t *token,
                             size_t token_len, size_t *len)
{
	uint8_t *m = malloc(RELAY_NONCE_LEN + RELAY_KEY_LEN + token_len + 1);

	if (!m)
		return NULL;
	memcpy(m, nonce, RELAY_NONCE_LEN);
	memcpy(m + RELAY_NONCE_LEN, key, RELAY_KEY_LEN);
	if (token_len)
		memcpy(m + RELAY_NONCE_LEN + RELAY_KEY_LEN, token, token_len);
	*len = RELAY_NONCE_LEN + RELAY_KEY_LEN + token_len;
	return m;
}

int relay_auth_sign(const struct identity *id, const uint8_t nonce[RELAY_NONCE_LEN],
                    const uint8_t *token, size_t token_len, uint8_t sig[IDENTITY_SIG_LEN])
{
	size_t len;
	uint8_t *m = auth_message(nonce, id->pub, token, token_len, &len);
	int rc;

	if (!m)
		return -ENOMEM;
	rc = identity_sign(id, RELAY_AUTH_CONTEXT, m, len, sig);
	free(m);
	return rc;
}

int relay_auth_verify(const struct relay_auth *a, const uint8_t nonce[RELAY_NONCE_LEN])
{
	size_t len;
	uint8_t *m = auth_message(nonce, a->key, a->token, a->token_len, &len);
	int rc;

	if (!m)
		return -ENOMEM;
	rc = identity_verify(a->key, RELAY_AUTH_CONTEXT, m, len, a->sig);
	free(m);
	return rc;
}

int relay_auth_build(uint8_t *out, size_t cap, const struct identity *id,
                     const struct relay_challenge *c, const char *token_text)
{
	uint8_t tok[TOKEN_BIN_MAX], *p;
	struct token t;
	int tok_len = 0, rc;
	size_t len;

	if (token_text && *token_text) {
		rc = token_decode_text(&t, token_text);
		if (rc < 0)
			return rc;
		tok_len = token_encode(&t, tok, sizeof(tok));
		if (tok_len < 0)
			return tok_len;
	}
	len = RELAY_KEY_LEN + IDENTITY_SIG_LEN + 2 + (size_t)tok_len;
	rc = begin(out, cap, RELAY_FRAME_AUTH, len);
	if (rc < 0)
		return rc;
	p = out + FRAME_HEADER_LEN;
	memcpy(p, id->pub, RELAY_KEY_LEN);
	rc = relay_auth_sign(id, c->nonce, tok, (size_t)tok_len, p + RELAY_KEY_LEN);
	if (rc < 0)
		return rc;
	p += RELAY_KEY_LEN + IDENTITY_SIG_LEN;
	p[0] = (uint8_t)(tok_len >> 8);
	p[1] = (uint8_t)tok_len;
	memcpy(p + 2, tok, (size_t)tok_len);
	return (int)(FRAME_HEADER_LEN + len);
}

int relay_auth_decode(struct relay_auth *a, const uint8_t *p, size_t len)
{
	const size_t fixed = RELAY_KEY_LEN + IDENTITY_SIG_LEN + 2;

	if (len < fixed)
		return -EINVAL;
	memcpy(a->key, p, RELAY_KEY_LEN);
	memcpy(a->sig, p + RELAY_KEY_LEN, IDENTITY_SIG_LEN);
	a->token_len = (uint16_t)(p[fixed - 2] << 8 | p[fixed - 1]);
	if (len != fixed + a->token_len)
		return -EINVAL;
	a->token = p + fixed;
	return 0;
}

int relay_server_info_encode(uint8_t *out, size_t cap, const struct relay_server_info *si)
{
	int rc = begin(out, cap, RELAY_FRAME_SERVER_INFO, RELAY_SERVER_INFO_LEN);
	uint8_t *p = out + FRAME_HEADER_LEN;

	if (rc < 0)
		return rc;
	p[0] = si->version;
	frame_put_u32(p + 1, si->max_packet);
	frame_put_u32(p + 5, si->queue_frames);
	frame_put_u32(p + 9, si->rate_bytes_per_sec);
	frame_put_u32(p + 13, si->burst_bytes);
	frame_put_u32(p + 17, si->keepalive_ms);
	frame_put_u64(p + 21, si->token_expiry);
	frame_put_u32(p + 29, si->queue_bytes);
	return FRAME_HEADER_LEN + RELAY_SERVER_INFO_LEN;
}

int relay_server_info_decode(struct relay_server_info *si, const uint8_t *p, size_t len)
{
	if (len < RELAY_SERVER_INFO_MIN_LEN)
		return -EINVAL;
	si->version = p[0];
	si->max_packet = frame_get_u32(p + 1);
	si->queue_frames = frame_get_u32(p + 5);
	si->rate_bytes_per_sec = frame_get_u32(p + 9);
	si->burst_bytes = frame_get_u32(p + 13);
	si->keepalive_ms = frame_get_u32(p + 17);
	si->token_expiry = frame_get_u64(p + 21);
	si->queue_bytes = len >= 33 ? frame_get_u32(p + 29) : 0;
	return 0;
}

int relay_packet_encode(uint8_t *out, size_t cap, uint8_t type, const uint8_t key[RELAY_KEY_LEN],
                        const void *data, size_t len)
{
	int rc = begin(out, cap, type, RELAY_KEY_LEN + len);

	if (rc < 0)
		return rc;
	memcpy(out + FRAME_HEADER_LEN, key, RELAY_KEY_LEN);
	if (len)
		memcpy(out + FRAME_HEADER_LEN + RELAY_KEY_LEN, data, len);
	return (int)(FRAME_HEADER_LEN + RELAY_KEY_LEN + len);
}

int relay_packet_decode(struct relay_packet *pkt, const uint8_t *p, size_t len)
{
	if (len < RELAY_KEY_LEN)
		return -EINVAL;
	pkt->key = p;
	pkt->data = p + RELAY_KEY_LEN;
	pkt->len = len - RELAY_KEY_LEN;
	return 0;
}

int relay_peer_gone_encode(uint8_t *out, size_t cap, const uint8_t key[RELAY_KEY_LEN],
                           uint8_t reason)
{
	int rc = begin(out, cap, RELAY_FRAME_PEER_GONE, RELAY_KEY_LEN + 1);

	if (rc < 0)
		return rc;
	memcpy(out + FRAME_HEADER_LEN, key, RELAY_KEY_LEN);
	out[FRAME_HEADER_LEN + RELAY_KEY_LEN] = reason;
	return FRAME_HEADER_LEN + RELAY_KEY_LEN + 1;
}

int relay_peer_gone_decode(const uint8_t **key, uint8_t *reason, const uint8_t *p, size_t len)
{
	if (len < RELAY_KEY_LEN + 1)
		return -EINVAL;
	*key = p;
	*reason = p[RELAY_KEY_LEN];
	return 0;
}

int relay_ping_encode(uint8_t *out, size_t cap, uint8_t type, const uint8_t data[RELAY_PING_LEN])
{
	return frame_encode(out, cap, type, data, RELAY_PING_LEN);
}

int relay_status_encode(uint8_t *out, size_t cap, uint8_t status)
{
	return frame_encode(out, cap, RELAY_FRAME_STATUS, &status, 1);
}

int relay_restarting_encode(uint8_t *out, size_t cap, uint32_t reconnect_in_ms, uint32_t try_for_ms)
{
	uint8_t p[8];

	frame_put_u32(p, reconnect_in_ms);
	frame_put_u32(p + 4, try_for_ms);
	return frame_encode(out, cap, RELAY_FRAME_RESTARTING, p, sizeof(p));
}

int relay_restarting_decode(uint32_t *reconnect_in_ms, uint32_t *try_for_ms, const uint8_t *p,
                            size_t len)
{
	if (len < 8)
		return -EINVAL;
	*reconnect_in_ms = frame_get_u32(p);
	*try_for_ms = frame_get_u32(p + 4);
	return 0;
}

int relay_close_encode(uint8_t *out, size_t cap, uint8_t reason, const char *text)
{
	size_t tlen = text ? strlen(text) : 0;
	int rc;

	if (tlen > RELAY_CLOSE_TEXT_MAX)
		tlen = RELAY_CLOSE_TEXT_MAX;
	rc = begin(out, cap, RELAY_FRAME_CLOSE, 1 + tlen);
	if (rc < 0)
		return rc;
	out[FRAME_HEADER_LEN] = reason;
	if (tlen)
		memcpy(out + FRAME_HEADER_LEN + 1, text, tlen);
	return (int)(FRAME_HEADER_LEN + 1 + tlen);
}

int relay_close_decode(uint8_t *reason, char *text, size_t cap, const uint8_t *p, size_t len)
{
	size_t tlen;

	if (len < 1 || !cap)
		return -EINVAL;
	*reason = p[0];
	tlen = len - 1 < cap - 1 ? len - 1 : cap - 1;
	memcpy(text, p + 1, tlen);
	text[tlen] = '\0';
	return 0;
}

/* LOOKUP and RECORD are laid out as SEND: a key, then (for RECORD) the record's bytes. */
int relay_lookup_encode(uint8_t *out, size_t cap, const uint8_t key[RELAY_KEY_LEN])
{
	return relay_packet_encode(out, cap, RELAY_FRAME_LOOKUP, key, NULL, 0);
}

int relay_record_encode(uint8_t *out, size_t cap, const uint8_t key[RELAY_KEY_LEN],
                        const uint8_t *rec, size_t rec_len)
{
	return relay_packet_encode(out, cap, RELAY_FRAME_RECORD, key, rec, rec_len);
}
