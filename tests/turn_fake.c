/* SPDX-License-Identifier: MIT */
/*
 * A TURN server that lets credentials expire, for t_peer_turn_renew.sh: coturn checks
 * a REST username's expiry only when the allocation is made, so it cannot show what
 * natlab-peer does when a server refuses the credentials of a live allocation.
 *
 * usage: turn_fake PORT SECRET   (UDP on 127.0.0.1:PORT, REST credentials under SECRET)
 *
 * Allocate: 401 with REALM and NONCE, then success (lifetime 1 s) for good credentials.
 * Refresh: 401 while the username is the one the allocation was made with (it
 * "expired"), success with any other good one. CreatePermission and ChannelBind: success.
 * Every answer carries MESSAGE-INTEGRITY under the request's key. Prints "allocated U",
 * "refused U" and "renewed U" lines; exits after 20 s.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "natlab/digest.h"
#include "natlab/turn.h"

#define REALM "fake"
#define NONCE "n0nce"

static int sock;
static const char *secret;
static char alloc_user[TURN_TEXT_MAX + 1];

/* The REST password of username, and the long-term key from it. */
static int user_key(const char *username, uint8_t key[16])
{
	uint8_t mac[DIGEST_SHA1_LEN];
	char pass[64];
	struct turn_auth a;

	if (digest_hmac_sha1(secret, strlen(secret), username, strlen(username), mac) < 0)
		return -1;
	sodium_bin2base64(pass, sizeof(pass), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	if (turn_auth_set(&a, username, REALM, pass) < 0)
		return -1;
	memcpy(key, a.key, 16);
	return 0;
}

/* Appends MESSAGE-INTEGRITY under key (the header length already counting it). */
static void add_integrity(struct stun_writer *w, const uint8_t key[16])
{
	uint8_t mac[DIGEST_SHA1_LEN] = { 0 };
	size_t off = w->len;

	stun_writer_add_bytes(w, STUN_ATTR_MESSAGE_INTEGRITY, mac, sizeof(mac));
	digest_hmac_sha1(key, 16, w->buf, off, mac);
	memcpy(w->buf + off + 4, mac, sizeof(mac));
}

static void answer(const struct turn_msg *m, int code, const uint8_t *key,
                   const struct sockaddr_in *from)
{
	struct sockaddr_in relayed = { .sin_family = AF_INET };
	uint16_t cls = code ? STUN_CLASS_ERROR : STUN_CLASS_SUCCESS;
	uint8_t buf[STUN_MAX_MESSAGE];
	struct stun_writer w;
	int n;

	stun_writer_init(&w, buf, sizeof(buf), TURN_METHOD(m->stun.type) | cls, m->stun.txid);
	if (code) {
		stun_writer_add_error(&w, code, code == 401 ? "Unauthorized" : "Bad Request");
		stun_writer_add_bytes(&w, STUN_ATTR_REALM, REALM, strlen(REALM));
		stun_writer_add_bytes(&w, STUN_ATTR_NONCE, NONCE, strlen(NONCE));
	} else if (TURN_METHOD(m->stun.type) == TURN_ALLOCATE) {
		relayed.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		relayed.sin_port = htons(40000);
		stun_writer_add_addr(&w, TURN_ATTR_XOR_RELAYED_ADDRESS,
		                     (const struct sockaddr *)&relayed, true);
		stun_writer_add_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS,
		                     (const struct sockaddr *)from, true);
	}
	if (!code && (TURN_METHOD(m->stun.type) == TURN_ALLOCATE ||
	              TURN_METHOD(m->stun.type) == TURN_REFRESH))
		stun_writer_add_u32(&w, TURN_ATTR_LIFETIME, 1);
	if (key)
		add_integrity(&w, key);
	n = stun_writer_finish(&w, true);
	if (n > 0)
		sendto(sock, buf, (size_t)n, 0, (const struct sockaddr *)from, sizeof(*from));
}

/* The USERNAME of a request (turn.c keeps none of it in struct turn_msg). */
static int username_of(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	size_t off = STUN_HEADER_SIZE;

	while (off + 4 <= len) {
		size_t n = (size_t)(buf[off + 2] << 8 | buf[off + 3]);

		if (off + 4 + n > len)
			return -1;
		if ((buf[off] << 8 | buf[off + 1]) == STUN_ATTR_USERNAME && n < cap) {
			memcpy(out, buf + off + 4, n);
			out[n] = '\0';
			return 0;
		}
		off += 4 + ((n + 3) & ~(size_t)3);
	}
	return -1;
}

static void handle(const uint8_t *buf, size_t len, const struct sockaddr_in *from)
{
	char user[TURN_TEXT_MAX + 1];
	uint8_t key[16];
	struct turn_msg m;
	uint16_t method;

	if (turn_msg_decode(buf, len, &m) < 0 || STUN_CLASS(m.stun.type) != STUN_CLASS_REQUEST)
		return;
	method = TURN_METHOD(m.stun.type);
	if (!(m.present & TURN_HAS_INTEGRITY) || username_of(buf, len, user, sizeof(user)) < 0 ||
	    user_key(user, key) < 0 || turn_msg_integrity_check(buf, len, &m, key) < 0) {
		answer(&m, 401, NULL, from);
		return;
	}
	if (method == TURN_ALLOCATE) {
		snprintf(alloc_user, sizeof(alloc_user), "%s", user);
		printf("allocated %s\n", user);
	} else if (method == TURN_REFRESH && !strcmp(user, alloc_user)) {
		printf("refused %s\n", user);
		fflush(stdout);
		answer(&m, 401, NULL, from);
		return;
	} else if (method == TURN_REFRESH) {
		printf("renewed %s\n", user);
	}
	fflush(stdout);
	answer(&m, 0, key, from);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 1 };
	time_t end = time(NULL) + 20;
	uint8_t buf[STUN_MAX_MESSAGE];

	if (argc != 3 || sodium_init() < 0) {
		fprintf(stderr, "usage: turn_fake PORT SECRET\n");
		return 2;
	}
	secret = argv[2];
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((uint16_t)atoi(argv[1]));
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("turn_fake: bind");
		return 1;
	}
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	printf("ready\n");
	fflush(stdout);
	while (time(NULL) < end) {
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(sock, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);

		if (n > 0)
			handle(buf, (size_t)n, &from);
	}
	return 0;
}
