/* SPDX-License-Identifier: MIT */
/*
 * The relay protocol's messages on top of frame.h: types, payload layouts, reason
 * codes, and pure encode/decode helpers shared by natlab-relay and its clients
 * (natlab-peer, tests). No I/O here. docs/relay.md is the prose version.
 */
#ifndef NATLAB_RELAY_PROTO_H
#define NATLAB_RELAY_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "natlab/frame.h"
#include "natlab/identity.h"
#include "natlab/token.h"

#define RELAY_PROTO_VERSION 1
#define RELAY_NONCE_LEN     32
#define RELAY_KEY_LEN       IDENTITY_PUB_LEN
#define RELAY_PING_LEN      8
/* A packet's data may fill a frame after the 32-byte key. */
#define RELAY_MAX_PACKET     (FRAME_MAX_PAYLOAD - RELAY_KEY_LEN)
#define RELAY_AUTH_CONTEXT   "natlab-relay client auth v1"
#define RELAY_CLOSE_TEXT_MAX 200

enum relay_frame_type {
	RELAY_FRAME_CHALLENGE = 1,   /* S->C u8 version | u8 flags | nonce[32] */
	RELAY_FRAME_AUTH = 2,        /* C->S key[32] | sig[64] | u16 token_len | token */
	RELAY_FRAME_SERVER_INFO = 3, /* S->C see struct relay_server_info */
	RELAY_FRAME_SEND = 4,        /* C->S dst key[32] | data */
	RELAY_FRAME_RECV = 5,        /* S->C src key[32] | data */
	RELAY_FRAME_PEER_GONE = 6,   /* S->C key[32] | u8 reason */
	RELAY_FRAME_PING = 7,        /* either way, data[8]; answered by PONG */
	RELAY_FRAME_PONG = 8,        /* either way, data[8] echoed */
	RELAY_FRAME_STATUS = 9,      /* S->C u8 status */
	RELAY_FRAME_RESTARTING = 10, /* S->C u32 reconnect_in_ms | u32 try_for_ms */
	RELAY_FRAME_CLOSE = 11,      /* S->C u8 reason | text (<= 200 bytes, UTF-8) */
	/* Address records (addr_record.h), only where the CHALLENGE has RELAY_CHALLENGE_RECORDS. */
	RELAY_FRAME_PUBLISH = 12, /* C->S the client's own signed address record */
	RELAY_FRAME_LOOKUP = 13,  /* C->S key[32] */
	RELAY_FRAME_RECORD = 14,  /* S->C key[32] | record (empty: none held) */
};

/* CHALLENGE flags. */
#define RELAY_CHALLENGE_AUTH_REQUIRED 0x01
#define RELAY_CHALLENGE_RECORDS       0x02 /* PUBLISH and LOOKUP are accepted */

enum relay_peer_gone_reason {
	RELAY_PEER_GONE_NOT_HERE = 1,     /* no client with that key is connected */
	RELAY_PEER_GONE_DISCONNECTED = 2, /* it was connected and has left */
};

enum relay_status {
	RELAY_STATUS_HEALTHY = 0,
	RELAY_STATUS_RATE_LIMITED = 1, /* the relay stopped reading from this client for now */
};

/* Why the relay closes a connection (CLOSE frame) or refuses auth. Stable numbers. */
enum relay_close_reason {
	RELAY_CLOSE_NONE = 0,
	RELAY_CLOSE_PROTOCOL = 1,   /* malformed frame or payload */
	RELAY_CLOSE_OVERSIZED = 2,  /* length above the limit */
	RELAY_CLOSE_UNEXPECTED = 3, /* frame type not allowed in this state */
	RELAY_CLOSE_HANDSHAKE_TIMEOUT = 4,
	RELAY_CLOSE_BAD_SIGNATURE = 5, /* challenge signature does not verify */
	RELAY_CLOSE_NO_TOKEN = 6,
	RELAY_CLOSE_TOKEN_MALFORMED = 7,
	RELAY_CLOSE_TOKEN_FOREIGN = 8,
	RELAY_CLOSE_TOKEN_BAD_SIGNATURE = 9,
	RELAY_CLOSE_TOKEN_EXPIRED = 10,
	RELAY_CLOSE_TOKEN_REVOKED = 11,
	RELAY_CLOSE_TOKEN_WRONG_PEER = 12, /* token granted to another key */
	RELAY_CLOSE_SERVER_FULL = 13,
	RELAY_CLOSE_REPLACED = 14, /* the same key connected again */
	RELAY_CLOSE_SHUTDOWN = 15, /* drain ended */
	RELAY_CLOSE_IDLE = 16,     /* no complete frame for --idle-timeout */
	RELAY_CLOSE_BYTE_CAP = 17, /* the session relayed --byte-cap bytes */
	RELAY_CLOSE_REASON_COUNT
};

struct relay_challenge {
	uint8_t version;
	uint8_t flags;
	uint8_t nonce[RELAY_NONCE_LEN];
};

struct relay_auth {
	uint8_t key[RELAY_KEY_LEN];
	uint8_t sig[IDENTITY_SIG_LEN];
	uint16_t token_len;
	const uint8_t *token; /* points into the decoded payload */
};

struct relay_server_info {
	uint8_t version;
	uint32_t max_packet;         /* largest data in SEND */
	uint32_t queue_frames;       /* per-client queue before the oldest is dropped */
	uint32_t rate_bytes_per_sec; /* token bucket refill; 0 = unlimited */
	uint32_t burst_bytes;        /* token bucket size */
	uint32_t keepalive_ms;       /* ping at least this often to stay counted alive */
	uint64_t token_expiry;
	uint32_t queue_bytes;
	/* per-client queue bytes before the oldest is dropped; 0 if not sent */ /* unix
	                                                                            seconds; 0
	                                                                            without auth
	                                                                          */
};
#define RELAY_SERVER_INFO_LEN 33
/* Relays before queue_bytes sent 29 bytes; decoders accept that. */
#define RELAY_SERVER_INFO_MIN_LEN 29

struct relay_packet {
	const uint8_t *key; /* 32 bytes: destination (SEND) or source (RECV) */
	const uint8_t *data;
	size_t len;
};

/* Names for logs and metrics ("bad_signature", ...). */
const char *relay_close_reason_str(enum relay_close_reason r);
const char *relay_frame_type_str(uint8_t type);

/*
 * Encoders write a whole frame (header included) into out and return its length,
 * or -ENOBUFS / -EMSGSIZE. Decoders take a frame's payload and return 0 or -EINVAL.
 * Decoders accept trailing bytes where noted in docs/relay.md (future fields).
 */
int relay_challenge_encode(uint8_t *out, size_t cap, const struct relay_challenge *c);
int relay_challenge_decode(struct relay_challenge *c, const uint8_t *p, size_t len);

/* The message the client signs: nonce || client key || token, under RELAY_AUTH_CONTEXT. */
int relay_auth_sign(const struct identity *id, const uint8_t nonce[RELAY_NONCE_LEN],
                    const uint8_t *token, size_t token_len, uint8_t sig[IDENTITY_SIG_LEN]);
int relay_auth_verify(const struct relay_auth *a, const uint8_t nonce[RELAY_NONCE_LEN]);

/* Builds the AUTH frame answering challenge c. token_text may be NULL (no token). */
int relay_auth_build(uint8_t *out, size_t cap, const struct identity *id,
                     const struct relay_challenge *c, const char *token_text);
int relay_auth_decode(struct relay_auth *a, const uint8_t *p, size_t len);

int relay_server_info_encode(uint8_t *out, size_t cap, const struct relay_server_info *si);
int relay_server_info_decode(struct relay_server_info *si, const uint8_t *p, size_t len);

/* SEND and RECV share a layout; type is RELAY_FRAME_SEND or RELAY_FRAME_RECV. */
int relay_packet_encode(uint8_t *out, size_t cap, uint8_t type, const uint8_t key[RELAY_KEY_LEN],
                        const void *data, size_t len);
int relay_packet_decode(struct relay_packet *pkt, const uint8_t *p, size_t len);

int relay_peer_gone_encode(uint8_t *out, size_t cap, const uint8_t key[RELAY_KEY_LEN],
                           uint8_t reason);
int relay_peer_gone_decode(const uint8_t **key, uint8_t *reason, const uint8_t *p, size_t len);

/* PING or PONG with 8 opaque bytes. */
int relay_ping_encode(uint8_t *out, size_t cap, uint8_t type, const uint8_t data[RELAY_PING_LEN]);

int relay_status_encode(uint8_t *out, size_t cap, uint8_t status);

/* LOOKUP: key[32]. RECORD: key[32] | record (rec_len 0: the relay holds none). */
int relay_lookup_encode(uint8_t *out, size_t cap, const uint8_t key[RELAY_KEY_LEN]);
int relay_record_encode(uint8_t *out, size_t cap, const uint8_t key[RELAY_KEY_LEN],
                        const uint8_t *rec, size_t rec_len);
int relay_restarting_encode(uint8_t *out, size_t cap, uint32_t reconnect_in_ms,
                            uint32_t try_for_ms);
int relay_restarting_decode(uint32_t *reconnect_in_ms, uint32_t *try_for_ms, const uint8_t *p,
                            size_t len);
int relay_close_encode(uint8_t *out, size_t cap, uint8_t reason, const char *text);
/* text gets up to cap-1 bytes of the message, NUL-terminated. */
int relay_close_decode(uint8_t *reason, char *text, size_t cap, const uint8_t *p, size_t len);

#endif
