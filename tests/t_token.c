/* SPDX-License-Identifier: MIT */
/* Identities, domain-separated signatures, tokens (binary and text) and relay messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "natlab/identity.h"
#include "natlab/relay_proto.h"
#include "natlab/token.h"
#include "tap.h"

static struct identity issuer, other_issuer, peer, other_peer;

static void test_identity_files(void)
{
	char dir[] = "/tmp/t_token.XXXXXX", path[256], pub_path[300],
	     text[IDENTITY_PUB_TEXT_LEN + 1];
	struct identity loaded;
	uint8_t pub[IDENTITY_PUB_LEN];

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(pub_path, sizeof(pub_path), "%s/key.pub", dir);
	is_int(identity_save(&issuer, path), 0, "save key");
	is_int(identity_save(&issuer, path), -EEXIST, "save refuses to overwrite");
	is_int(identity_load(&loaded, path), 0, "load key");
	ok(memcmp(loaded.pub, issuer.pub, 32) == 0 && memcmp(loaded.secret, issuer.secret, 64) == 0,
	   "loaded key equals saved key");
	is_int(identity_pub_load(pub, pub_path), 0, "load .pub");
	ok(memcmp(pub, issuer.pub, 32) == 0, ".pub holds the public key");
	identity_pub_format(issuer.pub, text);
	is_int((int)strlen(text), 64, "public key text is 64 hex chars");
	is_int(identity_pub_parse(pub, text), 0, "parse it back");
	is_int(identity_pub_parse(pub, "abcd"), -EINVAL, "short key refused");
	text[5] = 'z';
	is_int(identity_pub_parse(pub, text), -EINVAL, "non-hex key refused");
	is_int(identity_load(&loaded, "/nonexistent/key"), -ENOENT, "missing key file is -ENOENT");
	unlink(path);
	unlink(pub_path);
	rmdir(dir);
}

static void test_domain_separation(void)
{
	uint8_t sig[64];
	const uint8_t msg[] = "hello";

	is_int(identity_sign(&peer, "ctx-a", msg, 5, sig), 0, "sign");
	is_int(identity_verify(peer.pub, "ctx-a", msg, 5, sig), 0, "verifies under its context");
	is_int(identity_verify(peer.pub, "ctx-b", msg, 5, sig), -EPERM,
	       "fails under another context");
	is_int(identity_verify(peer.pub, "ctx-a", msg, 4, sig), -EPERM,
	       "fails for another message");
	is_int(identity_verify(other_peer.pub, "ctx-a", msg, 5, sig), -EPERM,
	       "fails for another key");
}

static void test_token_roundtrip(void)
{
	char text[TOKEN_TEXT_MAX];
	struct token t, back;
	uint8_t bin[TOKEN_BIN_MAX];
	int len;
	uint64_t now = (uint64_t)time(NULL);

	is_int(token_issue(&t, &issuer, peer.pub, now + 60, "tok-1"), 0, "issue");
	len = token_encode(&t, bin, sizeof(bin));
	is_int(len, 1 + 32 + 32 + 8 + 1 + 5 + 64, "binary length");
	is_int(token_decode(&back, bin, (size_t)len), 0, "decode binary");
	ok(memcmp(&back, &t, sizeof(t)) == 0, "binary round trip");
	is_int(token_decode(&back, bin, (size_t)len - 1), -EINVAL, "truncated token refused");
	bin[73] = 0;
	is_int(token_decode(&back, bin, (size_t)len), -EINVAL, "empty id refused");
	ok(token_encode_text(&t, text, sizeof(text)) > 0, "text encode");
	ok(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
	       strlen(text),
	   "text is base64url, safe as a CLI argument");
	is_int(token_decode_text(&back, text), 0, "text decode");
	ok(memcmp(&back, &t, sizeof(t)) == 0, "text round trip");
	is_int(token_decode_text(&back, "!!!"), -EINVAL, "garbage text refused");
	is_int(token_verify(&t, issuer.pub, now), TOKEN_OK, "valid token verifies");
	is_int(token_verify(&t, other_issuer.pub, now), TOKEN_FOREIGN, "other issuer: foreign");
	is_int(token_verify(&t, issuer.pub, now + 60), TOKEN_EXPIRED, "expired at expiry");
	back = t;
	back.expiry += 1000;
	is_int(token_verify(&back, issuer.pub, now), TOKEN_BAD_SIGNATURE,
	       "altered expiry: bad signature");
	back = t;
	back.peer[0] ^= 1;
	is_int(token_verify(&back, issuer.pub, now), TOKEN_BAD_SIGNATURE,
	       "altered peer: bad signature");
	is_int(token_issue(&t, &issuer, peer.pub, now, "bad id!"), -EINVAL,
	       "id with a space refused");
	ok(token_id_valid("a.b_c-D9"), "id charset");
	ok(!token_id_valid(""), "empty id invalid");
}

static void test_auth(void)
{
	struct relay_challenge c = { .version = 1, .flags = 1 }, c2;
	uint8_t frame[512], chal[64];
	char text[TOKEN_TEXT_MAX];
	struct relay_auth a;
	struct token t;
	int len;

	memset(c.nonce, 0x42, sizeof(c.nonce));
	len = relay_challenge_encode(chal, sizeof(chal), &c);
	is_int(len, 5 + 34, "challenge frame length");
	is_int(relay_challenge_decode(&c2, chal + 5, 34), 0, "challenge decode");
	ok(c2.flags == 1 && memcmp(c2.nonce, c.nonce, 32) == 0, "challenge round trip");
	is_int(relay_challenge_decode(&c2, chal + 5, 33), -EINVAL, "short challenge refused");

	token_issue(&t, &issuer, peer.pub, (uint64_t)time(NULL) + 60, "auth-tok");
	token_encode_text(&t, text, sizeof(text));
	len = relay_auth_build(frame, sizeof(frame), &peer, &c, text);
	ok(len > 0 && frame[0] == RELAY_FRAME_AUTH, "auth frame built");
	is_int(relay_auth_decode(&a, frame + 5, (size_t)len - 5), 0, "auth decode");
	is_int(relay_auth_verify(&a, c.nonce), 0, "signature verifies for our nonce");
	c2.nonce[0] ^= 1;
	is_int(relay_auth_verify(&a, c2.nonce), -EPERM, "not for another nonce (no replay)");
	frame[len - 1] ^= 1;
	is_int(relay_auth_verify(&a, c.nonce), -EPERM, "token bytes are covered by the signature");
	is_int(relay_auth_decode(&a, frame + 5, (size_t)len - 6), -EINVAL,
	       "length mismatch refused");
	len = relay_auth_build(frame, sizeof(frame), &peer, &c, NULL);
	is_int(len, 5 + 32 + 64 + 2, "auth without a token");
	is_int(relay_auth_build(frame, 50, &peer, &c, NULL), -ENOBUFS, "auth into a short buffer");
	is_int(relay_auth_build(frame, sizeof(frame), &peer, &c, "@@"), -EINVAL, "bad token text");
}

static void test_messages(void)
{
	struct relay_server_info
	    si = { 1, 65504, 256, 1000, 70000, 30000, 123456789012ull, 4194304 },
	    si2;
	uint8_t out[128], reason = 0;
	const uint8_t *key;
	struct relay_packet pkt;
	char text[16];
	uint32_t a, b;

	is_int(relay_server_info_encode(out, sizeof(out), &si), 5 + RELAY_SERVER_INFO_LEN,
	       "server info");
	is_int(relay_server_info_decode(&si2, out + 5, RELAY_SERVER_INFO_LEN), 0, "decode");
	ok(si2.version == 1 && si2.max_packet == 65504 && si2.queue_frames == 256 &&
	       si2.rate_bytes_per_sec == 1000 && si2.burst_bytes == 70000 &&
	       si2.keepalive_ms == 30000 && si2.token_expiry == 123456789012ull &&
	       si2.queue_bytes == 4194304,
	   "server info round trip");
	is_int(relay_server_info_decode(&si2, out + 5, RELAY_SERVER_INFO_MIN_LEN), 0,
	       "a 29-byte server info (no queue_bytes) still decodes");
	is_int(si2.queue_bytes, 0, "queue_bytes 0 when absent");
	is_int(relay_server_info_decode(&si2, out + 5, 28), -EINVAL, "28 bytes refused");
	is_int(relay_packet_encode(out, sizeof(out), RELAY_FRAME_SEND, peer.pub, "xyz", 3), 5 + 35,
	       "send");
	is_int(relay_packet_decode(&pkt, out + 5, 35), 0, "packet decode");
	ok(pkt.len == 3 && memcmp(pkt.data, "xyz", 3) == 0 && memcmp(pkt.key, peer.pub, 32) == 0,
	   "packet round trip");
	is_int(relay_packet_decode(&pkt, out + 5, 31), -EINVAL,
	       "packet shorter than a key refused");
	relay_peer_gone_encode(out, sizeof(out), peer.pub, RELAY_PEER_GONE_DISCONNECTED);
	is_int(relay_peer_gone_decode(&key, &reason, out + 5, 33), 0, "peer gone decode");
	is_int(reason, RELAY_PEER_GONE_DISCONNECTED, "peer gone reason");
	relay_restarting_encode(out, sizeof(out), 100, 2000);
	relay_restarting_decode(&a, &b, out + 5, 8);
	ok(a == 100 && b == 2000, "restarting round trip");
	is_int(relay_close_encode(out, sizeof(out), RELAY_CLOSE_OVERSIZED, "too big"), 5 + 8,
	       "close");
	is_int(relay_close_decode(&reason, text, 4, out + 5, 8), 0, "close decode");
	ok(reason == RELAY_CLOSE_OVERSIZED && !strcmp(text, "too"), "close text cut to the buffer");
	is_str(relay_close_reason_str(RELAY_CLOSE_TOKEN_REVOKED), "token_revoked", "reason names");
	is_str(relay_close_reason_str(200), "unknown", "unknown reason");
}

int main(void)
{
	if (identity_generate(&issuer) || identity_generate(&other_issuer) ||
	    identity_generate(&peer) || identity_generate(&other_peer))
		tap_skip_all("libsodium unavailable");
	test_identity_files();
	test_domain_separation();
	test_token_roundtrip();
	test_auth();
	test_messages();
	return tap_done();
}
