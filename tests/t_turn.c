/* SPDX-License-Identifier: MIT */
/*
 * The TURN codec: RFC 5769's long-term credential vector, REST credentials against
 * RFC 2202's HMAC-SHA1 vector, requests and answers round trip, ChannelData and stream
 * framing, and malformed input refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "natlab/addr.h"
#include "natlab/digest.h"
#include "natlab/turn.h"
#include "hexaddr.h"
#include "tap.h"

/* RFC 5769 section 2.4, as printed there. */
static const char *rfc5769_long_term =
    "00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
    "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
    "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46"
    "53 54 76 79 36 34 73 41"
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
    "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";
/* U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9 in UTF-8. */
static const char *rfc5769_user = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf"
                                  "\xe3\x82\xb9";

#define SA(ss) ((const struct sockaddr *)(ss))

static void test_rfc5769_long_term(void)
{
	uint8_t buf[256];
	struct turn_auth a;
	struct turn_msg m;
	size_t n = unhex(rfc5769_long_term, buf, sizeof(buf));

	is_int(turn_msg_decode(buf, n, &m), 0, "RFC 5769 2.4 decodes");
	is_str(m.realm, "example.org", "REALM");
	ok(m.nonce_len == 28 && !memcmp(m.nonce, "f//499k954d6OL34oL9FSTvy64sA", 28), "NONCE");
	ok(m.present & TURN_HAS_INTEGRITY, "MESSAGE-INTEGRITY found");
	is_int(turn_auth_set(&a, rfc5769_user, "example.org", "TheMatrIX"), 0, "key derived");
	is_int(turn_msg_integrity_check(buf, n, &m, a.key), 0, "the vector's integrity verifies");
	is_int(turn_auth_set(&a, rfc5769_user, "example.org", "TheMatrix"), 0, "other key");
	is_int(turn_msg_integrity_check(buf, n, &m, a.key), -EACCES, "a wrong password fails");
	buf[30] ^= 1;
	is_int(turn_msg_decode(buf, n, &m), 0, "a flipped username bit still decodes");
	turn_auth_set(&a, rfc5769_user, "example.org", "TheMatrIX");
	is_int(turn_msg_integrity_check(buf, n, &m, a.key), -EACCES, "but fails integrity");
}

static void test_rest(void)
{
	char user[64], pass[64];
	uint8_t mac[DIGEST_SHA1_LEN];
	static const uint8_t want[] = {
		0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
		0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79
	};

	/* RFC 2202 test case 2. */
	is_int(digest_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, mac), 0,
	       "HMAC-SHA1");
	ok(!memcmp(mac, want, sizeof(want)), "RFC 2202 case 2 matches");
	is_int(turn_rest_credentials("s3cret", "alice", 1700000000, user, sizeof(user), pass,
	                             sizeof(pass)),
	       0, "REST credentials");
	is_str(user, "1700000000:alice", "username is expiry:user");
	/* printf -n 1700000000:alice | openssl dgst -sha1 -hmac s3cret -binary | base64 */
	is_str(pass, "TtElzSjT0GdnTQ9xdcRNxx96yQs=", "password is base64(HMAC-SHA1)");
	is_int(turn_rest_credentials("s3cret", "", 5, user, sizeof(user), pass, sizeof(pass)), 0,
	       "no user");
	is_str(user, "5", "username is the expiry alone");
	is_int(turn_rest_credentials("s3cret", "a:b", 5, user, sizeof(user), pass, sizeof(pass)),
	       -EINVAL, "a user with ':' is refused");
	is_int(turn_rest_credentials("", "a", 5, user, sizeof(user), pass, sizeof(pass)), -EINVAL,
	       "an empty secret is refused");
	is_int(turn_rest_credentials("s", "alice", 5, user, 4, pass, sizeof(pass)), -ENOBUFS,
	       "short username buffer");
	is_int(turn_rest_credentials("s", "alice", 5, user, sizeof(user), pass, 10), -ENOBUFS,
	       "short password buffer");
}

static void test_requests(void)
{
	struct sockaddr_storage peer = addr("198.18.0.9:40000");
	uint8_t txid[STUN_TXID_SIZE], buf[STUN_MAX_MESSAGE];
	struct turn_auth a = { 0 };
	struct turn_request r = { .type = TURN_ALLOCATE, .txid = txid };
	struct turn_msg m;
	int len;

	stun_txid_new(txid);
	len = turn_request_encode(buf, sizeof(buf), &r);
	ok(len > 0 && turn_msg_decode(buf, (size_t)len, &m) == 0, "Allocate without credentials");
	ok(m.stun.type == TURN_ALLOCATE && (m.stun.present & STUN_HAS_FINGERPRINT) &&
	       !(m.present & TURN_HAS_INTEGRITY) && m.stun.n_unknown == 0,
	   "type %#x, FINGERPRINT, no integrity, TURN attributes known (%zu unknown)", m.stun.type,
	   m.stun.n_unknown);

	turn_auth_set(&a, "1700000000:alice", "natlab", "pw");
	memcpy(a.nonce, "abcdef", 6);
	a.nonce_len = 6;
	r.auth = &a;
	r.has_lifetime = true;
	r.lifetime = 600;
	len = turn_request_encode(buf, sizeof(buf), &r);
	ok(len > 0 && turn_msg_decode(buf, (size_t)len, &m) == 0, "Allocate with credentials");
	ok((m.present & TURN_HAS_LIFETIME) && m.lifetime == 600, "LIFETIME 600 (%u)", m.lifetime);
	is_int(turn_msg_integrity_check(buf, (size_t)len, &m, a.key), 0, "own integrity verifies");
	ok((m.stun.present & STUN_HAS_FINGERPRINT), "FINGERPRINT after integrity verifies");

	r.type = TURN_CHANNEL_BIND;
	r.has_lifetime = false;
	r.peer = SA(&peer);
	r.channel = 0x4001;
	len = turn_request_encode(buf, sizeof(buf), &r);
	ok(len > 0 && turn_msg_decode(buf, (size_t)len, &m) == 0, "ChannelBind");
	ok(m.channel == 0x4001 && (m.present & TURN_HAS_PEER), "CHANNEL-NUMBER 0x%x", m.channel);
	is_str(fmt(&m.peer), "198.18.0.9:40000", "XOR-PEER-ADDRESS round trips");
	r.channel = 0x3fff;
	is_int(turn_request_encode(buf, sizeof(buf), &r), -EINVAL, "channel below 0x4000 refused");
	r.channel = 0x4001;
	r.peer = NULL;
	is_int(turn_request_encode(buf, sizeof(buf), &r), -EINVAL, "ChannelBind needs a peer");
	r.type = TURN_CREATE_PERMISSION;
	is_int(turn_request_encode(buf, sizeof(buf), &r), -EINVAL, "CreatePermission needs a peer");
	r.type = TURN_ALLOCATE | STUN_CLASS_SUCCESS;
	is_int(turn_request_encode(buf, sizeof(buf), &r), -EINVAL, "a response type is refused");
	r.type = TURN_REFRESH;
	is_int(turn_request_encode(buf, 40, &r), -ENOBUFS, "short buffer");

	len = turn_send_encode(buf, sizeof(buf), SA(&peer), "hello", 5);
	ok(len > 0 && turn_msg_decode(buf, (size_t)len, &m) == 0 &&
	       m.stun.type == (TURN_SEND | STUN_CLASS_INDICATION),
	   "Send indication");
	ok(m.data_len == 5 && !memcmp(m.data, "hello", 5), "DATA round trips");
}

/* An Allocate success as coturn sends it, built with the STUN writer. */
static void test_answers(void)
{
	struct sockaddr_storage relayed = addr("198.18.0.2:50000"),
	                        mapped = addr("198.19.1.2:3000");
	uint8_t txid[STUN_TXID_SIZE], buf[STUN_MAX_MESSAGE];
	struct stun_writer w;
	struct turn_msg m;
	int len;

	stun_txid_new(txid);
	stun_writer_init(&w, buf, sizeof(buf), TURN_ALLOCATE | STUN_CLASS_SUCCESS, txid);
	stun_writer_add_addr(&w, TURN_ATTR_XOR_RELAYED_ADDRESS, SA(&relayed), true);
	stun_writer_add_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, SA(&mapped), true);
	stun_writer_add_u32(&w, TURN_ATTR_LIFETIME, 3600);
	len = stun_writer_finish(&w, true);
	ok(len > 0 && turn_msg_decode(buf, (size_t)len, &m) == 0, "Allocate success decodes");
	is_str(fmt(&m.relayed), "198.18.0.2:50000", "XOR-RELAYED-ADDRESS");
	is_str(fmt((struct sockaddr_storage *)&m.stun.xor_mapped), "198.19.1.2:3000",
	       "XOR-MAPPED-ADDRESS");
	is_int(m.lifetime, 3600, "LIFETIME");

	stun_writer_init(&w, buf, sizeof(buf), TURN_ALLOCATE | STUN_CLASS_ERROR, txid);
	stun_writer_add_error(&w, 401, "Unauthorized");
	stun_writer_add_bytes(&w, STUN_ATTR_NONCE, "n0nce", 5);
	stun_writer_add_bytes(&w, STUN_ATTR_REALM, "natlab", 6);
	len = stun_writer_finish(&w, true);
	ok(len > 0 && turn_msg_decode(buf, (size_t)len, &m) == 0, "401 decodes");
	ok(m.stun.error_code == 401 && m.nonce_len == 5 && !strcmp(m.realm, "natlab"),
	   "401 with REALM and NONCE");
	{
		struct turn_auth a = { 0 };

		is_int(turn_auth_challenge(&a, &m), 0, "challenge taken");
		ok(a.nonce_len == 5 && !strcmp(a.realm, "natlab"), "nonce and realm kept");
		m.present &= ~TURN_HAS_NONCE;
		is_int(turn_auth_challenge(&a, &m), -EBADMSG, "a 401 without NONCE is refused");
	}

	/* A LIFETIME of the wrong size is malformed. */
	stun_writer_init(&w, buf, sizeof(buf), TURN_REFRESH | STUN_CLASS_SUCCESS, txid);
	stun_writer_add_bytes(&w, TURN_ATTR_LIFETIME, "abc", 3);
	len = stun_writer_finish(&w, true);
	is_int(turn_msg_decode(buf, (size_t)len, &m), -EBADMSG, "3-byte LIFETIME refused");
	stun_writer_init(&w, buf, sizeof(buf), TURN_DATA | STUN_CLASS_INDICATION, txid);
	stun_writer_add_bytes(&w, TURN_ATTR_XOR_PEER_ADDRESS, "\0\1\2", 3);
	len = stun_writer_finish(&w, true);
	is_int(turn_msg_decode(buf, (size_t)len, &m), -EBADMSG, "short XOR-PEER-ADDRESS refused");
}

static void test_channel_data(void)
{
	uint8_t buf[64];
	const uint8_t *d;
	size_t dn;
	uint16_t ch;
	int len;

	len = turn_channel_data_encode(buf, sizeof(buf), 0x4000, "hello", 5, false);
	is_int(len, 9, "ChannelData over UDP is not padded");
	ok(turn_is_channel_data(buf, (size_t)len), "recognised as ChannelData");
	ok(turn_channel_data_decode(buf, (size_t)len, &ch, &d, &dn) == 0 && ch == 0x4000 &&
	       dn == 5 && !memcmp(d, "hello", 5),
	   "decodes");
	len = turn_channel_data_encode(buf, sizeof(buf), 0x4fff, "hello", 5, true);
	is_int(len, 12, "over a stream padded to 12");
	is_int(turn_frame_size(buf, 4), 12, "stream frame size from the header");
	ok(turn_channel_data_decode(buf, (size_t)len, &ch, &d, &dn) == 0 && dn == 5,
	   "padding accepted");
	is_int(turn_channel_data_decode(buf, 8, &ch, &d, &dn), -EBADMSG, "truncated refused");
	buf[3] = 1;
	is_int(turn_channel_data_decode(buf, 12, &ch, &d, &dn), -EBADMSG, "too much padding");
	is_int(turn_channel_data_encode(buf, sizeof(buf), 0x5000, "x", 1, false), -EINVAL,
	       "channel above 0x4fff refused");
	is_int(turn_channel_data_encode(buf, 8, 0x4000, "hello", 5, false), -ENOBUFS,
	       "short buffer");
	is_int(turn_frame_size(buf, 3), -EAGAIN, "3 bytes: too short to say");
	buf[0] = 0x80;
	is_int(turn_frame_size(buf, 4), -EBADMSG, "first bits 10: neither");
	{
		uint8_t txid[STUN_TXID_SIZE] = { 0 }, req[64];
		int n = stun_binding_request_encode(req, sizeof(req), txid, 0, true);

		is_int(turn_frame_size(req, (size_t)n), n, "a STUN message's own size");
	}
}

int main(void)
{
	test_rfc5769_long_term();
	test_rest();
	test_requests();
	test_answers();
	test_channel_data();
	return tap_done();
}
