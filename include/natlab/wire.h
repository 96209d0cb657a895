/* SPDX-License-Identifier: MIT */
/*
 * Wires: links with impairments, built without netem. A wire joins two TAP devices (one
 * in each namespace) with a userspace forwarder on a libuv loop that copies Ethernet
 * frames both ways and applies, per direction, delay, jitter, loss, duplication,
 * reordering and a rate limit, all driven by a seeded PRNG so that a run can be replayed.
 *
 * Two layers. A struct wire_path is one direction's decisions and nothing else: no I/O,
 * no clock of its own, so it is tested frame by frame. A struct wire is the forwarder:
 * two fds, two paths, two queues ordered by departure time, served by timerfds.
 *
 * Replay: each frame draws a fixed number of values from its direction's PRNG whatever
 * the impairment, so the k-th frame of a direction meets the same fate (lost,
 * duplicated, reordered, same jitter) for the same seed, even if other knobs change.
 *
 * Threads: everything but wire_tap_create and the parsers runs on the loop's thread.
 */
#ifndef NATLAB_WIRE_H
#define NATLAB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Frames queued per direction when wire_impairment.limit is 0 (netem's default too). */
#define WIRE_LIMIT_DEFAULT 1000
/* The largest frame carried; longer ones are truncated by the TAP read and dropped. */
#define WIRE_FRAME_MAX 65536

enum wire_dir { WIRE_A_TO_B = 0, WIRE_B_TO_A = 1 };

/*
 * One direction's impairments. All zero is a plain cable. A frame is serialized at rate
 * (after the frames before it), then propagates for delay +- jitter (uniform); frames
 * keep their order unless reordered. A reordered frame skips the propagation delay and
 * so overtakes the frames in flight (netem's meaning: it needs a delay to show).
 * Duplicates are a second copy right behind the first. Fractions are in [0, 1].
 */
struct wire_impairment {
	uint64_t delay_ns;
	uint64_t jitter_ns;
	double loss;
	double duplicate;
	double reorder;
	uint64_t rate_bps; /* bits per second counting the Ethernet header; 0 = unlimited */
	uint32_t limit;    /* frames waiting at most; 0 = WIRE_LIMIT_DEFAULT */
};

struct wire_stats {
	uint64_t rx_frames, rx_bytes; /* read from the sending side */
	uint64_t tx_frames, tx_bytes; /* written to the receiving side, duplicates included */
	uint64_t lost;                /* dropped by the loss knob */
	uint64_t duplicated;          /* extra copies made */
	uint64_t reordered;
	uint64_t dropped_down; /* read or queued while the link was down */
	uint64_t dropped_full; /* copies refused because the queue held limit frames */
	uint64_t tx_errors;    /* writes the receiving side refused */
};

/* xoshiro256** seeded through splitmix64: fast, small, and the same on every machine. */
struct wire_prng {
	uint64_t s[4];
};

void wire_prng_seed(struct wire_prng *r, uint64_t seed);
uint64_t wire_prng_next(struct wire_prng *r);
/* Uniform in [0, 1), 53 bits. */
double wire_prng_double(struct wire_prng *r);

/* One direction's decisions. Embedded; _init/_close-free (it owns no memory). */
struct wire_path {
	struct wire_impairment imp;
	struct wire_prng prng;
	bool up;
	uint64_t link_free_ns;   /* when the serializer has sent what it was given */
	uint64_t last_depart_ns; /* the latest in-order departure, to keep order under jitter */
	struct wire_stats st;
};

/* Seeds direction dir of a wire seeded with seed; the link starts up and unimpaired. */
void wire_path_init(struct wire_path *p, uint64_t seed, enum wire_dir dir);
/* Checks imp (fractions in [0, 1]) and applies it to the frames admitted from now on. */
int wire_path_set(struct wire_path *p, const struct wire_impairment *imp);
/*
 * Decides the fate of a frame of len bytes read at now_ns while queued frames wait:
 * returns how many copies to send (0, 1 or 2) and writes their departure times to
 * depart[], in order. Updates the counters, except tx_* and tx_errors.
 */
int wire_path_admit(struct wire_path *p, uint64_t now_ns, size_t len, size_t queued,
                    uint64_t depart[2]);
/* Link up or down; going down forgets the serializer's backlog. */
void wire_path_set_up(struct wire_path *p, bool up);

/*
 * Parsers for scenario strings. Rates: "10mbit", "1.5gbit", "800kbit", "64000bit" or a
 * bare number of bits/s (SI multiples, as tc; "bps" is refused because tc reads it as
 * bytes). Shares: "1%", "0.5%" or a bare fraction "0.01", in [0, 1]. -EINVAL otherwise.
 */
int wire_rate_parse(const char *s, uint64_t *bps);
int wire_share_parse(const char *s, double *fraction);
/*
 * Sets one knob of imp from a string, as an option table spells it: "delay", "jitter"
 * (durations, units.h), "loss", "duplicate", "reorder" (shares), "rate", "limit" (a
 * count). -ENOENT for an unknown key, -EINVAL for a bad value (imp unchanged).
 */
int wire_impairment_set(struct wire_impairment *imp, const char *key, const char *value);

/*
 * Creates a TAP device (IFF_TAP | IFF_NO_PI) named ifname inside the namespace behind
 * nsfd (never in the caller's) and returns its non-blocking, close-on-exec fd in *fd and,
 * if ifindex is not NULL, its index there. The device lives as long as the fd; it starts
 * down and without addresses: the caller sets it up (lab_link_set_up) and addresses it.
 * Safe from any thread. Returns 0 or -errno.
 */
int wire_tap_create(int nsfd, const char *ifname, int *fd, int *ifindex);

struct wire;

/*
 * Starts forwarding between fd_a and fd_b on loop: each read returns one frame and each
 * write sends one (TAP fds; SOCK_SEQPACKET or SOCK_DGRAM sockets do too, for tests).
 * Takes ownership of both fds, also on failure. Both directions start up and unimpaired,
 * their PRNGs seeded from seed. The caller frees the wire with wire_free.
 */
int wire_new(uv_loop_t *loop, int fd_a, int fd_b, uint64_t seed, struct wire **out);
/* Changes one direction's impairments; frames already queued keep their departure. */
int wire_set_impairment(struct wire *w, enum wire_dir dir, const struct wire_impairment *imp);
/* Link down: frames read are dropped and queued ones are discarded, both ways. */
void wire_set_up(struct wire *w, bool up);
bool wire_is_up(const struct wire *w);
void wire_stats_get(const struct wire *w, enum wire_dir dir, struct wire_stats *st);
/* Frames waiting in direction dir's queue. */
size_t wire_queued(const struct wire *w, enum wire_dir dir);
/*
 * Stops forwarding at once, drops queued frames and closes the handles; memory and fds are
 * released in the last close callback, so the loop must run once more. Accepts NULL.
 */
void wire_free(struct wire *w);

#endif
