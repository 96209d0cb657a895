/* SPDX-License-Identifier: MIT */
/*
 * peer/hardnat_plan.c: NAT kinds from observations, the technique per pair of kinds,
 * the easy side's port order, pacing, and the birthday odds (docs/events.md, "Hard NATs").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardnat_plan.h"
#include "tap.h"

#define MS 1000000ull
#define IP 0xc6120005u /* 198.18.0.5 */

static enum hardnat_kind kind_of(const struct hardnat_obs *o, int n, struct hardnat_type *t)
{
	hardnat_classify(o, n, t);
	return t->kind;
}

static void test_classify(void)
{
	struct hardnat_type t;
	struct hardnat_obs easy[3] = { { IP, 40000 }, { IP, 40000 }, { IP, 40000 } };
	struct hardnat_obs seq[3] = { { IP, 1030 }, { IP, 1031 }, { IP, 1032 } };
	struct hardnat_obs gap[3] = { { IP, 1030 }, { IP, 1034 }, { IP, 1035 } };
	struct hardnat_obs rnd[3] = { { IP, 51234 }, { IP, 7023 }, { IP, 33001 } };
	struct hardnat_obs back[2] = { { IP, 1031 }, { IP, 1030 } };
	struct hardnat_obs wrap[2] = { { IP, 65535 }, { IP, 0 } };
	struct hardnat_obs pool[2] = { { IP, 1030 }, { IP + 1, 1031 } };
	struct hardnat_obs far[2] = { { IP, 1030 }, { IP, 1030 + HARDNAT_SEQ_MAX_STEP + 1 } };

	is_int(kind_of(easy, 1, &t), HARDNAT_UNKNOWN, "one endpoint: unknown");
	is_int(kind_of(easy, 0, &t), HARDNAT_UNKNOWN, "none: unknown");
	is_int(kind_of(easy, 3, &t), HARDNAT_EASY, "one mapping for all: easy");
	is_int(t.last_port, 40000, "easy: the mapped port");
	is_int(kind_of(seq, 3, &t), HARDNAT_HARD_SEQ, "successive ports: sequential");
	is_int(t.step, 1, "step 1");
	is_int(t.last_port, 1032, "the last port observed");
	is_int(kind_of(gap, 3, &t), HARDNAT_HARD_SEQ,
	       "a gap (someone else's mappings): still sequential");
	is_int(t.step, 1, "the least gap is the step");
	is_int(kind_of(rnd, 3, &t), HARDNAT_HARD_RAND, "unrelated ports: random");
	is_int(kind_of(back, 2, &t), HARDNAT_HARD_RAND, "a port going down: random");
	is_int(kind_of(wrap, 2, &t), HARDNAT_HARD_SEQ, "65535 then 0: sequential across the wrap");
	is_int(kind_of(pool, 2, &t), HARDNAT_HARD_RAND, "another address per destination: random");
	is_int(kind_of(far, 2, &t), HARDNAT_HARD_RAND, "more than the largest step apart: random");
	is_str(hardnat_kind_name(HARDNAT_HARD_SEQ), "hard-sequential", "kind name");
	is_str(hardnat_kind_name(HARDNAT_UNKNOWN), "unknown", "unknown name");
}

static void test_choose(void)
{
	const char *why;

	is_int(hardnat_choose(HARDNAT_EASY, HARDNAT_EASY, &why), HARDNAT_TECH_NONE, "easy x easy");
	ok(why == NULL, "easy x easy: no event");
	is_int(hardnat_choose(HARDNAT_UNKNOWN, HARDNAT_EASY, &why), HARDNAT_TECH_NONE,
	       "unknown x easy: nothing hard");
	ok(why == NULL, "unknown x easy: no event");
	is_int(hardnat_choose(HARDNAT_EASY, HARDNAT_HARD_RAND, &why), HARDNAT_TECH_BIRTHDAY_EASY,
	       "easy x hard: we probe random ports");
	is_int(hardnat_choose(HARDNAT_HARD_RAND, HARDNAT_EASY, &why), HARDNAT_TECH_BIRTHDAY_HARD,
	       "hard x easy: we open sockets");
	is_int(hardnat_choose(HARDNAT_HARD_SEQ, HARDNAT_EASY, &why), HARDNAT_TECH_BIRTHDAY_HARD,
	       "sequential x easy: birthday too");
	is_int(hardnat_choose(HARDNAT_HARD_SEQ, HARDNAT_HARD_SEQ, &why), HARDNAT_TECH_PREDICT,
	       "sequential x sequential: prediction");
	is_int(hardnat_choose(HARDNAT_HARD_RAND, HARDNAT_HARD_RAND, &why), HARDNAT_TECH_NONE,
	       "random x random: relay");
	ok(why && strstr(why, "relay stays"), "random x random says why: %s", why ? why : "(null)");
	is_int(hardnat_choose(HARDNAT_HARD_SEQ, HARDNAT_HARD_RAND, &why), HARDNAT_TECH_NONE,
	       "sequential x random: relay");
	is_int(hardnat_choose(HARDNAT_HARD_RAND, HARDNAT_UNKNOWN, &why), HARDNAT_TECH_NONE,
	       "hard x unknown: nothing to aim at");
	ok(why && strstr(why, "unknown"), "hard x unknown says why");
}

static void test_perm(void)
{
	struct hardnat_perm pm;
	unsigned char *seen = calloc(65536, 1);
	uint32_t i, dups = 0, low = 0;

	hardnat_perm_init(&pm, 123456789u, 987654321u);
	for (i = 0; i < HARDNAT_PORT_COUNT; i++) {
		uint16_t port = hardnat_perm_port(&pm, i);

		low += port < HARDNAT_PORT_LO;
		dups += seen[port]++ != 0;
	}
	is_int(low, 0, "no port below 1024");
	is_int(dups, 0, "every port of 1024-65535 once in 64512 probes");
	hardnat_perm_init(&pm, 0, 0);
	ok(hardnat_perm_port(&pm, 1) != hardnat_perm_port(&pm, 0) + 1,
	   "successive probes are not neighbours (stride %u)", pm.stride);
	free(seen);
}

/*
 * A sequential allocator gives the hard side's sockets one block of consecutive ports:
 * the easy side's first HARDNAT_PROBES_DEFAULT probes must leave no gap longer than
 * HARDNAT_SOCKETS_DEFAULT ports between them, wherever the block lies and whatever
 * the random numbers. Before the golden-ratio stride, 2.5% of random strides left such
 * a gap (three-gap theorem: the probes bunch up), and the block was missed that often.
 */
static void test_perm_blocks(void)
{
	unsigned char *hit = malloc(HARDNAT_PORT_COUNT);
	uint32_t seed = 12345, r1, r2, i, j, gap, most, worst = 0, bad = 0, first;
	struct hardnat_perm pm;
	int n;

	for (n = 0; n < 400; n++) {
		seed = seed * 1103515245u + 12345u;
		r1 = seed;
		seed = seed * 1103515245u + 12345u;
		r2 = seed ^ (uint32_t)n << 7;
		hardnat_perm_init(&pm, r1, r2);
		memset(hit, 0, HARDNAT_PORT_COUNT);
		for (i = 0; i < HARDNAT_PROBES_DEFAULT; i++)
			hit[hardnat_perm_port(&pm, i) - HARDNAT_PORT_LO] = 1;
		/* The longest circular run of unprobed ports. */
		for (first = 0; !hit[first]; first++)
			;
		for (gap = 0, most = 0, i = 1; i <= HARDNAT_PORT_COUNT; i++) {
			j = (first + i) % HARDNAT_PORT_COUNT;
			gap = hit[j] ? 0 : gap + 1;
			most = gap > most ? gap : most;
		}
		bad += most > HARDNAT_SOCKETS_DEFAULT;
		worst = most > worst ? most : worst;
	}
	ok(bad == 0,
	   "400 random permutations: a block of 256 ports is always hit in 2000 probes (%u "
	   "of them miss one; longest unprobed run %u ports)",
	   bad, worst);
	free(hit);
}

static void test_due(void)
{
	uint64_t t0 = 5000 * MS, budget = 8000 * MS;

	is_int(hardnat_due(t0, t0, 400, 2000, budget, 0), 1, "one probe at once");
	is_int(hardnat_due(t0, t0, 400, 2000, budget, 1), 0, "then none until the rate allows");
	is_int(hardnat_due(t0, t0 + 100 * MS, 400, 2000, budget, 1), 40,
	       "400/s: 40 more after 100 ms");
	is_int(hardnat_due(t0, t0 + 7999 * MS, 400, 2000, budget, 1000), 1000,
	       "never more than the count in all");
	is_int(hardnat_due(t0, t0 + 8001 * MS, 400, 2000, budget, 10), 0,
	       "none after the time budget");
	ok(!hardnat_over(t0, t0 + 100 * MS, 2000, budget, 41), "not over in budget");
	ok(hardnat_over(t0, t0 + 100 * MS, 2000, budget, 2000), "over when all are sent");
	ok(hardnat_over(t0, t0 + 8001 * MS, 2000, budget, 5), "over when the time is spent");
}

static void test_birthday(void)
{
	double p174 = hardnat_birthday_p(256, HARDNAT_PORT_COUNT, 174);
	double p2000 = hardnat_birthday_p(256, HARDNAT_PORT_COUNT, 2000);
	/* With replacement the odds are 1 - (1 - k/N)^n; without, a little better. */
	double approx = 1 - pow(1 - 256.0 / HARDNAT_PORT_COUNT, 2000);

	ok(p174 > 0.49 && p174 < 0.51, "256 sockets, 174 probes: about one in two (%.4f)", p174);
	ok(p2000 > 0.9996 && p2000 >= approx, "2000 probes: %.5f >= %.5f", p2000, approx);
	ok(hardnat_birthday_p(256, HARDNAT_PORT_COUNT, 0) == 0.0, "no probe, no chance");
	ok(hardnat_birthday_p(10, 20, 11) == 1.0, "more probes than free ports: certain");
}

static void test_predict(void)
{
	is_int(hardnat_predict_port(1030, 1, 1), 1031, "next port");
	is_int(hardnat_predict_port(1030, 2, 3), 1036, "third with step 2");
	is_int(hardnat_predict_port(65535, 1, 1), 0, "wraps");
}

/*
 * Two sequential NATs (steps 1 and 2) and others' mappings on each, oa and ob, between
 * each side's observation and its probes: the sweeper's k-th new mapping (k from 1) is
 * on port pa + step * (oa + k) towards its k-th target, the fan's l-th on
 * pb + step * (ob + l). A pair is one 4-tuple when each aims at the other's port.
 */
static bool predict_meets(int step, int oa, int ob)
{
	uint16_t pa = 3000, pb = 1030;
	int k, l;

	for (k = 1; k <= HARDNAT_PREDICT_SPAN; k++)
		for (l = 1; l <= HARDNAT_PREDICT_SPAN; l++) {
			uint16_t a_port = (uint16_t)(pa + step * (oa + k));
			uint16_t b_port = (uint16_t)(pb + step * (ob + l));

			if (hardnat_predict_target(true, pb, step, k - 1) == b_port &&
			    hardnat_predict_target(false, pa, step, l - 1) == a_port)
				return true;
		}
	return false;
}

static void test_predict_meets(void)
{
	int step, oa, ob, wrong = 0;

	for (step = 1; step <= 2; step++)
		for (oa = 0; oa <= 20; oa++)
			for (ob = 0; ob <= 20; ob++)
				wrong +=
				    predict_meets(step, oa, ob) != (oa + ob < HARDNAT_PREDICT_SPAN);
	is_int(wrong, 0,
	       "sweep and fan meet exactly when others' mappings on both sides add up to "
	       "less than the span (0-20 each, steps 1 and 2)");
	ok(predict_meets(1, 0, 0), "no one else: they meet");
	ok(predict_meets(1, 15, 0) && predict_meets(1, 0, 15) && predict_meets(1, 7, 8),
	   "15 others' mappings, on either side or split: still");
	ok(!predict_meets(1, 8, 8), "16: no more");
}

int main(void)
{
	test_classify();
	test_choose();
	test_perm();
	test_perm_blocks();
	test_due();
	test_birthday();
	test_predict();
	test_predict_meets();
	return tap_done();
}
