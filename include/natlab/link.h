/* SPDX-License-Identifier: MIT */
/*
 * Links, addresses and routes inside lab namespaces, through libnl-route. The one file
 * that speaks libnl. A struct lab_rtnl is a routing socket bound, at creation, to one
 * namespace: every request sent on it acts there, whatever namespace the caller is in.
 */
#ifndef NATLAB_LINK_H
#define NATLAB_LINK_H

#include <netinet/in.h>

struct lab_rtnl;

/* Opens a routing socket in the namespace behind nsfd. Returns 0 or -errno. */
int lab_rtnl_open(int nsfd, struct lab_rtnl **out);
void lab_rtnl_free(struct lab_rtnl *r);

/* Sets link ifindex up (e.g. lo, ifindex 1). */
int lab_link_set_up(struct lab_rtnl *r, int ifindex);
int lab_link_set_down(struct lab_rtnl *r, int ifindex);
/* Enslaves ifindex to bridge master and sets it up. */
int lab_link_enslave_up(struct lab_rtnl *r, int ifindex, int master);
/* The ifindex of the link called name, or -ENODEV. */
int lab_link_index(struct lab_rtnl *r, const char *name);

/* Creates an up bridge with a fixed ifindex, forwarding at once (no STP). */
int lab_link_bridge_add(struct lab_rtnl *r, const char *name, int ifindex);

/*
 * Creates a veth pair in one request: NAME (ifindex, enslaved to master unless 0) in r's
 * namespace and PEER (peer_ifindex) directly in the namespace behind peer_nsfd.
 * Neither end ever exists in the root namespace. Only NAME comes up: the kernel refuses
 * to open the peer before the pair is joined (ENOTCONN), so the caller sets PEER up
 * through a socket in its namespace.
 */
struct lab_veth {
	const char *name;
	int ifindex;
	int master;
	const char *peer;
	int peer_ifindex;
	int peer_nsfd;
};
int lab_link_veth_add(struct lab_rtnl *r, const struct lab_veth *v);

/*
 * Adds address a/prefix_len to ifindex. LAB_ADDR_NOPREFIXROUTE leaves out the route to
 * the address's network: nothing in it is on the link, everything goes to a gateway.
 */
#define LAB_ADDR_NOPREFIXROUTE 1u
int lab_addr_add(struct lab_rtnl *r, int ifindex, struct in_addr a, int prefix_len, unsigned flags);
/* Adds a route to prefix/len via gw; len 0 is the default route. */
int lab_route_add(struct lab_rtnl *r, struct in_addr prefix, int len, struct in_addr gw);

/*
 * A route to dst/len: via gw (0: the destination is on the link, scope link), out of oif
 * (0: wherever gw is), onlink (gw is on oif's link even though no address of oif covers
 * it), with src as the preferred source (0: the kernel picks), which is also the source
 * of the ICMP errors the router sends along it.
 */
struct lab_route {
	struct in_addr dst;
	int len;
	struct in_addr gw;
	int oif;
	int onlink;
	struct in_addr src;
};
int lab_route_add_r(struct lab_rtnl *r, const struct lab_route *rt);

/*
 * Sets bridge port ifindex isolated (on) or not: an isolated port forwards only to ports
 * that are not isolated and to the bridge itself, never to another isolated port.
 */
int lab_link_bridge_port_isolate(struct lab_rtnl *r, int ifindex, int on);

/*
 * IPv6: address a/prefix_len on ifindex, always without duplicate address detection
 * (IFA_F_NODAD: a lab's addresses are unique by construction and usable at once), and
 * LAB_ADDR_NOPREFIXROUTE as for IPv4.
 */
int lab_addr6_add(struct lab_rtnl *r, int ifindex, const struct in6_addr *a, int prefix_len,
                  unsigned flags);
/* An IPv6 route, fields as struct lab_route (an all-zero gw or src means none). */
struct lab_route6 {
	struct in6_addr dst;
	int len;
	struct in6_addr gw;
	int oif;
	int onlink;
	struct in6_addr src;
};
int lab_route6_add(struct lab_rtnl *r, const struct lab_route6 *rt);

#endif
