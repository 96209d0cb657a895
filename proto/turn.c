/* SPDX-License-Identifier: MIT */
/*
 * TURN client codec. Messages are built with stun.c's writer; MESSAGE-INTEGRITY is
 * added here because its HMAC covers the header with a length that already counts it.
 */
#include "natlab/turn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "natlab/digest.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static int copy_str(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (n > TURN_TEXT_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

int turn_auth_set(struct turn_auth *a, const char *username, const char *realm,
                  const char *password)
{
	char text[3 * TURN_TEXT_MAX + 3];
	int n, rc;

	if ((rc = copy_str(a->username, username)) < 0 || (rc = copy_str(a->realm, realm)) < 0)
		return rc;
	n = snprintf(text, sizeof(text), "%s:%s:%s", username, realm, password);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -ENAMETOOLONG;
	rc = digest_md5(text, (size_t)n, a->key);
	sodium_memzero(text, sizeof(text));
	return rc;
}

int turn_auth_challenge(struct turn_auth *a, const struct turn_msg *m)
{
	if (!(m->present & TURN_HAS_REALM) || !(m->present & TURN_HAS_NONCE))
		return -EBADMSG;
	memcpy(a->realm, m->realm, sizeof(a->realm));
	memcpy(a->nonce, m->nonce, m->nonce_len);
	a->nonce_len = m->nonce_len;
	return 0;
}

int turn_rest_credentials(const char *secret, const char *user, uint64_t expiry, char *username,
                          size_t username_cap, char *password, size_t password_cap)
{
	uint8_t mac[DIGEST_SHA1_LEN];
	int n, rc;

	if (!secret[0] || strchr(user, ':'))
		return -EINVAL;
	n = user[0] ? snprintf(username, username_cap, "%" PRIu64 ":%s", expiry, user)
	            : snprintf(username, username_cap, "%" PRIu64, expiry);
	if (n < 0 || (size_t)n >= username_cap)
		return -ENOBUFS;
	rc = digest_hmac_sha1(secret, strlen(secret), username, (size_t)n, mac);
	if (rc < 0)
		return rc;
	if (password_cap < sodium_base64_ENCODED_LEN(sizeof(mac), sodium_base64_VARIANT_ORIGINAL))
		return -ENOBUFS;
	sodium_bin2base64(password, password_cap, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

/* MESSAGE-INTEGRITY over what w holds, its length counting the attribute (RFC 8489 14.5). */
static void add_integrity(struct stun_writer *w, const uint8_t key[16])
{
	uint8_t mac[DIGEST_SHA1_LEN] = { 0 };
	size_t off = w->len;

	stun_writer_add_bytes(w, STUN_ATTR_MESSAGE_INTEGRITY, mac, sizeof(mac));
	if (w->err)
		return;
	/* The writer set the header length to count the attribute already. */
	if (digest_hmac_sha1(key, 16, w->buf, off, mac) < 0) {
		w->err = -EIO;
		return;
	}
	memcpy(w->buf + off + 4, mac, sizeof(mac));
}

int turn_request_encode(uint8_t *buf, size_t cap, const struct turn_request *r)
{
	struct stun_writer w;

	if (r->type & STUN_CLASS_MASK)
		return -EINVAL;
	if ((r->type == TURN_CREATE_PERMISSION || r->type == TURN_CHANNEL_BIND) && !r->peer)
		return -EINVAL;
	if (r->type == TURN_CHANNEL_BIND &&
	    (r->channel < TURN_CHANNEL_MIN || r->channel > TURN_CHANNEL_MAX))
		return -EINVAL;
	stun_writer_init(&w, buf, cap, r->type, r->txid);
	if (r->type == TURN_ALLOCATE)
		stun_writer_add_u32(&w, TURN_ATTR_REQUESTED_TRANSPORT,
		                    (uint32_t)TURN_TRANSPORT_UDP << 24);
	if (r->has_lifetime)
		stun_writer_add_u32(&w, TURN_ATTR_LIFETIME, r->lifetime);
	if (r->type == TURN_CHANNEL_BIND)
		stun_writer_add_u32(&w, TURN_ATTR_CHANNEL_NUMBER, (uint32_t)r->channel << 16);
	if (r->peer)
		stun_writer_add_addr(&w, TURN_ATTR_XOR_PEER_ADDRESS, r->peer, true);
	if (r->software)
		stun_writer_add_bytes(&w, STUN_ATTR_SOFTWARE, r->software,
		                      strnlen(r->software, STUN_TEXT_MAX));
	if (r->auth) {
		stun_writer_add_bytes(&w, STUN_ATTR_USERNAME, r->auth->username,
		                      strlen(r->auth->username));
		stun_writer_add_bytes(&w, STUN_ATTR_REALM, r->auth->realm, strlen(r->auth->realm));
		stun_writer_add_bytes(&w, STUN_ATTR_NONCE, r->auth->nonce, r->auth->nonce_len);
		add_integrity(&w, r->auth->key);
	}
	return stun_writer_finish(&w, true);
}

int turn_send_encode(uint8_t *buf, size_t cap, const struct sockaddr *peer, const void *data,
                     size_t len)
{
	struct stun_writer w;
	uint8_t txid[STUN_TXID_SIZE];

	stun_txid_new(txid);
	stun_writer_init(&w, buf, cap, TURN_SEND | STUN_CLASS_INDICATION, txid);
	stun_writer_add_addr(&w, TURN_ATTR_XOR_PEER_ADDRESS, peer, true);
	stun_writer_add_bytes(&w, TURN_ATTR_DATA, data, len);
	return stun_writer_finish(&w, true);
}

static void copy_text(char *dst, const uint8_t *v, size_t n)
{
	if (n > TURN_TEXT_MAX)
		n = TURN_TEXT_MAX;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static bool turn_attr(uint16_t attr)
{
	switch (attr) {
	case TURN_ATTR_CHANNEL_NUMBER:
	case TURN_ATTR_LIFETIME:
	case TURN_ATTR_XOR_PEER_ADDRESS:
	case TURN_ATTR_DATA:
	case TURN_ATTR_XOR_RELAYED_ADDRESS:
	case TURN_ATTR_REQUESTED_FAMILY:
	case TURN_ATTR_EVEN_PORT:
	case TURN_ATTR_REQUESTED_TRANSPORT:
	case TURN_ATTR_DONT_FRAGMENT:
	case TURN_ATTR_RESERVATION_TOKEN:
		return true;
	}
	return false;
}

/* One attribute that stun.c leaves to us; the first occurrence of each wins. */
static int decode_attr(struct turn_msg *m, uint16_t attr, const uint8_t *v, size_t n)
{
	uint32_t bit;

	switch (attr) {
	case TURN_ATTR_XOR_RELAYED_ADDRESS:
		bit = TURN_HAS_RELAYED;
		if (!(m->present & bit) &&
		    stun_attr_addr_decode(m->stun.txid, v, n, true, &m->relayed) < 0)
			return -EBADMSG;
		break;
	case TURN_ATTR_XOR_PEER_ADDRESS:
		bit = TURN_HAS_PEER;
		if (!(m->present & bit) &&
		    stun_attr_addr_decode(m->stun.txid, v, n, true, &m->peer) < 0)
			return -EBADMSG;
		break;
	case TURN_ATTR_LIFETIME:
		bit = TURN_HAS_LIFETIME;
		if (n != 4)
			return -EBADMSG;
		if (!(m->present & bit))
			m->lifetime = (uint32_t)rd16(v) << 16 | rd16(v + 2);
		break;
	case TURN_ATTR_CHANNEL_NUMBER:
		bit = TURN_HAS_CHANNEL;
		if (n != 4)
			return -EBADMSG;
		if (!(m->present & bit))
			m->channel = rd16(v);
		break;
	case TURN_ATTR_DATA:
		bit = TURN_HAS_DATA;
		if (!(m->present & bit)) {
			m->data = v;
			m->data_len = n;
		}
		break;
	case STUN_ATTR_REALM:
		bit = TURN_HAS_REALM;
		if (!(m->present & bit))
			copy_text(m->realm, v, n);
		break;
	case STUN_ATTR_NONCE:
		bit = TURN_HAS_NONCE;
		if (n > TURN_TEXT_MAX)
			return -EBADMSG;
		if (!(m->present & bit)) {
			memcpy(m->nonce, v, n);
			m->nonce_len = n;
		}
		break;
	default:
		return 0;
	}
	m->present |= bit;
	return 0;
}

int turn_msg_decode(const uint8_t *buf, size_t len, struct turn_msg *m)
{
	size_t off = STUN_HEADER_SIZE, keep = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = stun_msg_decode(buf, len, &m->stun);
	if (rc < 0)
		return rc;
	/* stun_msg_decode() checked every attribute's length against the buffer. */
	while (off + 4 <= len) {
		uint16_t attr = rd16(buf + off), n = rd16(buf + off + 2);

		if (attr == STUN_ATTR_MESSAGE_INTEGRITY) {
			m->present |= TURN_HAS_INTEGRITY;
			m->integrity_off = off;
			break; /* what follows (FINGERPRINT) is not covered */
		}
		if (attr == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
			break;
		rc = decode_attr(m, attr, buf + off + 4, n);
		if (rc < 0)
			return rc;
		off += 4 + pad4(n);
	}
	for (size_t i = 0; i < m->stun.n_unknown; i++)
		if (!turn_attr(m->stun.unknown[i]))
			m->stun.unknown[keep++] = m->stun.unknown[i];
	m->stun.n_unknown = keep;
	return 0;
}

int turn_msg_integrity_check(const uint8_t *buf, size_t len, const struct turn_msg *m,
                             const uint8_t key[16])
{
	uint8_t whole[STUN_MAX_MESSAGE], mac[DIGEST_SHA1_LEN];
	size_t off = m->integrity_off;
	int rc;

	if (!(m->present & TURN_HAS_INTEGRITY) || off + 4 + DIGEST_SHA1_LEN > len)
		return -ENOENT;
	if (off > sizeof(whole))
		return -EMSGSIZE;
	/* The HMAC covers the header with a length ending at MESSAGE-INTEGRITY. */
	memcpy(whole, buf, off);
	wr16(whole + 2, (uint16_t)(off + 4 + DIGEST_SHA1_LEN - STUN_HEADER_SIZE));
	rc = digest_hmac_sha1(key, 16, whole, off, mac);
	if (rc < 0)
		return rc;
	return sodium_memcmp(mac, buf + off + 4, sizeof(mac)) == 0 ? 0 : -EACCES;
}

int turn_channel_data_encode(uint8_t *buf, size_t cap, uint16_t channel, const void *data,
                             size_t len, bool pad)
{
	size_t total = TURN_CHANNEL_HEADER + (pad ? pad4(len) : len);

	if (channel < TURN_CHANNEL_MIN || channel > TURN_CHANNEL_MAX)
		return -EINVAL;
	if (len > 0xffff || total > cap)
		return -ENOBUFS;
	wr16(buf, channel);
	wr16(buf + 2, (uint16_t)len);
	memcpy(buf + TURN_CHANNEL_HEADER, data, len);
	memset(buf + TURN_CHANNEL_HEADER + len, 0, total - TURN_CHANNEL_HEADER - len);
	return (int)total;
}

int turn_channel_data_decode(const uint8_t *buf, size_t len, uint16_t *channel,
                             const uint8_t **data, size_t *data_len)
{
	size_t n;

	if (!turn_is_channel_data(buf, len))
		return -EBADMSG;
	n = rd16(buf + 2);
	if (n > len - TURN_CHANNEL_HEADER || len - TURN_CHANNEL_HEADER - n > 3)
		return -EBADMSG;
	*channel = rd16(buf);
	*data = buf + TURN_CHANNEL_HEADER;
	*data_len = n;
	return 0;
}

int turn_frame_size(const uint8_t *buf, size_t len)
{
	if (len < TURN_CHANNEL_HEADER)
		return -EAGAIN;
	if ((buf[0] & 0xc0) == 0x40)
		return (int)(TURN_CHANNEL_HEADER + pad4(rd16(buf + 2)));
	if (buf[0] & 0xc0)
		return -EBADMSG;
	return stun_frame_size(buf, len);
}
