/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay under small frames: every frame is charged at least --frame-cost bytes
 * to its sender's token bucket (a PING flood is paused like a byte flood), and frames
 * to one receiver are written in batches (a burst of 2000 PONGs or RECVs costs the
 * relay a few dozen write syscalls, not 2000; counted in /proc/PID/io). The fairness
 * figures themselves come from bench/relay_fairness.sh. Batched frames still go out
 * before a CLOSE that follows them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay_harness.h"
#include "tap.h"

#define BURST 2000

/* Write syscalls (write, writev) the process has made so far; -1 if unknown. */
static long long relay_syscw(pid_t pid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "syscw: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static uint8_t *ping_burst(int n, size_t *len)
{
	uint8_t data[RELAY_PING_LEN] = { 0 }, *buf = malloc((size_t)n * 13);
	int i;

	for (i = 0; buf && i < n; i++)
		relay_ping_encode(buf + (size_t)i * 13, 13, RELAY_FRAME_PING, data);
	*len = (size_t)n * 13;
	return buf;
}

static int count_frames(struct rh_client *c, uint8_t type, int want, int timeout_ms)
{
	long long deadline = rh_now_ms() + timeout_ms;
	int got = 0;

	while (got < want && rh_now_ms() < deadline &&
	       rh_client_recv(c, (int)(deadline - rh_now_ms())) == 1)
		got += c->f.type == type;
	return got;
}

/* AUTH and a malformed frame in one write: SERVER_INFO (batched) still comes before the
 * CLOSE, as it did when every frame was written at once. */
static void test_batch_then_close(struct rh_relay *r)
{
	static struct rh_client c;
	struct relay_challenge ch;
	uint8_t out[512];
	int len;

	rh_client_connect(&c, r->port, 0);
	if (rh_client_recv(&c, 2000) != 1 ||
	    relay_challenge_decode(&ch, c.f.payload, c.f.len) < 0) {
		ok(0, "challenge received");
		return;
	}
	len = relay_auth_build(out, sizeof(out), &c.id, &ch, NULL);
	frame_header_write(out + len, RELAY_FRAME_SEND, 3); /* shorter than a key */
	memset(out + len + FRAME_HEADER_LEN, 0, 3);
	rh_client_write(&c, out, (size_t)len + FRAME_HEADER_LEN + 3);
	is_int(rh_client_recv(&c, 2000), 1, "a frame arrives");
	is_int(c.f.type, RELAY_FRAME_SERVER_INFO, "SERVER_INFO first");
	is_int(rh_client_wait_closed(&c, 2000), RELAY_CLOSE_PROTOCOL, "then CLOSE malformed");
	rh_client_close(&c);
}

static void test_batching(void)
{
	const char *args[] = { "--no-auth", "--rate", "0", NULL };
	static struct rh_client a, b;
	uint8_t *burst, *sends;
	long long w0, w1;
	size_t len, slen = 0;
	struct rh_relay r;
	int i;

	if (rh_relay_start(&r, args) < 0) {
		ok(0, "relay starts");
		return;
	}
	if (relay_syscw(r.pid) < 0) {
		ok(1, "# SKIP /proc/PID/io unreadable");
		rh_relay_stop(&r, 5000);
		return;
	}
	rh_client_connect(&a, r.port, 0);
	rh_client_connect(&b, r.port, 0);
	is_int(rh_client_handshake(&a, NULL, 0, 2000), 0, "a in");
	is_int(rh_client_handshake(&b, NULL, 0, 2000), 0, "b in");
	burst = ping_burst(BURST, &len);
	w0 = relay_syscw(r.pid);
	rh_client_write(&a, burst, len);
	is_int(count_frames(&a, RELAY_FRAME_PONG, BURST, 5000), BURST, "2000 PINGs, 2000 PONGs");
	w1 = relay_syscw(r.pid);
	ok(w1 - w0 < BURST / 10, "in %lld write syscalls (batched; one per PONG before)", w1 - w0);

	sends = malloc((size_t)BURST * 38);
	for (i = 0; sends && i < BURST; i++)
		slen += (size_t)relay_packet_encode(sends + slen, 38, RELAY_FRAME_SEND, b.id.pub,
		                                    &i, 1);
	w0 = relay_syscw(r.pid);
	rh_client_write(&a, sends, slen);
	is_int(count_frames(&b, RELAY_FRAME_RECV, BURST, 5000), BURST,
	       "2000 one-byte SENDs to b, 2000 RECVs");
	w1 = relay_syscw(r.pid);
	ok(w1 - w0 < BURST / 10, "in %lld write syscalls", w1 - w0);
	is_int(rh_metric(r.metrics_port, "drops_total{reason=\"queue_full\"}"), 0,
	       "nothing dropped");
	free(burst);
	free(sends);
	rh_client_close(&a);
	rh_client_close(&b);
	test_batch_then_close(&r);
	is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
}

/* 300 PINGs are 3.9 kB but cost 300 kB at --frame-cost 1000: 230 kB past the burst,
 * about 2.3 s at 100 kB/s; charged by bytes alone they would never pause. */
static void test_frame_cost(void)
{
	const char *args[] = { "--no-auth", "--rate",       "100000", "--burst",
		               "70000",     "--frame-cost", "1000",   NULL };
	static struct rh_client a;
	struct rh_relay r;
	int got = 0, limited = 0;
	long long t0, dt;
	uint8_t *burst;
	size_t len;

	if (rh_relay_start(&r, args) < 0) {
		ok(0, "relay starts");
		return;
	}
	rh_client_connect(&a, r.port, 0);
	is_int(rh_client_handshake(&a, NULL, 0, 2000), 0, "a in");
	burst = ping_burst(1, &len);
	t0 = rh_now_ms();
	/* One in flight at a time: each read holds one PING, charged as it is served. */
	for (int i = 0; i < 300; i++) {
		rh_client_write(&a, burst, len);
		while (rh_client_recv(&a, 6000) == 1 && a.f.type != RELAY_FRAME_PONG)
			limited += a.f.type == RELAY_FRAME_STATUS &&
			           a.f.payload[0] == RELAY_STATUS_RATE_LIMITED;
		got += a.f.type == RELAY_FRAME_PONG;
	}
	dt = rh_now_ms() - t0;
	is_int(got, 300, "every PING answered");
	ok(limited > 0, "rate_limited status received (%d)", limited);
	ok(dt >= 1500 && dt < 6000, "300 PINGs at 1000 bytes each, 100 kB/s: %lld ms", dt);
	free(burst);
	rh_client_close(&a);
	is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
}

int main(void)
{
	test_batching();
	test_frame_cost();
	return tap_done();
}
