/* SPDX-License-Identifier: MIT */
/*
 * Hard-NAT traversal decisions, pure (tests/t_hardnat_plan.c), as punch.h is for the
 * punching rounds: what kind of NAT the reflexive addresses seen by several STUN
 * endpoints show, which technique a pair of NAT kinds calls for, the order of the
 * easy side's random ports, how many probes are due at a time under a rate, and the
 * birthday-paradox odds of a budget. No I/O, no clock, no randomness: peer/hardnat.c
 * passes the time and random numbers and does the sending.
 *
 * The techniques (docs/events.md, "Hard NATs"), as hyperdht's holepuncher and
 * Tailscale's magicsock do them:
 * - birthday (one side easy, the other hard): the hard side opens K sockets and sends
 *   from each towards the easy side's reflexive address, so its NAT holds K mappings
 *   that let that address in; the easy side probes random ports of the hard side's
 *   public address, without repeating one, at a bounded rate, until one of them is a
 *   mapping (then a socket of the hard side answers and that 4-tuple is the path).
 * - prediction (both hard, both allocating sequentially): each side observes the port
 *   its NAT gives a fresh socket (p and q) and tells the other. The connector sweeps:
 *   from that socket to q + 1, ..., q + S in order (S new mappings, on ports p + o + 1,
 *   ...: o is how many mappings others made meanwhile). The listener fans: S more fresh
 *   sockets all aimed at p + S (its l-th on port q + o' + l). The connector's k-th and
 *   the listener's l-th are one 4-tuple when k = S - o and l = k - o': whenever the
 *   others' mappings on both sides add up to less than S, some pair matches.
 * - none: both hard and one allocates random ports (the relay stays), or neither is
 *   hard (ordinary punching does it).
 */
#ifndef NATLAB_PEER_HARDNAT_PLAN_H
#define NATLAB_PEER_HARDNAT_PLAN_H

#include <stdbool.h>
#include <stdint.h>

/* A NAT's kind as the offer carries it (one byte). */
enum hardnat_kind {
	HARDNAT_UNKNOWN = 0,   /* fewer than two endpoints answered */
	HARDNAT_EASY = 1,      /* one mapping for every destination (endpoint-independent) */
	HARDNAT_HARD_SEQ = 2,  /* a mapping per destination, on successive ports */
	HARDNAT_HARD_RAND = 3, /* a mapping per destination, on unrelated ports */
};

#define HARDNAT_SEQ_MAX_STEP 16   /* successive mappings further apart are not sequential */
#define HARDNAT_PORT_LO      1024 /* the easy side probes ports HARDNAT_PORT_LO-65535 */
#define HARDNAT_PORT_COUNT   (65536 - HARDNAT_PORT_LO)

/* Defaults of the budget (natlab-peer --hard-nat-*; the reasoning is in docs/events.md). */
#define HARDNAT_SOCKETS_DEFAULT 256  /* hard side: sockets (mappings) opened */
#define HARDNAT_RATE_DEFAULT    400  /* easy side: probes per second */
#define HARDNAT_PROBES_DEFAULT  2000 /* easy side: probes at most per attempt */
#define HARDNAT_TIME_DEFAULT_MS 8000 /* either side: an attempt gives up after this */
#define HARDNAT_PREDICT_SPAN    16   /* prediction: the sweep's ports, the fan's sockets */

/* One reflexive address a STUN endpoint reported for one local socket (host order). */
struct hardnat_obs {
	uint32_t ip;
	uint16_t port;
};

struct hardnat_type {
	enum hardnat_kind kind;
	int step;           /* HARDNAT_HARD_SEQ: port distance of successive mappings */
	uint16_t last_port; /* the port of the last mapping observed */
};

enum hardnat_technique {
	HARDNAT_TECH_NONE,
	HARDNAT_TECH_BIRTHDAY_HARD, /* we are the hard side: K sockets */
	HARDNAT_TECH_BIRTHDAY_EASY, /* we are the easy side: random probes */
	HARDNAT_TECH_PREDICT,
};

/* The kind the observations (in the order their requests went out) show. */
void hardnat_classify(const struct hardnat_obs *obs, int n, struct hardnat_type *out);

/* The wire name of a kind ("easy", "hard-sequential", "hard-random", "unknown"). */
const char *hardnat_kind_name(enum hardnat_kind k);

/*
 * The technique for our kind and the peer's; *reason says why in a sentence for the
 * `hard_nat` event (static text). HARDNAT_TECH_NONE with *reason NULL: nothing hard, no
 * event needed.
 */
enum hardnat_technique hardnat_choose(enum hardnat_kind self, enum hardnat_kind peer,
                                      const char **reason);

/*
 * The easy side's probe order: a permutation of ports HARDNAT_PORT_LO-65535 from two
 * random numbers (where it starts, and which of two golden-ratio strides), so no port
 * is probed twice in HARDNAT_PORT_COUNT probes and every prefix is spread evenly.
 */
struct hardnat_perm {
	uint32_t start, stride;
};
void hardnat_perm_init(struct hardnat_perm *pm, uint32_t r1, uint32_t r2);
uint16_t hardnat_perm_port(const struct hardnat_perm *pm, uint32_t i);

/*
 * How many probes are due now: a start burst of one, then rate per second, never more
 * than max in all; sent: probes sent so far. 0 once the time budget (time_ns) is over.
 */
uint32_t hardnat_due(uint64_t start_ns, uint64_t now, uint32_t rate, uint32_t max, uint64_t time_ns,
                     uint32_t sent);

/* Whether the attempt is over: all probes sent or the time spent (the caller waits a
 * grace for answers after the last probe: HARDNAT_GRACE_MS). */
#define HARDNAT_GRACE_MS 500
bool hardnat_over(uint64_t start_ns, uint64_t now, uint32_t max, uint64_t time_ns, uint32_t sent);

/*
 * The birthday-paradox odds that n distinct random probes among ports hit one of k
 * mappings drawn from them: 1 - prod (1 - k / (ports - i)), i < n.
 */
double hardnat_birthday_p(uint32_t k, uint32_t ports, uint32_t n);

/* Prediction: the port of the other side's j-th next mapping (j >= 1). */
uint16_t hardnat_predict_port(uint16_t last, int step, int j);

/*
 * Prediction: where probe i (0 .. HARDNAT_PREDICT_SPAN - 1) goes, given the port the
 * peer observed (peer_port) and its step: the sweeper's i-th new mapping aims at the
 * peer's (i + 1)-th next port; every socket of the fan aims at the sweeper's S-th.
 */
uint16_t hardnat_predict_target(bool sweep, uint16_t peer_port, int step, int i);

#endif
