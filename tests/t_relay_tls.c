/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay's TLS port and session byte cap: clients on the TLS port and on the
 * plain port reach each other (one key table); a client pinning another certificate
 * is refused by its own check; plaintext at the TLS port and a silent TLS client are
 * closed and counted; a stalled TLS receiver still loses whole frames only (the stream
 * stays decodable); bad TLS options stop the relay with a clear message; a session
 * that relays more than --byte-cap is closed with CLOSE byte_cap, on either port; bursts
 * of small frames to a TLS client (batched, sealed together) arrive whole and in order,
 * and --frame-cost charges frames read over TLS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "relay_harness.h"
#include "tap.h"

static char dir[] = "/tmp/t_relay_tls.XXXXXX", cert[256], key[256], other_cert[256], other_key[256];
static uint8_t fp[TLS_FP_LEN], other_fp[TLS_FP_LEN];
static struct tls_ctx *pinned, *ca, *wrong;

/* A client on the TLS port with its handshake done. */
static struct rh_client *tls_client_new(struct rh_relay *r, int rcvbuf)
{
	struct rh_client *c = rh_client_new(r->tls_port, rcvbuf);

	if (rh_client_tls(c, pinned, "127.0.0.1", 3000) != 1) {
		tap_diag("TLS handshake with the relay failed");
		exit(1);
	}
	return c;
}

static struct tls_ctx *client_ctx(const char *ca_file, const uint8_t *pin)
{
	char text[TLS_FP_TEXT_LEN + 1], err[TLS_ERR_MAX];
	struct tls_config cfg = { .role = TLS_ROLE_CLIENT, .ca_file = ca_file };
	struct tls_ctx *ctx = NULL;

	if (pin) {
		tls_fp_format(pin, text);
		cfg.pin = text;
	}
	if (tls_ctx_new(&ctx, &cfg, err, sizeof(err)) < 0) {
		tap_diag("client ctx: %s", err);
		exit(1);
	}
	return ctx;
}

static void test_forwarding(struct rh_relay *r)
{
	struct rh_client *a = tls_client_new(r, 0), *b = rh_client_new(r->port, 0),
	                 *c = rh_client_new(r->tls_port, 0);
	static uint8_t big[60000];
	size_t i;

	is_int(rh_client_handshake(a, NULL, 0, 2000), 0, "TLS client authenticated");
	is_int(rh_client_handshake(b, NULL, 0, 2000), 0, "plain client authenticated");
	is_int(rh_client_tls(c, ca, "127.0.0.1", 3000), 1, "a client verifying by CA file");
	is_int(rh_client_handshake(c, NULL, 0, 2000), 0, "and authenticated");
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	rh_client_send_packet(a, b->id.pub, big, sizeof(big));
	is_int(rh_client_expect(b, RELAY_FRAME_RECV, 2000), 1, "TLS -> plain: delivered");
	ok(b->f.len == 32 + sizeof(big) && memcmp(b->f.payload + 32, big, sizeof(big)) == 0,
	   "60000 bytes intact (%u)", b->f.len);
	rh_client_send_packet(b, c->id.pub, "hi", 2);
	is_int(rh_client_expect(c, RELAY_FRAME_RECV, 2000), 1, "plain -> TLS: delivered");
	ok(c->f.len == 34 && memcmp(c->f.payload, b->id.pub, 32) == 0 &&
	       memcmp(c->f.payload + 32, "hi", 2) == 0,
	   "from the plain client's key");
	rh_client_send_packet(c, a->id.pub, big, sizeof(big));
	is_int(rh_client_expect(a, RELAY_FRAME_RECV, 2000), 1, "TLS -> TLS: delivered");
	ok(a->f.len == 32 + sizeof(big) && memcmp(a->f.payload + 32, big, sizeof(big)) == 0,
	   "intact");
	ok(rh_metric(r->metrics_port, "tls_handshakes_total") >= 2, "handshakes counted (%lld)",
	   rh_metric(r->metrics_port, "tls_handshakes_total"));
	rh_client_free(a);
	rh_client_free(b);
	rh_client_free(c);
}

static void test_refusals(struct rh_relay *r)
{
	struct rh_client *c = rh_client_new(r->tls_port, 0);
	long long before = rh_metric(r->metrics_port, "tls_failures_total"), after;
	uint8_t hs[] = { 2, 0, 0, 0, 0 };
	int rc;

	rc = rh_client_tls(c, wrong, "127.0.0.1", 3000);
	is_int(rc, -EKEYREJECTED, "pinning another certificate: refused by the client");
	ok(strstr(tls_conn_error(c->tls), "not the pinned") != NULL, "why: %s",
	   tls_conn_error(c->tls));
	rh_client_free(c);
	c = rh_client_new(r->tls_port, 0);
	is_int(rh_client_tls(c, ca, "10.1.2.3", 3000), -EKEYREJECTED,
	       "CA file, relay reached by a name the certificate lacks: refused");
	rh_client_free(c);
	/* A plain relay client at the TLS port: its AUTH-shaped bytes are no ClientHello. */
	c = rh_client_new(r->tls_port, 0);
	rh_client_write(c, hs, sizeof(hs));
	is_int(rh_client_wait_closed(c, 2000), 0, "plaintext at the TLS port: closed");
	rh_client_free(c);
	usleep(100000);
	after = rh_metric(r->metrics_port, "tls_failures_total");
	ok(after >= before + 2, "TLS failures counted (%lld -> %lld)", before, after);
	/* Silent on the TLS port: the handshake timeout covers the TLS handshake. */
	c = rh_client_new(r->tls_port, 0);
	rc = rh_client_wait_closed(c, 3000);
	ok(rc == 0, "a silent client is closed by the handshake timeout (%d)", rc);
	rh_client_free(c);
}

/* A TLS receiver that does not read: whole frames are dropped before sealing. */
static void test_stalled_receiver(struct rh_relay *r)
{
	struct rh_client *a = tls_client_new(r, 0), *b = tls_client_new(r, 4096);
	static uint8_t data[16384];
	long long drops;
	int i, rc = 0, got = 0;

	rh_client_handshake(a, NULL, 0, 2000);
	rh_client_handshake(b, NULL, 0, 2000);
	for (i = 0; i < 1500 && rc == 0; i++)
		rc = rh_client_send_packet(a, b->id.pub, data, sizeof(data));
	is_int(rc, 0, "the TLS sender is never blocked by the stalled receiver");
	usleep(300000);
	drops = rh_metric(r->metrics_port, "drops_total{reason=\"queue_full\"}");
	ok(drops > 0, "oldest frames dropped (%lld)", drops);
	/* Now read: every frame that arrives decodes (no record was cut). */
	while ((rc = rh_client_recv(b, 500)) == 1)
		if (b->f.type == RELAY_FRAME_RECV && b->f.len == 32 + sizeof(data))
			got++;
	is_int(rc, 0, "the stream stays valid to its end (no error)");
	ok(got > 0 && got < 1500, "received %d whole frames, the rest dropped", got);
	rh_client_free(a);
	rh_client_free(b);
}

static void test_byte_cap(void)
{
	static const char *const args[] = { "--no-auth",   "--byte-cap", "100000", "--tls-listen",
		                            "127.0.0.1:0", "--tls-cert", cert,     "--tls-key",
		                            key,           NULL };
	struct rh_relay r;
	struct rh_client *a, *b, *c;
	static uint8_t data[10000];
	int i, rc;

	if (rh_relay_start(&r, args) < 0) {
		ok(0, "relay with --byte-cap starts");
		return;
	}
	a = tls_client_new(&r, 0);
	b = rh_client_new(r.port, 0);
	c = rh_client_new(r.port, 0);
	rh_client_handshake(a, NULL, 0, 2000);
	rh_client_handshake(b, NULL, 0, 2000);
	rh_client_handshake(c, NULL, 0, 2000);
	/* 10 x 10000 = the cap exactly: all delivered. */
	for (i = 0; i < 10; i++)
		rh_client_send_packet(a, b->id.pub, data, sizeof(data));
	for (i = 0, rc = 1; i < 10 && rc == 1; i++)
		rc = rh_client_expect(b, RELAY_FRAME_RECV, 2000);
	is_int(i, 10, "up to the cap: 10 packets of 10000 bytes delivered");
	rh_client_send_packet(a, b->id.pub, data, 1);
	is_int(rh_client_wait_closed(a, 2000), RELAY_CLOSE_BYTE_CAP,
	       "one byte more: the TLS sender's session is closed with byte_cap");
	ok(strstr(a->close_text, "100001") && strstr(a->close_text, "100000"),
	   "the text says how much and the cap: %s", a->close_text);
	/* b received 100000 already: the next byte to it closes b, and c is not charged. */
	rh_client_send_packet(c, b->id.pub, data, 5);
	is_int(rh_client_wait_closed(b, 2000), RELAY_CLOSE_BYTE_CAP,
	       "a receiver over the cap is closed too (plain port)");
	rh_client_send_packet(c, c->id.pub, "me", 2);
	is_int(rh_client_expect(c, RELAY_FRAME_RECV, 2000), 1, "the third session goes on");
	is_int(rh_metric(r.metrics_port, "closes_total{reason=\"byte_cap\"}"), 2,
	       "closes_total{reason=\"byte_cap\"} is 2");
	rh_client_free(a);
	rh_client_free(b);
	rh_client_free(c);
	rh_relay_stop(&r, 3000);
}

/* Runs natlab-relay with args and returns its exit status; its stderr goes to errfile. */
static int relay_exit(const char *const *args, const char *errfile)
{
	const char *bin_dir = getenv("NATLAB_BIN");
	char bin[4096];
	const char *argv[32];
	int n = 0, status;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/natlab-relay", bin_dir);
	argv[n++] = bin;
	while (*args && n < 30)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		dup2(fd, 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_bad_options(void)
{
	char errfile[300], *text;
	const char *no_key[] = { "--listen",    "127.0.0.1:0", "--no-auth", "--tls-listen",
		                 "127.0.0.1:0", "--tls-cert",  cert,        NULL };
	const char *mismatch[] = { "--listen",    "127.0.0.1:0", "--no-auth", "--tls-listen",
		                   "127.0.0.1:0", "--tls-cert",  cert,        "--tls-key",
		                   other_key,     NULL };
	const char *cap[] = { "--listen", "127.0.0.1:0", "--no-auth", "--byte-cap", "-5", NULL };

	snprintf(errfile, sizeof(errfile), "%s/err", dir);
	is_int(relay_exit(no_key, errfile), 2, "--tls-listen without --tls-key: usage error");
	text = tap_slurp(errfile);
	ok(text && strstr(text, "go together"), "says which options go together");
	free(text);
	is_int(relay_exit(mismatch, errfile), 1, "a key that is not the certificate's: exit 1");
	text = tap_slurp(errfile);
	ok(text && strstr(text, "does not match") && strstr(text, other_key),
	   "names the key file: %s", text ? text : "");
	free(text);
	is_int(relay_exit(cap, errfile), 2, "--byte-cap -5: usage error");
	unlink(errfile);
}

/* A relay with a TLS port and extra options (NULL-terminated, at most 8). */
static int tls_relay_start(struct rh_relay *r, const char *const *extra)
{
	const char *args[16] = { "--no-auth",  "--tls-listen", "127.0.0.1:0",
		                 "--tls-cert", cert,           "--tls-key",
		                 key };
	size_t n = 7;

	while (*extra && n < 15)
		args[n++] = *extra++;
	args[n] = NULL;
	return rh_relay_start(r, args);
}

/*
 * Small frames to a TLS client go through the batched write path: a burst of 2000 PONGs
 * and of 2000 one-byte RECVs (queued together, sealed together) all arrive whole and in
 * order; and every frame read over TLS is charged --frame-cost as on the plain port
 * (300 PINGs, each alone in its record, at 1000 bytes each and 100 kB/s: paused).
 */
static void test_small_frames(void)
{
	static const char *const fast[] = { "--rate", "0", NULL };
	static const char *const costly[] = { "--rate",       "100000", "--burst", "70000",
		                              "--frame-cost", "1000",   NULL };
	uint8_t ping[FRAME_HEADER_LEN + RELAY_PING_LEN], pdata[RELAY_PING_LEN] = { 0 };
	static uint8_t burst[2000 * sizeof(ping)], sends[2000 * 38];
	struct rh_client *a, *b;
	int i, got = 0, order = 1, limited = 0;
	size_t slen = 0;
	struct rh_relay r;
	long long t0, dt;

	relay_ping_encode(ping, sizeof(ping), RELAY_FRAME_PING, pdata);
	for (i = 0; i < 2000; i++)
		memcpy(burst + (size_t)i * sizeof(ping), ping, sizeof(ping));
	if (tls_relay_start(&r, fast) < 0) {
		ok(0, "relay starts");
		return;
	}
	a = tls_client_new(&r, 0);
	b = tls_client_new(&r, 0);
	rh_client_handshake(a, NULL, 0, 2000);
	rh_client_handshake(b, NULL, 0, 2000);
	rh_client_write(a, burst, sizeof(burst));
	while (got < 2000 && rh_client_recv(a, 3000) == 1)
		got += a->f.type == RELAY_FRAME_PONG;
	is_int(got, 2000, "TLS: 2000 PINGs in one write, 2000 PONGs");
	for (i = 0; i < 2000; i++) {
		uint8_t v = (uint8_t)i;

		slen += (size_t)relay_packet_encode(sends + slen, 38, RELAY_FRAME_SEND, b->id.pub,
		                                    &v, 1);
	}
	rh_client_write(a, sends, slen);
	for (got = 0; got < 2000 && rh_client_recv(b, 3000) == 1; got++)
		order &= b->f.type == RELAY_FRAME_RECV && b->f.len == 33 &&
		         b->f.payload[32] == (uint8_t)got;
	is_int(got, 2000, "TLS: 2000 one-byte SENDs, 2000 RECVs");
	ok(order, "whole and in order");
	is_int(rh_metric(r.metrics_port, "drops_total{reason=\"queue_full\"}"), 0,
	       "nothing dropped");
	rh_client_free(a);
	rh_client_free(b);
	is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");

	if (tls_relay_start(&r, costly) < 0) {
		ok(0, "relay starts");
		return;
	}
	a = tls_client_new(&r, 0);
	rh_client_handshake(a, NULL, 0, 2000);
	t0 = rh_now_ms();
	for (i = got = 0; i < 300; i++) {
		rh_client_write(a, ping, sizeof(ping));
		while (rh_client_recv(a, 6000) == 1 && a->f.type != RELAY_FRAME_PONG)
			limited += a->f.type == RELAY_FRAME_STATUS &&
			           a->f.payload[0] == RELAY_STATUS_RATE_LIMITED;
		got += a->f.type == RELAY_FRAME_PONG;
	}
	dt = rh_now_ms() - t0;
	is_int(got, 300, "TLS: every PING answered");
	ok(limited > 0, "TLS: --frame-cost charged, rate_limited received (%d)", limited);
	ok(dt >= 1500 && dt < 6000, "300 PINGs at 1000 bytes each, 100 kB/s: %lld ms", dt);
	rh_client_free(a);
	is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
}

int main(void)
{
	static const char *args[] = {
		"--no-auth", "--tls-listen",        "127.0.0.1:0", "--tls-cert", cert, "--tls-key",
		key,         "--handshake-timeout", "1000",        "--queue",    "64", NULL
	};
	char err[TLS_ERR_MAX];
	struct rh_relay r;

	if (!getenv("NATLAB_BIN"))
		tap_skip_all("NATLAB_BIN unset: run under ctest");
	identity_init();
	if (!mkdtemp(dir))
		tap_skip_all("no temp dir");
	snprintf(cert, sizeof(cert), "%s/relay.crt", dir);
	snprintf(key, sizeof(key), "%s/relay.key", dir);
	snprintf(other_cert, sizeof(other_cert), "%s/other.crt", dir);
	snprintf(other_key, sizeof(other_key), "%s/other.key", dir);
	if (tls_cert_make(cert, key, "127.0.0.1", 2, fp, err, sizeof(err)) < 0 ||
	    tls_cert_make(other_cert, other_key, "127.0.0.1", 2, other_fp, err, sizeof(err)) < 0) {
		tap_diag("%s", err);
		return 1;
	}
	pinned = client_ctx(NULL, fp);
	ca = client_ctx(cert, NULL);
	wrong = client_ctx(NULL, other_fp);
	if (rh_relay_start(&r, args) < 0 || !r.tls_port) {
		ok(0, "relay with --tls-listen starts and reports tls_listen");
		return tap_done();
	}
	ok(r.tls_port && r.tls_port != r.port, "TLS port %u next to the plain port %u", r.tls_port,
	   r.port);
	test_forwarding(&r);
	test_refusals(&r);
	test_stalled_receiver(&r);
	is_int(rh_relay_stop(&r, 5000), 0, "relay drains and exits 0");
	test_byte_cap();
	test_small_frames();
	test_bad_options();
	tls_ctx_free(pinned);
	tls_ctx_free(ca);
	tls_ctx_free(wrong);
	unlink(cert);
	unlink(key);
	unlink(other_cert);
	unlink(other_key);
	rmdir(dir);
	return tap_done();
}
