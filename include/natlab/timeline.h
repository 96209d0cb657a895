/* SPDX-License-Identifier: MIT */
/*
 * A run's timeline: what the processes said (their JSON events), what the scenario
 * decided (expectations) and the key packets on the NAT boxes' and hosts' interfaces
 * (sealed peer packets, STUN, TCP SYNs, ICMP errors), on one clock: milliseconds since
 * the run started (the runtime's monotonic clock; packet times are converted to it once).
 * It goes into report.json as `timeline` and is drawn per cell in report.html.
 */
#ifndef NATLAB_TIMELINE_H
#define NATLAB_TIMELINE_H

#include "natlab/model.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/time.h>

#define TIMELINE_PACKETS_MAX      1200 /* key packets kept per run */
#define TIMELINE_LANE_PACKETS_MAX 200  /* ... per interface */
#define TIMELINE_EVENTS_MAX       2000
/* A packet like one kept on its interface less than this before is a repeat, left out. */
#define TIMELINE_REPEAT_MS 100

struct runtime;

struct timeline {
	json_t *items; /* [{t_ms, lane, kind, what, detail?}] in the order recorded */
	json_t *lane_counts;
	int packets, events;
	double real0_ms; /* the wall clock at the run's t = 0 */
	const struct lab_model *m;
	struct runtime *rt;
	json_t *last_kept; /* "lane dir kind detail" -> t_ms of the last packet kept like it */
};

void timeline_init(struct timeline *t);
void timeline_close(struct timeline *t);
/* Starts the clock: t = 0 is the runtime's start. */
void timeline_start(struct timeline *t, const struct lab_model *m, struct runtime *rt);
/* Records an event now on lane (a process "host/name", or "scenario"). */
void timeline_event(struct timeline *t, const char *lane, const char *what, const char *detail);
/* A capture's packet hook (capture_set.on_packet): key packets only, as "out" or "in". */
void timeline_packet_cb(void *arg, int node, const char *ifname, const struct timeval *ts,
                        const uint8_t *pkt, uint32_t caplen);

#endif
