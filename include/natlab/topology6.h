/* SPDX-License-Identifier: MIT */
/*
 * The IPv6 half of a dual-stack lab's build (topology.c calls these): sysctls, addresses
 * and static routes. Neighbours are found by ND over link-local addresses; nothing
 * autoconfigures (no router advertisements, no DAD: every address is NODAD).
 */
#ifndef NATLAB_TOPOLOGY6_H
#define NATLAB_TOPOLOGY6_H

#include "natlab/link.h"
#include "natlab/model.h"

#include <netinet/in.h>

/* Whether node i's namespace has IPv6 on: its own addresses, or its LAN's. */
int lab6_node_on(const struct lab_model *m, int i);

/*
 * In the current namespace, after the common sysctls (which turn IPv6 off): IPv6 on, no
 * DAD, no autoconfiguration or router solicitations, addresses kept while a link is
 * down; a router forwards.
 */
int lab6_sysctls(int router);

/* Router i's address on its LAN bridge ifindex: ::1 of its LAN /64 (NOPREFIXROUTE if flags say). */
int lab6_bridge(struct lab_rtnl *r, const struct lab_model *m, int i, int ifindex, unsigned flags);

/*
 * Node i's IPv6 addresses on its uplink ifindex, with flags (LAB_ADDR_NOPREFIXROUTE for
 * an attachment of an internet with hops), and its default route (onlink out of ifindex
 * when onlink). Nothing for a node whose uplink has no IPv6.
 */
int lab6_uplink(struct lab_rtnl *r, const struct lab_model *m, int i, int ifindex, unsigned flags,
                int onlink);
/* Only the default route of lab6_uplink (a link brought back up). */
int lab6_uplink_route(struct lab_rtnl *r, const struct lab_model *m, int i, int ifindex,
                      int onlink);

/* Backbone router k (k >= 1): its hop address on its link ifindex. */
int lab6_hop_addr(struct lab_rtnl *r, const struct lab_model *m, int k, int ifindex);

/*
 * Router k's route along the backbone (k = 0: the core): everything to router k + 1 out of
 * oif; the last router (k = hops - 1) the attachment network out of oif instead. Each
 * with the router's hop address as source, which its ICMPv6 errors then carry.
 */
int lab6_backbone_route(struct lab_rtnl *r, const struct lab_model *m, int k, int oif);

/*
 * In router `at` (the core node for the internet, whose routes r may belong to the last
 * backbone router), a route to the routed /64 of every LAN below `at` with IPv6, via the
 * WAN address of the node on `at`'s network that leads there (out of oif, onlink, when
 * oif is not 0; src, when not NULL, as preferred source). *failed names the LAN's router
 * on error.
 */
int lab6_lan_routes(struct lab_rtnl *r, const struct lab_model *m, int at, int oif,
                    const struct in6_addr *src, int *failed);

/*
 * In NAT node i's namespace (the caller is there): renders and loads its IPv6 ruleset
 * (nat6.h) when its LAN has IPv6 and it translates. 0 or -errno with a sentence in err.
 */
int lab6_nat_apply(const struct lab_model *m, int i, char *err, size_t errlen);

#endif
