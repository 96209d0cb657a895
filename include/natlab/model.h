/* SPDX-License-Identifier: MIT */
/*
 * The description of a lab: nodes (the internet core, NAT boxes, hosts), which network
 * each sits on, and their addresses. Pure data: the Lua scenario fills it in, the model
 * checks it and assigns addresses, and topology.c builds it. No system calls here.
 *
 * Address plan (DESIGN.md): the internet core bridge is 198.18.0.0/16 with the core at
 * .0.1; routed public LANs (profile "none") come out of 198.19.0.0/16; NAT LANs default to
 * 10.<n>.0.0/24, CGNAT LANs to 100.64.<n>.0/24. Every router is .1 on its LAN; hosts and
 * downstream NATs take the next free addresses in declaration order.
 */
#ifndef NATLAB_MODEL_H
#define NATLAB_MODEL_H

#include "natlab/nat.h"
#include "natlab/wire.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define LAB_NAME_MAX  24 /* lab names: [A-Za-z0-9_-], namespace "nl-<lab>.<node>" */
#define LAB_NODE_MAX  12 /* node names: [A-Za-z0-9_-], so "c-<node>" fits in IFNAMSIZ */
#define LAB_ADDRS_MAX 8	 /* addresses per host */
#define LAB_NODES_MAX 1024

enum lab_node_kind { LAB_NODE_INTERNET, LAB_NODE_NAT, LAB_NODE_HOST };

struct lab_node {
	char name[LAB_NODE_MAX + 1];
	enum lab_node_kind kind;
	int parent;   /* index of the node whose network this one sits on; -1 for the core */
	int line;     /* scenario line that declared it, for error messages */
	char profile[32];
	struct nat_knobs knobs;

	/* Addresses on the parent's network: a host's (one or more), a NAT's WAN (one). */
	struct in_addr addrs[LAB_ADDRS_MAX];
	int naddrs;
	int want_naddrs;	  /* how many addresses a host asked for */
	struct in_addr want_addr; /* a fixed first address asked for, or 0 */

	/* link = {...}: the uplink is a wire (TAP pair and forwarder) with these impairments. */
	int has_link;
	struct wire_impairment link;

	/* The network this node provides (core or NAT LAN); unused for hosts. */
	struct in_addr prefix;
	int prefix_len;
	int prefix_fixed; /* given in the scenario rather than allocated */
	uint32_t next_free; /* next host number to hand out on this network */
};

struct lab_model {
	char name[LAB_NAME_MAX + 1];
	uint64_t seed;
	struct lab_node *nodes;
	int nnodes;
	int cap;
	int built; /* lab:up() has been called */
};

void lab_model_init(struct lab_model *m);
void lab_model_close(struct lab_model *m);

/* Checks a lab or node name. Returns 0 or -EINVAL with a sentence in err. */
int lab_name_check(const char *name, size_t max, char *err, size_t errlen);

/*
 * Adds a node. On success returns its index and the node is zeroed but for name, kind
 * and parent; fill in the rest before lab_model_assign. On error returns -EINVAL/-ENOMEM
 * with a sentence in err (duplicate name, bad parent, too many nodes).
 */
int lab_model_add(struct lab_model *m, const char *name, enum lab_node_kind kind, int parent,
		  char *err, size_t errlen);

/* Finds a node by name; -ENOENT if there is none. */
int lab_model_find(const struct lab_model *m, const char *name);

/*
 * Assigns addresses to node i (its prefix if it provides a network, then its own
 * addresses on the parent's network) and checks them: prefixes that overlap a network
 * on the path to the core, a fixed address outside its network or already taken, a full
 * network. Call once per node in declaration order.
 */
int lab_model_assign(struct lab_model *m, int i, char *err, size_t errlen);

/* The router address of the network node i provides: .1 of its prefix. */
struct in_addr lab_node_gateway(const struct lab_node *n);

/* Parses "a.b.c.d/len" into a network address (host bits must be zero). */
int lab_prefix_parse(const char *s, struct in_addr *net, int *len);
/* True if a/alen and b/blen share any address. */
int lab_prefix_overlap(struct in_addr a, int alen, struct in_addr b, int blen);

/* The namespace of node n in lab: "nl-<lab>.<node>". Returns 0 or -ENAMETOOLONG. */
int lab_netns_name(const char *lab, const char *node, char *buf, size_t len);
#define LAB_NETNS_PREFIX "nl-"

#endif
