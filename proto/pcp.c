/* SPDX-License-Identifier: MIT */
/*
 * PCP (RFC 6887) MAP and ANNOUNCE for an IPv4 client: pcp.h. Addresses travel as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d), as section 5 asks of an IPv4 client.
 */
#include "natlab/pcp.h"

#include <errno.h>
#include <string.h>

#include "natlab/frame.h"

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void put_v4_mapped(uint8_t *p, struct in_addr a)
{
	memcpy(p, v4_mapped, sizeof(v4_mapped));
	memcpy(p + 12, &a, 4);
}

static void header_put(uint8_t *out, uint8_t opcode, uint32_t lifetime, struct in_addr client)
{
	memset(out, 0, PCP_HEADER_LEN);
	out[0] = PCP_VERSION;
	out[1] = opcode;
	frame_put_u32(out + 4, lifetime);
	put_v4_mapped(out + 8, client);
}

int pcp_announce_request_encode(uint8_t *out, size_t cap, struct in_addr client)
{
	if (cap < PCP_HEADER_LEN)
		return -ENOBUFS;
	header_put(out, PCP_OP_ANNOUNCE, 0, client);
	return PCP_HEADER_LEN;
}

int pcp_map_request_encode(uint8_t *out, size_t cap, struct in_addr client, uint32_t lifetime,
                           const struct pcp_map *m)
{
	uint8_t *d = out + PCP_HEADER_LEN;

	if (cap < PCP_MAP_LEN)
		return -ENOBUFS;
	header_put(out, PCP_OP_MAP, lifetime, client);
	memset(d, 0, PCP_MAP_LEN - PCP_HEADER_LEN);
	memcpy(d, m->nonce, PCP_NONCE_LEN);
	d[12] = m->protocol;
	frame_put_u16(d + 16, m->internal_port);
	frame_put_u16(d + 18, m->external_port);
	put_v4_mapped(d + 20, m->external_addr);
	return PCP_MAP_LEN;
}

int pcp_response_decode(const uint8_t *buf, size_t len, struct pcp_response *r)
{
	const uint8_t *d = buf + PCP_HEADER_LEN;

	memset(r, 0, sizeof(*r));
	if (len < PCP_HEADER_LEN || len > PCP_MAX_LEN || len % 4 || buf[0] != PCP_VERSION ||
	    !(buf[1] & PCP_RESPONSE_BIT))
		return -EBADMSG;
	r->opcode = buf[1] & ~PCP_RESPONSE_BIT;
	r->result = buf[3];
	r->lifetime = frame_get_u32(buf + 4);
	r->epoch = frame_get_u32(buf + 8);
	if (r->opcode != PCP_OP_MAP)
		return 0;
	/* An error answer to a MAP carries its fields too (section 7.2: the request's). */
	if (len < PCP_MAP_LEN)
		return -EBADMSG;
	memcpy(r->map.nonce, d, PCP_NONCE_LEN);
	r->map.protocol = d[12];
	r->map.internal_port = frame_get_u16(d + 16);
	r->map.external_port = frame_get_u16(d + 18);
	if (memcmp(d + 20, v4_mapped, sizeof(v4_mapped)) != 0)
		return -EBADMSG; /* an IPv6 external address: not for our IPv4 socket */
	memcpy(&r->map.external_addr, d + 32, 4);
	return 0;
}

const char *pcp_result_name(uint8_t result)
{
	static const char *const names[] = {
		"SUCCESS",           "UNSUPP_VERSION",         "NOT_AUTHORIZED",
		"MALFORMED_REQUEST", "UNSUPP_OPCODE",          "UNSUPP_OPTION",
		"MALFORMED_OPTION",  "NETWORK_FAILURE",        "NO_RESOURCES",
		"UNSUPP_PROTOCOL",   "USER_EX_QUOTA",          "CANNOT_PROVIDE_EXTERNAL",
		"ADDRESS_MISMATCH",  "EXCESSIVE_REMOTE_PEERS",
	};

	return result < sizeof(names) / sizeof(names[0]) ? names[result] : "UNKNOWN";
}
