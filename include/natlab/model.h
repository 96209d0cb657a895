/* SPDX-License-Identifier: MIT */
/*
 * The description of a lab: nodes (the internet core, NAT boxes, hosts), which network
 * each sits on, and their addresses. Pure data: the Lua scenario fills it in, the model
 * checks it and assigns addresses, and topology.c builds it. No system calls here.
 *
 * Address plan (DESIGN.md): the internet is 198.18.0.0/15 unless lab:internet{ prefix }
 * says otherwise. Its first half is the attachment network (the core bridge, the core at
 * .1, public hosts and NAT WANs from .2 up: 198.18.0.0/16); its second half is cut into
 * blocks of /24 (or 1/8 of the half, for internets smaller than a /20): block 0 holds the
 * hop routers' addresses (198.19.0.k), blocks 1.. the routed public LANs of profile "none"
 * (198.19.k.0/24). NAT LANs default to 10.<n>.0.0/24, CGNAT LANs to 100.64.<n>.0/24.
 * Every router is .1 on its LAN; hosts and downstream NATs take the next free addresses
 * in declaration order.
 *
 * Hops: a packet between two attachments crosses `hops` routers: the core (at the
 * attachment network's .1) and hops - 1 backbone routers (at hop block .1, .2, ...).
 * hops = 0 is one flat bridge, as natlab built it before hops existed.
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
#define LAB_ADDRS_MAX 8  /* addresses per host */
#define LAB_NODES_MAX 4096

#define LAB_INTERNET_DEFAULT "198.18.0.0/15" /* RFC 2544 benchmarking range */
#define LAB_INTERNET_LEN_MAX 26              /* the smallest internet a lab may have */
#define LAB_HOPS_DEFAULT     8 /* routers between two attachments, as on a real path */
#define LAB_HOPS_MAX         32

enum lab_node_kind { LAB_NODE_INTERNET, LAB_NODE_NAT, LAB_NODE_HOST };

struct lab_node {
	char name[LAB_NODE_MAX + 1];
	enum lab_node_kind kind;
	int parent; /* index of the node whose network this one sits on; -1 for the core */
	int line;   /* scenario line that declared it, for error messages */
	char profile[32];
	struct nat_knobs knobs;

	/* Addresses on the parent's network: a host's (one or more), a NAT's WAN (one). */
	struct in_addr addrs[LAB_ADDRS_MAX];
	int naddrs;
	int want_naddrs;          /* how many addresses a host asked for */
	struct in_addr want_addr; /* a fixed first address asked for, or 0 */

	/* link = {...}: the uplink is a wire (TAP pair and forwarder) with these impairments. */
	int has_link;
	struct wire_impairment link;

	/* The network this node provides (core or NAT LAN); unused for hosts. */
	struct in_addr prefix;
	int prefix_len;
	int prefix_fixed;   /* given in the scenario rather than allocated */
	uint32_t next_free; /* next host number to hand out on this network */

	/*
	 * IPv6 (model6.h): the families of a host, or of a router's LAN; addresses on the
	 * parent's network; the LAN /64 hosts are on and the /64 the internet routes here.
	 */
	int ipv6; /* enum lab_ipv6; LAB_IPV6_INHERIT until assigned */
	struct in6_addr addrs6[LAB_ADDRS_MAX];
	int naddrs6;
	struct in6_addr want_addr6; /* a fixed first IPv6 address, or :: */
	struct in6_addr prefix6;    /* the LAN's /64 (a ULA under nptv6) */
	struct in6_addr pub6;       /* the /64 routed to this router (= prefix6 without nptv6) */
	int prefix6_fixed;
	uint32_t next_free6;

	int clat; /* a host's 464XLAT CLAT (nat64.h): lab:host{ clat = true } */
};

struct lab_model {
	char name[LAB_NAME_MAX + 1];
	uint64_t seed;
	struct lab_node *nodes;
	int nnodes;
	int cap;
	int built; /* lab:up() has been called */

	/* lab:internet{ prefix, hops }; set by lab_model_init to the defaults. */
	struct in_addr inet_prefix;
	int inet_len;
	int hops;

	/* lab:internet{ ipv6, prefix6 } (model6.h): IPv6 on, its prefix, the next free /64. */
	int v6;
	struct in6_addr inet6_prefix;
	int inet6_len;
	uint32_t next_subnet6;
};

void lab_model_init(struct lab_model *m);
void lab_model_close(struct lab_model *m);

/*
 * Sets the internet's prefix ("a.b.c.d/len"; NULL keeps the default) and hop count,
 * before the internet node is assigned. Refuses, with a sentence in err, a prefix that
 * is not a network address, is smaller than a /26 or larger than a /8, overlaps private
 * LAN space, the CGNAT shared space or non-unicast space, and a hop count outside
 * 0..LAB_HOPS_MAX or with more routers than the prefix has hop addresses for.
 */
int lab_internet_set(struct lab_model *m, const char *prefix, int hops, char *err, size_t errlen);

/*
 * The address of the k-th router (0 .. hops-1) a packet meets between two attachments:
 * k = 0 is the core (the attachment network's gateway), k >= 1 backbone router k.
 */
struct in_addr lab_hop_addr(const struct lab_model *m, int k);

/* The block of the internet that holds the hop routers' addresses. */
void lab_hop_block(const struct lab_model *m, struct in_addr *net, int *len);

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

/*
 * Splits "address/len" of family (AF_INET, AF_INET6) into addr (an in_addr or in6_addr)
 * and *len, unchecked. 0, or -EINVAL if either part does not parse.
 */
int lab_prefix_split(const char *s, int family, void *addr, long *len);
/* Parses "a.b.c.d/len" into a network address (host bits must be zero). */
int lab_prefix_parse(const char *s, struct in_addr *net, int *len);
/* True if a/alen and b/blen share any address. */
int lab_prefix_overlap(struct in_addr a, int alen, struct in_addr b, int blen);

/* The namespace of node n in lab: "nl-<lab>.<node>". Returns 0 or -ENAMETOOLONG. */
int lab_netns_name(const char *lab, const char *node, char *buf, size_t len);
/*
 * The namespace of backbone router k (1 .. hops-1) of internet inet in lab:
 * "nl-<lab>.<inet>.hop<k>". Node names have no '.', so it never clashes with a node's,
 * and it carries the lab's prefix, so `natlab down` and `cleanup` find it.
 */
int lab_hop_netns_name(const char *lab, const char *inet, int k, char *buf, size_t len);
/* The k of "<inet>.hop<k>" naming one of m's backbone routers, or -ENOENT. */
int lab_hop_find(const struct lab_model *m, const char *name);
#define LAB_NETNS_PREFIX "nl-"

#endif
