/* SPDX-License-Identifier: MIT */
/*
 * Port Control Protocol (RFC 6887), the client's side of MAP and ANNOUNCE over IPv4:
 * requests encoded, answers decoded. Pure: no sockets, no allocation. The decoder is fed
 * whatever comes back from UDP port 5351 (a gateway's answer, or garbage) and is fuzzed:
 * it reads nothing outside [buf, buf + len).
 *
 * Ports are in host byte order here; addresses are struct in_addr (network order).
 */
#ifndef NATLAB_PCP_H
#define NATLAB_PCP_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define PCP_PORT         5351
#define PCP_VERSION      2
#define PCP_HEADER_LEN   24
#define PCP_MAP_LEN      (PCP_HEADER_LEN + 36)
#define PCP_MAX_LEN      1100 /* RFC 6887 8.1: no PCP message is longer */
#define PCP_NONCE_LEN    12
#define PCP_OP_ANNOUNCE  0
#define PCP_OP_MAP       1
#define PCP_RESPONSE_BIT 0x80

/* Result codes (RFC 6887 7.4). */
enum pcp_result {
	PCP_SUCCESS = 0,
	PCP_UNSUPP_VERSION = 1,
	PCP_NOT_AUTHORIZED = 2,
	PCP_MALFORMED_REQUEST = 3,
	PCP_UNSUPP_OPCODE = 4,
	PCP_UNSUPP_OPTION = 5,
	PCP_MALFORMED_OPTION = 6,
	PCP_NETWORK_FAILURE = 7,
	PCP_NO_RESOURCES = 8,
	PCP_UNSUPP_PROTOCOL = 9,
	PCP_USER_EX_QUOTA = 10,
	PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	PCP_ADDRESS_MISMATCH = 12,
	PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* A MAP's opcode-specific fields, in a request (suggested) and an answer (assigned). */
struct pcp_map {
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t protocol; /* IPPROTO_UDP, IPPROTO_TCP */
	uint16_t internal_port;
	uint16_t external_port;       /* 0 in a request: any */
	struct in_addr external_addr; /* INADDR_ANY in a request: any */
};

struct pcp_response {
	uint8_t opcode; /* without the response bit */
	uint8_t result; /* enum pcp_result */
	uint32_t lifetime;
	uint32_t epoch;
	struct pcp_map map; /* opcode MAP only */
};

/*
 * A MAP request from client (our address as the gateway sees it) for lifetime seconds
 * (0 deletes the mapping of m's nonce and internal port). Returns its length
 * (PCP_MAP_LEN), or -ENOBUFS.
 */
int pcp_map_request_encode(uint8_t *out, size_t cap, struct in_addr client, uint32_t lifetime,
                           const struct pcp_map *m);
/* An ANNOUNCE request (a probe: does a PCP server answer?): its length, or -ENOBUFS. */
int pcp_announce_request_encode(uint8_t *out, size_t cap, struct in_addr client);
/*
 * A PCP answer: 0, or -EBADMSG when buf is no PCP response (another version, a request,
 * too short or long, not a multiple of 4, a MAP answer without its fields, or an IPv6
 * external address). A version 0 answer (NAT-PMP's "unsupported version") is not PCP.
 */
int pcp_response_decode(const uint8_t *buf, size_t len, struct pcp_response *r);
/* The RFC's name of a result code ("NOT_AUTHORIZED"), "UNKNOWN" for others. */
const char *pcp_result_name(uint8_t result);

#endif
