/* SPDX-License-Identifier: MIT */
/*
 * peer/punch.c: the punching rounds' timing decisions, driven by hand-made time and
 * events (docs/events.md, "Punching", says what each must be).
 */
#include <string.h>

#include "punch.h"
#include "tap.h"

#define MS PUNCH_MS
#define T0 (1000 * MS) /* an arbitrary start: nothing may assume time starts at 0 */

/* Fires the timer at its deadline until the round ends; returns the probe bursts sent. */
static int run_timer(struct punch *pp, bool direct_after_first, uint64_t *now)
{
	struct punch_out out;
	int bursts = 0;

	while (pp->deadline_ns) {
		*now = pp->deadline_ns;
		punch_on_timer(pp, *now, direct_after_first && bursts > 0, 2, &out);
		bursts += !!(out.act & PUNCH_ACT_PROBE);
	}
	return bursts;
}

static void test_connector_first_round(void)
{
	struct punch pp;
	struct punch_out out;
	uint64_t now = T0;

	punch_init(&pp, false, false);
	punch_offer(&pp, now, 7, true, 0, &out);
	is_int(out.act, PUNCH_ACT_OFFER, "first round: an offer and nothing else");
	is_int(out.offer_msg, PUNCH_OFFER_HELLO, "first round: the offer rides in the HELLO");
	is_int(out.offer_flags, 0, "eager first round: no SYNC flag");
	is_int(pp.id, 7, "the round's id is the one given");
	is_int(pp.state, PUNCH_WAIT_REPLY, "waits for the answer");
	is_int(pp.deadline_ns - now, PUNCH_REPLY_WAIT_MS * MS, "fails after 3 s without answer");

	now += 2 * MS;
	punch_on_answer(&pp, now, 2, &out);
	is_int(out.act, PUNCH_ACT_BEGIN | PUNCH_ACT_PROBE, "answer: the round starts, probes out");
	is_int(out.trigger, PUNCH_BY_ANSWER, "started by the answer");
	is_str(punch_trigger_name(out.trigger), "answer", "the event's name for it");
	is_int(pp.round, 1, "round 1");
	is_int(pp.relay_rtt_ns, 2 * MS, "the answer is an RTT sample of the offer");
	is_int(pp.deadline_ns - now, PUNCH_PROBE_INTERVAL_MS * MS, "next burst in 25 ms");

	uint64_t start = now;
	int bursts = 1 + run_timer(&pp, false, &now);

	is_int(bursts, PUNCH_PROBE_COUNT, "40 bursts in a round");
	is_int(now - start,
	       ((PUNCH_PROBE_COUNT - 1) * PUNCH_PROBE_INTERVAL_MS + PUNCH_GRACE_MS) * MS,
	       "the round fails 975 ms + 500 ms grace after it started");
	is_int(pp.state, PUNCH_IDLE, "failed round: idle");
	is_int(pp.next_round_ns, 0, "before the session is up a failed round sets no backoff");
}

static void test_first_round_sync_flag(void)
{
	struct punch pp;
	struct punch_out out;

	punch_init(&pp, false, true);
	punch_offer(&pp, T0, 1, true, 0, &out);
	is_int(out.offer_flags, PUNCH_OFFER_SYNC, "--first-punch sync: the offer asks for SYNC");
	punch_set_established(&pp);
	punch_on_answer(&pp, T0 + MS, 1, &out);
	run_timer(&pp, false, &(uint64_t){ T0 });
	punch_offer(&pp, T0 + 10000 * MS, 2, true, 1, &out);
	is_int(out.offer_flags, 0, "later rounds never ask for SYNC");
	is_int(out.offer_msg, PUNCH_OFFER_CONNECT, "later rounds go in CONNECT");
}

static void test_backoff(void)
{
	struct punch pp;
	struct punch_out out;
	uint64_t now = T0;
	static const uint32_t want[] = { 500, 1000, 2000, 4000, 8000, 8000 };

	punch_init(&pp, false, false);
	punch_set_established(&pp);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ok(punch_round_due(&pp, now), "round %zu due", i + 1);
		punch_offer(&pp, now, (uint32_t)i + 1, true, 0, &out);
		run_timer(&pp, false, &now); /* no answer: fails after 3 s */
		is_int(pp.next_round_ns - now, want[i] * MS, "backoff after a failed round");
		ok(!punch_round_due(&pp, pp.next_round_ns - 1),
		   "not due 1 ns before the backoff ends");
		now = pp.next_round_ns;
	}
	punch_on_direct(&pp);
	is_int(pp.backoff_ms, PUNCH_BACKOFF_MIN_MS, "a direct path resets the backoff");
}

static void test_later_round_synchronised(void)
{
	struct punch pp;
	struct punch_out out;
	uint64_t now = T0;

	punch_init(&pp, false, false);
	punch_set_established(&pp);
	pp.relay_rtt_ns = 8 * MS;
	punch_offer(&pp, now, 3, true, 2, &out);
	is_int(pp.state, PUNCH_WAIT_START, "known RTT and candidates: a timed start");
	is_int(pp.deadline_ns - now, 4 * MS, "probing starts half the relay RTT after the offer");
	now = pp.deadline_ns;
	punch_on_timer(&pp, now, false, 2, &out);
	is_int(out.act, PUNCH_ACT_BEGIN | PUNCH_ACT_PROBE, "the timer starts the round");
	is_int(out.trigger, PUNCH_BY_RTT, "started by the RTT timer");
	is_int(pp.delay_ns, 4 * MS, "the event's delay_ms");
	punch_on_answer(&pp, now + MS, 2, &out);
	is_int(out.act, PUNCH_ACT_PROBE, "an answer while probing: one more burst (new targets)");
	is_int(pp.relay_rtt_ns, 5 * MS, "and an RTT sample");

	punch_init(&pp, false, false);
	punch_set_established(&pp);
	pp.relay_rtt_ns = 5000 * MS;
	punch_offer(&pp, now, 4, true, 2, &out);
	is_int(pp.deadline_ns - now, PUNCH_SYNC_WAIT_MAX_MS * MS,
	       "a synchronised wait is capped at 1 s");

	punch_init(&pp, false, false);
	punch_set_established(&pp);
	pp.relay_rtt_ns = 8 * MS;
	punch_offer(&pp, now, 5, true, 0, &out);
	is_int(pp.state, PUNCH_WAIT_REPLY, "no known candidates: wait for the answer");
}

static void test_hello_retransmission(void)
{
	struct punch pp;
	struct punch_out out;
	uint64_t deadline;

	punch_init(&pp, false, false);
	punch_hello(&pp, T0, 11, false, 0, &out);
	is_int(pp.id, 11, "first HELLO: a new round");
	deadline = pp.deadline_ns;
	punch_hello(&pp, T0 + 300 * MS, 12, false, 0, &out);
	is_int(out.act, PUNCH_ACT_OFFER, "retransmitted HELLO: the offer again");
	is_int(pp.id, 11, "same punch id");
	is_int(pp.offer_sends, 2, "two copies out");
	is_int(pp.deadline_ns, deadline, "the round's deadline stays");
	pp.relay_rtt_ns = 3 * MS;
	punch_on_answer(&pp, T0 + 301 * MS, 1, &out);
	is_int(pp.relay_rtt_ns, 3 * MS, "Karn: no RTT sample from an offer sent twice");
	is_int(out.trigger, PUNCH_BY_ANSWER, "the answer still starts the round");
}

static void test_stun_done(void)
{
	struct punch pp;
	struct punch_out out;

	punch_init(&pp, false, false);
	punch_offer(&pp, T0, 21, false, 0, &out);
	punch_on_stun_done(&pp, T0 + MS, 22, false, 0, &out);
	is_int(out.act, PUNCH_ACT_OFFER, "an offer without the reflexive candidate goes again");
	is_int(pp.id, 22, "under a new id");
	ok(pp.offer_full, "now with every candidate");
	punch_on_stun_done(&pp, T0 + 2 * MS, 23, false, 0, &out);
	is_int(out.act, 0, "a full offer is not sent again");

	punch_init(&pp, false, false);
	punch_offer(&pp, T0, 21, false, 0, &out);
	punch_on_stun_done(&pp, T0 + MS, 22, true, 0, &out);
	is_int(out.act, 0, "not when direct already");
}

static void test_listener(void)
{
	struct punch pp;
	struct punch_out out;
	uint64_t now = T0;

	punch_init(&pp, true, false);
	punch_on_offer(&pp, now, PUNCH_OFFER_HELLO, 9, 0, 4 * MS, true, &out);
	is_int(out.act, PUNCH_ACT_OFFER | PUNCH_ACT_BEGIN | PUNCH_ACT_PROBE,
	       "eager: answer and probe at once");
	is_int(out.offer_flags, PUNCH_OFFER_ANSWER, "the answer is flagged so");
	is_int(out.offer_msg, PUNCH_OFFER_HELLO, "in the offer's kind of message");
	is_int(out.trigger, PUNCH_BY_OFFER, "started by the offer");
	is_int(pp.relay_rtt_ns, 0, "eager: relay_rtt_ms 0");
	punch_on_offer(&pp, now + MS, PUNCH_OFFER_HELLO, 9, 0, 4 * MS, true, &out);
	is_int(out.act, PUNCH_ACT_OFFER, "the same offer again: answered again only");
	is_int(pp.round, 1, "no new round for it");
	is_int(pp.state, PUNCH_PROBING, "the round goes on");
	ok(!punch_round_due(&pp, now + 100000 * MS), "a listener never starts rounds");

	punch_init(&pp, true, false);
	punch_on_offer(&pp, now, PUNCH_OFFER_HELLO, 9, PUNCH_OFFER_SYNC, 3 * MS, true, &out);
	is_int(out.act, PUNCH_ACT_OFFER, "synchronised: answer only");
	is_int(pp.deadline_ns - now, 3 * MS, "probing one relay leg after answering");
	is_int(pp.relay_rtt_ns, 6 * MS, "relay_rtt_ms: twice the wait");
	punch_on_timer(&pp, pp.deadline_ns, false, 1, &out);
	is_int(out.trigger, PUNCH_BY_RTT, "the timer starts it");

	punch_init(&pp, true, false);
	punch_on_offer(&pp, now, PUNCH_OFFER_CONNECT, 9, PUNCH_OFFER_SYNC, 4000 * MS, true, &out);
	is_int(pp.deadline_ns - now, PUNCH_SYNC_WAIT_MAX_MS * MS, "the wait is capped at 1 s");
	is_int(out.offer_msg, PUNCH_OFFER_CONNECT, "a CONNECT is answered in a CONNECT");

	punch_init(&pp, true, false);
	punch_on_offer(&pp, now, PUNCH_OFFER_HELLO, 9, 0, 0, false, &out);
	is_int(out.act, PUNCH_ACT_OFFER, "cannot probe (relay only, no candidate): answer only");
	is_int(pp.state, PUNCH_IDLE, "and no round");
	is_int(pp.deadline_ns, 0, "and no timer");
}

static void test_probe_starts_round(void)
{
	struct punch pp;
	struct punch_out out;

	punch_init(&pp, false, false);
	punch_offer(&pp, T0, 31, true, 0, &out);
	punch_on_probe(&pp, T0 + MS, 30, 1, &out);
	is_int(out.act, 0, "a probe for another round starts nothing");
	punch_on_probe(&pp, T0 + MS, 31, 1, &out);
	is_int(out.act, PUNCH_ACT_BEGIN | PUNCH_ACT_PROBE, "a probe for our round starts it");
	is_int(out.trigger, PUNCH_BY_PROBE, "started by the probe");
	punch_on_probe(&pp, T0 + 2 * MS, 31, 1, &out);
	is_int(out.act, 0, "a second probe while probing starts nothing");
	is_int(pp.round, 1, "one round");
}

/* The listener's address record starts the connector's first round before the answer,
 * except with --first-punch sync, and never a listener's or a later round. */
static void test_record_starts_round(void)
{
	struct punch pp;
	struct punch_out out;

	punch_init(&pp, false, false);
	punch_offer(&pp, T0, 41, true, 0, &out);
	punch_on_record(&pp, T0 + MS, 2, &out);
	is_int(out.act, PUNCH_ACT_BEGIN | PUNCH_ACT_PROBE, "a record starts the waiting round");
	is_int(out.trigger, PUNCH_BY_RECORD, "started by the record");
	is_int(pp.id, 41, "under the offer's id: the listener's probes for it match");
	punch_on_answer(&pp, T0 + 40 * MS, 3, &out);
	is_int(out.act, PUNCH_ACT_PROBE, "the answer then only probes its candidates too");
	is_int(pp.round, 1, "one round");
	punch_init(&pp, false, true);
	punch_offer(&pp, T0, 42, true, 0, &out);
	punch_on_record(&pp, T0 + MS, 2, &out);
	is_int(out.act, 0, "with --first-punch sync the record starts nothing");
	punch_init(&pp, true, false);
	punch_on_record(&pp, T0, 2, &out);
	is_int(out.act, 0, "a listener is never started by a record");
	punch_init(&pp, false, false);
	punch_set_established(&pp);
	punch_offer(&pp, T0, 43, true, 0, &out);
	punch_on_record(&pp, T0 + MS, 2, &out);
	is_int(out.act, 0, "nor a round once the session is up");
}

/*
 * Before the session is up the connector may offer more than once for one first
 * contact: a HELLO sent before STUN answered is followed by a full offer with a new id,
 * and a HELLO that stays unanswered past PUNCH_REPLY_WAIT_MS ends its round. The listener
 * may already probe for the earlier offer; those probes are for this first contact, so
 * they start the round (t_peer_loopback once saw the connector go direct through the
 * listener's probes without a round, and so without a `punch` event).
 */
static void test_probe_for_superseded_first_offer(void)
{
	struct punch pp;
	struct punch_out out;

	punch_init(&pp, false, false);
	punch_hello(&pp, T0, 41, false, 0, &out);
	punch_on_stun_done(&pp, T0 + 5 * MS, 42, false, 0, &out);
	is_int(pp.id, 42, "STUN done: a full offer with a new id");
	punch_on_probe(&pp, T0 + 6 * MS, 41, 1, &out);
	is_int(out.act, PUNCH_ACT_BEGIN | PUNCH_ACT_PROBE,
	       "a probe for the offer the full one replaced starts the round");
	is_int(out.trigger, PUNCH_BY_PROBE, "started by the probe");

	punch_init(&pp, false, false);
	punch_hello(&pp, T0, 51, true, 0, &out);
	punch_on_timer(&pp, T0 + PUNCH_REPLY_WAIT_MS * MS, false, 0, &out);
	is_int(pp.state, PUNCH_IDLE, "an unanswered HELLO ends its round");
	punch_on_probe(&pp, T0 + (PUNCH_REPLY_WAIT_MS + 1) * MS, 51, 1, &out);
	is_int(out.act, PUNCH_ACT_BEGIN | PUNCH_ACT_PROBE,
	       "a late probe for that HELLO still starts a round before the session is up");

	punch_init(&pp, false, false);
	punch_set_established(&pp);
	punch_offer(&pp, T0, 61, true, 0, &out);
	punch_on_timer(&pp, T0 + PUNCH_REPLY_WAIT_MS * MS, false, 0, &out);
	punch_offer(&pp, T0 + 10000 * MS, 62, true, 0, &out);
	punch_on_probe(&pp, T0 + 10001 * MS, 61, 1, &out);
	is_int(out.act, 0, "once the session is up, a failed round's probe starts nothing");
}

static void test_direct_and_loss(void)
{
	struct punch pp;
	struct punch_out out;
	uint64_t now = T0;

	punch_init(&pp, false, false);
	punch_set_established(&pp);
	punch_offer(&pp, now, 41, true, 0, &out);
	punch_on_answer(&pp, now + MS, 2, &out);
	is_int(run_timer(&pp, true, &now), 1,
	       "a path validated meanwhile: the timer stops probing");
	is_int(pp.state, PUNCH_IDLE, "idle");
	is_int(pp.next_round_ns, 0, "no backoff: the round did not fail");

	punch_offer(&pp, now, 42, true, 0, &out);
	punch_on_answer(&pp, now + MS, 2, &out);
	punch_on_direct(&pp);
	is_int(pp.state, PUNCH_IDLE, "direct: the round ends");
	is_int(pp.deadline_ns, 0, "and its timer");
	punch_on_path_lost(&pp, now + 5000 * MS);
	is_int(pp.next_round_ns, now + 5000 * MS, "path lost: the connector punches again at once");
	ok(punch_round_due(&pp, now + 5000 * MS), "a round is due");

	punch_offer(&pp, now, 43, true, 0, &out);
	punch_on_answer(&pp, now + MS, 0, &out);
	is_int(out.act, 0, "an answer without candidates starts no round");
	is_int(pp.state, PUNCH_IDLE, "the round failed");
	is_int(pp.next_round_ns, now + MS + PUNCH_BACKOFF_MIN_MS * MS, "and backs off");
}

int main(void)
{
	test_connector_first_round();
	test_first_round_sync_flag();
	test_backoff();
	test_later_round_synchronised();
	test_hello_retransmission();
	test_stun_done();
	test_listener();
	test_probe_starts_round();
	test_record_starts_round();
	test_probe_for_superseded_first_offer();
	test_direct_and_loss();
	return tap_done();
}
