/* SPDX-License-Identifier: MIT */
/*
 * IPv6 in the lab model: which nodes have it, and their addresses. Pure data, as model.h.
 *
 * Address plan: the internet's IPv6 prefix P (2001:db8::/32 by default, RFC 3849) is cut
 * into /64 subnets, subnet k being P + (k << 64): subnet 0 is the attachment network
 * (the core at ::1, public hosts and NAT WANs from ::2), subnet 1 the hop block (backbone
 * router K at ::K), subnets 2, 3, ... the LANs of routers in declaration order (the router
 * at ::1, its hosts and downstream NATs from ::2). Every LAN is public and routed to its
 * box; with nptv6 the LAN is the ULA fd00:0:0:k::/64 and subnet k is its external prefix.
 * Host numbers count on their own, independent of IPv4.
 */
#ifndef NATLAB_MODEL6_H
#define NATLAB_MODEL6_H

#include "natlab/model.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define LAB_INTERNET6_DEFAULT "2001:db8::/32" /* RFC 3849 documentation prefix */
#define LAB_INTERNET6_LEN_MIN 16
#define LAB_INTERNET6_LEN_MAX 48       /* leaves 16 bits of subnets */
#define LAB_ULA6_DEFAULT      "fd00::" /* NPTv6 LANs: fd00:0:0:k::/64 */
#define LAB_LAN6_LEN          64
#define LAB_HOP6_SUBNET       1 /* subnet holding the backbone routers' addresses */
#define LAB_LAN6_SUBNET0      2 /* the first LAN subnet */

/* What a host has, or a router's LAN carries; INHERIT until the model resolves it. */
enum lab_ipv6 { LAB_IPV6_INHERIT, LAB_IPV6_OFF, LAB_IPV6_DUAL, LAB_IPV6_ONLY };

/* Scenario words: false, true, "only" (and back, for lab.json and ls). */
const char *lab_ipv6_word(enum lab_ipv6 v);

/*
 * Turns IPv6 on for the lab with prefix (NULL: the default). Refuses, with a sentence in
 * err, a prefix that is not an IPv6 network address, not /16 to /48, or not global
 * unicast (ULA, link-local, multicast, IPv4-mapped, the NAT64 prefix 64:ff9b::/96, ::/8).
 */
int lab_internet6_set(struct lab_model *m, const char *prefix, char *err, size_t errlen);

/* Parses "addr/len" (0..128, host bits zero). 0 or -EINVAL. */
int lab_prefix6_parse(const char *s, struct in6_addr *net, int *len);

/* Whether node n (a host), or n's LAN (a router), has IPv4 / IPv6 once resolved. */
int lab_node_has4(const struct lab_node *n);
int lab_node_has6(const struct lab_node *n);
/* Whether node i's uplink (its addresses on its parent's network) carries IPv6. */
int lab_node_uplink6(const struct lab_model *m, int i);

/*
 * Resolves node i's families (ipv6 = INHERIT takes its network's) and checks them: IPv6
 * on a network without it, IPv4 on an IPv6-only network, a NAT whose WAN network has no
 * IPv4, "only" on the internet or a router that does not translate. Called by
 * lab_model_assign before any address is given.
 */
int lab_model_families(struct lab_model *m, int i, char *err, size_t errlen);

/*
 * Gives node i its IPv6 LAN (a router with IPv6 on its LAN) and its IPv6 addresses on
 * its parent's network, and checks fixed ones (lan6, addr6). Called by lab_model_assign.
 */
int lab_model_assign6(struct lab_model *m, int i, char *err, size_t errlen);

/* Subnet k of the internet's IPv6 prefix. */
struct in6_addr lab_subnet6(const struct lab_model *m, uint32_t k);
/* ::1 of the LAN node n provides. */
struct in6_addr lab_node_gateway6(const struct lab_node *n);
/* Router k on the path between attachments (0: the core, P::1; k >= 1: P:0:1::k). */
struct in6_addr lab_hop6_addr(const struct lab_model *m, int k);

#endif
