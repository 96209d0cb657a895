/* SPDX-License-Identifier: MIT */
/* End-to-end sealing: round trips, tampering, replays, stale sessions, restarts. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "natlab/frame.h"
#include "natlab/seal.h"
#include "tap.h"

static struct identity alice, bob, carol;

/* Sets up a pair that has already exchanged hellos: both bound to each other. */
static void pair(struct seal_ctx *a, struct seal_ctx *b)
{
	seal_init(a, &alice, bob.pub);
	seal_init(b, &bob, alice.pub);
	seal_set_dst(a, b->my_session);
	seal_set_dst(b, a->my_session);
}

static int roundtrip(struct seal_ctx *from, struct seal_ctx *to, const char *text, int *bound)
{
	uint8_t pkt[256], out[256];
	int n = seal_seal(from, text, strlen(text), pkt, sizeof(pkt));

	if (n < 0)
		return n;
	n = seal_open(to, pkt, (size_t)n, out, sizeof(out), bound);
	if (n >= 0 && ((size_t)n != strlen(text) || memcmp(out, text, (size_t)n) != 0))
		return -EPROTO;
	return n;
}

static void test_keys(void)
{
	struct seal_ctx a, b, c;
	uint8_t low_order[32] = { 0 };
	int bound = -1;

	is_int(seal_init(&a, &alice, bob.pub), 0, "alice derives keys for bob");
	is_int(seal_init(&b, &bob, alice.pub), 0, "bob derives keys for alice");
	ok(a.dir != b.dir, "the two sides have opposite directions");
	ok(memcmp(a.tx_static, b.rx_static, 32) == 0 && memcmp(a.rx_static, b.tx_static, 32) == 0,
	   "X25519 from the Ed25519 identities agrees on both sides");
	ok(memcmp(a.tx_static, a.rx_static, 32) != 0, "each direction has its own key");
	is_int(seal_init(&c, &alice, alice.pub), -EINVAL, "sealing to oneself is refused");
	low_order[0] = 1; /* the identity point: a small-order key */
	is_int(seal_init(&c, &alice, low_order), -EINVAL, "small-order peer key refused");

	/* Unbound first contact, then bound traffic addressed to the session it names. */
	{
		uint8_t pkt[128], out[128];
		int n = seal_seal(&a, "hello", 5, pkt, sizeof(pkt));

		is_int(seal_open(&b, pkt, (size_t)n, out, sizeof(out), &bound), 5,
		       "unbound hello opens");
		is_int(bound, 0, "a packet with no destination session is unbound");
		ok(memcmp(seal_packet_src(pkt), a.my_session, SEAL_SESSION_LEN) == 0,
		   "the packet names its sender's session");
		seal_set_dst(&b, seal_packet_src(pkt));
	}
	is_int(roundtrip(&b, &a, "hello back", &bound), 10, "bound reply opens");
	is_int(bound, 1, "a reply addressed to alice's session is bound");
	seal_close(&a);
	seal_close(&b);
}

static void test_tamper(void)
{
	struct seal_ctx a, b, c;
	uint8_t pkt[256], bad[256], out[256];
	const char *text = "attack at dawn";
	int n, bound, i, failed = 0;

	pair(&a, &b);
	n = seal_seal(&a, text, strlen(text), pkt, sizeof(pkt));
	is_int(n, (int)(strlen(text) + SEAL_OVERHEAD), "packet length is plaintext + overhead");
	ok(memmem(pkt, (size_t)n, text, strlen(text)) == NULL,
	   "plaintext does not appear in the packet");
	for (i = 0; i < n; i++) {
		memcpy(bad, pkt, (size_t)n);
		bad[i] ^= 0x40;
		if (seal_open(&b, bad, (size_t)n, out, sizeof(out), &bound) >= 0)
			failed++;
	}
	is_int(failed, 0, "flipping any single byte makes the packet fail");
	is_int(seal_open(&b, pkt, (size_t)n - 1, out, sizeof(out), &bound), -EBADMSG,
	       "a truncated packet fails");
	is_int(seal_open(&b, pkt, (size_t)n, out, sizeof(out), &bound), (int)strlen(text),
	       "the untouched packet still opens after the failures");

	/* A third party with its own identity cannot open or forge. */
	seal_init(&c, &carol, alice.pub);
	seal_set_dst(&c, a.my_session);
	n = seal_seal(&c, text, strlen(text), pkt, sizeof(pkt));
	is_int(seal_open(&a, pkt, (size_t)n, out, sizeof(out), &bound), -EBADMSG,
	       "a packet sealed by carol does not open as bob's");
	seal_close(&a);
	seal_close(&b);
	seal_close(&c);
}

static void test_replay(void)
{
	struct seal_ctx a, b;
	uint8_t pkts[4][128], out[128], pkt[128];
	int lens[4], bound, i, n, accepted;

	pair(&a, &b);
	for (i = 0; i < 4; i++)
		lens[i] = seal_seal(&a, "x", 1, pkts[i], sizeof(pkts[i]));
	ok(frame_get_u64(pkts[3] + 17) == 3, "the counter increases by one per packet");
	is_int(seal_open(&b, pkts[0], (size_t)lens[0], out, sizeof(out), &bound), 1, "packet 0");
	is_int(seal_open(&b, pkts[0], (size_t)lens[0], out, sizeof(out), &bound), -EALREADY,
	       "packet 0 replayed is dropped");
	is_int(seal_open(&b, pkts[3], (size_t)lens[3], out, sizeof(out), &bound), 1,
	       "packet 3 before 1 and 2");
	is_int(seal_open(&b, pkts[2], (size_t)lens[2], out, sizeof(out), &bound), 1,
	       "packet 2 late, inside the window");
	is_int(seal_open(&b, pkts[1], (size_t)lens[1], out, sizeof(out), &bound), 1,
	       "packet 1 late, inside the window");
	is_int(seal_open(&b, pkts[2], (size_t)lens[2], out, sizeof(out), &bound), -EALREADY,
	       "packet 2 replayed is dropped");

	/* Move the window far ahead: an old packet is refused even if never seen. */
	a.tx_counter = 100000;
	n = seal_seal(&a, "y", 1, pkt, sizeof(pkt));
	is_int(seal_open(&b, pkt, (size_t)n, out, sizeof(out), &bound), 1,
	       "a jump ahead is accepted");
	a.tx_counter = 100000 - SEAL_WINDOW;
	n = seal_seal(&a, "z", 1, pkt, sizeof(pkt));
	is_int(seal_open(&b, pkt, (size_t)n, out, sizeof(out), &bound), -EALREADY,
	       "a packet older than the window is dropped");

	/* A long in-order run, then every packet of it replayed. */
	accepted = 0;
	a.tx_counter = 200000;
	for (i = 0; i < 3 * SEAL_WINDOW; i++) {
		n = seal_seal(&a, "r", 1, pkt, sizeof(pkt));
		if (seal_open(&b, pkt, (size_t)n, out, sizeof(out), &bound) == 1)
			accepted++;
	}
	is_int(accepted, 3 * SEAL_WINDOW, "a long in-order run is accepted");
	accepted = 0;
	for (i = 0; i < 3 * SEAL_WINDOW; i++) {
		uint8_t re[128];

		a.tx_counter = 200000 + (uint64_t)i;
		n = seal_seal(&a, "r", 1, re, sizeof(re));
		if (seal_open(&b, re, (size_t)n, out, sizeof(out), &bound) >= 0)
			accepted++;
	}
	is_int(accepted, 0, "no counter of the run is accepted twice");
	seal_close(&a);
	seal_close(&b);
}

static void test_sessions(void)
{
	struct seal_ctx a, b, a2;
	uint8_t old[128], pkt[128], out[128];
	int n_old, n, bound;

	pair(&a, &b);
	n_old = seal_seal(&a, "old", 3, old, sizeof(old));
	is_int(seal_open(&b, old, (size_t)n_old, out, sizeof(out), &bound), 3,
	       "old session packet");

	/* bob restarts: a new process, same identity, new session. */
	seal_close(&b);
	seal_init(&b, &bob, alice.pub);
	is_int(seal_open(&b, old, (size_t)n_old, out, sizeof(out), &bound), -ESTALE,
	       "a packet recorded before bob restarted is stale");

	/* alice restarts: same key and counter 0, but a new session key: no nonce reuse. */
	pair(&a, &b);
	seal_init(&a2, &alice, bob.pub);
	ok(memcmp(a.tx_key, a2.tx_key, 32) != 0, "a restarted sender uses another key");
	n = seal_seal(&a, "one", 3, pkt, sizeof(pkt));
	is_int(seal_open(&b, pkt, (size_t)n, out, sizeof(out), &bound), 3, "first alice");
	seal_set_dst(&a2, b.my_session);
	n = seal_seal(&a2, "two", 3, pkt, sizeof(pkt));
	is_int(seal_open(&b, pkt, (size_t)n, out, sizeof(out), &bound), -ESTALE,
	       "restarted alice is refused until it shakes hands again");
	ok(memcmp(b.rx_session, a.my_session, SEAL_SESSION_LEN) == 0,
	   "bob stays with alice's first session");
	seal_close(&a);
	seal_close(&a2);
	seal_close(&b);
}

/* One side of a recorded exchange: n sealed packets kept for replaying. */
struct tape {
	uint8_t pkt[8][128];
	int len[8];
	int n;
};

static int record(struct seal_ctx *from, struct tape *t, const char *text)
{
	int n = seal_seal(from, text, strlen(text), t->pkt[t->n], sizeof(t->pkt[t->n]));

	if (n >= 0)
		t->len[t->n++] = n;
	return n;
}

/* Opens every packet of t in to; returns how many were accepted. */
static int replay(struct seal_ctx *to, const struct tape *t, int from)
{
	uint8_t out[128];
	int i, bound, accepted = 0;

	for (i = from; i < t->n; i++)
		if (seal_open(to, t->pkt[i], (size_t)t->len[i], out, sizeof(out), &bound) >= 0 &&
		    bound)
			accepted++;
	return accepted;
}

/* The connector's hello (unbound), the listener's answer, as session.c runs them. */
static void handshake(struct seal_ctx *conn, struct seal_ctx *lis, struct tape *hello)
{
	uint8_t out[128], answer[128];
	int bound = -1, n;

	record(conn, hello, "HELLO");
	n = seal_open(lis, hello->pkt[hello->n - 1], (size_t)hello->len[hello->n - 1], out,
	              sizeof(out), &bound);
	is_int(n, 5, "the connector's hello opens");
	is_int(bound, 0, "the hello is unbound");
	seal_set_dst(lis, seal_packet_src(hello->pkt[hello->n - 1]));
	n = seal_seal(lis, "ANSWER", 6, answer, sizeof(answer));
	is_int(seal_open(conn, answer, (size_t)n, out, sizeof(out), &bound), 6,
	       "the listener's answer opens");
	is_int(bound, 1, "the answer is bound to the connector's session");
	seal_set_dst(conn, seal_packet_src(answer));
}

static void test_restart_replay(void)
{
	struct seal_ctx lis, c1, c2;
	struct tape hello1 = { 0 }, hello2 = { 0 }, old = { 0 }, cur = { 0 };
	uint8_t out[128];
	int i, bound;

	seal_init(&lis, &bob, alice.pub);
	seal_init(&c1, &alice, bob.pub);
	handshake(&c1, &lis, &hello1);
	for (i = 0; i < 4; i++)
		record(&c1, &old, "first run");
	is_int(replay(&lis, &old, 0), 4, "the first connector's packets are accepted");

	/* The connector restarts and shakes hands again; the relay kept the old packets. */
	seal_init(&c2, &alice, bob.pub);
	handshake(&c2, &lis, &hello2);
	record(&c2, &cur, "bound to the answer");
	ok(memcmp(cur.pkt[0] + 1 + SEAL_SESSION_LEN, old.pkt[0] + 1 + SEAL_SESSION_LEN,
	          SEAL_SESSION_LEN) != 0,
	   "the listener answered the new session from a session minted for it");
	is_int(replay(&lis, &cur, 0), 1, "the restarted connector's first bound packet switches");
	is_int(replay(&lis, &old, 0), 0, "no packet of the old session is accepted after it");
	is_int(replay(&lis, &cur, 0), 0, "nor one of the new session twice");
	for (i = 0; i < 3; i++)
		record(&c2, &cur, "second run");
	is_int(replay(&lis, &cur, 1), 3, "the new session goes on");
	is_int(replay(&lis, &old, 0) + replay(&lis, &cur, 0), 0,
	       "replaying both sessions again and again gets nothing in");

	/* A replayed old hello starts a handshake no live peer completes. */
	is_int(seal_open(&lis, hello1.pkt[0], (size_t)hello1.len[0], out, sizeof(out), &bound), 5,
	       "the old hello still opens (unbound hellos are not replay-checked)");
	seal_set_dst(&lis, seal_packet_src(hello1.pkt[0]));
	is_int(roundtrip(&lis, &c2, "to the old session", &bound), -ESTALE,
	       "what answers the replayed hello is stale for the live connector");
	record(&c2, &cur, "still here");
	is_int(replay(&lis, &cur, 4), 1, "the live connector's packets are still accepted");
	seal_set_dst(&lis, seal_packet_src(cur.pkt[4]));
	is_int(roundtrip(&lis, &c2, "back to you", &bound), 11,
	       "the listener sends to the live connector again");
	is_int(replay(&lis, &old, 0) + replay(&lis, &cur, 0), 0,
	       "and still nothing recorded is accepted");
	seal_close(&lis);
	seal_close(&c1);
	seal_close(&c2);
}

/*
 * Address records: the listener announces a session before it knows the connector
 * (seal_use_session), the connector's probes are bound to it before the listener's first
 * packet (seal_seal_to). A session from a stale record is refused, and seal_seal_to
 * leaves what the connector knows untouched.
 */
static void test_announced_session(void)
{
	struct seal_ctx l, c;
	uint8_t announced[SEAL_SESSION_LEN], stale[SEAL_SESSION_LEN],
	    zero[SEAL_SESSION_LEN] = { 0 };
	uint8_t pkt[128], out[128];
	int n, bound = -1;

	memset(announced, 0x3c, sizeof(announced));
	memset(stale, 0x4d, sizeof(stale));
	seal_init(&l, &alice, bob.pub);
	is_int(seal_use_session(&l, zero), -EINVAL, "a zero session cannot be announced");
	is_int(seal_use_session(&l, announced), 0, "the listener takes the announced session");
	seal_init(&c, &bob, alice.pub);
	/* The connector's unbound hello reached the listener through the relay. */
	n = seal_seal(&c, "hello", 5, pkt, sizeof(pkt));
	seal_open(&l, pkt, (size_t)n, out, sizeof(out), &bound);
	seal_set_dst(&l, seal_packet_src(pkt));
	n = seal_seal_to(&c, stale, "probe", 5, pkt, sizeof(pkt));
	is_int(seal_open(&l, pkt, (size_t)n, out, sizeof(out), &bound), -ESTALE,
	       "a probe bound to a stale record's session is refused");
	ok(sodium_is_zero(c.dst_session, SEAL_SESSION_LEN),
	   "seal_seal_to leaves the known session unset");
	n = seal_seal_to(&c, announced, "probe", 5, pkt, sizeof(pkt));
	is_int(seal_open(&l, pkt, (size_t)n, out, sizeof(out), &bound), 5,
	       "a probe bound to the announced session opens");
	is_int(bound, 1, "bound: the listener may act on it");
	is_int(roundtrip(&l, &c, "ack", &bound), 3, "the listener's answer opens at the connector");
	is_int(bound, 1, "bound to the connector's session");
	is_int(seal_use_session(&l, stale), -EBUSY, "the session cannot change once in use");
}

int main(void)
{
	if (sodium_init() < 0)
		tap_skip_all("libsodium does not start");
	identity_generate(&alice);
	identity_generate(&bob);
	identity_generate(&carol);
	test_keys();
	test_tamper();
	test_replay();
	test_sessions();
	test_restart_replay();
	test_announced_session();
	return tap_done();
}
