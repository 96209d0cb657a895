/* SPDX-License-Identifier: MIT */
/* The punching rounds' decisions, pure (punch.h). */
#include <string.h>

#include "punch.h"

void punch_init(struct punch *pp, bool listener, bool first_sync)
{
	memset(pp, 0, sizeof(*pp));
	pp->listener = listener;
	pp->first_sync = first_sync;
	pp->backoff_ms = PUNCH_BACKOFF_MIN_MS;
}

const char *punch_trigger_name(enum punch_trigger t)
{
	switch (t) {
	case PUNCH_BY_OFFER:
		return "offer";
	case PUNCH_BY_RTT:
		return "rtt";
	case PUNCH_BY_ANSWER:
		return "answer";
	case PUNCH_BY_PROBE:
		return "probe";
	case PUNCH_BY_RECORD:
		return "record";
	}
	return "?";
}

void punch_set_established(struct punch *pp)
{
	pp->established = true;
}

bool punch_round_due(const struct punch *pp, uint64_t now)
{
	return !pp->listener && pp->established && pp->state == PUNCH_IDLE &&
	       now >= pp->next_round_ns;
}

static void out_clear(struct punch_out *out)
{
	memset(out, 0, sizeof(*out));
}

/* The first round waits one relay leg before probing only when asked to (--first-punch). */
static uint8_t offer_flags(const struct punch *pp)
{
	return !pp->established && pp->first_sync ? PUNCH_OFFER_SYNC : 0;
}

/* A synchronised start's wait, capped so that a bad estimate (a huge RTT in an offer, a
 * TCP connect that needed SYN retransmits) cannot stall a round. */
static uint64_t sync_wait_ns(uint64_t ns)
{
	return ns > PUNCH_SYNC_WAIT_MAX_MS * PUNCH_MS ? PUNCH_SYNC_WAIT_MAX_MS * PUNCH_MS : ns;
}

static void round_failed(struct punch *pp, uint64_t now)
{
	pp->state = PUNCH_IDLE;
	pp->deadline_ns = 0;
	/* Rounds that failed count; an unanswered HELLO only means no listener yet. */
	if (!pp->listener && pp->established) {
		pp->next_round_ns = now + pp->backoff_ms * PUNCH_MS;
		pp->backoff_ms = pp->backoff_ms * 2 > PUNCH_BACKOFF_MAX_MS ? PUNCH_BACKOFF_MAX_MS
		                                                           : pp->backoff_ms * 2;
	}
}

/*
 * Probing for the current round starts: the first burst now, the others every
 * PUNCH_PROBE_INTERVAL_MS. Without a candidate to probe the round fails at once.
 */
static void round_begin(struct punch *pp, uint64_t now, enum punch_trigger trigger, int n_remote,
                        struct punch_out *out)
{
	if (n_remote == 0) {
		round_failed(pp, now);
		return;
	}
	pp->round++;
	pp->state = PUNCH_PROBING;
	pp->probes_left = PUNCH_PROBE_COUNT - 1;
	pp->deadline_ns = now + PUNCH_PROBE_INTERVAL_MS * PUNCH_MS;
	out->act |= PUNCH_ACT_BEGIN | PUNCH_ACT_PROBE;
	out->trigger = trigger;
}

/*
 * Before the session is up the offer rides in the HELLO, so the listener can answer and
 * start probing on the very first message it gets from us. In later rounds we know the
 * listener's candidates and the round trip through the relay (measured on the last
 * answer): as DCUtR's SYNC does, we start probing half that round trip after the offer,
 * when it reaches the listener, which starts on receipt.
 */
void punch_offer(struct punch *pp, uint64_t now, uint32_t id, bool stun_done, int n_remote,
                 struct punch_out *out)
{
	out_clear(out);
	/* Before the session is up, every offer belongs to one first contact. */
	pp->first_id = pp->established ? 0 : pp->id;
	pp->id = id;
	pp->offer_ns = now;
	pp->offer_sends = 1;
	pp->offer_sampled = false;
	pp->offer_full = stun_done;
	out->act = PUNCH_ACT_OFFER;
	out->offer_msg = pp->established ? PUNCH_OFFER_CONNECT : PUNCH_OFFER_HELLO;
	out->offer_flags = offer_flags(pp);
	if (pp->established && pp->relay_rtt_ns && n_remote > 0) {
		pp->state = PUNCH_WAIT_START;
		pp->delay_ns = sync_wait_ns(pp->relay_rtt_ns / 2);
		pp->deadline_ns = now + pp->delay_ns;
		return;
	}
	pp->state = PUNCH_WAIT_REPLY;
	pp->deadline_ns = now + PUNCH_REPLY_WAIT_MS * PUNCH_MS;
}

void punch_hello(struct punch *pp, uint64_t now, uint32_t id, bool stun_done, int n_remote,
                 struct punch_out *out)
{
	if (pp->state != PUNCH_WAIT_REPLY) {
		punch_offer(pp, now, id, stun_done, n_remote, out);
		return;
	}
	out_clear(out);
	pp->offer_sends++;
	out->act = PUNCH_ACT_OFFER;
	out->offer_msg = PUNCH_OFFER_HELLO;
	out->offer_flags = offer_flags(pp);
}

void punch_on_stun_done(struct punch *pp, uint64_t now, uint32_t id, bool direct, int n_remote,
                        struct punch_out *out)
{
	out_clear(out);
	if (!pp->listener && pp->state != PUNCH_IDLE && !pp->offer_full && !direct)
		punch_offer(pp, now, id, true, n_remote, out);
}

/* The one-way time of an offer through the relay is estimated by the caller (half its own
 * relay round trip plus half the connector's, carried in the offer). */
void punch_on_offer(struct punch *pp, uint64_t now, enum punch_offer_msg msg, uint32_t id,
                    uint8_t flags, uint64_t one_way_ns, bool can_probe, struct punch_out *out)
{
	uint64_t wait;

	out_clear(out);
	out->act = PUNCH_ACT_OFFER;
	out->offer_msg = msg;
	out->offer_flags = PUNCH_OFFER_ANSWER;
	if (id == pp->id)
		return; /* a retransmission of the offer we answered: answer again only */
	pp->state = PUNCH_IDLE;
	pp->deadline_ns = 0;
	pp->id = id;
	if (!can_probe)
		return;
	wait = flags & PUNCH_OFFER_SYNC ? sync_wait_ns(one_way_ns) : 0;
	pp->relay_rtt_ns = 2 * wait;
	if (!wait) {
		round_begin(pp, now, PUNCH_BY_OFFER, 1, out);
		return;
	}
	pp->state = PUNCH_WAIT_START;
	pp->delay_ns = wait;
	pp->deadline_ns = now + wait;
}

void punch_on_answer(struct punch *pp, uint64_t now, int n_remote, struct punch_out *out)
{
	out_clear(out);
	/*
	 * One RTT sample per offer, and none from an offer sent more than once: which copy
	 * an answer belongs to is unknown (Karn's rule); the last good sample stays.
	 */
	if (!pp->offer_sampled && pp->offer_sends == 1)
		pp->relay_rtt_ns = now - pp->offer_ns;
	pp->offer_sampled = true;
	if (pp->state == PUNCH_WAIT_REPLY || pp->state == PUNCH_WAIT_START)
		round_begin(pp, now, PUNCH_BY_ANSWER, n_remote, out);
	else if (pp->state == PUNCH_PROBING)
		out->act =
		    PUNCH_ACT_PROBE; /* the candidates the round's first probe did not name */
}

/*
 * Whether the other side probes for a round of ours that has not started: the current
 * offer's, or (before the session is up) the first contact's earlier offer, which a
 * full offer replaced once STUN answered or whose HELLO went unanswered for a while.
 * Once the session is up, a probe of a failed round must not start a synchronised one.
 */
static bool probe_starts_round(const struct punch *pp, uint32_t id)
{
	bool ours = id == pp->id || (pp->first_id && id == pp->first_id);
	bool waiting = pp->state == PUNCH_WAIT_REPLY || pp->state == PUNCH_WAIT_START ||
	               (pp->state == PUNCH_IDLE && !pp->listener && !pp->established);

	return id && ours && waiting;
}

void punch_on_record(struct punch *pp, uint64_t now, int n_remote, struct punch_out *out)
{
	out_clear(out);
	/* --first-punch sync asks both sides to start together: the record does not hurry us. */
	if (!pp->listener && !pp->established && !pp->first_sync &&
	    (pp->state == PUNCH_WAIT_REPLY || pp->state == PUNCH_WAIT_START))
		round_begin(pp, now, PUNCH_BY_RECORD, n_remote, out);
}

void punch_on_probe(struct punch *pp, uint64_t now, uint32_t id, int n_remote,
                    struct punch_out *out)
{
	out_clear(out);
	if (probe_starts_round(pp, id))
		round_begin(pp, now, PUNCH_BY_PROBE, n_remote, out);
}

void punch_on_timer(struct punch *pp, uint64_t now, bool direct, int n_remote,
                    struct punch_out *out)
{
	out_clear(out);
	switch (pp->state) {
	case PUNCH_PROBING:
		if (direct) {
			pp->state = PUNCH_IDLE;
			pp->deadline_ns = 0;
			return;
		}
		if (pp->probes_left > 0) {
			out->act = PUNCH_ACT_PROBE;
			pp->deadline_ns = --pp->probes_left == 0
			                      ? now + PUNCH_GRACE_MS * PUNCH_MS
			                      : now + PUNCH_PROBE_INTERVAL_MS * PUNCH_MS;
			return;
		}
		round_failed(pp, now);
		return;
	case PUNCH_WAIT_REPLY:
		/* The other side never answered this round. */
		round_failed(pp, now);
		return;
	case PUNCH_WAIT_START:
		round_begin(pp, now, PUNCH_BY_RTT, n_remote, out);
		return;
	case PUNCH_IDLE:
		pp->deadline_ns = 0;
		return;
	}
}

void punch_on_direct(struct punch *pp)
{
	pp->backoff_ms = PUNCH_BACKOFF_MIN_MS;
	pp->state = PUNCH_IDLE;
	pp->deadline_ns = 0;
}

void punch_on_path_lost(struct punch *pp, uint64_t now)
{
	if (!pp->listener && pp->state == PUNCH_IDLE)
		pp->next_round_ns = now;
}
