/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay's limits: the per-client queue drops the oldest frame for a receiver
 * that does not read, the token bucket pauses a fast sender (status frames tell it),
 * the connection cap refuses with server_full, a well-behaved pair keeps its
 * service while many bad clients are closed and counted, and an authenticated client
 * that completes no frame for the idle timeout (silent, or stuck halfway through a
 * frame) is closed while one that pings stays.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "relay_harness.h"
#include "tap.h"

/* A receiver with a tiny socket buffer that never reads: its queue must drop. */
static void test_queue_drop(struct rh_relay *r)
{
	struct rh_client *a = rh_client_new(r->port, 0), *b = rh_client_new(r->port, 4096);
	static uint8_t data[16384];
	long long drops;
	int i, rc = 0;

	is_int(rh_client_handshake(a, NULL, 0, 2000), 0, "sender in");
	is_int(rh_client_handshake(b, NULL, 0, 2000), 0, "stalled receiver in");
	/* 2000 x 16 KiB = 32 MiB: more than the kernel buffers between relay and b. */
	for (i = 0; i < 2000 && rc == 0; i++)
		rc = rh_client_send_packet(a, b->id.pub, data, sizeof(data));
	is_int(rc, 0, "sender is never blocked by the stalled receiver");
	usleep(200000);
	drops = rh_metric(r->metrics_port, "drops_total{reason=\"queue_full\"}");
	ok(drops > 0, "oldest frames dropped and counted (%lld)", drops);
	rh_client_send_packet(a, a->id.pub, "me", 2);
	is_int(rh_client_expect(a, RELAY_FRAME_RECV, 2000), 1, "sender still served");
	rh_client_free(a);
	rh_client_free(b);
}

static void test_rate_limit(struct rh_relay *r)
{
	struct rh_client *a = rh_client_new(r->port, 0);
	static uint8_t data[10000];
	long long t0, dt;
	int i, got = 0, limited = 0, healthy = 0, rc;

	is_int(rh_client_handshake(a, NULL, 0, 2000), 0, "fast sender in");
	t0 = rh_now_ms();
	/* 40 x 10 KiB to itself at 100 KB/s with a 70 KB burst: about 3 s of paused reads. */
	for (i = 0; i < 40; i++)
		rh_client_send_packet(a, a->id.pub, data, sizeof(data));
	while (got < 40 && (rc = rh_client_recv(a, 6000)) == 1) {
		if (a->f.type == RELAY_FRAME_RECV)
			got++;
		else if (a->f.type == RELAY_FRAME_STATUS &&
		         a->f.payload[0] == RELAY_STATUS_RATE_LIMITED)
			limited++;
		else if (a->f.type == RELAY_FRAME_STATUS && a->f.payload[0] == RELAY_STATUS_HEALTHY)
			healthy++;
	}
	dt = rh_now_ms() - t0;
	is_int(got, 40, "every packet delivered (reads paused, nothing dropped)");
	ok(limited > 0, "status rate_limited received (%d)", limited);
	ok(healthy > 0, "status healthy received after (%d)", healthy);
	ok(dt >= 2500 && dt < 6000, "400 KB at 100 KB/s + 70 KB burst took %lld ms", dt);
	ok(rh_metric(r->metrics_port, "rate_limit_pauses_total") >= 1, "pauses counted");
	rh_client_free(a);
}

static void test_max_clients(struct rh_relay *r)
{
	struct rh_client *c[3];
	int i;

	for (i = 0; i < 2; i++) {
		c[i] = rh_client_new(r->port, 0);
		is_int(rh_client_handshake(c[i], NULL, 0, 2000), 0, "client in");
	}
	c[2] = rh_client_new(r->port, 0);
	is_int(rh_client_handshake(c[2], NULL, 0, 2000), RELAY_CLOSE_SERVER_FULL,
	       "third client over --max-clients 2: server_full at auth");
	is_int(rh_metric(r->metrics_port, "closes_total{reason=\"server_full\"}"), 1, "counted");
	for (i = 0; i < 3; i++)
		rh_client_free(c[i]);
}

/* Opens a bad client of kind k and does its bad thing (without waiting). */
static struct rh_client *bad_client(uint16_t port, int k)
{
	static const uint8_t oversized[] = { RELAY_FRAME_SEND, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t unexpected[] = { RELAY_FRAME_RESTARTING, 0, 0, 0, 0 };
	struct rh_client *c = rh_client_new(port, 0);
	char garbage[512];

	switch (k % 4) {
	case 0:
		memset(garbage, 'A' + k % 26, sizeof(garbage));
		rh_client_write(c, garbage, sizeof(garbage));
		break;
	case 1:
		rh_client_write(c, oversized, sizeof(oversized));
		break;
	case 2:
		rh_client_handshake(c, NULL, 1, 2000); /* bad signature */
		break;
	case 3:
		if (rh_client_handshake(c, NULL, 0, 2000) == 0)
			rh_client_write(c, unexpected, sizeof(unexpected));
		break;
	}
	return c;
}

static void test_under_attack(struct rh_relay *r)
{
	struct rh_client *a = rh_client_new(r->port, 0), *b = rh_client_new(r->port, 0);
	struct rh_client *bad[100], *stalled[20];
	struct relay_packet pkt;
	int i, delivered = 0, closed = 0, n_bad = 0;
	long long t0 = rh_now_ms();

	rh_client_handshake(a, NULL, 0, 2000);
	rh_client_handshake(b, NULL, 0, 2000);
	for (i = 0; i < 20; i++)
		stalled[i] = rh_client_new(r->port, 0);
	/* Interleave: each round a good packet and a bad client. */
	for (i = 0; i < 100; i++) {
		bad[n_bad++] = bad_client(r->port, i);
		rh_client_send_packet(a, b->id.pub, &i, sizeof(i));
		if (rh_client_expect(b, RELAY_FRAME_RECV, 1000) == 1) {
			relay_packet_decode(&pkt, b->f.payload, b->f.len);
			if (pkt.len == sizeof(i) && !memcmp(pkt.data, &i, sizeof(i)))
				delivered++;
		}
	}
	is_int(delivered, 100, "good pair: 100 of 100 packets delivered during the attack");
	ok(rh_now_ms() - t0 < 10000, "in bounded time (%lld ms)", rh_now_ms() - t0);
	for (i = 0; i < n_bad; i++) {
		if (rh_client_wait_closed(bad[i], 2000) >= 0)
			closed++;
		rh_client_free(bad[i]);
	}
	is_int(closed, 100, "every bad client closed by the relay");
	for (i = 0; i < 20; i++) {
		if (rh_client_wait_closed(stalled[i], 3000) == RELAY_CLOSE_HANDSHAKE_TIMEOUT)
			closed++;
		rh_client_free(stalled[i]);
	}
	is_int(closed, 120, "every stalled handshake timed out");
	is_int(rh_metric(r->metrics_port, "closes_total{reason=\"oversized\"}"), 50,
	       "garbage and oversized frames counted (25 + 25)");
	is_int(rh_metric(r->metrics_port, "auth_refusals_total{reason=\"bad_signature\"}"), 25,
	       "bad signatures counted");
	is_int(rh_metric(r->metrics_port, "closes_total{reason=\"unexpected_frame\"}"), 25,
	       "unexpected frames counted");
	ok(rh_metric(r->metrics_port, "closes_total{reason=\"handshake_timeout\"}") >= 20,
	   "stalled handshakes counted");
	rh_client_send_packet(b, a->id.pub, "after", 5);
	is_int(rh_client_expect(a, RELAY_FRAME_RECV, 1000), 1, "good pair still served after");
	rh_client_free(a);
	rh_client_free(b);
}

/* Clients that leave on RESTARTING let the relay exit before the drain time is up. */
static void test_drain_ends_early(struct rh_relay *r)
{
	struct rh_client *a = rh_client_new(r->port, 0), *b = rh_client_new(r->port, 0);
	long long t0;
	int status;

	rh_client_handshake(a, NULL, 0, 2000);
	rh_client_handshake(b, NULL, 0, 2000);
	t0 = rh_now_ms();
	kill(r->pid, SIGTERM);
	is_int(rh_client_expect(a, RELAY_FRAME_RESTARTING, 2000), 1,
	       "a told to reconnect elsewhere");
	is_int(rh_client_expect(b, RELAY_FRAME_RESTARTING, 2000), 1,
	       "b told to reconnect elsewhere");
	rh_client_free(a);
	rh_client_free(b);
	status = rh_relay_stop(r, 5000);
	is_int(status, 0, "relay exits 0");
	ok(rh_now_ms() - t0 < 1500, "once both left, well before the 10 s drain (%lld ms)",
	   rh_now_ms() - t0);
}

/*
 * --keepalive 100 --idle-timeout 1000; the relay sweeps once a second. The pinger pings
 * every 100 ms: with a 400 ms timeout a stall of 300 ms in this process or the relay (a
 * loaded machine, the sanitizer suite's ctest -j 3) at a sweep closed it.
 */
static void test_idle(struct rh_relay *r)
{
	struct rh_client *half = rh_client_new(r->port, 0), *silent = rh_client_new(r->port, 0);
	struct rh_client *pinger = rh_client_new(r->port, 0);
	uint8_t hdr[FRAME_HEADER_LEN], ping[FRAME_HEADER_LEN + RELAY_PING_LEN];
	uint8_t data[RELAY_PING_LEN] = { 0 };
	int n = relay_ping_encode(ping, sizeof(ping), RELAY_FRAME_PING, data);
	long long t0;

	is_int(rh_client_handshake(half, NULL, 0, 2000), 0, "half-frame client in");
	is_int(rh_client_handshake(silent, NULL, 0, 2000), 0, "silent client in");
	is_int(rh_client_handshake(pinger, NULL, 0, 2000), 0, "pinging client in");
	/* A SEND announcing 60000 bytes, then only 40 of them: the relay holds a buffer. */
	frame_header_write(hdr, RELAY_FRAME_SEND, 60000);
	rh_client_write(half, hdr, sizeof(hdr));
	rh_client_write(half, half->id.pub, 32);
	rh_client_write(half, data, sizeof(data));
	t0 = rh_now_ms();
	while (rh_now_ms() - t0 < 3500) {
		rh_client_write(pinger, ping, (size_t)n);
		usleep(100000);
	}
	is_int(rh_client_wait_closed(half, 100), RELAY_CLOSE_IDLE,
	       "a client stuck halfway through a frame is closed: idle");
	is_int(rh_client_wait_closed(silent, 100), RELAY_CLOSE_IDLE,
	       "a silent client is closed: idle");
	rh_client_send_packet(pinger, pinger->id.pub, "me", 2);
	is_int(rh_client_expect(pinger, RELAY_FRAME_RECV, 2000), 1,
	       "a client that pings more often than the idle timeout stays");
	is_int(rh_metric(r->metrics_port, "closes_total{reason=\"idle\"}"), 2,
	       "idle closes counted");
	rh_client_free(half);
	rh_client_free(silent);
	rh_client_free(pinger);
}

/*
 * A relay stopped for 1.5 s (SIGSTOP: a starved machine) while a client pings every
 * 100 ms: its pings wait unread in the socket, and the first sweep after SIGCONT comes
 * before the poll that reads them (libuv runs timers first). The client must stay.
 */
static void test_idle_stall(struct rh_relay *r)
{
	struct rh_client *pinger = rh_client_new(r->port, 0);
	uint8_t ping[FRAME_HEADER_LEN + RELAY_PING_LEN], data[RELAY_PING_LEN] = { 0 };
	int n = relay_ping_encode(ping, sizeof(ping), RELAY_FRAME_PING, data);
	bool resumed = false;
	long long t0;

	is_int(rh_client_handshake(pinger, NULL, 0, 2000), 0, "pinging client in");
	kill(r->pid, SIGSTOP);
	t0 = rh_now_ms();
	while (rh_now_ms() - t0 < 2500) {
		if (!resumed && rh_now_ms() - t0 >= 1500) {
			kill(r->pid, SIGCONT);
			resumed = true;
		}
		rh_client_write(pinger, ping, (size_t)n);
		usleep(100000);
	}
	rh_client_send_packet(pinger, pinger->id.pub, "me", 2);
	is_int(rh_client_expect(pinger, RELAY_FRAME_RECV, 2000), 1,
	       "a client whose pings waited while the relay was stopped stays");
	is_int(rh_metric(r->metrics_port, "closes_total{reason=\"idle\"}"), 0,
	       "no idle close after the stall");
	rh_client_free(pinger);
}

/* An idle timeout at or below the keepalive the relay advertises is refused at start. */
static void test_idle_config(void)
{
	char cmd[4200];

	char out[512] = "";
	FILE *f;
	int status;

	/* Bounded: if the check regressed, the relay would serve until killed. */
	snprintf(cmd, sizeof(cmd),
	         "timeout 5 %s/natlab-relay --listen 127.0.0.1:0 --no-auth "
	         "--keepalive 1000 --idle-timeout 500 2>&1 >/dev/null",
	         getenv("NATLAB_BIN"));
	f = popen(cmd, "r");
	if (f) {
		size_t n = fread(out, 1, sizeof(out) - 1, f);

		out[n] = '\0';
	}
	status = f ? pclose(f) : -1;
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 2,
	       "--idle-timeout not above --keepalive: a usage error (exit 2)");
	ok(strstr(out, "must be above --keepalive") != NULL, "and it says why: %s", out);
}

/* Each option's bad value is reported under that option's name. */
static void test_option_names(void)
{
	static const char *const opts[] = {
		"listen",      "stun",         "stun-alt",
		"metrics",     "max-clients",  "handshake-timeout",
		"queue",       "rate",         "burst",
		"drain",       "reconnect-in", "keepalive",
		"queue-bytes", "idle-timeout",
	};
	char cmd[4200], out[512], want[64];
	int named = 0;

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		FILE *f;
		size_t n = 0;

		snprintf(cmd, sizeof(cmd), "timeout 5 %s/natlab-relay --no-auth --%s x 2>&1",
		         getenv("NATLAB_BIN"), opts[i]);
		f = popen(cmd, "r");
		if (f) {
			n = fread(out, 1, sizeof(out) - 1, f);
			pclose(f);
		}
		out[n] = '\0';
		snprintf(want, sizeof(want), "--%s \"x\": invalid value", opts[i]);
		if (strstr(out, want))
			named++;
		else
			tap_diag("--%s x said: %s", opts[i], out);
	}
	is_int(named, (long long)(sizeof(opts) / sizeof(opts[0])),
	       "a bad value names its own option, for every option taking one");
}

int main(void)
{
	const char *q_args[] = { "--no-auth", "--queue", "8", "--rate", "0", NULL };
	const char *qb_args[] = { "--no-auth", "--queue", "100000", "--queue-bytes",
		                  "100000",    "--rate",  "0",      NULL };
	/* A tight idle timeout too: reads the relay paused must not count as idleness. */
	const char *r_args[] = { "--no-auth",   "--rate", "100000",         "--burst", "70000",
		                 "--keepalive", "100",    "--idle-timeout", "300",     NULL };
	const char *m_args[] = { "--no-auth", "--max-clients", "2", NULL };
	const char *a_args[] = { "--no-auth", "--handshake-timeout", "500", NULL };
	const char *d_args[] = { "--no-auth", "--drain", "10000", NULL };
	const char *i_args[] = {
		"--no-auth", "--keepalive", "100", "--idle-timeout", "1000", NULL
	};
	struct rh_relay r;

	test_option_names();
	if (rh_relay_start(&r, q_args) == 0) {
		test_queue_drop(&r);
		is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
	}
	if (rh_relay_start(&r, qb_args) == 0) {
		tap_diag("same with a byte limit instead of a frame limit");
		test_queue_drop(&r);
		is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
	}
	if (rh_relay_start(&r, r_args) == 0) {
		test_rate_limit(&r);
		is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
	}
	if (rh_relay_start(&r, m_args) == 0) {
		test_max_clients(&r);
		is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
	}
	if (rh_relay_start(&r, a_args) == 0) {
		test_under_attack(&r);
		is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
	}
	if (rh_relay_start(&r, i_args) == 0) {
		test_idle(&r);
		is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
	}
	if (rh_relay_start(&r, i_args) == 0) {
		test_idle_stall(&r);
		is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
	}
	test_idle_config();
	if (rh_relay_start(&r, d_args) == 0)
		test_drain_ends_early(&r);
	return tap_done();
}
