/* SPDX-License-Identifier: MIT */
/* NAT-PMP (RFC 6886), the client's messages: natpmp.h. */
#include "natlab/natpmp.h"

#include <errno.h>
#include <string.h>

#include "natlab/frame.h"

#define NATPMP_HEAD_LEN     8 /* version, opcode, result, epoch: every answer has them */
#define NATPMP_ADDR_RSP_LEN 12
#define NATPMP_MAP_RSP_LEN  16

int natpmp_addr_request_encode(uint8_t *out, size_t cap)
{
	if (cap < NATPMP_ADDR_REQ_LEN)
		return -ENOBUFS;
	out[0] = NATPMP_VERSION;
	out[1] = NATPMP_OP_ADDR;
	return NATPMP_ADDR_REQ_LEN;
}

int natpmp_map_request_encode(uint8_t *out, size_t cap, uint8_t op, uint16_t internal_port,
                              uint16_t external_port, uint32_t lifetime)
{
	if (op != NATPMP_OP_MAP_UDP && op != NATPMP_OP_MAP_TCP)
		return -EINVAL;
	if (cap < NATPMP_MAP_REQ_LEN)
		return -ENOBUFS;
	memset(out, 0, NATPMP_MAP_REQ_LEN);
	out[0] = NATPMP_VERSION;
	out[1] = op;
	frame_put_u16(out + 4, internal_port);
	frame_put_u16(out + 6, external_port);
	frame_put_u32(out + 8, lifetime);
	return NATPMP_MAP_REQ_LEN;
}

int natpmp_response_decode(const uint8_t *buf, size_t len, struct natpmp_response *r)
{
	size_t need;

	memset(r, 0, sizeof(*r));
	if (len < NATPMP_HEAD_LEN || buf[0] != NATPMP_VERSION || !(buf[1] & NATPMP_RESPONSE_BIT))
		return -EBADMSG;
	r->opcode = buf[1] & ~NATPMP_RESPONSE_BIT;
	if (r->opcode > NATPMP_OP_MAP_TCP)
		return -EBADMSG;
	r->result = frame_get_u16(buf + 2);
	r->epoch = frame_get_u32(buf + 4);
	need = r->opcode == NATPMP_OP_ADDR ? NATPMP_ADDR_RSP_LEN : NATPMP_MAP_RSP_LEN;
	if (len < need)
		return r->result != NATPMP_SUCCESS ? 0 : -EBADMSG;
	if (r->opcode == NATPMP_OP_ADDR) {
		memcpy(&r->external_addr, buf + 8, 4);
	} else {
		r->internal_port = frame_get_u16(buf + 8);
		r->external_port = frame_get_u16(buf + 10);
		r->lifetime = frame_get_u32(buf + 12);
	}
	return 0;
}

const char *natpmp_result_name(uint16_t result)
{
	static const char *const names[] = {
		"SUCCESS",         "UNSUPP_VERSION",   "NOT_AUTHORIZED",
		"NETWORK_FAILURE", "OUT_OF_RESOURCES", "UNSUPP_OPCODE",
	};

	return result < sizeof(names) / sizeof(names[0]) ? names[result] : "UNKNOWN";
}
