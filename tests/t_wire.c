/* SPDX-License-Identifier: MIT */
/*
 * Wires without root: the PRNG, one direction's decisions frame by frame, the knob
 * parsers, and the forwarder end to end over SOCK_SEQPACKET socketpairs standing in for
 * TAP fds (one read, one frame), on a real libuv loop.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "natlab/wire.h"
#include "tap.h"

#define NFRAMES 10000

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void test_prng(void)
{
	struct wire_prng a, b, c;
	int same = 1, differ = 0, in_range = 1;
	double sum = 0;

	wire_prng_seed(&a, 42);
	wire_prng_seed(&b, 42);
	wire_prng_seed(&c, 43);
	for (int i = 0; i < 100000; i++) {
		uint64_t x = wire_prng_next(&a), y = wire_prng_next(&b), z = wire_prng_next(&c);

		same &= x == y;
		differ += x != z;
	}
	ok(same, "same seed, same 100000 values");
	ok(differ > 99990, "seed 43 differs from seed 42 (%d of 100000 differ)", differ);
	/* Pinned: replays must survive a rebuild on another machine or compiler. */
	wire_prng_seed(&a, 0);
	ok(wire_prng_next(&a) == 0x99ec5f36cb75f2b4ULL, "seed 0's first value is pinned");
	for (int i = 0; i < 100000; i++) {
		double u = wire_prng_double(&a);

		in_range &= u >= 0 && u < 1;
		sum += u;
	}
	ok(in_range, "doubles in [0, 1)");
	ok(fabs(sum / 100000 - 0.5) < 0.01, "doubles average 0.5 (%.4f)", sum / 100000);
}

/* Runs NFRAMES frames through a fresh path and records which were delivered. */
static int run_path(uint64_t seed, const struct wire_impairment *imp, unsigned char *kept,
                    struct wire_stats *st)
{
	struct wire_path p;
	uint64_t depart[2];
	int delivered = 0;

	wire_path_init(&p, seed, WIRE_A_TO_B);
	if (wire_path_set(&p, imp) < 0)
		return -1;
	for (int i = 0; i < NFRAMES; i++) {
		int n = wire_path_admit(&p, (uint64_t)i * 1000000, 100, 0, depart);

		kept[i] = (unsigned char)n;
		delivered += n;
	}
	if (st)
		*st = p.st;
	return delivered;
}

static void test_loss(void)
{
	static unsigned char k1[NFRAMES], k2[NFRAMES], k3[NFRAMES];
	static const double rates[] = { 0.01, 0.05, 0.3 };
	struct wire_stats st;

	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		struct wire_impairment imp = { .loss = rates[r] };
		int got = run_path(7, &imp, k1, &st);
		double measured = 1.0 - (double)got / NFRAMES;

		ok(fabs(measured - rates[r]) < 0.01, "loss %.0f%%: measured %.2f%% over %d frames",
		   rates[r] * 100, measured * 100, NFRAMES);
		is_int((long long)st.lost, NFRAMES - got, "lost counter matches");
	}
	{
		struct wire_impairment imp = { .loss = 0.05 };
		struct wire_impairment more = { .loss = 0.05,
			                        .delay_ns = 30000000,
			                        .jitter_ns = 5000000,
			                        .duplicate = 0.1,
			                        .rate_bps = 1000000000 };

		run_path(7, &imp, k1, NULL);
		run_path(7, &imp, k2, NULL);
		ok(memcmp(k1, k2, NFRAMES) == 0, "same seed, same drop pattern");
		run_path(8, &imp, k3, NULL);
		ok(memcmp(k1, k3, NFRAMES) != 0, "another seed, another drop pattern");
		run_path(7, &more, k3, NULL);
		for (int i = 0; i < NFRAMES; i++)
			k3[i] = k3[i] != 0;
		ok(memcmp(k1, k3, NFRAMES) == 0,
		   "the drop pattern does not change when delay, jitter, rate, duplicate change");
	}
	{
		struct wire_path a, b;
		uint64_t d[2];
		int same = 0;

		wire_path_init(&a, 7, WIRE_A_TO_B);
		wire_path_init(&b, 7, WIRE_B_TO_A);
		wire_path_set(&a, &(struct wire_impairment){ .loss = 0.5 });
		wire_path_set(&b, &(struct wire_impairment){ .loss = 0.5 });
		for (int i = 0; i < 1000; i++)
			same +=
			    wire_path_admit(&a, 0, 60, 0, d) == wire_path_admit(&b, 0, 60, 0, d);
		ok(same < 600, "the two directions draw unrelated streams (%d of 1000 agree)",
		   same);
	}
}

static void test_duplicate_reorder(void)
{
	static unsigned char kept[NFRAMES];
	struct wire_impairment imp = { .duplicate = 0.05 };
	struct wire_stats st;
	int got = run_path(3, &imp, kept, &st);

	ok(fabs((double)(got - NFRAMES) / NFRAMES - 0.05) < 0.01,
	   "duplicate 5%%: %d extra copies over %d frames", got - NFRAMES, NFRAMES);
	is_int((long long)st.duplicated, got - NFRAMES, "duplicated counter matches");

	imp = (struct wire_impairment){ .delay_ns = 10000000, .reorder = 0.2 };
	{
		struct wire_path p;
		uint64_t d[2], last = 0;
		int reordered = 0, overtakes = 0;

		wire_path_init(&p, 3, WIRE_A_TO_B);
		wire_path_set(&p, &imp);
		for (int i = 0; i < NFRAMES; i++) {
			uint64_t now = (uint64_t)i * 100000; /* 0.1 ms apart, 10 ms delay */

			wire_path_admit(&p, now, 100, 0, d);
			if (d[0] == now)
				reordered++;
			if (d[0] < last)
				overtakes++;
			else
				last = d[0];
		}
		ok(fabs((double)reordered / NFRAMES - 0.2) < 0.01,
		   "reorder 20%%: %d of %d skip the delay", reordered, NFRAMES);
		is_int((long long)p.st.reordered, reordered, "reordered counter matches");
		ok(overtakes == reordered, "each reordered frame overtakes frames in flight (%d)",
		   overtakes);
	}
}

static void test_delay_rate(void)
{
	struct wire_path p;
	uint64_t d[2], last = 0;
	int in_band = 1, fifo = 1, paced = 1, n;

	wire_path_init(&p, 11, WIRE_A_TO_B);
	wire_path_set(&p, &(struct wire_impairment){ .delay_ns = 20000000, .jitter_ns = 5000000 });
	for (int i = 0; i < NFRAMES; i++) {
		uint64_t now = (uint64_t)i * 10000000; /* far apart: jitter never meets order */

		wire_path_admit(&p, now, 100, 0, d);
		in_band &= d[0] >= now + 15000000 && d[0] <= now + 25000000;
	}
	ok(in_band, "delay 20ms jitter 5ms: every departure within [15, 25] ms");
	wire_path_init(&p, 11, WIRE_A_TO_B);
	wire_path_set(&p, &(struct wire_impairment){ .delay_ns = 20000000, .jitter_ns = 5000000 });
	for (int i = 0; i < NFRAMES; i++) {
		wire_path_admit(&p, (uint64_t)i * 100000, 100, 0, d);
		fifo &= d[0] >= last;
		last = d[0];
	}
	ok(fifo, "jitter alone never reorders (frames 0.1 ms apart, 5 ms jitter)");

	/* 1250 bytes at 10 Mbit/s take 1 ms each: a burst leaves 1 ms apart. */
	wire_path_init(&p, 11, WIRE_A_TO_B);
	wire_path_set(&p, &(struct wire_impairment){ .rate_bps = 10000000, .delay_ns = 5000000 });
	for (int i = 0; i < 100; i++) {
		wire_path_admit(&p, 1000, 1250, (size_t)i, d);
		paced &= d[0] == 1000 + (uint64_t)(i + 1) * 1000000 + 5000000;
	}
	ok(paced, "rate 10mbit: 100 back-to-back 1250-byte frames leave 1 ms apart, plus delay");

	wire_path_init(&p, 11, WIRE_A_TO_B);
	wire_path_set(&p, &(struct wire_impairment){ .rate_bps = 1000000, .limit = 10 });
	n = 0;
	for (int i = 0; i < 20; i++)
		n += wire_path_admit(&p, 0, 1000, (size_t)n, d);
	is_int(n, 10, "limit 10: a burst of 20 keeps 10");
	is_int((long long)p.st.dropped_full, 10, "dropped_full counts the other 10");
	ok(p.link_free_ns == 10 * 8000000ULL, "dropped frames do not use the link");

	wire_path_set_up(&p, false);
	is_int(wire_path_admit(&p, 0, 100, 0, d), 0, "down: nothing passes");
	is_int((long long)p.st.dropped_down, 1, "dropped_down counts it");
	wire_path_set_up(&p, true);
	is_int(wire_path_admit(&p, 100000000, 100, 0, d), 1, "up again: frames pass");

	is_int(wire_path_set(&p, &(struct wire_impairment){ .loss = 1.5 }), -EINVAL,
	       "loss above 1 refused");
	is_int(wire_path_set(&p, &(struct wire_impairment){ .reorder = NAN }), -EINVAL,
	       "NaN refused");
}

static void test_parse(void)
{
	struct wire_impairment imp = { 0 };
	uint64_t bps = 0;
	double f = -1;

	ok(wire_rate_parse("10mbit", &bps) == 0 && bps == 10000000, "10mbit");
	ok(wire_rate_parse("1.5Gbit", &bps) == 0 && bps == 1500000000, "1.5Gbit");
	ok(wire_rate_parse("800kbit", &bps) == 0 && bps == 800000, "800kbit");
	ok(wire_rate_parse("64000", &bps) == 0 && bps == 64000, "bare bits/s");
	is_int(wire_rate_parse("10mbps", &bps), -EINVAL, "bps refused (tc reads bytes)");
	is_int(wire_rate_parse("-1mbit", &bps), -EINVAL, "negative refused");
	is_int(wire_rate_parse("mbit", &bps), -EINVAL, "no number refused");
	ok(wire_share_parse("1%", &f) == 0 && fabs(f - 0.01) < 1e-12, "1%%");
	ok(wire_share_parse("0.5%", &f) == 0 && fabs(f - 0.005) < 1e-12, "0.5%%");
	ok(wire_share_parse("0.25", &f) == 0 && f == 0.25, "bare fraction");
	is_int(wire_share_parse("101%", &f), -EINVAL, "101%% refused");
	is_int(wire_share_parse("2", &f), -EINVAL, "2 refused");
	is_int(wire_share_parse("5 %", &f), -EINVAL, "junk refused");
	ok(wire_impairment_set(&imp, "delay", "30ms") == 0 && imp.delay_ns == 30000000,
	   "delay 30ms");
	ok(wire_impairment_set(&imp, "jitter", "500us") == 0 && imp.jitter_ns == 500000,
	   "jitter 500us");
	ok(wire_impairment_set(&imp, "loss", "1%") == 0 && fabs(imp.loss - 0.01) < 1e-12,
	   "loss 1%%");
	ok(wire_impairment_set(&imp, "rate", "10mbit") == 0 && imp.rate_bps == 10000000,
	   "rate 10mbit");
	ok(wire_impairment_set(&imp, "limit", "50") == 0 && imp.limit == 50, "limit 50");
	is_int(wire_impairment_set(&imp, "limit", "-5"), -EINVAL, "negative limit refused");
	is_int(wire_impairment_set(&imp, "lose", "1%"), -ENOENT, "unknown key");
	is_int(wire_impairment_set(&imp, "delay", "fast"), -EINVAL, "bad duration");
	is_int((long long)imp.delay_ns, 30000000, "a refused value leaves imp unchanged");
}

/* The forwarder over socketpairs: a's peer is where A sends, b's peer where B receives. */
struct harness {
	uv_loop_t loop;
	struct wire *w;
	int a_peer, b_peer;
	uv_poll_t send_poll, recv_poll;
	uv_timer_t stop, pace;
	int to_send, sent, frame_len;
	int burst; /* frames per millisecond when paced, 0 = as fast as the socket takes */
	int got, out_of_order, last_seq;
	uint64_t first_send_ns, first_arrival_ns, last_arrival_ns;
	int *seen; /* arrival count per sequence number */
};

static void send_some(struct harness *t, int max)
{
	unsigned char buf[1500] = { 0 };

	for (int i = 0; i < max && t->sent < t->to_send; i++) {
		memcpy(buf, &t->sent, sizeof(t->sent));
		if (write(t->a_peer, buf, (size_t)t->frame_len) < 0)
			return; /* EAGAIN: wait for room */
		if (t->sent == 0)
			t->first_send_ns = mono_ns();
		t->sent++;
	}
}

static void send_cb(uv_poll_t *p, int status, int events)
{
	struct harness *t = p->data;

	send_some(t, t->to_send);
	if (t->sent == t->to_send)
		uv_poll_stop(p);
}

static void pace_cb(uv_timer_t *tm)
{
	struct harness *t = tm->data;

	send_some(t, t->burst);
	if (t->sent == t->to_send)
		uv_timer_stop(tm);
}

static void recv_cb(uv_poll_t *p, int status, int events)
{
	struct harness *t = p->data;
	unsigned char buf[1500];
	ssize_t n;

	while ((n = read(t->b_peer, buf, sizeof(buf))) > 0) {
		int seq;

		memcpy(&seq, buf, sizeof(seq));
		t->last_arrival_ns = mono_ns();
		if (t->got++ == 0)
			t->first_arrival_ns = t->last_arrival_ns;
		if (seq < t->last_seq)
			t->out_of_order++;
		t->last_seq = seq;
		if (seq >= 0 && seq < t->to_send)
			t->seen[seq]++;
	}
}

static void stop_cb(uv_timer_t *tm)
{
	uv_stop(tm->loop);
}

static int harness_open(struct harness *t, uint64_t seed, int to_send, int frame_len)
{
	int a[2], b[2], rc;

	memset(t, 0, sizeof(*t));
	t->to_send = to_send;
	t->frame_len = frame_len;
	t->last_seq = -1;
	t->seen = calloc((size_t)to_send, sizeof(*t->seen));
	uv_loop_init(&t->loop);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, a) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, b) < 0)
		return -errno;
	t->a_peer = a[1];
	t->b_peer = b[1];
	rc = wire_new(&t->loop, a[0], b[0], seed, &t->w);
	if (rc < 0)
		return rc;
	uv_poll_init(&t->loop, &t->send_poll, t->a_peer);
	uv_poll_init(&t->loop, &t->recv_poll, t->b_peer);
	t->send_poll.data = t->recv_poll.data = t;
	uv_poll_start(&t->recv_poll, UV_READABLE, recv_cb);
	uv_timer_init(&t->loop, &t->stop);
	uv_timer_init(&t->loop, &t->pace);
	t->pace.data = t;
	return 0;
}

static void harness_send(struct harness *t)
{
	if (t->burst)
		uv_timer_start(&t->pace, pace_cb, 0, 1);
	else
		uv_poll_start(&t->send_poll, UV_WRITABLE, send_cb);
}

/* Runs the loop until every frame sent is accounted for, or ms pass. */
static void harness_run(struct harness *t, int expect, uint64_t ms)
{
	uint64_t end = mono_ns() + ms * 1000000;

	uv_timer_start(&t->stop, stop_cb, 5, 5);
	while (mono_ns() < end && t->got < expect)
		uv_run(&t->loop, UV_RUN_DEFAULT);
	uv_timer_stop(&t->stop);
}

static void harness_close(struct harness *t)
{
	wire_free(t->w);
	uv_close((uv_handle_t *)&t->send_poll, NULL);
	uv_close((uv_handle_t *)&t->recv_poll, NULL);
	uv_close((uv_handle_t *)&t->stop, NULL);
	uv_close((uv_handle_t *)&t->pace, NULL);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	is_int(uv_loop_close(&t->loop), 0, "wire_free left no handle on the loop");
	close(t->a_peer);
	close(t->b_peer);
	free(t->seen);
}

static void test_forward_delay(void)
{
	struct harness t;
	struct wire_stats st;
	double ms;

	if (harness_open(&t, 1, 1, 100) < 0) {
		ok(0, "harness: %s", strerror(errno));
		return;
	}
	is_int(wire_set_impairment(t.w, WIRE_A_TO_B,
	                           &(struct wire_impairment){ .delay_ns = 20000000 }),
	       0, "set delay 20ms");
	harness_send(&t);
	harness_run(&t, 1, 2000);
	ms = (double)(t.first_arrival_ns - t.first_send_ns) / 1e6;
	is_int(t.got, 1, "the frame arrived");
	/* Never early; late by scheduling only (generous: CI machines are shared). */
	ok(ms >= 20.0 && ms < 25.0, "it took %.3f ms for a 20 ms delay", ms);
	wire_stats_get(t.w, WIRE_A_TO_B, &st);
	ok(st.rx_frames == 1 && st.tx_frames == 1 && st.tx_bytes == 100, "counters: 1 in, 1 out");
	harness_close(&t);
}

static void test_forward_replay(void)
{
	static unsigned char kept[NFRAMES];
	struct wire_impairment imp = { .loss = 0.1, .delay_ns = 2000000, .jitter_ns = 1000000 };
	struct wire_stats st;
	struct harness t;
	int n = 2000, match = 1, expect = 0;

	if (harness_open(&t, 99, n, 200) < 0) {
		ok(0, "harness: %s", strerror(errno));
		return;
	}
	wire_set_impairment(t.w, WIRE_A_TO_B, &imp);
	t.burst = 20; /* 20 frames a millisecond: the receiving socket never fills */
	harness_send(&t);
	/* The decisions a bare path with the same seed makes, frame by frame. */
	run_path(99, &imp, kept, NULL);
	for (int i = 0; i < n; i++)
		expect += kept[i];
	harness_run(&t, expect, 10000);
	for (int i = 0; i < n; i++)
		match &= t.seen[i] == kept[i];
	is_int(t.got, expect, "2000 frames at 10% loss: the replayed count arrives");
	ok(match, "exactly the frames the seed chose arrived");
	is_int(t.out_of_order, 0, "in order despite 1 ms of jitter");
	wire_stats_get(t.w, WIRE_A_TO_B, &st);
	ok(st.rx_frames == (uint64_t)n && st.lost == (uint64_t)(n - expect) &&
	       st.tx_frames == (uint64_t)expect && st.tx_errors == 0,
	   "counters: %llu in, %llu lost, %llu out, %llu errors", (unsigned long long)st.rx_frames,
	   (unsigned long long)st.lost, (unsigned long long)st.tx_frames,
	   (unsigned long long)st.tx_errors);
	harness_close(&t);
}

static void test_forward_rate(void)
{
	struct wire_impairment imp = { .rate_bps = 10000000 };
	struct harness t;
	double ms;

	/* 100 frames of 1250 bytes at 10 Mbit/s: 100 ms of serialization. */
	if (harness_open(&t, 5, 100, 1250) < 0) {
		ok(0, "harness: %s", strerror(errno));
		return;
	}
	wire_set_impairment(t.w, WIRE_A_TO_B, &imp);
	harness_send(&t);
	harness_run(&t, 100, 3000);
	ms = (double)(t.last_arrival_ns - t.first_send_ns) / 1e6;
	is_int(t.got, 100, "all 100 frames arrived");
	ok(ms >= 99.0 && ms < 115.0, "rate 10mbit: 125 kB took %.1f ms (100 expected)", ms);
	harness_close(&t);
}

static void test_forward_down(void)
{
	struct wire_stats st;
	struct harness t;

	if (harness_open(&t, 5, 50, 100) < 0) {
		ok(0, "harness: %s", strerror(errno));
		return;
	}
	wire_set_impairment(t.w, WIRE_A_TO_B, &(struct wire_impairment){ .delay_ns = 50000000 });
	harness_send(&t);
	harness_run(&t, 50, 20); /* all 50 read and queued for 50 ms */
	is_int((long long)wire_queued(t.w, WIRE_A_TO_B), 50, "50 frames in flight");
	wire_set_up(t.w, false);
	ok(!wire_is_up(t.w), "link reported down");
	is_int((long long)wire_queued(t.w, WIRE_A_TO_B), 0, "going down empties the queue");
	t.sent = 0;
	harness_send(&t);
	harness_run(&t, 1, 150);
	is_int(t.got, 0, "nothing arrives while down");
	wire_stats_get(t.w, WIRE_A_TO_B, &st);
	is_int((long long)st.dropped_down, 100, "dropped_down: 50 queued + 50 read while down");
	wire_set_up(t.w, true);
	t.sent = 0;
	harness_send(&t);
	harness_run(&t, 50, 2000);
	is_int(t.got, 50, "up again: all 50 arrive");
	harness_close(&t);
}

int main(void)
{
	test_prng();
	test_loss();
	test_duplicate_reorder();
	test_delay_rate();
	test_parse();
	test_forward_delay();
	test_forward_replay();
	test_forward_rate();
	test_forward_down();
	return tap_done();
}
