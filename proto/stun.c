/* SPDX-License-Identifier: MIT */
/*
 * STUN codec and responder logic. The decoder trusts nothing in the datagram: every
 * length is checked against what is left of the buffer before it is used.
 */
#include "natlab/stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

/* CRC-32 (ISO 3309, as zlib's crc32), bitwise: messages are small and this is not hot. */
static uint32_t crc32_compute(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static bool comprehension_required(uint16_t attr)
{
	return attr < 0x8000;
}

/* ---- addresses ---- */

/*
 * The port (network order) of any sockaddr. Read with memcpy: callers hand in plain
 * sockaddr_in or pointers into packed buffers, which a sockaddr_storage access would
 * assume to be 8-byte aligned.
 */
_Static_assert(offsetof(struct sockaddr_in, sin_port) == offsetof(struct sockaddr_in6, sin6_port),
               "IPv4 and IPv6 ports sit at the same offset");
static uint16_t sa_port(const void *sa)
{
	sa_family_t family;
	uint16_t port;

	memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof(family));
	if (family != AF_INET && family != AF_INET6)
		return 0;
	memcpy(&port, (const char *)sa + offsetof(struct sockaddr_in, sin_port), sizeof(port));
	return port;
}

static void sa_set_port(struct sockaddr_storage *ss, uint16_t nport)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = nport;
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = nport;
}

static size_t sa_len(int family)
{
	return family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* The address bytes of an IPv4 or IPv6 address and their count; NULL for other families. */
static uint8_t *sa_addr(const struct sockaddr *sa, size_t *len)
{
	if (sa->sa_family == AF_INET) {
		*len = 4;
		return (uint8_t *)&((struct sockaddr_in *)sa)->sin_addr;
	}
	if (sa->sa_family == AF_INET6) {
		*len = 16;
		return ((struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	}
	return NULL;
}

/*
 * The XOR mask for an address attribute: the cookie, then the transaction id (IPv6 only).
 * Plain address attributes use an all-zero mask, so one routine serves both encodings.
 */
static void xor_mask(uint8_t mask[16], const uint8_t txid[STUN_TXID_SIZE], bool xor)
{
	memset(mask, 0, 16);
	if (!xor)
		return;
	wr32(mask, STUN_MAGIC_COOKIE);
	memcpy(mask + 4, txid, STUN_TXID_SIZE);
}

/* ---- decoding ---- */

int stun_header_check(const uint8_t *buf, size_t len, uint16_t *type, uint8_t txid[STUN_TXID_SIZE])
{
	size_t body;

	if (len < STUN_HEADER_SIZE || (buf[0] & 0xc0))
		return -EBADMSG;
	body = rd16(buf + 2);
	if ((body & 3) || body + STUN_HEADER_SIZE != len)
		return -EBADMSG;
	if (rd32(buf + 4) != STUN_MAGIC_COOKIE)
		return -EBADMSG;
	if (type)
		*type = rd16(buf);
	if (txid)
		memcpy(txid, buf + 8, STUN_TXID_SIZE);
	return 0;
}

int stun_frame_size(const uint8_t *buf, size_t len)
{
	size_t body;

	if (len < STUN_HEADER_SIZE)
		return -EAGAIN;
	body = rd16(buf + 2);
	if ((buf[0] & 0xc0) || (body & 3) || rd32(buf + 4) != STUN_MAGIC_COOKIE)
		return -EBADMSG;
	return (int)(body + STUN_HEADER_SIZE);
}

static int decode_addr(const struct stun_msg *msg, const uint8_t *v, size_t n, bool xor,
                       struct sockaddr_storage *out)
{
	size_t alen = (n >= 4 && v[1] == 0x01) ? 4 : (n >= 4 && v[1] == 0x02) ? 16 : 0;
	uint8_t mask[16], *addr;

	if (!alen || n != 4 + alen)
		return -EBADMSG;
	xor_mask(mask, msg->txid, xor);
	memset(out, 0, sizeof(*out));
	out->ss_family = alen == 4 ? AF_INET : AF_INET6;
	addr = sa_addr((struct sockaddr *)out, &alen);
	for (size_t i = 0; i < alen; i++)
		addr[i] = v[4 + i] ^ mask[i];
	sa_set_port(out, htons(rd16(v + 2) ^ rd16(mask)));
	return 0;
}

int stun_attr_addr_decode(const uint8_t txid[STUN_TXID_SIZE], const uint8_t *v, size_t n, bool xor,
                          struct sockaddr_storage *out)
{
	struct stun_msg msg;

	memcpy(msg.txid, txid, STUN_TXID_SIZE);
	return decode_addr(&msg, v, n, xor, out);
}

static void copy_text(char *dst, const uint8_t *v, size_t n)
{
	if (n > STUN_TEXT_MAX)
		n = STUN_TEXT_MAX;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static int decode_error_code(struct stun_msg *msg, const uint8_t *v, size_t n)
{
	int cls, number;

	if (n < 4)
		return -EBADMSG;
	cls = v[2] & 7;
	number = v[3];
	if (cls < 3 || cls > 6 || number > 99)
		return -EBADMSG;
	msg->error_code = cls * 100 + number;
	copy_text(msg->error_reason, v + 4, n - 4);
	return 0;
}

static void note_unknown(struct stun_msg *msg, uint16_t attr)
{
	for (size_t i = 0; i < msg->n_unknown; i++)
		if (msg->unknown[i] == attr)
			return;
	if (msg->n_unknown < STUN_UNKNOWN_MAX)
		msg->unknown[msg->n_unknown++] = attr;
}

/* Attributes we recognise but do not interpret: only their length is checked. */
static int decode_opaque(uint16_t attr, size_t n)
{
	switch (attr) {
	case STUN_ATTR_MESSAGE_INTEGRITY:
		return n == 20 ? 0 : -EBADMSG;
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		return (n >= 16 && n <= 32 && !(n & 3)) ? 0 : -EBADMSG;
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		return (n & 1) ? -EBADMSG : 0;
	case STUN_ATTR_USERNAME:
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_PASSWORD_ALGORITHM:
	case STUN_ATTR_PASSWORD_ALGORITHMS:
	case STUN_ATTR_USERHASH:
	case STUN_ATTR_ALTERNATE_DOMAIN:
	case STUN_ATTR_ALTERNATE_SERVER:
		return 0;
	default:
		return -ENOENT;
	}
}

/* The address attributes, decoded alike into their own field of struct stun_msg. */
static const struct {
	uint16_t attr;
	uint32_t bit;
	bool xor ;
	size_t field;
} addr_attrs[] = {
	{ STUN_ATTR_MAPPED_ADDRESS, STUN_HAS_MAPPED, false, offsetof(struct stun_msg, mapped) },
	{ STUN_ATTR_XOR_MAPPED_ADDRESS, STUN_HAS_XOR_MAPPED, true,
	  offsetof(struct stun_msg, xor_mapped) },
	{ STUN_ATTR_OTHER_ADDRESS, STUN_HAS_OTHER, false, offsetof(struct stun_msg, other) },
	{ STUN_ATTR_RESPONSE_ORIGIN, STUN_HAS_RESPONSE_ORIGIN, false,
	  offsetof(struct stun_msg, response_origin) },
};

/* Returns -ENOENT when attr is no address attribute. The first occurrence wins. */
static int decode_addr_attr(struct stun_msg *msg, uint16_t attr, const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < sizeof(addr_attrs) / sizeof(addr_attrs[0]); i++) {
		if (addr_attrs[i].attr != attr)
			continue;
		if (msg->present & addr_attrs[i].bit)
			return 0;
		msg->present |= addr_attrs[i].bit;
		return decode_addr(msg, v, n, addr_attrs[i].xor,
		                   (struct sockaddr_storage *)((char *)msg + addr_attrs[i].field));
	}
	return -ENOENT;
}

/* Decodes one attribute other than FINGERPRINT; the first occurrence of each wins. */
static int decode_attr(struct stun_msg *msg, uint16_t attr, const uint8_t *v, size_t n)
{
	int rc = decode_addr_attr(msg, attr, v, n);

	if (rc != -ENOENT)
		return rc;
	switch (attr) {
	case STUN_ATTR_CHANGE_REQUEST:
		if (n != 4)
			return -EBADMSG;
		if (!(msg->present & STUN_HAS_CHANGE_REQUEST))
			msg->change_flags = rd32(v) & (STUN_CHANGE_IP | STUN_CHANGE_PORT);
		msg->present |= STUN_HAS_CHANGE_REQUEST;
		return 0;
	case STUN_ATTR_ERROR_CODE:
		if (msg->present & STUN_HAS_ERROR_CODE)
			return 0;
		msg->present |= STUN_HAS_ERROR_CODE;
		return decode_error_code(msg, v, n);
	case STUN_ATTR_SOFTWARE:
		if (!(msg->present & STUN_HAS_SOFTWARE))
			copy_text(msg->software, v, n);
		msg->present |= STUN_HAS_SOFTWARE;
		return 0;
	}
	if (attr == STUN_ATTR_MESSAGE_INTEGRITY || attr == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
		msg->present |= STUN_HAS_MESSAGE_INTEGRITY;
	rc = decode_opaque(attr, n);
	if (rc != -ENOENT)
		return rc;
	if (comprehension_required(attr))
		note_unknown(msg, attr);
	return 0;
}

/*
 * FINGERPRINT covers everything before it, the header length already counting it.
 * Nothing may follow it (RFC 8489 section 14.7): checked first, as structure.
 */
static int check_fingerprint(const uint8_t *buf, size_t len, size_t off, const uint8_t *v, size_t n)
{
	if (n != 4 || off + 8 != len)
		return -EBADMSG;
	if (rd32(v) != (crc32_compute(buf, off) ^ STUN_FINGERPRINT_XOR))
		return -EILSEQ;
	return 0;
}

int stun_msg_decode(const uint8_t *buf, size_t len, struct stun_msg *msg)
{
	size_t off = STUN_HEADER_SIZE;
	bool after_integrity = false;
	int rc;

	memset(msg, 0, sizeof(*msg));
	rc = stun_header_check(buf, len, &msg->type, msg->txid);
	if (rc < 0)
		return rc;
	while (off < len) {
		uint16_t attr, n;
		const uint8_t *v;

		if (len - off < 4)
			return -EBADMSG;
		attr = rd16(buf + off);
		n = rd16(buf + off + 2);
		if (pad4(n) > len - off - 4)
			return -EBADMSG;
		v = buf + off + 4;
		rc = 0;
		if (attr == STUN_ATTR_FINGERPRINT) {
			rc = check_fingerprint(buf, len, off, v, n);
			msg->present |= STUN_HAS_FINGERPRINT;
		} else if (!after_integrity) {
			rc = decode_attr(msg, attr, v, n);
			after_integrity = msg->present & STUN_HAS_MESSAGE_INTEGRITY;
		}
		if (rc < 0)
			return rc;
		off += 4 + pad4(n);
	}
	return 0;
}

void stun_txid_new(uint8_t txid[STUN_TXID_SIZE])
{
	randombytes_buf(txid, STUN_TXID_SIZE);
}

/* ---- encoding ---- */

void stun_writer_init(struct stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                      const uint8_t txid[STUN_TXID_SIZE])
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
	if (cap < STUN_HEADER_SIZE) {
		w->err = -ENOBUFS;
		return;
	}
	wr16(buf, type & 0x3fff);
	wr16(buf + 2, 0);
	wr32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, txid, STUN_TXID_SIZE);
	w->len = STUN_HEADER_SIZE;
}

/* Reserves an attribute of n value bytes, zero padded; returns its value or NULL. */
static uint8_t *writer_reserve(struct stun_writer *w, uint16_t attr, size_t n)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	if (n > 0xffff || 4 + pad4(n) > w->cap - w->len ||
	    w->len + 4 + pad4(n) - STUN_HEADER_SIZE > 0xffff) {
		w->err = -ENOBUFS;
		return NULL;
	}
	p = w->buf + w->len;
	wr16(p, attr);
	wr16(p + 2, (uint16_t)n);
	memset(p + 4, 0, pad4(n));
	w->len += 4 + pad4(n);
	wr16(w->buf + 2, (uint16_t)(w->len - STUN_HEADER_SIZE));
	return p + 4;
}

void stun_writer_add_bytes(struct stun_writer *w, uint16_t attr, const void *data, size_t n)
{
	uint8_t *v = writer_reserve(w, attr, n);

	if (v && n)
		memcpy(v, data, n);
}

void stun_writer_add_u32(struct stun_writer *w, uint16_t attr, uint32_t value)
{
	uint8_t v[4];

	wr32(v, value);
	stun_writer_add_bytes(w, attr, v, sizeof(v));
}

void stun_writer_add_addr(struct stun_writer *w, uint16_t attr, const struct sockaddr *sa, bool xor)
{
	uint16_t port = ntohs(sa_port(sa));
	uint8_t v[20], mask[16];
	const uint8_t *addr;
	size_t alen;

	if (w->err)
		return;
	if (!(addr = sa_addr(sa, &alen))) {
		w->err = -EAFNOSUPPORT;
		return;
	}
	xor_mask(mask, w->buf + 8, xor);
	v[0] = 0;
	v[1] = alen == 4 ? 0x01 : 0x02;
	wr16(v + 2, port ^ rd16(mask));
	for (size_t i = 0; i < alen; i++)
		v[4 + i] = addr[i] ^ mask[i];
	stun_writer_add_bytes(w, attr, v, 4 + alen);
}

void stun_writer_add_error(struct stun_writer *w, int code, const char *reason)
{
	size_t n = reason ? strnlen(reason, STUN_TEXT_MAX) : 0;
	uint8_t v[4 + STUN_TEXT_MAX];

	if (code < 300 || code > 699) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	v[0] = v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	if (n)
		memcpy(v + 4, reason, n);
	stun_writer_add_bytes(w, STUN_ATTR_ERROR_CODE, v, 4 + n);
}

int stun_writer_finish(struct stun_writer *w, bool fingerprint)
{
	uint32_t crc;
	size_t off;
	uint8_t *v;

	if (fingerprint && !w->err) {
		/* The CRC covers the header with its final length, which counts FINGERPRINT. */
		off = w->len;
		v = writer_reserve(w, STUN_ATTR_FINGERPRINT, 4);
		if (v) {
			crc = crc32_compute(w->buf, off) ^ STUN_FINGERPRINT_XOR;
			wr32(v, crc);
		}
	}
	return w->err ? w->err : (int)w->len;
}

static void add_software(struct stun_writer *w, const char *software)
{
	if (software)
		stun_writer_add_bytes(w, STUN_ATTR_SOFTWARE, software,
		                      strnlen(software, STUN_TEXT_MAX));
}

int stun_binding_request_encode(uint8_t *buf, size_t cap, const uint8_t txid[STUN_TXID_SIZE],
                                uint32_t change_flags, bool fingerprint)
{
	struct stun_writer w;

	stun_writer_init(&w, buf, cap, STUN_BINDING_REQUEST, txid);
	if (change_flags)
		stun_writer_add_u32(&w, STUN_ATTR_CHANGE_REQUEST,
		                    change_flags & (STUN_CHANGE_IP | STUN_CHANGE_PORT));
	return stun_writer_finish(&w, fingerprint);
}

int stun_binding_success_encode(uint8_t *buf, size_t cap, const struct stun_binding_response *r)
{
	struct stun_writer w;

	if (!r->txid || !r->mapped)
		return -EINVAL;
	stun_writer_init(&w, buf, cap, STUN_BINDING_SUCCESS, r->txid);
	stun_writer_add_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, r->mapped, true);
	if (r->other)
		stun_writer_add_addr(&w, STUN_ATTR_OTHER_ADDRESS, r->other, false);
	if (r->origin)
		stun_writer_add_addr(&w, STUN_ATTR_RESPONSE_ORIGIN, r->origin, false);
	add_software(&w, r->software);
	return stun_writer_finish(&w, true);
}

int stun_binding_error_encode(uint8_t *buf, size_t cap, const uint8_t txid[STUN_TXID_SIZE],
                              int code, const char *reason, const uint16_t *unknown,
                              size_t n_unknown, const char *software)
{
	uint8_t list[2 * STUN_UNKNOWN_MAX + 2];
	struct stun_writer w;

	if (n_unknown > STUN_UNKNOWN_MAX + 1)
		return -EINVAL;
	stun_writer_init(&w, buf, cap, STUN_BINDING_ERROR, txid);
	stun_writer_add_error(&w, code, reason);
	if (n_unknown) {
		for (size_t i = 0; i < n_unknown; i++)
			wr16(list + 2 * i, unknown[i]);
		stun_writer_add_bytes(&w, STUN_ATTR_UNKNOWN_ATTRIBUTES, list, 2 * n_unknown);
	}
	add_software(&w, software);
	return stun_writer_finish(&w, true);
}

/* ---- responder logic ---- */

int stun_server_config_check(const struct stun_server_config *cfg)
{
	int family = cfg->primary.ss_family;

	if ((family != AF_INET && family != AF_INET6) || !sa_port(&cfg->primary))
		return -EINVAL;
	if (cfg->alt_port && cfg->alt_port == sa_port(&cfg->primary))
		return -EINVAL;
	if (cfg->alternate.ss_family == AF_UNSPEC)
		return 0;
	if (cfg->alternate.ss_family != family || !cfg->alt_port)
		return -EINVAL;
	return 0;
}

int stun_server_endpoint(const struct stun_server_config *cfg, enum stun_endpoint ep,
                         struct sockaddr_storage *out)
{
	bool alt_addr = ep & 2, alt_port = ep & 1;

	if ((unsigned)ep >= STUN_EP_COUNT)
		return -ENOENT;
	if ((alt_addr && cfg->alternate.ss_family == AF_UNSPEC) || (alt_port && !cfg->alt_port))
		return -ENOENT;
	if (out) {
		memset(out, 0, sizeof(*out));
		memcpy(out, alt_addr ? &cfg->alternate : &cfg->primary,
		       sa_len(cfg->primary.ss_family));
		sa_set_port(out, alt_port ? cfg->alt_port : sa_port(&cfg->primary));
	}
	return 0;
}

/* 420 listing every attribute we cannot honour, CHANGE-REQUEST included if asked. */
static int reply_unknown(const struct stun_server_config *cfg, const struct stun_msg *msg,
                         bool change_unsupported, uint8_t *out, size_t cap)
{
	uint16_t list[STUN_UNKNOWN_MAX + 1];
	size_t n = msg->n_unknown;

	memcpy(list, msg->unknown, n * sizeof(list[0]));
	if (change_unsupported)
		list[n++] = STUN_ATTR_CHANGE_REQUEST;
	return stun_binding_error_encode(out, cap, msg->txid, 420, "Unknown Attribute", list, n,
	                                 cfg->software);
}

static int reply_success(const struct stun_server_config *cfg, const struct stun_msg *msg,
                         enum stun_endpoint local_ep, enum stun_endpoint from,
                         const struct sockaddr *src, uint8_t *out, size_t cap)
{
	struct sockaddr_storage origin, other;
	struct stun_binding_response r = {
		.txid = msg->txid,
		.mapped = src,
		.origin = (const struct sockaddr *)&origin,
		.software = cfg->software,
	};

	stun_server_endpoint(cfg, from, &origin);
	/* OTHER-ADDRESS is where CHANGE-REQUEST with both flags would answer from. */
	if (stun_server_endpoint(cfg, local_ep ^ 3, &other) == 0)
		r.other = (const struct sockaddr *)&other;
	return stun_binding_success_encode(out, cap, &r);
}

int stun_server_handle(const struct stun_server_config *cfg, enum stun_endpoint local_ep,
                       const uint8_t *req, size_t req_len, const struct sockaddr *src, uint8_t *out,
                       size_t out_cap, enum stun_endpoint *send_ep)
{
	enum stun_endpoint from = local_ep;
	struct stun_msg msg;
	uint16_t type;
	int rc;

	if (stun_server_config_check(cfg) < 0 || stun_server_endpoint(cfg, local_ep, NULL) < 0)
		return -EINVAL;
	*send_ep = local_ep;
	/* Only Binding requests are answered; anything else might not even be STUN. */
	if (stun_header_check(req, req_len, &type, NULL) < 0 || type != STUN_BINDING_REQUEST)
		return 0;
	rc = stun_msg_decode(req, req_len, &msg);
	if (rc == -EILSEQ)
		return 0;
	if (rc < 0)
		return stun_binding_error_encode(out, out_cap, msg.txid, 400, "Bad Request", NULL,
		                                 0, cfg->software);
	if (msg.present & STUN_HAS_CHANGE_REQUEST) {
		if (cfg->alternate.ss_family == AF_UNSPEC)
			return reply_unknown(cfg, &msg, true, out, out_cap);
		from = local_ep ^ ((msg.change_flags & STUN_CHANGE_IP) ? 2 : 0) ^
		       ((msg.change_flags & STUN_CHANGE_PORT) ? 1 : 0);
	}
	if (msg.n_unknown)
		return reply_unknown(cfg, &msg, false, out, out_cap);
	rc = reply_success(cfg, &msg, local_ep, from, src, out, out_cap);
	if (rc > 0)
		*send_ep = from;
	return rc;
}
