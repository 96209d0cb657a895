/* SPDX-License-Identifier: MIT */
/*
 * TURN client codec (RFC 8656) over the STUN codec (stun.h): the requests a WebRTC
 * client sends (Allocate, Refresh, CreatePermission, ChannelBind), Send indications,
 * their answers and Data indications, ChannelData, long-term credentials (RFC 8489
 * section 9.2: USERNAME, REALM, NONCE, MESSAGE-INTEGRITY) and the REST credentials that
 * coturn's use-auth-secret checks (username "expiry:user", password
 * base64(HMAC-SHA1(secret, username))).
 *
 * Pure, as stun.c is: no sockets, no allocation. The decoder reads nothing outside the
 * buffer it is given, whatever the input says.
 */
#ifndef NATLAB_TURN_H
#define NATLAB_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "natlab/stun.h"

/* Methods (RFC 8656 section 17); a message type is method | class. */
#define TURN_ALLOCATE          0x0003
#define TURN_REFRESH           0x0004
#define TURN_SEND              0x0006
#define TURN_DATA              0x0007
#define TURN_CREATE_PERMISSION 0x0008
#define TURN_CHANNEL_BIND      0x0009
/* The method of a message type (the class bits cleared). */
#define TURN_METHOD(type) ((type) & ~STUN_CLASS_MASK & 0x3fff)

/* Attributes (RFC 8656 section 18). */
#define TURN_ATTR_CHANNEL_NUMBER      0x000C
#define TURN_ATTR_LIFETIME            0x000D
#define TURN_ATTR_XOR_PEER_ADDRESS    0x0012
#define TURN_ATTR_DATA                0x0013
#define TURN_ATTR_XOR_RELAYED_ADDRESS 0x0016
#define TURN_ATTR_REQUESTED_FAMILY    0x0017
#define TURN_ATTR_EVEN_PORT           0x0018
#define TURN_ATTR_REQUESTED_TRANSPORT 0x0019
#define TURN_ATTR_DONT_FRAGMENT       0x001A
#define TURN_ATTR_RESERVATION_TOKEN   0x0022

#define TURN_TRANSPORT_UDP 17 /* REQUESTED-TRANSPORT: the protocol number */

/* Channel numbers a client may bind (RFC 8656 section 12). */
#define TURN_CHANNEL_MIN    0x4000
#define TURN_CHANNEL_MAX    0x4fff
#define TURN_CHANNEL_HEADER 4

/* Bits of struct turn_msg.present. */
#define TURN_HAS_RELAYED   (1u << 0)
#define TURN_HAS_PEER      (1u << 1)
#define TURN_HAS_LIFETIME  (1u << 2)
#define TURN_HAS_DATA      (1u << 3)
#define TURN_HAS_CHANNEL   (1u << 4)
#define TURN_HAS_REALM     (1u << 5)
#define TURN_HAS_NONCE     (1u << 6)
#define TURN_HAS_INTEGRITY (1u << 7) /* MESSAGE-INTEGRITY (SHA-1) at integrity_off */

/* RFC 8489 caps REALM and NONCE at 763 bytes and USERNAME at 513; coturn's are short. */
#define TURN_TEXT_MAX 256

/* Long-term credentials as a request carries them. */
struct turn_auth {
	char username[TURN_TEXT_MAX + 1];
	char realm[TURN_TEXT_MAX + 1];
	uint8_t nonce[TURN_TEXT_MAX];
	size_t nonce_len;
	uint8_t key[16]; /* MD5(username ":" realm ":" password) */
};

/* A decoded message: the STUN part, then what TURN adds. data points into the buffer. */
struct turn_msg {
	struct stun_msg stun; /* type, txid, error code, ...; unknown[] without TURN's */
	uint32_t present;     /* TURN_HAS_* */
	struct sockaddr_storage relayed, peer;
	uint32_t lifetime; /* seconds */
	uint16_t channel;
	const uint8_t *data;
	size_t data_len;
	char realm[TURN_TEXT_MAX + 1];
	uint8_t nonce[TURN_TEXT_MAX];
	size_t nonce_len;
	size_t integrity_off; /* offset of the MESSAGE-INTEGRITY attribute's header */
};

/*
 * Fills a->username, a->realm and a->key from the three strings (realm and nonce as the
 * server's 401 gave them: turn_auth_challenge()). -ENAMETOOLONG when a string is longer
 * than TURN_TEXT_MAX, -EIO if the digest fails.
 */
int turn_auth_set(struct turn_auth *a, const char *username, const char *realm,
                  const char *password);
/* Takes REALM and NONCE from a 401 or 438 answer into a (the key must be set again
 * with turn_auth_set() when the realm changed). -EBADMSG when either is missing. */
int turn_auth_challenge(struct turn_auth *a, const struct turn_msg *m);

/*
 * REST credentials (draft-uberti-behave-turn-rest, as coturn's use-auth-secret checks
 * them): username "expiry:user" (expiry in Unix seconds; just "expiry" when user is empty)
 * and password base64(HMAC-SHA1(secret, username)). 0, -ENOBUFS when a buffer is too
 * small, -EINVAL for a user holding ':' or an empty secret, -EIO if the digest fails.
 */
int turn_rest_credentials(const char *secret, const char *user, uint64_t expiry, char *username,
                          size_t username_cap, char *password, size_t password_cap);

/* What a request carries; zero fields are left out. */
struct turn_request {
	uint16_t type; /* TURN_ALLOCATE, ... (a request: class bits zero) */
	const uint8_t *txid;
	const struct turn_auth *auth; /* NULL: no credentials (the first Allocate) */
	bool has_lifetime;
	uint32_t lifetime;           /* Allocate, Refresh (0 deletes the allocation) */
	const struct sockaddr *peer; /* CreatePermission, ChannelBind */
	uint16_t channel;            /* ChannelBind */
	const char *software;
};

/*
 * Encodes a request: Allocate gets REQUESTED-TRANSPORT UDP; with auth USERNAME, REALM,
 * NONCE and MESSAGE-INTEGRITY; always FINGERPRINT. Returns the length or -errno
 * (-ENOBUFS, -EINVAL for a missing peer or a channel outside 0x4000..0x4fff).
 */
int turn_request_encode(uint8_t *buf, size_t cap, const struct turn_request *r);

/* A Send indication of data to peer (no credentials: RFC 8656 section 11). Length or -errno. */
int turn_send_encode(uint8_t *buf, size_t cap, const struct sockaddr *peer, const void *data,
                     size_t len);

/*
 * Decodes a STUN message with TURN's attributes (see stun_msg_decode() for the return
 * codes). MESSAGE-INTEGRITY is found, not checked: turn_msg_integrity_check().
 */
int turn_msg_decode(const uint8_t *buf, size_t len, struct turn_msg *m);

/* Checks the MESSAGE-INTEGRITY of the decoded message m (buf, len as decoded) under key.
 * 0, -ENOENT when it has none, -EACCES when it does not match. */
int turn_msg_integrity_check(const uint8_t *buf, size_t len, const struct turn_msg *m,
                             const uint8_t key[16]);

/*
 * ChannelData (RFC 8656 section 12.4): channel, length, data, and over a stream (pad)
 * zero padding to a multiple of 4. Returns the length or -ENOBUFS / -EINVAL (channel).
 */
int turn_channel_data_encode(uint8_t *buf, size_t cap, uint16_t channel, const void *data,
                             size_t len, bool pad);
/* Decodes ChannelData; up to 3 bytes of padding may follow the data. 0 or -EBADMSG. */
int turn_channel_data_decode(const uint8_t *buf, size_t len, uint16_t *channel,
                             const uint8_t **data, size_t *data_len);

/*
 * On a stream STUN messages and ChannelData (padded) follow each other: given the first
 * len bytes, the size of the whole message they begin, -EAGAIN when len is too short to
 * say, -EBADMSG when they begin neither.
 */
int turn_frame_size(const uint8_t *buf, size_t len);

/* Whether a datagram or frame is ChannelData (its first two bits are 01). */
static inline bool turn_is_channel_data(const uint8_t *buf, size_t len)
{
	return len >= TURN_CHANNEL_HEADER && (buf[0] & 0xc0) == 0x40;
}

#endif
