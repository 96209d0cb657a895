/* SPDX-License-Identifier: MIT */
/*
 * What the NATs on the path from a host to the internet declare, in the shape the NAT
 * probe (probe.h) measures, for UDP and TCP, and the comparison of the two. Pure: a lab
 * model in, JSON out; natlab probe puts measurement and declaration side by side.
 */
#ifndef NATLAB_PROBE_PATH_H
#define NATLAB_PROBE_PATH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "natlab/model.h"

/* What the NATs on the path from a host add up to. */
struct probe_path {
	json_t *nats;    /* [{name, profile, knobs}] of every NAT on the path, nearest first */
	int translating; /* NATs that translate (profile "none" does not) */
	bool udp_blocked, tcp_blocked, hairpin, all_preserve;
	int blocks; /* translating NATs with port blocks */
	enum nat_mapping mapping;
	enum nat_filtering filtering;
	/* The port block of the outermost translating NAT for this path's subscriber (host
	 * order, both 0 when that NAT hands out no blocks). */
	unsigned block_lo, block_hi;
};

/*
 * Walks from host to the internet. Stacked NATs show the stricter behaviour of the two;
 * a blocking firewall anywhere stops UDP, and TCP unless both tcp_port[] (host order, the
 * TCP responder's) are web ports where it lets only the web out. The subscriber whose
 * port block counts is the node on the path behind the NAT, numbered as the ruleset
 * numbers the LAN's addresses. Call probe_path_close() when done.
 */
void probe_path_walk(const struct lab_model *m, int host, const uint16_t tcp_port[2],
                     struct probe_path *p);
void probe_path_close(struct probe_path *p);

/*
 * The declaration: nats, nat, udp ("ok"/"blocked"), mapping, filtering, hairpin
 * (predicted through a single NAT only: through stacked NATs it also depends on the
 * inner box's filtering; else null), port_preserved, port_in_block (true where the
 * outermost NAT hands out blocks, else null), port_block ([first, last] or null), and
 * tcp {status, nat, mapping, filtering, port_preserved, port_in_block}. A port is
 * preserved only if every NAT preserves ports and, where the outermost hands out blocks,
 * the local port (host order: udp_local, tcp_local, as the probe used them) lies in the
 * block; through two NATs with blocks it is not predicted (null). A blocked protocol
 * declares nothing else. The caller owns the result; NULL when out of memory.
 */
json_t *probe_path_declared(const struct probe_path *p, unsigned udp_local, unsigned tcp_local);

/*
 * Adds port_in_block to one protocol's measurement where the path has a port block:
 * whether mapped_port (host order) lies in it; null when the protocol was blocked.
 */
void probe_path_mark_block(const struct probe_path *p, json_t *measured, bool ok,
                           unsigned mapped_port);

/*
 * Whether one protocol's measurement matches its declaration (tcp: the objects under
 * "tcp"): every declared field equal, nulls not compared; a protocol declared and
 * measured blocked matches whatever else it says.
 */
bool probe_path_matches(const json_t *declared, const json_t *measured, bool tcp);

/*
 * natlab probe --ipv6 (probe_path6.c): what the boxes between host and the internet
 * declare for IPv6, in the shape of probe_path_declared() (nats with each box's filtering6
 * and nptv6; udp, nat, mapping, filtering, port_preserved; tcp). New reference.
 */
json_t *probe_path6_declared(const struct lab_model *m, int host, const uint16_t tcp_port[2]);

#endif
