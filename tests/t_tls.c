/* SPDX-License-Identifier: MIT */
/*
 * The TLS wrapper (proto/tls.c) with a client and a server in one thread, bytes passed
 * by hand: certificates made and read back, fingerprints parsed in every accepted form
 * (and against the openssl command as an oracle), verification by pin and by CA file,
 * every refusal with its sentence, data both ways, clean close, garbage input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natlab/tls.h"
#include "tap.h"

static char dir[] = "/tmp/t_tls.XXXXXX";
static char cert[256], key[256], cert2[256], key2[256];
static uint8_t fp[TLS_FP_LEN], fp2[TLS_FP_LEN];

/* Moves pending ciphertext from one side to the other until both are quiet. */
static void pump(struct tls_conn *a, struct tls_conn *b)
{
	uint8_t buf[4096];
	size_t n;
	int moved = 1;

	while (moved) {
		moved = 0;
		while ((n = tls_conn_take(a, buf, sizeof(buf))) > 0) {
			tls_conn_feed(b, buf, n);
			moved = 1;
		}
		tls_conn_handshake(b);
		while ((n = tls_conn_take(b, buf, sizeof(buf))) > 0) {
			tls_conn_feed(a, buf, n);
			moved = 1;
		}
		tls_conn_handshake(a);
	}
}

static struct tls_ctx *server_ctx(void)
{
	struct tls_config cfg = { .role = TLS_ROLE_SERVER, .cert_file = cert, .key_file = key };
	struct tls_ctx *ctx = NULL;
	char err[TLS_ERR_MAX] = "";

	if (tls_ctx_new(&ctx, &cfg, err, sizeof(err)) < 0)
		tap_diag("server ctx: %s", err);
	return ctx;
}

/* A handshake between a client of cfg (named name) and our server: 1, or the error. */
static int try_client(const struct tls_config *cfg, const char *name, char *err, size_t errlen)
{
	struct tls_ctx *sctx = server_ctx(), *cctx = NULL;
	struct tls_conn *s = NULL, *c = NULL;
	int rc;

	rc = tls_ctx_new(&cctx, cfg, err, errlen);
	if (rc < 0)
		goto out;
	tls_conn_new(&s, sctx, NULL);
	rc = tls_conn_new(&c, cctx, name);
	if (rc < 0)
		goto out;
	pump(c, s);
	rc = tls_conn_handshake(c);
	snprintf(err, errlen, "%s", tls_conn_error(c));
out:
	tls_conn_free(c);
	tls_conn_free(s);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	return rc;
}

static void test_cert_files(void)
{
	uint8_t again[TLS_FP_LEN], other[TLS_FP_LEN];
	char err[TLS_ERR_MAX] = "";
	struct stat st;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(cert, sizeof(cert), "%s/relay.crt", dir);
	snprintf(key, sizeof(key), "%s/relay.key", dir);
	snprintf(cert2, sizeof(cert2), "%s/other.crt", dir);
	snprintf(key2, sizeof(key2), "%s/other.key", dir);
	is_int(tls_cert_make(cert, key, "127.0.0.1,relay.test", 30, fp, err, sizeof(err)), 0,
	       "make a self-signed pair");
	is_int(tls_cert_make(cert2, key2, "127.0.0.1", 30, fp2, err, sizeof(err)), 0,
	       "make another pair");
	ok(memcmp(fp, fp2, TLS_FP_LEN) != 0, "two pairs have different fingerprints");
	memset(&st, 0, sizeof(st));
	stat(key, &st);
	is_int(st.st_mode & 0777, 0600, "key file is mode 0600");
	is_int(tls_cert_make(cert, key, "127.0.0.1", 30, other, err, sizeof(err)), -EEXIST,
	       "an existing pair is never overwritten");
	ok(strstr(err, "never overwritten") != NULL, "and the error says so: %s", err);
	is_int(tls_cert_fp(cert, again, err, sizeof(err)), 0, "read the fingerprint back");
	ok(memcmp(again, fp, TLS_FP_LEN) == 0, "it is the one tls_cert_make returned");
	is_int(tls_cert_fp(key, again, err, sizeof(err)), -EINVAL, "a key file is no certificate");
	ok(strstr(err, key) != NULL, "the error names the file: %s", err);
	is_int(tls_cert_make(cert2, key2, "bad name!", 30, other, err, sizeof(err)), -EINVAL,
	       "a name with a space and '!' is refused");
	is_int(tls_cert_make(cert2, key2, "127.0.0.1", 0, other, err, sizeof(err)), -EINVAL,
	       "0 days is refused");
}

static void test_fp_text(void)
{
	char text[TLS_FP_TEXT_LEN + 1], upper[200], cmd[600], line[300];
	uint8_t got[TLS_FP_LEN];
	FILE *p;
	size_t i, o = 0;

	tls_fp_format(fp, text);
	is_int((int)strlen(text), 64, "fingerprint text is 64 characters");
	is_int(tls_fp_parse(got, text), 0, "parse plain hex");
	ok(memcmp(got, fp, TLS_FP_LEN) == 0, "round trip");
	for (i = 0; i < 64; i += 2) {
		o += (size_t)snprintf(upper + o, sizeof(upper) - o, "%s%c%c", i ? ":" : "",
		                      text[i] >= 'a' ? text[i] - 32 : text[i],
		                      text[i + 1] >= 'a' ? text[i + 1] - 32 : text[i + 1]);
	}
	memset(got, 0, sizeof(got));
	is_int(tls_fp_parse(got, upper), 0, "parse AB:CD:... form");
	ok(memcmp(got, fp, TLS_FP_LEN) == 0, "same value");
	is_int(tls_fp_parse(got, "abcd"), -EINVAL, "short refused");
	text[10] = 'g';
	is_int(tls_fp_parse(got, text), -EINVAL, "non-hex refused");
	upper[5] = '-';
	is_int(tls_fp_parse(got, upper), -EINVAL, "mixed separators refused");
	/* The openssl command as the oracle for what a user would copy. */
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -fingerprint -sha256 2>/dev/null",
	         cert);
	p = popen(cmd, "r");
	if (p && fgets(line, sizeof(line), p)) {
		memset(got, 0, sizeof(got));
		is_int(tls_fp_parse(got, line), 0, "parse openssl x509 -fingerprint output");
		ok(memcmp(got, fp, TLS_FP_LEN) == 0, "openssl agrees on the fingerprint");
	} else {
		ok(1, "# SKIP no openssl command");
		ok(1, "# SKIP no openssl command");
	}
	if (p)
		pclose(p);
}

static void test_ctx_errors(void)
{
	struct tls_config srv = { .role = TLS_ROLE_SERVER, .cert_file = cert, .key_file = key2 };
	struct tls_config cli = { .role = TLS_ROLE_CLIENT };
	struct tls_ctx *ctx = NULL;
	char err[TLS_ERR_MAX] = "";

	is_int(tls_ctx_new(&ctx, &srv, err, sizeof(err)), -EINVAL, "key of another pair refused");
	ok(strstr(err, "does not match") != NULL, "error: %s", err);
	srv.key_file = "/nonexistent.key";
	is_int(tls_ctx_new(&ctx, &srv, err, sizeof(err)), -EINVAL, "missing key file refused");
	ok(strstr(err, "/nonexistent.key") != NULL, "error names it: %s", err);
	srv.cert_file = key;
	srv.key_file = key;
	is_int(tls_ctx_new(&ctx, &srv, err, sizeof(err)), -EINVAL, "a key as certificate refused");
	is_int(tls_ctx_new(&ctx, &cli, err, sizeof(err)), -EINVAL, "client without CA nor pin");
	ok(strstr(err, "unverified") != NULL, "error: %s", err);
	cli.pin = "12:34";
	is_int(tls_ctx_new(&ctx, &cli, err, sizeof(err)), -EINVAL, "bad pin refused");
	ok(strstr(err, "64 hex digits") != NULL, "error: %s", err);
	cli.pin = NULL;
	cli.ca_file = "/nonexistent.crt";
	is_int(tls_ctx_new(&ctx, &cli, err, sizeof(err)), -EINVAL, "missing CA file refused");
	ok(ctx == NULL, "nothing returned on failure");
}

static void test_verification(void)
{
	char pin[TLS_FP_TEXT_LEN + 1], pin2[TLS_FP_TEXT_LEN + 1], err[TLS_ERR_MAX];
	struct tls_config cli = { .role = TLS_ROLE_CLIENT };

	tls_fp_format(fp, pin);
	tls_fp_format(fp2, pin2);
	cli.pin = pin;
	is_int(try_client(&cli, "127.0.0.1", err, sizeof(err)), 1, "pinned: established");
	cli.pin = pin2;
	is_int(try_client(&cli, "127.0.0.1", err, sizeof(err)), -EKEYREJECTED,
	       "another pin: refused");
	ok(strstr(err, "not the pinned") && strstr(err, pin) && strstr(err, pin2),
	   "the error shows both fingerprints: %s", err);
	cli.pin = NULL;
	cli.ca_file = cert;
	is_int(try_client(&cli, "127.0.0.1", err, sizeof(err)), 1, "CA file, IP name: established");
	is_int(try_client(&cli, "relay.test", err, sizeof(err)), 1,
	       "CA file, DNS name: established");
	is_int(try_client(&cli, "10.9.9.9", err, sizeof(err)), -EKEYREJECTED,
	       "CA file, an IP the certificate does not name: refused");
	ok(strstr(err, "mismatch") && strstr(err, cert), "error: %s", err);
	cli.ca_file = cert2;
	is_int(try_client(&cli, "127.0.0.1", err, sizeof(err)), -EKEYREJECTED,
	       "another CA: refused");
	ok(strstr(err, "CA file") != NULL, "error: %s", err);
	cli.ca_file = cert;
	cli.pin = pin2;
	is_int(try_client(&cli, "127.0.0.1", err, sizeof(err)), -EKEYREJECTED,
	       "CA right but pin wrong: refused (both must hold)");
}

static void test_data(void)
{
	char pin[TLS_FP_TEXT_LEN + 1];
	struct tls_config cc = { .role = TLS_ROLE_CLIENT, .pin = pin };
	struct tls_ctx *sctx = server_ctx(), *cctx = NULL;
	struct tls_conn *s = NULL, *c = NULL;
	size_t big = 200000, got = 0;
	uint8_t *msg = malloc(big), *back = malloc(big), peer_fp[TLS_FP_LEN];
	size_t i;
	int n, rc;

	tls_fp_format(fp, pin);
	tls_ctx_new(&cctx, &cc, NULL, 0);
	tls_conn_new(&s, sctx, NULL);
	tls_conn_new(&c, cctx, "127.0.0.1");
	ok(tls_conn_pending(c) > 0, "client hello pending at once");
	is_int(tls_conn_write(c, "x", 1), -EAGAIN, "write before the handshake: -EAGAIN");
	/* The contexts may go before their connections. */
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
	pump(c, s);
	ok(tls_conn_established(c) && tls_conn_established(s), "both established");
	is_str(tls_conn_version(c), "TLSv1.3", "TLS 1.3");
	is_int(tls_conn_peer_fp(c, peer_fp), 0, "client sees the server certificate");
	ok(memcmp(peer_fp, fp, TLS_FP_LEN) == 0, "its fingerprint");
	is_int(tls_conn_peer_fp(s, peer_fp), -ENOENT, "server got no client certificate");
	for (i = 0; i < big; i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	is_int(tls_conn_write(c, msg, big), 0, "write 200000 bytes at once");
	ok(tls_conn_pending(c) > big, "all of it encrypted and pending (%zu)", tls_conn_pending(c));
	is_int(tls_conn_trim(c), 0, "bytes waiting: no trim");
	pump(c, s);
	is_int(tls_conn_trim(s), 0, "bytes to read: no trim");
	while ((n = tls_conn_read(s, back + got, big - got)) > 0)
		got += (size_t)n;
	is_int((long long)got, (long long)big, "server read all of it");
	ok(memcmp(msg, back, big) == 0, "byte for byte");
	is_int(tls_conn_read(s, back, 10), 0, "nothing more: 0");
	is_int(tls_conn_trim(s), 1, "server idle: its network buffers go");
	is_int(tls_conn_trim(c), 1, "client idle: its network buffers go");
	is_int(tls_conn_trim(c), 1, "and again");
	is_int(tls_conn_write(s, "pong", 4), 0, "server writes");
	pump(s, c);
	memset(back, 0, 8);
	is_int(tls_conn_read(c, back, 8), 4, "client reads 4 bytes");
	ok(memcmp(back, "pong", 4) == 0, "pong");
	is_int(tls_conn_shutdown(c), 0, "client closes");
	pump(c, s);
	is_int(tls_conn_read(s, back, 8), -EPIPE, "server sees the clean close");
	tls_conn_free(c);
	tls_conn_free(s);
	/* A plain relay client speaking frames at a TLS port. */
	sctx = server_ctx();
	tls_conn_new(&s, sctx, NULL);
	tls_conn_feed(s, "\x02\x00\x00\x00\x05hello", 10);
	rc = tls_conn_read(s, back, 8);
	is_int(rc, -EPROTO, "plaintext at a TLS server: -EPROTO");
	ok(strstr(tls_conn_error(s), "failed") != NULL, "error: %s", tls_conn_error(s));
	tls_conn_free(s);
	tls_ctx_free(sctx);
	tls_conn_free(NULL);
	tls_ctx_free(NULL);
	free(msg);
	free(back);
}

int main(void)
{
	test_cert_files();
	test_fp_text();
	test_ctx_errors();
	test_verification();
	test_data();
	unlink(cert);
	unlink(key);
	unlink(cert2);
	unlink(key2);
	rmdir(dir);
	return tap_done();
}
