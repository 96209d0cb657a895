/* SPDX-License-Identifier: MIT */
/*
 * NAT-PMP (RFC 6886), the client's side: the external address request and UDP/TCP
 * mapping requests encoded, answers decoded. Pure: no sockets, no allocation. The decoder
 * is fed whatever comes back from the gateway's UDP port 5351 and is fuzzed.
 *
 * Ports are in host byte order here; addresses are struct in_addr (network order).
 */
#ifndef NATLAB_NATPMP_H
#define NATLAB_NATPMP_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define NATPMP_PORT         5351
#define NATPMP_VERSION      0
#define NATPMP_OP_ADDR      0
#define NATPMP_OP_MAP_UDP   1
#define NATPMP_OP_MAP_TCP   2
#define NATPMP_RESPONSE_BIT 0x80
#define NATPMP_ADDR_REQ_LEN 2
#define NATPMP_MAP_REQ_LEN  12

/* Result codes (RFC 6886 3.5). */
enum natpmp_result {
	NATPMP_SUCCESS = 0,
	NATPMP_UNSUPP_VERSION = 1,
	NATPMP_NOT_AUTHORIZED = 2,  /* refused: the box supports mapping, it is turned off */
	NATPMP_NETWORK_FAILURE = 3, /* e.g. the box has no public address itself */
	NATPMP_OUT_OF_RESOURCES = 4,
	NATPMP_UNSUPP_OPCODE = 5,
};

struct natpmp_response {
	uint8_t opcode; /* without the response bit */
	uint16_t result;
	uint32_t epoch;               /* seconds since the gateway started (or lost its mappings) */
	struct in_addr external_addr; /* NATPMP_OP_ADDR */
	uint16_t internal_port;       /* NATPMP_OP_MAP_*: */
	uint16_t external_port;
	uint32_t lifetime;
};

/* The external address request: its length (NATPMP_ADDR_REQ_LEN), or -ENOBUFS. */
int natpmp_addr_request_encode(uint8_t *out, size_t cap);
/*
 * A mapping request (op NATPMP_OP_MAP_UDP or _TCP) of internal_port, suggesting
 * external_port (0: any), for lifetime seconds (0, with external_port 0, deletes it).
 * Its length (NATPMP_MAP_REQ_LEN), or -ENOBUFS, or -EINVAL for another op.
 */
int natpmp_map_request_encode(uint8_t *out, size_t cap, uint8_t op, uint16_t internal_port,
                              uint16_t external_port, uint32_t lifetime);
/*
 * An answer: 0, or -EBADMSG when buf is none (another version, a request, an unknown
 * opcode, too short for its opcode). An error answer may be shorter than a success
 * (RFC 6886 3.5: only the first 8 bytes are required then): its fields past them are 0.
 */
int natpmp_response_decode(const uint8_t *buf, size_t len, struct natpmp_response *r);
/* A result code's name ("NOT_AUTHORIZED"), "UNKNOWN" for others. */
const char *natpmp_result_name(uint16_t result);

#endif
