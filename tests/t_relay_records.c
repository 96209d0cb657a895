/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay's address records (docs/relay.md, "Address records"): the CHALLENGE
 * advertises them; a client's published record is handed, byte for byte, to a client that
 * looks its key up, or when it comes to one that looked up before; an unknown key, a client that
 * left, a record of another key, a bad signature and an older record; and a relay started with
 * --no-records, which behaves as a relay before records did (no flag; PUBLISH and LOOKUP are
 * unexpected frames).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "natlab/addr_record.h"
#include "relay_harness.h"
#include "tap.h"

static struct rh_relay relay;

/* A record of signer's with seq, as published: the frame into out, its length. */
static int record_frame(uint8_t *out, const struct identity *signer, uint64_t seq, uint16_t port)
{
	struct addr_record r = { .seq = seq, .n = 1 };
	int n;

	r.expiry = (uint64_t)time(NULL) + 600;
	memset(r.session, 7, sizeof(r.session));
	r.cand[0] = (struct addr_record_cand){
		.kind = 2, .family = 4, .ip = { 198, 18, 0, 9 }, .port = port
	};
	n = addr_record_encode(out + FRAME_HEADER_LEN, ADDR_RECORD_MAX_LEN, &r, signer);
	if (n < 0 || frame_header_write(out, RELAY_FRAME_PUBLISH, (size_t)n) < 0)
		return -1;
	return FRAME_HEADER_LEN + n;
}

/* Looks key up from c: the RECORD's record bytes into rec (length returned), -1 if none came. */
static int lookup(struct rh_client *c, const uint8_t *key, uint8_t *rec)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_KEY_LEN];
	int n = relay_lookup_encode(frame, sizeof(frame), key);

	if (n < 0 || rh_client_write(c, frame, (size_t)n) < 0 ||
	    rh_client_expect(c, RELAY_FRAME_RECORD, 2000) != 1 || c->f.len < RELAY_KEY_LEN ||
	    memcmp(c->f.payload, key, RELAY_KEY_LEN) != 0)
		return -1;
	memcpy(rec, c->f.payload + RELAY_KEY_LEN, c->f.len - RELAY_KEY_LEN);
	return (int)(c->f.len - RELAY_KEY_LEN);
}

/* A ping's answer: the relay has handled what c sent before it. */
static void sync_with(struct rh_client *c)
{
	uint8_t frame[FRAME_HEADER_LEN + RELAY_PING_LEN];

	relay_ping_encode(frame, sizeof(frame), RELAY_FRAME_PING, (const uint8_t *)"syncsync");
	rh_client_write(c, frame, sizeof(frame));
	rh_client_expect(c, RELAY_FRAME_PONG, 2000);
}

static void test_publish_lookup(void)
{
	struct rh_client *a = rh_client_new(relay.port, 0), *b = rh_client_new(relay.port, 0);
	uint8_t pub[FRAME_HEADER_LEN + ADDR_RECORD_MAX_LEN], old[sizeof(pub)], got[2048];
	uint8_t nobody[32] = { 9 };
	struct addr_record r;
	int n, n_old;

	is_int(rh_client_handshake(a, NULL, 0, 2000), 0, "a authenticates");
	is_int(rh_client_handshake(b, NULL, 0, 2000), 0, "b authenticates");
	ok(a->challenge_flags & RELAY_CHALLENGE_RECORDS, "the challenge advertises records");
	is_int(lookup(b, a->id.pub, got), 0, "before a publishes: an empty RECORD");
	is_int(lookup(b, a->id.pub, got), 0, "asked again (a connector asks with each HELLO)");
	is_int(lookup(b, nobody, got), 0, "an unknown key: an empty RECORD");
	n_old = record_frame(old, &a->id, 10, 1000);
	n = record_frame(pub, &a->id, 20, 2000);
	rh_client_write(a, pub, (size_t)n);
	sync_with(a);
	/* b looked a up before a had a record: it is sent the record when it comes, once. */
	ok(rh_client_expect(b, RELAY_FRAME_RECORD, 2000) == 1 &&
	       b->f.len == (uint32_t)n - FRAME_HEADER_LEN + RELAY_KEY_LEN &&
	       memcmp(b->f.payload, a->id.pub, RELAY_KEY_LEN) == 0 &&
	       memcmp(b->f.payload + RELAY_KEY_LEN, pub + FRAME_HEADER_LEN,
	              (size_t)n - FRAME_HEADER_LEN) == 0,
	   "b, which looked a up before, is sent a's record when a publishes");
	is_int(rh_metric(relay.metrics_port, "records_pushed_total"), 1,
	       "one record pushed (b asked twice: one push)");
	is_int(lookup(b, a->id.pub, got), n - FRAME_HEADER_LEN, "b gets a's record");
	is_int(rh_metric(relay.metrics_port, "records_published_total"), 1, "one record published");
	is_int(rh_metric(relay.metrics_port, "record_lookups_total{result=\"found\"}"), 1,
	       "one lookup found a record");
	is_int(rh_metric(relay.metrics_port, "record_lookups_total{result=\"none\"}"), 3,
	       "three found none");
	ok(memcmp(got, pub + FRAME_HEADER_LEN, (size_t)n - FRAME_HEADER_LEN) == 0, "byte for byte");
	is_int(addr_record_decode(&r, got, (size_t)n - FRAME_HEADER_LEN, a->id.pub,
	                          (uint64_t)time(NULL)),
	       0, "it verifies as a's");
	/* An older record (a replay of its own) does not replace the newer one. */
	rh_client_write(a, old, (size_t)n_old);
	sync_with(a);
	lookup(b, a->id.pub, got);
	is_int(addr_record_decode(&r, got, (size_t)n - FRAME_HEADER_LEN, a->id.pub,
	                          (uint64_t)time(NULL)),
	       0, "still a record of a's");
	ok(r.seq == 20 && r.cand[0].port == 2000, "the newer one is kept");
	/* A newer record is not pushed again: b's lookup was answered. */
	n = record_frame(pub, &a->id, 30, 3000);
	rh_client_write(a, pub, (size_t)n);
	sync_with(a);
	sync_with(b);
	is_int(rh_metric(relay.metrics_port, "records_pushed_total"), 1,
	       "a newer record is not pushed to b again");
	/* a leaves: its record goes with it. */
	rh_client_free(a);
	usleep(100000);
	is_int(lookup(b, nobody, got), 0, "b's connection still answers");
	{
		uint8_t key_a[32];
		int left;

		memcpy(key_a, r.key, sizeof(key_a));
		left = lookup(b, key_a, got);
		is_int(left, 0, "once a left: an empty RECORD");
	}
	rh_client_free(b);
}

/* Two authenticated clients. */
static void pair_new(struct rh_client **a, struct rh_client **b)
{
	*a = rh_client_new(relay.port, 0);
	*b = rh_client_new(relay.port, 0);
	rh_client_handshake(*a, NULL, 0, 2000);
	rh_client_handshake(*b, NULL, 0, 2000);
}

/* a publishes a record (seq, port), handled by the relay on return; the record's length. */
static int publish_synced(struct rh_client *a, uint64_t seq, uint16_t port)
{
	uint8_t pub[FRAME_HEADER_LEN + ADDR_RECORD_MAX_LEN];
	int n = record_frame(pub, &a->id, seq, port);

	rh_client_write(a, pub, (size_t)n);
	sync_with(a);
	return n - FRAME_HEADER_LEN;
}

/* A client that looked up and left before the record came is sent nothing; the relay
 * goes on. */
static void test_waiter_gone(void)
{
	long long pushed = rh_metric(relay.metrics_port, "records_pushed_total");
	struct rh_client *a, *b;
	uint8_t got[2048];
	int n;

	pair_new(&a, &b);
	for (int i = 0; i < 3; i++)
		lookup(b, a->id.pub, got); /* looked up three times: one waiter */
	rh_client_free(b);
	usleep(100000);
	n = publish_synced(a, 40, 4000);
	is_int(rh_metric(relay.metrics_port, "records_pushed_total"), pushed,
	       "a waiter that left is sent nothing");
	b = rh_client_new(relay.port, 0);
	rh_client_handshake(b, NULL, 0, 2000);
	is_int(lookup(b, a->id.pub, got), n, "the relay goes on: a's record");
	rh_client_free(a);
	rh_client_free(b);
}

/* A waiter that the publisher already sent to through the relay (its answer) is sent no
 * record: it would come too late. */
static void test_waiter_answered(void)
{
	long long pushed = rh_metric(relay.metrics_port, "records_pushed_total");
	struct rh_client *a, *b;
	uint8_t got[2048];

	pair_new(&a, &b);
	lookup(b, a->id.pub, got);
	rh_client_send_packet(a, b->id.pub, "answer", 6);
	ok(rh_client_expect(b, RELAY_FRAME_RECV, 2000) == 1, "a's answer reaches b");
	publish_synced(a, 50, 5000);
	sync_with(b);
	is_int(rh_metric(relay.metrics_port, "records_pushed_total"), pushed,
	       "a waiter a already answered is sent no record");
	rh_client_free(a);
	rh_client_free(b);
}

static int close_reason_after(const void *frame_bytes, size_t len, struct rh_client *c)
{
	int reason;

	rh_client_write(c, frame_bytes, len);
	reason = rh_client_wait_closed(c, 3000);
	rh_client_free(c);
	return reason;
}

static void test_refused(void)
{
	struct rh_client *a = rh_client_new(relay.port, 0), *b = rh_client_new(relay.port, 0);
	uint8_t pub[FRAME_HEADER_LEN + ADDR_RECORD_MAX_LEN];
	uint8_t short_lookup[] = { RELAY_FRAME_LOOKUP, 0, 0, 0, 2, 1, 2 };
	int n;

	rh_client_handshake(a, NULL, 0, 2000);
	rh_client_handshake(b, NULL, 0, 2000);
	n = record_frame(pub, &b->id, 1, 1);
	is_int(close_reason_after(pub, (size_t)n, a), RELAY_CLOSE_PROTOCOL,
	       "a record of another key closes the publisher (malformed)");
	a = rh_client_new(relay.port, 0);
	rh_client_handshake(a, NULL, 0, 2000);
	n = record_frame(pub, &a->id, 1, 1);
	pub[n - 1] ^= 1;
	is_int(close_reason_after(pub, (size_t)n, a), RELAY_CLOSE_PROTOCOL,
	       "a bad signature closes the publisher (malformed)");
	is_int(close_reason_after(short_lookup, sizeof(short_lookup), b), RELAY_CLOSE_PROTOCOL,
	       "a lookup that is not a 32-byte key is malformed");
}

/* A relay started with --no-records is a relay from before records, to new clients. */
static void test_old_relay(void)
{
	const char *args[] = { "--no-auth", "--no-records", NULL };
	struct rh_relay old;
	struct rh_client *a;
	uint8_t frame[FRAME_HEADER_LEN + RELAY_KEY_LEN];
	int n;

	if (rh_relay_start(&old, args) < 0) {
		ok(0, "relay --no-records starts");
		return;
	}
	a = rh_client_new(old.port, 0);
	is_int(rh_client_handshake(a, NULL, 0, 2000), 0, "a authenticates");
	ok(!(a->challenge_flags & RELAY_CHALLENGE_RECORDS), "no records advertised");
	n = relay_lookup_encode(frame, sizeof(frame), a->id.pub);
	is_int(close_reason_after(frame, (size_t)n, a), RELAY_CLOSE_UNEXPECTED,
	       "a lookup is an unexpected frame there, as on a relay before records");
	rh_relay_stop(&old, 2000);
}

int main(void)
{
	const char *args[] = { "--no-auth", NULL };

	if (rh_relay_start(&relay, args) < 0) {
		ok(0, "relay starts");
		return tap_done();
	}
	test_publish_lookup();
	test_waiter_gone();
	test_waiter_answered();
	test_refused();
	test_old_relay();
	if (relay.pid)
		rh_relay_stop(&relay, 2000);
	return tap_done();
}
