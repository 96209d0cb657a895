/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay's live auth management: the revocation list fails closed (missing,
 * a directory, /dev/zero, a FIFO, too large: new sessions refused with /healthz and
 * the log saying why, open sessions kept, no hang), several issuer keys from a key
 * directory reloaded live, revoking a key (removed, or "key:" in the revocation
 * file) closes its sessions within 1 s, and auth switched off and on by signal
 * affects new handshakes only; a second AUTH on an open session renews its token.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "natlab/token.h"
#include "relay_harness.h"
#include "tap.h"

static char dir[] = "/tmp/t_relay_live_auth.XXXXXX";
static char keydir[300], revoked_path[300], log_path[300];
static struct identity k1, k2, k3, k4;

static void write_file(const char *path, const char *text)
{
	char tmp[400];
	FILE *f;

	/* Replace atomically, as an operator's tooling would. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0)
		tap_diag("writing %s failed: %s", path, strerror(errno));
}

static void write_pub(const char *name, const struct identity *a, const struct identity *b)
{
	char path[400], text[200], pa[IDENTITY_PUB_TEXT_LEN + 1], pb[IDENTITY_PUB_TEXT_LEN + 1];

	identity_pub_format(a->pub, pa);
	if (b)
		identity_pub_format(b->pub, pb);
	snprintf(text, sizeof(text), "# test keys\n%s\n%s%s", pa, b ? pb : "", b ? "\n" : "");
	snprintf(path, sizeof(path), "%s/%s", keydir, name);
	write_file(path, text);
}

static void make_token(char *out, const struct identity *by, const uint8_t peer[32], long ttl,
                       const char *id)
{
	struct token t;

	token_issue(&t, by, peer, (uint64_t)((long)time(NULL) + ttl), id);
	token_encode_text(&t, out, TOKEN_TEXT_MAX);
}

/* A fresh client with a token from `by` (NULL: none); returns the handshake result and
 * leaves the client open in *c. */
static int join(struct rh_client *c, uint16_t port, const struct identity *by, const char *id)
{
	char tok[TOKEN_TEXT_MAX];

	if (rh_client_connect(c, port, 0) < 0)
		return -ECONNREFUSED;
	if (by)
		make_token(tok, by, c->id.pub, 60, id);
	return rh_client_handshake(c, by ? tok : NULL, 0, 2000);
}

static int try_join(uint16_t port, const struct identity *by, const char *id)
{
	static struct rh_client c;
	int rc = join(&c, port, by, id);

	rh_client_close(&c);
	return rc;
}

/* Retries until the handshake result is want (the relay polls every 200 ms). */
static int join_until(uint16_t port, const struct identity *by, const char *id, int want,
                      int timeout_ms)
{
	long long deadline = rh_now_ms() + timeout_ms;
	int rc;

	do {
		rc = try_join(port, by, id);
		if (rc == want)
			return rc;
		usleep(50000);
	} while (rh_now_ms() < deadline);
	return rc;
}

/* Whether a session still forwards: a packet to itself comes back. */
static int served(struct rh_client *c)
{
	rh_client_send_packet(c, c->id.pub, "self", 4);
	return rh_client_expect(c, RELAY_FRAME_RECV, 1000) == 1;
}

/* GET /healthz within 1 s; returns the status, body in body. */
static int healthz(uint16_t port, char *body, size_t cap, long long *ms)
{
	long long t0 = rh_now_ms();
	int st = rh_http_get(port, "/healthz", body, cap);

	*ms = rh_now_ms() - t0;
	return st;
}

static int log_has(const char *needle)
{
	char *text = tap_slurp(log_path);
	int found = text && strstr(text, needle);

	free(text);
	return found;
}

static void test_fail_closed(struct rh_relay *r)
{
	static struct rh_client a;
	char body[1024], big_path[400], fifo_path[400];
	long long ms;
	int st;
	FILE *f;

	/* Started with the revocation file missing. */
	is_int(try_join(r->port, &k1, "t1"), RELAY_CLOSE_SERVER_FULL,
	       "missing revocation file: new session refused (server_full)");
	st = healthz(r->metrics_port, body, sizeof(body), &ms);
	is_int(st, 503, "/healthz 503 while the list is missing");
	ok(strstr(body, "revocation file") && strstr(body, "no such file"), "/healthz says why: %s",
	   body);
	ok(log_has("refusing new sessions"), "the log says so");
	is_int(rh_metric(r->metrics_port, "auth_lists_failed"), 1, "auth_lists_failed 1");

	write_file(revoked_path, "# none yet\n");
	is_int(join_until(r->port, &k1, "t2", 0, 2000), 0, "list written: sessions accepted");
	st = healthz(r->metrics_port, body, sizeof(body), &ms);
	is_int(st, 200, "/healthz ok again");
	is_int(join(&a, r->port, &k1, "open-a"), 0, "session a open");

	unlink(revoked_path);
	mkdir(revoked_path, 0700);
	is_int(join_until(r->port, &k1, "t3", RELAY_CLOSE_SERVER_FULL, 2000),
	       RELAY_CLOSE_SERVER_FULL, "a directory as the list: refused");
	st = healthz(r->metrics_port, body, sizeof(body), &ms);
	ok(st == 503 && strstr(body, "directory"), "/healthz: %d %s", st, body);
	ok(served(&a), "open session a kept");
	rmdir(revoked_path);

	if (symlink("/dev/zero", revoked_path) < 0)
		tap_diag("symlink: %s", strerror(errno));
	usleep(500000);
	st = healthz(r->metrics_port, body, sizeof(body), &ms);
	ok(st == 503 && strstr(body, "not a regular file") && ms < 1000,
	   "/dev/zero as the list: /healthz answers in %lld ms: %d %s", ms, st, body);
	is_int(try_join(r->port, &k1, "t4"), RELAY_CLOSE_SERVER_FULL, "and new sessions refused");
	unlink(revoked_path);

	snprintf(fifo_path, sizeof(fifo_path), "%s/fifo", dir);
	mkfifo(fifo_path, 0600);
	if (symlink(fifo_path, revoked_path) < 0)
		tap_diag("symlink: %s", strerror(errno));
	usleep(500000);
	st = healthz(r->metrics_port, body, sizeof(body), &ms);
	ok(st == 503 && ms < 1000, "a FIFO as the list: no hang (%lld ms, %d)", ms, st);
	unlink(revoked_path);
	unlink(fifo_path);

	snprintf(big_path, sizeof(big_path), "%s.big", revoked_path);
	f = fopen(big_path, "w");
	for (st = 0; f && st < 200000; st++)
		fputs("some-token-id\n", f);
	if (f)
		fclose(f);
	rename(big_path, revoked_path);
	usleep(500000);
	st = healthz(r->metrics_port, body, sizeof(body), &ms);
	ok(st == 503 && strstr(body, "larger than"), "a 2.8 MB list: refused as too large (%s)",
	   body);
	ok(served(&a), "open session a still kept");

	write_file(revoked_path, "key:zz\n");
	usleep(500000);
	st = healthz(r->metrics_port, body, sizeof(body), &ms);
	ok(st == 503 && strstr(body, "line 1"), "a bad key: line names the line (%s)", body);

	write_file(revoked_path, "");
	is_int(join_until(r->port, &k1, "t5", 0, 2000), 0, "empty list: accepted again");
	rh_client_close(&a);
}

static void test_keys(struct rh_relay *r)
{
	static struct rh_client a, b, d;
	char text[200], pub[IDENTITY_PUB_TEXT_LEN + 1], path[400];
	long long t0, dt;

	is_int(try_join(r->port, &k2, "k2-early"), RELAY_CLOSE_TOKEN_FOREIGN,
	       "k2 not yet trusted: token_foreign");
	write_pub("k2.pub", &k2, NULL);
	is_int(join_until(r->port, &k2, "k2-late", 0, 2000), 0, "k2.pub added: k2 tokens accepted");
	write_pub("more.pub", &k3, &k4);
	is_int(join_until(r->port, &k4, "k4", 0, 2000), 0, "second key of a two-key file accepted");
	is_int(rh_metric(r->metrics_port, "issuer_keys"), 4, "issuer_keys 4");
	snprintf(path, sizeof(path), "%s/notes.txt", keydir);
	write_file(path, "not a key, and not a .pub file\n");

	is_int(join(&a, r->port, &k1, "s-k1"), 0, "session a with a k1 token");
	is_int(join(&b, r->port, &k2, "s-k2"), 0, "session b with a k2 token");
	is_int(join(&d, r->port, &k3, "s-k3"), 0, "session d with a k3 token");

	snprintf(path, sizeof(path), "%s/k1.pub", keydir);
	unlink(path);
	t0 = rh_now_ms();
	is_int(rh_client_wait_closed(&a, 2000), RELAY_CLOSE_TOKEN_REVOKED,
	       "k1.pub removed: a closed with token_revoked");
	dt = rh_now_ms() - t0;
	ok(dt < 1000, "within 1 s (%lld ms)", dt);
	ok(served(&b) && served(&d), "b and d keep their sessions");
	is_int(try_join(r->port, &k1, "k1-after"), RELAY_CLOSE_TOKEN_FOREIGN,
	       "new k1 tokens: token_foreign");

	identity_pub_format(k2.pub, pub);
	snprintf(text, sizeof(text), "# leaked\nkey:%s\n", pub);
	write_file(revoked_path, text);
	t0 = rh_now_ms();
	is_int(rh_client_wait_closed(&b, 2000), RELAY_CLOSE_TOKEN_REVOKED,
	       "key:K2 in the revocation file: b closed with token_revoked");
	dt = rh_now_ms() - t0;
	ok(dt < 1000, "within 1 s (%lld ms)", dt);
	ok(served(&d), "d keeps its session");
	is_int(try_join(r->port, &k2, "k2-after"), RELAY_CLOSE_TOKEN_REVOKED,
	       "new k2 tokens: token_revoked");
	is_int(rh_metric(r->metrics_port, "revoked_keys"), 1, "revoked_keys 1");

	/* A key file that does not parse fails closed; d stays. */
	snprintf(path, sizeof(path), "%s/bad.pub", keydir);
	write_file(path, "0123\n");
	is_int(join_until(r->port, &k3, "k3-bad", RELAY_CLOSE_SERVER_FULL, 2000),
	       RELAY_CLOSE_SERVER_FULL, "a malformed .pub: new sessions refused");
	ok(served(&d), "d kept");
	unlink(path);
	is_int(join_until(r->port, &k3, "k3-good", 0, 2000), 0, "fixed: accepted again");
	rh_client_close(&a);
	rh_client_close(&b);
	rh_client_close(&d);
}

/* An AUTH frame for c over challenge ch with a token by `by` for `for_key`. */
static int send_auth(struct rh_client *c, const struct relay_challenge *ch,
                     const struct identity *by, const uint8_t for_key[32], long ttl, const char *id,
                     uint64_t *expiry)
{
	char tok[TOKEN_TEXT_MAX];
	uint8_t frame[512];
	int len;

	make_token(tok, by, for_key, ttl, id);
	*expiry = (uint64_t)((long)time(NULL) + ttl);
	len = relay_auth_build(frame, sizeof(frame), &c->id, ch, tok);
	return len < 0 ? len : rh_client_write(c, frame, (size_t)len);
}

/* A second AUTH on an open session renews its token: the session outlives the first. */
static void test_renewal(struct rh_relay *r)
{
	static struct rh_client c;
	struct relay_server_info si = { 0 };
	struct relay_challenge ch;
	struct identity other;
	uint64_t expiry;

	identity_generate(&other);
	rh_client_connect(&c, r->port, 0);
	if (rh_client_recv(&c, 2000) != 1 ||
	    relay_challenge_decode(&ch, c.f.payload, c.f.len) < 0) {
		ok(0, "challenge received");
		return;
	}
	send_auth(&c, &ch, &k3, c.id.pub, 2, "renew-1", &expiry);
	is_int(rh_client_expect(&c, RELAY_FRAME_SERVER_INFO, 2000), 1, "in with a 2 s token");
	send_auth(&c, &ch, &k3, c.id.pub, 60, "renew-2", &expiry);
	is_int(rh_client_expect(&c, RELAY_FRAME_SERVER_INFO, 2000), 1,
	       "a second AUTH with a 60 s token: SERVER_INFO again");
	relay_server_info_decode(&si, c.f.payload, c.f.len);
	ok(si.token_expiry == expiry || si.token_expiry + 1 == expiry, "with the new expiry (%llu)",
	   (unsigned long long)si.token_expiry);
	sleep(3);
	ok(served(&c), "the session outlives its first token");
	is_int(rh_metric(r->metrics_port, "token_renewals_total"), 1, "token_renewals_total 1");
	send_auth(&c, &ch, &k3, other.pub, 60, "renew-3", &expiry);
	is_int(rh_client_wait_closed(&c, 2000), RELAY_CLOSE_TOKEN_WRONG_PEER,
	       "a renewal with another key's token: closed (token_wrong_peer)");
	rh_client_close(&c);
}

/* Without --issuer-key there is nothing to check tokens against: SIGUSR2 is refused. */
static void test_toggle_without_keys(void)
{
	const char *args[] = { "--no-auth", NULL };
	struct rh_relay r;

	if (rh_relay_start(&r, args) < 0) {
		ok(0, "relay starts with --no-auth");
		return;
	}
	kill(r.pid, SIGUSR2);
	usleep(200000);
	is_int(rh_metric(r.metrics_port, "auth_required"), 0,
	       "--no-auth alone: SIGUSR2 leaves auth off");
	is_int(try_join(r.port, NULL, NULL), 0, "a client without a token still gets in");
	is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
}

static void test_toggle(void)
{
	static struct rh_client a, b, c;
	const char *args[] = { "--no-auth", "--issuer-key", keydir, NULL };
	struct rh_relay r;

	if (rh_relay_start(&r, args) < 0) {
		ok(0, "relay starts with --no-auth --issuer-key");
		return;
	}
	is_int(rh_metric(r.metrics_port, "auth_required"), 0, "starts without auth");
	is_int(join(&a, r.port, NULL, NULL), 0, "a in without a token");
	kill(r.pid, SIGUSR2);
	is_int(join_until(r.port, NULL, NULL, RELAY_CLOSE_NO_TOKEN, 2000), RELAY_CLOSE_NO_TOKEN,
	       "SIGUSR2: a new client without a token refused (no_token)");
	is_int(rh_metric(r.metrics_port, "auth_required"), 1, "auth_required 1");
	ok(served(&a), "a (admitted without a token) keeps its session");
	is_int(join(&b, r.port, &k3, "toggle-b"), 0, "b in with a token");
	kill(r.pid, SIGUSR1);
	is_int(join_until(r.port, NULL, NULL, 0, 2000), 0, "SIGUSR1: no token needed again");
	ok(served(&a) && served(&b), "a and b keep their sessions");
	is_int(join(&c, r.port, NULL, NULL), 0, "c in without a token");
	is_int(rh_metric(r.metrics_port, "clients"), 3, "3 clients, none dropped");
	rh_client_close(&a);
	rh_client_close(&b);
	rh_client_close(&c);
	is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
	test_toggle_without_keys();
}

int main(void)
{
	const char *args[] = { "--issuer-key", keydir, "--revoked", revoked_path, NULL };
	struct rh_relay relay;
	char cmd[400];
	int saved, fd, rc;

	if (identity_generate(&k1) < 0 || identity_generate(&k2) < 0 ||
	    identity_generate(&k3) < 0 || identity_generate(&k4) < 0 || !mkdtemp(dir))
		tap_skip_all("cannot create keys");
	snprintf(keydir, sizeof(keydir), "%s/issuers", dir);
	snprintf(revoked_path, sizeof(revoked_path), "%s/revoked", dir);
	snprintf(log_path, sizeof(log_path), "%s/relay.log", dir);
	mkdir(keydir, 0700);
	write_pub("k1.pub", &k1, NULL);

	/* The relay's stderr (its log) goes to a file the test reads. */
	saved = dup(2);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, 2);
	rc = rh_relay_start(&relay, args);
	dup2(saved, 2);
	close(saved);
	close(fd);
	if (rc < 0) {
		ok(0, "relay starts");
		return tap_done();
	}
	test_fail_closed(&relay);
	test_keys(&relay);
	test_renewal(&relay);
	is_int(rh_relay_stop(&relay, 5000), 0, "relay exits cleanly");
	test_toggle();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
	return tap_done();
}
