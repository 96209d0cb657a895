/* SPDX-License-Identifier: MIT */
#include "natlab/addr_record.h"

#include <errno.h>
#include <string.h>

#include "natlab/frame.h"

static size_t cand_len(uint8_t family)
{
	return family == 4 ? 1 + 1 + 4 + 2 : 1 + 1 + 16 + 2;
}

int addr_record_encode(uint8_t *out, size_t cap, const struct addr_record *r,
                       const struct identity *id)
{
	size_t off = ADDR_RECORD_HEAD, ip_len;
	int i, rc;

	if (r->n < 0 || r->n > ADDR_RECORD_MAX_CANDS)
		return -EINVAL;
	for (i = 0; i < r->n; i++)
		if (r->cand[i].family != 4 && r->cand[i].family != 6)
			return -EINVAL;
	if (cap < ADDR_RECORD_MAX_LEN)
		return -ENOBUFS;
	out[0] = ADDR_RECORD_VERSION;
	memcpy(out + 1, id->pub, IDENTITY_PUB_LEN);
	frame_put_u64(out + 1 + IDENTITY_PUB_LEN, r->seq);
	frame_put_u64(out + 1 + IDENTITY_PUB_LEN + 8, r->expiry);
	memcpy(out + 1 + IDENTITY_PUB_LEN + 16, r->session, ADDR_RECORD_SESSION_LEN);
	out[ADDR_RECORD_HEAD - 1] = (uint8_t)r->n;
	for (i = 0; i < r->n; i++) {
		const struct addr_record_cand *c = &r->cand[i];

		ip_len = c->family == 4 ? 4 : 16;
		out[off] = c->kind;
		out[off + 1] = c->family;
		memcpy(out + off + 2, c->ip, ip_len);
		frame_put_u16(out + off + 2 + ip_len, c->port);
		off += cand_len(c->family);
	}
	rc = identity_sign(id, ADDR_RECORD_CONTEXT, out, off, out + off);
	if (rc < 0)
		return rc;
	return (int)(off + IDENTITY_SIG_LEN);
}

int addr_record_decode(struct addr_record *r, const uint8_t *p, size_t len, const uint8_t *want_key,
                       uint64_t now_s)
{
	size_t off = ADDR_RECORD_HEAD, ip_len;
	int i;

	memset(r, 0, sizeof(*r));
	if (len < ADDR_RECORD_HEAD + IDENTITY_SIG_LEN || len > ADDR_RECORD_MAX_LEN ||
	    p[0] != ADDR_RECORD_VERSION || p[ADDR_RECORD_HEAD - 1] > ADDR_RECORD_MAX_CANDS)
		return -EBADMSG;
	r->n = p[ADDR_RECORD_HEAD - 1];
	for (i = 0; i < r->n; i++) {
		struct addr_record_cand *c = &r->cand[i];

		if (off + 2 > len - IDENTITY_SIG_LEN)
			return -EBADMSG;
		c->kind = p[off];
		c->family = p[off + 1];
		if (c->family != 4 && c->family != 6)
			return -EBADMSG;
		ip_len = c->family == 4 ? 4 : 16;
		if (off + cand_len(c->family) > len - IDENTITY_SIG_LEN)
			return -EBADMSG;
		memcpy(c->ip, p + off + 2, ip_len);
		c->port = frame_get_u16(p + off + 2 + ip_len);
		off += cand_len(c->family);
	}
	/* Exact: nothing between the candidates and the signature. */
	if (off + IDENTITY_SIG_LEN != len)
		return -EBADMSG;
	memcpy(r->key, p + 1, IDENTITY_PUB_LEN);
	if (identity_verify(r->key, ADDR_RECORD_CONTEXT, p, off, p + off) < 0)
		return -EPERM;
	if (want_key && memcmp(want_key, r->key, IDENTITY_PUB_LEN) != 0)
		return -EACCES;
	r->seq = frame_get_u64(p + 1 + IDENTITY_PUB_LEN);
	r->expiry = frame_get_u64(p + 1 + IDENTITY_PUB_LEN + 8);
	memcpy(r->session, p + 1 + IDENTITY_PUB_LEN + 16, ADDR_RECORD_SESSION_LEN);
	if (r->expiry <= now_s || r->expiry - now_s > ADDR_RECORD_MAX_TTL_S)
		return -ESTALE;
	return 0;
}
