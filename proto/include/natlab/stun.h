/* SPDX-License-Identifier: MIT */
/*
 * STUN codec (RFC 8489) with the RFC 5780 NAT behaviour discovery attributes, and the
 * responder logic that the relay's libuv server and natlab's blocking responder share.
 *
 * Everything here is pure: no sockets, no allocation, no global state besides the
 * random transaction ids. The decoder is fed untrusted datagrams and is fuzzed: it reads
 * nothing outside [buf, buf + len) whatever the input says.
 *
 * Addresses are struct sockaddr (sockaddr_in today, sockaddr_in6 understood by the
 * codec); ports inside them are in network byte order, as the socket API has them.
 */
#ifndef NATLAB_STUN_H
#define NATLAB_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_HEADER_SIZE     20
#define STUN_TXID_SIZE       12
#define STUN_MAGIC_COOKIE    0x2112A442u
#define STUN_FINGERPRINT_XOR 0x5354554eu
/* Large enough for any message this module encodes; a datagram buffer for receiving. */
#define STUN_MAX_MESSAGE 1500

/* Message types (method | class bits) this module speaks. */
#define STUN_BINDING_REQUEST    0x0001
#define STUN_BINDING_INDICATION 0x0011
#define STUN_BINDING_SUCCESS    0x0101
#define STUN_BINDING_ERROR      0x0111

/* Class of a message type (RFC 8489 section 5: bits C1 and C0 at 0x0100 and 0x0010). */
#define STUN_CLASS_MASK       0x0110
#define STUN_CLASS_REQUEST    0x0000
#define STUN_CLASS_INDICATION 0x0010
#define STUN_CLASS_SUCCESS    0x0100
#define STUN_CLASS_ERROR      0x0110
#define STUN_CLASS(type)      (STUN_CLASS_MASK & (type))

/* Attribute types. Below 0x8000 they are comprehension-required. */
#define STUN_ATTR_MAPPED_ADDRESS           0x0001
#define STUN_ATTR_CHANGE_REQUEST           0x0003 /* RFC 5780 */
#define STUN_ATTR_USERNAME                 0x0006
#define STUN_ATTR_MESSAGE_INTEGRITY        0x0008
#define STUN_ATTR_ERROR_CODE               0x0009
#define STUN_ATTR_UNKNOWN_ATTRIBUTES       0x000A
#define STUN_ATTR_REALM                    0x0014
#define STUN_ATTR_NONCE                    0x0015
#define STUN_ATTR_MESSAGE_INTEGRITY_SHA256 0x001C
#define STUN_ATTR_PASSWORD_ALGORITHM       0x001D
#define STUN_ATTR_USERHASH                 0x001E
#define STUN_ATTR_XOR_MAPPED_ADDRESS       0x0020
#define STUN_ATTR_PASSWORD_ALGORITHMS      0x8002
#define STUN_ATTR_ALTERNATE_DOMAIN         0x8003
#define STUN_ATTR_SOFTWARE                 0x8022
#define STUN_ATTR_ALTERNATE_SERVER         0x8023
#define STUN_ATTR_FINGERPRINT              0x8028
#define STUN_ATTR_RESPONSE_ORIGIN          0x802B /* RFC 5780 */
#define STUN_ATTR_OTHER_ADDRESS            0x802C /* RFC 5780 */

/* CHANGE-REQUEST flags (RFC 5780 section 7.2). */
#define STUN_CHANGE_IP   0x04u
#define STUN_CHANGE_PORT 0x02u

/* Bits of struct stun_msg.present: which attributes the message carried. */
#define STUN_HAS_MAPPED            (1u << 0)
#define STUN_HAS_XOR_MAPPED        (1u << 1)
#define STUN_HAS_OTHER             (1u << 2)
#define STUN_HAS_RESPONSE_ORIGIN   (1u << 3)
#define STUN_HAS_CHANGE_REQUEST    (1u << 4)
#define STUN_HAS_SOFTWARE          (1u << 5)
#define STUN_HAS_ERROR_CODE        (1u << 6)
#define STUN_HAS_FINGERPRINT       (1u << 7) /* present and verified */
#define STUN_HAS_MESSAGE_INTEGRITY (1u << 8) /* present, not verified */

/* RFC 8489 limits SOFTWARE and the error reason to 763 bytes; we keep a prefix. */
#define STUN_TEXT_MAX 128
/* At most this many unknown comprehension-required attributes are reported. */
#define STUN_UNKNOWN_MAX 8

/* A decoded message. Plain data: it points nowhere into the datagram. */
struct stun_msg {
	uint16_t type;
	uint8_t txid[STUN_TXID_SIZE];
	uint32_t present;                        /* STUN_HAS_* */
	struct sockaddr_storage mapped;          /* MAPPED-ADDRESS */
	struct sockaddr_storage xor_mapped;      /* XOR-MAPPED-ADDRESS, already un-XORed */
	struct sockaddr_storage other;           /* OTHER-ADDRESS */
	struct sockaddr_storage response_origin; /* RESPONSE-ORIGIN */
	uint32_t change_flags;                   /* CHANGE-REQUEST: STUN_CHANGE_* */
	int error_code;                          /* ERROR-CODE: 300..699 */
	char error_reason[STUN_TEXT_MAX + 1];    /* NUL-terminated, possibly cut short */
	char software[STUN_TEXT_MAX + 1];        /* NUL-terminated, possibly cut short */
	/* Comprehension-required attributes this decoder does not know, in order. */
	uint16_t unknown[STUN_UNKNOWN_MAX];
	size_t n_unknown; /* entries in unknown[]; more may have been dropped */
};

/*
 * Checks the fixed header only: top two bits zero, magic cookie, length a multiple of 4
 * that matches len exactly. Fills *type and txid (either may be NULL). Cheap enough to
 * demultiplex STUN from other traffic on one socket. Returns 0 or -EBADMSG.
 */
int stun_header_check(const uint8_t *buf, size_t len, uint16_t *type, uint8_t txid[STUN_TXID_SIZE]);

/*
 * Over TCP (RFC 8489 section 6.2.2) STUN messages follow each other without framing of
 * their own: a message's size is in its header. Given the first len >= STUN_HEADER_SIZE
 * bytes of a stream, returns the size of the whole message they begin (header included),
 * or -EBADMSG when they cannot begin a STUN message (the stream is not STUN: close it).
 * Returns -EAGAIN when len is shorter than a header.
 */
int stun_frame_size(const uint8_t *buf, size_t len);

/*
 * Decodes a whole datagram into *msg. Returns 0, -EBADMSG when the message is malformed
 * (header, attribute lengths or values, anything after FINGERPRINT), or -EILSEQ when the
 * FINGERPRINT does not match (the datagram is not STUN or was damaged; RFC 8489 says to
 * drop it silently). Unknown comprehension-required attributes do not fail decoding: they
 * are listed in msg->unknown for the caller to answer with 420. Attributes after
 * MESSAGE-INTEGRITY other than FINGERPRINT are ignored (RFC 8489 section 14.5); the
 * integrity itself is not checked. On failure msg->type and msg->txid are valid if
 * stun_header_check() passed, the rest is unspecified.
 */
int stun_msg_decode(const uint8_t *buf, size_t len, struct stun_msg *msg);

/*
 * Decodes the value (n bytes at v) of an address attribute of the message with txid:
 * XOR-encoded when xor (XOR-MAPPED-, XOR-PEER-, XOR-RELAYED-ADDRESS). 0 or -EBADMSG.
 */
int stun_attr_addr_decode(const uint8_t txid[STUN_TXID_SIZE], const uint8_t *v, size_t n, bool xor,
                          struct sockaddr_storage *out);

/* Fills txid with random bytes (libsodium). */
void stun_txid_new(uint8_t txid[STUN_TXID_SIZE]);

/*
 * Low-level writer for tests and future messages. stun_writer_init() writes the header;
 * the add functions append one attribute with its padding; stun_writer_finish() appends
 * FINGERPRINT if asked and returns the message length or the first error (-ENOBUFS when
 * cap is too small, -EAFNOSUPPORT for an unknown address family, -EINVAL for an error code
 * outside 300..699). Errors are sticky, so
 * callers may check once at the end. buf must outlive the writer.
 */
struct stun_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

void stun_writer_init(struct stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                      const uint8_t txid[STUN_TXID_SIZE]);
void stun_writer_add_bytes(struct stun_writer *w, uint16_t attr, const void *data, size_t n);
void stun_writer_add_u32(struct stun_writer *w, uint16_t attr, uint32_t value);
/* Adds an address attribute; xor selects the XOR-MAPPED-ADDRESS encoding. */
void stun_writer_add_addr(struct stun_writer *w, uint16_t attr, const struct sockaddr *sa,
                          bool xor);
void stun_writer_add_error(struct stun_writer *w, int code, const char *reason);
int stun_writer_finish(struct stun_writer *w, bool fingerprint);

/*
 * Binding request, with CHANGE-REQUEST when change_flags != 0 and FINGERPRINT when asked.
 * Returns the length written into buf or -ENOBUFS.
 */
int stun_binding_request_encode(uint8_t *buf, size_t cap, const uint8_t txid[STUN_TXID_SIZE],
                                uint32_t change_flags, bool fingerprint);

/* What goes into a Binding success response. NULL pointers leave attributes out. */
struct stun_binding_response {
	const uint8_t *txid;           /* STUN_TXID_SIZE bytes, from the request */
	const struct sockaddr *mapped; /* required: XOR-MAPPED-ADDRESS */
	const struct sockaddr *other;  /* OTHER-ADDRESS (RFC 5780) */
	const struct sockaddr *origin; /* RESPONSE-ORIGIN (RFC 5780) */
	const char *software;          /* SOFTWARE */
};

/* Binding success response, always with FINGERPRINT. Returns length or -errno. */
int stun_binding_success_encode(uint8_t *buf, size_t cap, const struct stun_binding_response *r);

/*
 * Binding error response with ERROR-CODE (code 300..699 and reason), UNKNOWN-ATTRIBUTES
 * when n_unknown > 0 (for 420; at most STUN_UNKNOWN_MAX + 1 entries), SOFTWARE when not
 * NULL, and FINGERPRINT. Returns length or -errno.
 */
int stun_binding_error_encode(uint8_t *buf, size_t cap, const uint8_t txid[STUN_TXID_SIZE],
                              int code, const char *reason, const uint16_t *unknown,
                              size_t n_unknown, const char *software);

/*
 * The responder's local endpoints (RFC 5780 section 4: A1:P1, A1:P2, A2:P1, A2:P2).
 * Bit 1 of the index is "alternate address", bit 0 "alternate port", so CHANGE-REQUEST
 * is an XOR of the receiving index.
 */
enum stun_endpoint {
	STUN_EP_A1P1 = 0,
	STUN_EP_A1P2 = 1,
	STUN_EP_A2P1 = 2,
	STUN_EP_A2P2 = 3,
	STUN_EP_COUNT = 4,
};

struct stun_server_config {
	/* A1 with P1. A specific address, not a wildcard: it is reported to clients. */
	struct sockaddr_storage primary;
	/* A2; its port is ignored. ss_family AF_UNSPEC (zeroed) when there is none. */
	struct sockaddr_storage alternate;
	/* P2 in network byte order; 0 when there is none. Required with an alternate. */
	uint16_t alt_port;
	const char *software; /* SOFTWARE in responses, or NULL */
};

/*
 * Whether endpoint ep exists under cfg, and if so its address in *out (may be NULL).
 * Returns 0 or -ENOENT.
 */
int stun_server_endpoint(const struct stun_server_config *cfg, enum stun_endpoint ep,
                         struct sockaddr_storage *out);

/* Checks a configuration: families match, alt_port set with an alternate. 0 or -EINVAL. */
int stun_server_config_check(const struct stun_server_config *cfg);

/*
 * Answers one datagram received on endpoint local_ep from src. Returns the length of the
 * response written into out (> 0) and sets *send_ep to the endpoint it must be sent from,
 * to src; returns 0 when the datagram must be dropped without answer (not STUN, not a
 * Binding request, bad FINGERPRINT, ...); returns -EINVAL for a bad configuration or
 * endpoint and -ENOBUFS when out is too small (STUN_MAX_MESSAGE always suffices).
 *
 * A Binding request gets XOR-MAPPED-ADDRESS = src, RESPONSE-ORIGIN and, with an alternate
 * address, OTHER-ADDRESS (the endpoint differing in address and port from local_ep).
 * CHANGE-REQUEST flips address and/or port of the sending endpoint; without an alternate
 * address it is answered with 420 (RFC 5780 section 6.1). Other unknown
 * comprehension-required attributes get 420, among them RESPONSE-PORT and PADDING, which
 * RFC 5780 leaves optional (a response to another port would make us a reflector), and a
 * malformed request gets 400.
 */
int stun_server_handle(const struct stun_server_config *cfg, enum stun_endpoint local_ep,
                       const uint8_t *req, size_t req_len, const struct sockaddr *src, uint8_t *out,
                       size_t out_cap, enum stun_endpoint *send_ep);

#endif
