/* SPDX-License-Identifier: MIT */
/*
 * The punching rounds' decisions, pure: inputs are the time and what happened (an offer
 * went out or came in, an answer, a probe of the other side, the timer, a validated or
 * lost direct path), outputs are what to send (an offer, a burst of probes), whether a
 * round starts (the `punch` event) and when the timer fires next. No I/O, no clock, no
 * randomness: the caller passes the time and fresh punch ids, sends, and arms one timer
 * at `deadline_ns` (punch_io.c does this for the peer). So every timing decision below is
 * unit-tested without a lab (tests/t_punch.c), as natlab/wire_path.c is for the wires.
 *
 * A round (docs/events.md, "Punching"): the connector offers its candidates under a fresh
 * punch id; the listener answers with its own. Each side then probes every candidate of
 * the other every PUNCH_PROBE_INTERVAL_MS, PUNCH_PROBE_COUNT times, starting at a moment
 * chosen so that both start together as far as the measured relay round trips allow, or
 * as soon as the other side shows it started. A round that validates nothing fails; the
 * connector retries after a backoff. Future techniques (birthday probing, port
 * prediction) are more ways to choose targets and pace probes inside the same rounds.
 */
#ifndef NATLAB_PEER_PUNCH_H
#define NATLAB_PEER_PUNCH_H

#include <stdbool.h>
#include <stdint.h>

#define PUNCH_MS                1000000ull /* nanoseconds per millisecond */
#define PUNCH_PROBE_INTERVAL_MS 25
#define PUNCH_PROBE_COUNT       40
#define PUNCH_GRACE_MS          500  /* after the last probe, for its answer */
#define PUNCH_REPLY_WAIT_MS     3000 /* an offer unanswered this long fails the round */
#define PUNCH_SYNC_WAIT_MAX_MS  1000 /* a synchronised start waits at most this long */
#define PUNCH_BACKOFF_MIN_MS    500
#define PUNCH_BACKOFF_MAX_MS    8000

/* Messages an offer rides in (the values of enum peer_msg_type). */
enum punch_offer_msg { PUNCH_OFFER_HELLO = 1, PUNCH_OFFER_CONNECT = 2 };

/* Offer flags. SYNC: the listener starts probing one relay leg (estimated from both
 * sides' relay round trips, relay_rtt_us being the sender's) after it answers. */
enum punch_offer_flag { PUNCH_OFFER_ANSWER = 1, PUNCH_OFFER_SYNC = 2 };

/*
 * WAIT_REPLY: the connector's offer is out, probing starts on the answer (or a first
 * probe of the round); the timer fails the round. WAIT_START: probing starts when the
 * timer fires, at the moment the other side is expected to start (or sooner, on its
 * answer or first probe).
 */
enum punch_state { PUNCH_IDLE, PUNCH_WAIT_REPLY, PUNCH_WAIT_START, PUNCH_PROBING };

/* What a round start was triggered by (the `punch` event's `start`). */
enum punch_trigger {
	PUNCH_BY_OFFER,
	PUNCH_BY_RTT,
	PUNCH_BY_ANSWER,
	PUNCH_BY_PROBE,
	PUNCH_BY_RECORD
};

/* What the caller does after a call, in this order. */
enum punch_act {
	PUNCH_ACT_OFFER = 1, /* send an offer: out.offer_msg, out.offer_flags, punch.id */
	PUNCH_ACT_BEGIN = 2, /* a round starts: the `punch` event (out.trigger) */
	PUNCH_ACT_PROBE = 4, /* probe every remote candidate under punch.id */
};

struct punch_out {
	unsigned act; /* enum punch_act bits */
	enum punch_offer_msg offer_msg;
	uint8_t offer_flags;
	enum punch_trigger trigger;
};

struct punch {
	bool listener;
	bool first_sync;  /* --first-punch sync */
	bool established; /* the session is up: offers go in CONNECT, failed rounds back off */
	enum punch_state state;
	uint32_t id;        /* the current round's punch id, 0 before any */
	uint32_t first_id;  /* connector: the earlier offer of this first contact, 0: none */
	int round;          /* rounds started (the `punch` event's `attempt`) */
	int probes_left;    /* PROBING: bursts still to send */
	uint64_t offer_ns;  /* connector: when the current offer first went out */
	int offer_sends;    /* copies of the current offer sent (retransmitted HELLOs) */
	bool offer_sampled; /* its answer gave an RTT sample already */
	bool offer_full;    /* the current offer had every candidate (STUN was done) */
	/* Connector: the last RTT sample of an offer through the relay; listener: twice the
	 * one-way wait of a synchronised first round, else 0. */
	uint64_t relay_rtt_ns;
	uint64_t delay_ns;      /* WAIT_START: how long after the offer (or answer) */
	uint32_t backoff_ms;    /* before the next round after a failed one */
	uint64_t next_round_ns; /* connector: no new round before this */
	uint64_t deadline_ns;   /* when punch_on_timer() is due; 0: no timer */
};

void punch_init(struct punch *pp, bool listener, bool first_sync);

/* The `punch` event's name for a trigger. */
const char *punch_trigger_name(enum punch_trigger t);

/* The session came up: later offers go in CONNECT and failed rounds back off. */
void punch_set_established(struct punch *pp);

/* Connector: whether a new round may start now (none runs and the backoff is over). */
bool punch_round_due(const struct punch *pp, uint64_t now);

/*
 * Connector: a new round under the fresh id (never 0). stun_done: our offer has every
 * candidate. n_remote: the listener's candidates we know (a later round). In later rounds
 * with a measured relay RTT, probing starts half that RTT after the offer (when it reaches
 * the listener, which starts on receipt); otherwise on the answer.
 */
void punch_offer(struct punch *pp, uint64_t now, uint32_t id, bool stun_done, int n_remote,
                 struct punch_out *out);

/*
 * Connector, before the session is up, every HELLO retransmission: the outstanding offer
 * again (same id: a listener already probing for it only answers again), or a new round
 * under id when none is outstanding.
 */
void punch_hello(struct punch *pp, uint64_t now, uint32_t id, bool stun_done, int n_remote,
                 struct punch_out *out);

/* Connector: STUN finished; an offer that went out without the reflexive candidate is
 * offered again under id. */
void punch_on_stun_done(struct punch *pp, uint64_t now, uint32_t id, bool direct, int n_remote,
                        struct punch_out *out);

/*
 * Listener: an offer under id, in msg (the answer goes in the same kind of message). A
 * repeat of the current round's offer is answered again only. A new one is answered, and
 * probing starts at once (eager), or one relay leg (one_way_ns, capped) after the answer
 * when the offer asks for a synchronised start. can_probe: we have a socket and at least
 * one of the offer's candidates (parsed by the caller before this call when the id is new).
 */
void punch_on_offer(struct punch *pp, uint64_t now, enum punch_offer_msg msg, uint32_t id,
                    uint8_t flags, uint64_t one_way_ns, bool can_probe, struct punch_out *out);

/* Connector: the answer to the current offer (the caller checked its id) with the
 * listener's candidates (n_remote after parsing them). */
void punch_on_answer(struct punch *pp, uint64_t now, int n_remote, struct punch_out *out);

/* Connector: the listener's signed address record gave its candidates (n_remote) before
 * its answer: the round waiting for that answer starts now (not with --first-punch sync). */
void punch_on_record(struct punch *pp, uint64_t now, int n_remote, struct punch_out *out);

/* A probe of the other side for round id arrived: it has started, so do we. */
void punch_on_probe(struct punch *pp, uint64_t now, uint32_t id, int n_remote,
                    struct punch_out *out);

/* The timer is due (now >= deadline_ns). direct: a path was validated meanwhile. */
void punch_on_timer(struct punch *pp, uint64_t now, bool direct, int n_remote,
                    struct punch_out *out);

/* A direct path was validated: the round ends, the backoff starts over. */
void punch_on_direct(struct punch *pp);

/* The direct path was lost: the connector punches again at once (the backoff is for
 * failed rounds only). */
void punch_on_path_lost(struct punch *pp, uint64_t now);

#endif
