/* SPDX-License-Identifier: MIT */
/*
 * A NAT box's IPv6 side: it routes its IPv6 LAN, filters it by knob filtering6 (RFC 6092
 * simple security and its looser variants), optionally translates its prefix (nptv6,
 * RFC 6296), and blocks what knob block blocks. The ruleset is `table ip6 natlab`, beside
 * the IPv4 `table ip natlab`; rendering is pure text (golden files in the tests).
 */
#ifndef NATLAB_NAT6_H
#define NATLAB_NAT6_H

#include "natlab/nat.h"

#include <netinet/in.h>

/* What the IPv6 ruleset is rendered from, beside the knobs. */
struct nat6_box_addrs {
	struct in6_addr lan;          /* the LAN /64 hosts are on (a ULA with nptv6) */
	struct in6_addr pub;          /* the /64 the internet routes to the box */
	const struct in6_addr *hosts; /* LAN addresses of attached nodes (nptv6 maps each) */
	unsigned nhosts;
};

/*
 * RFC 6296 for /64 prefixes: the external address of internal address in, on external
 * /64 pub, checksum-neutral (the one's complement sum of the address is unchanged, so no
 * transport checksum changes): in's interface identifier with its first word that is not
 * 0xffff adjusted by the difference of the prefixes' sums.
 */
struct in6_addr nat_nptv6_map(const struct in6_addr *in, const struct in6_addr *pub);

/*
 * Renders `table ip6 natlab` for a box with IPv6 on its LAN. *out is malloc'd (the
 * caller frees); empty for a box that does not translate (profile none routes openly).
 * Returns 0 or -errno.
 */
int nat6_ruleset_render(const struct nat_knobs *k, const struct nat6_box_addrs *a, char **out);

/* Loads it in the current namespace, replacing the previous one atomically (nat.c). */
int nat6_ruleset_apply(const char *ruleset, char *err, size_t errlen);

#endif
