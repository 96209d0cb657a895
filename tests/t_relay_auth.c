/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay with tokens: a good token, a bad challenge signature, expired,
 * revoked, foreign, forged and misdirected tokens, no token, each refused with its
 * reason and counted; and a token revoked while its session is open (live reload).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "natlab/token.h"
#include "relay_harness.h"
#include "tap.h"

static struct rh_relay relay;
static struct identity issuer, foreign;
static char dir[] = "/tmp/t_relay_auth.XXXXXX", revoked_path[256];

static void make_token(char *out, const struct identity *by, const uint8_t peer[32], long ttl,
                       const char *id)
{
	struct token t;

	token_issue(&t, by, peer, (uint64_t)((long)time(NULL) + ttl), id);
	token_encode_text(&t, out, TOKEN_TEXT_MAX);
}

/* Connects a fresh client, presents a token made by make(), returns the handshake result. */
static int try_auth(const struct identity *by, long ttl, const char *id, int wrong_peer, int tamper)
{
	static struct rh_client c;
	char tok[TOKEN_TEXT_MAX];
	struct identity other;
	int rc;

	if (rh_client_connect(&c, relay.port, 0) < 0)
		return -ECONNREFUSED;
	identity_generate(&other);
	if (id)
		make_token(tok, by, wrong_peer ? other.pub : c.id.pub, ttl, id);
	rc = rh_client_handshake(&c, id ? tok : NULL, tamper, 2000);
	rh_client_close(&c);
	return rc;
}

static void write_file(const char *path, const char *text)
{
	char tmp[300];
	FILE *f;

	/* Replace atomically, as an operator's tooling would. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	fputs(text, f);
	fclose(f);
	rename(tmp, path);
}

static void test_refusals(void)
{
	char name[128];
	struct token t;
	static struct rh_client c;
	char tok[TOKEN_TEXT_MAX];
	int i;
	static const struct {
		const char *metric;
		int reason;
	} counted[] = {
		{ "bad_signature", RELAY_CLOSE_BAD_SIGNATURE },
		{ "no_token", RELAY_CLOSE_NO_TOKEN },
		{ "token_malformed", RELAY_CLOSE_TOKEN_MALFORMED },
		{ "token_foreign", RELAY_CLOSE_TOKEN_FOREIGN },
		{ "token_bad_signature", RELAY_CLOSE_TOKEN_BAD_SIGNATURE },
		{ "token_expired", RELAY_CLOSE_TOKEN_EXPIRED },
		{ "token_revoked", RELAY_CLOSE_TOKEN_REVOKED },
		{ "token_wrong_peer", RELAY_CLOSE_TOKEN_WRONG_PEER },
	};

	is_int(try_auth(&issuer, 60, "good-1", 0, 0), 0, "valid token accepted");
	is_int(try_auth(&issuer, 60, "good-2", 0, 1), RELAY_CLOSE_BAD_SIGNATURE,
	       "signature over the wrong challenge refused");
	is_int(try_auth(&issuer, 60, NULL, 0, 0), RELAY_CLOSE_NO_TOKEN, "no token refused");
	is_int(try_auth(&issuer, -10, "old-1", 0, 0), RELAY_CLOSE_TOKEN_EXPIRED,
	       "expired token refused");
	is_int(try_auth(&issuer, 60, "revoked-at-start", 0, 0), RELAY_CLOSE_TOKEN_REVOKED,
	       "revoked token refused");
	is_int(try_auth(&foreign, 60, "foreign-1", 0, 0), RELAY_CLOSE_TOKEN_FOREIGN,
	       "token from another issuer refused");
	is_int(try_auth(&issuer, 60, "misdirected", 1, 0), RELAY_CLOSE_TOKEN_WRONG_PEER,
	       "token for another key refused");

	/* A forged token: our issuer's name, a signature that is not its. */
	rh_client_connect(&c, relay.port, 0);
	token_issue(&t, &foreign, c.id.pub, (uint64_t)time(NULL) + 60, "forged");
	memcpy(t.issuer, issuer.pub, 32);
	token_encode_text(&t, tok, sizeof(tok));
	is_int(rh_client_handshake(&c, tok, 0, 2000), RELAY_CLOSE_TOKEN_BAD_SIGNATURE,
	       "forged token refused");
	rh_client_close(&c);

	/* Token bytes that do not parse: build the auth frame by hand. */
	{
		uint8_t frame[256], junk[10] = { 9, 9, 9 };
		struct relay_challenge ch;
		int len;

		rh_client_connect(&c, relay.port, 0);
		rh_client_recv(&c, 2000);
		relay_challenge_decode(&ch, c.f.payload, c.f.len);
		len =
		    relay_packet_encode(frame, sizeof(frame), RELAY_FRAME_AUTH, c.id.pub, NULL, 0);
		relay_auth_sign(&c.id, ch.nonce, junk, sizeof(junk), frame + len);
		frame[len + 64] = 0;
		frame[len + 65] = sizeof(junk);
		memcpy(frame + len + 66, junk, sizeof(junk));
		frame_header_write(frame, RELAY_FRAME_AUTH, 32 + 64 + 2 + sizeof(junk));
		rh_client_write(&c, frame, (size_t)len + 66 + sizeof(junk));
		is_int(rh_client_wait_closed(&c, 2000), RELAY_CLOSE_TOKEN_MALFORMED,
		       "unparsable token refused");
		rh_client_close(&c);
	}

	for (i = 0; i < (int)(sizeof(counted) / sizeof(counted[0])); i++) {
		snprintf(name, sizeof(name), "auth_refusals_total{reason=\"%s\"}",
		         counted[i].metric);
		is_int(rh_metric(relay.metrics_port, name), 1, counted[i].metric);
	}
	is_int(rh_metric(relay.metrics_port, "auth_ok_total"), 1, "one auth accepted");
}

static void test_live_revocation(void)
{
	static struct rh_client a, b;
	char tok[TOKEN_TEXT_MAX];
	long long t0, dt;
	int reason;

	rh_client_connect(&a, relay.port, 0);
	rh_client_connect(&b, relay.port, 0);
	make_token(tok, &issuer, a.id.pub, 60, "live-a");
	is_int(rh_client_handshake(&a, tok, 0, 2000), 0, "a in with token live-a");
	make_token(tok, &issuer, b.id.pub, 60, "live-b");
	is_int(rh_client_handshake(&b, tok, 0, 2000), 0, "b in with token live-b");
	write_file(revoked_path, "# revoked\nrevoked-at-start\nlive-a\n");
	t0 = rh_now_ms();
	reason = rh_client_wait_closed(&a, 2000);
	dt = rh_now_ms() - t0;
	is_int(reason, RELAY_CLOSE_TOKEN_REVOKED, "a closed: token revoked");
	ok(dt < 1000, "within 1 s of the file change (%lld ms)", dt);
	rh_client_send_packet(&b, b.id.pub, "self", 4);
	is_int(rh_client_expect(&b, RELAY_FRAME_RECV, 1000), 1, "b keeps its session");
	rh_client_close(&a);
	rh_client_close(&b);
}

/* The token subcommand's output is what clients pass as --token. */
static void test_cli_token(const char *issuer_path)
{
	static struct rh_client a;
	char cmd[1024], tok[TOKEN_TEXT_MAX + 2], pub[IDENTITY_PUB_TEXT_LEN + 1];
	FILE *p;

	rh_client_connect(&a, relay.port, 0);
	identity_pub_format(a.id.pub, pub);
	snprintf(cmd, sizeof(cmd),
	         "%s/natlab-relay token --issuer-key %s --peer %s --ttl 60 --id cli-1",
	         getenv("NATLAB_BIN"), issuer_path, pub);
	p = popen(cmd, "r");
	ok(p && fgets(tok, sizeof(tok), p), "natlab-relay token prints a token");
	is_int(p ? pclose(p) : -1, 0, "and exits 0");
	tok[strcspn(tok, "\n")] = '\0';
	is_int(rh_client_handshake(&a, tok, 0, 2000), 0, "the relay accepts it");
	rh_client_close(&a);
}

/* A session outlives nothing: its token's expiry closes it. */
static void test_expiry_during_session(void)
{
	static struct rh_client a;
	char tok[TOKEN_TEXT_MAX];
	long long t0 = rh_now_ms();

	rh_client_connect(&a, relay.port, 0);
	make_token(tok, &issuer, a.id.pub, 2, "short-lived");
	is_int(rh_client_handshake(&a, tok, 0, 2000), 0, "in with a 2 s token");
	is_int(rh_client_wait_closed(&a, 4500), RELAY_CLOSE_TOKEN_EXPIRED,
	       "closed when it expires");
	ok(rh_now_ms() - t0 >= 900 && rh_now_ms() - t0 < 4000, "after %lld ms", rh_now_ms() - t0);
	rh_client_close(&a);
}

int main(void)
{
	char issuer_path[256], pub_arg[300];
	const char *args[] = { "--issuer-key", pub_arg, "--revoked", revoked_path, NULL };
	int status;

	if (identity_generate(&issuer) < 0 || identity_generate(&foreign) < 0 || !mkdtemp(dir))
		tap_skip_all("cannot create keys");
	snprintf(issuer_path, sizeof(issuer_path), "%s/issuer", dir);
	snprintf(pub_arg, sizeof(pub_arg), "%s/issuer.pub", dir);
	snprintf(revoked_path, sizeof(revoked_path), "%s/revoked", dir);
	identity_save(&issuer, issuer_path);
	write_file(revoked_path, "revoked-at-start\n");
	if (rh_relay_start(&relay, args) < 0) {
		ok(0, "relay starts");
		return tap_done();
	}
	test_refusals();
	test_live_revocation();
	test_expiry_during_session();
	test_cli_token(issuer_path);
	status = rh_relay_stop(&relay, 5000);
	is_int(status, 0, "relay exits cleanly");
	unlink(issuer_path);
	unlink(pub_arg);
	unlink(revoked_path);
	rmdir(dir);
	return tap_done();
}
