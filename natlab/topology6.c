/* SPDX-License-Identifier: MIT */
#include "natlab/topology6.h"
#include "natlab/model6.h"
#include "natlab/nat6.h"
#include "natlab/netns.h"
#include "natlab/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lab6_node_on(const struct lab_model *m, int i)
{
	return lab_node_has6(&m->nodes[i]) || lab_node_uplink6(m, i);
}

int lab6_sysctls(int router)
{
	/*
	 * Addresses are static and unique (no DAD, no RA, no SLAAC); a link taken down keeps
	 * its IPv6 addresses as it keeps its IPv4 ones (Linux drops them by default).
	 */
	static const char *const on[][2] = {
		{ "net/ipv6/conf/all/disable_ipv6", "0" },
		{ "net/ipv6/conf/default/disable_ipv6", "0" },
		{ "net/ipv6/conf/all/accept_dad", "0" },
		{ "net/ipv6/conf/default/accept_dad", "0" },
		{ "net/ipv6/conf/all/accept_ra", "0" },
		{ "net/ipv6/conf/default/accept_ra", "0" },
		{ "net/ipv6/conf/all/autoconf", "0" },
		{ "net/ipv6/conf/default/autoconf", "0" },
		{ "net/ipv6/conf/default/router_solicitations", "0" },
		{ "net/ipv6/conf/all/keep_addr_on_down", "1" },
		{ "net/ipv6/conf/default/keep_addr_on_down", "1" },
	};
	int rc = 0;

	for (size_t k = 0; k < ARRAY_SIZE(on) && rc == 0; k++)
		rc = lab_sysctl_write(on[k][0], on[k][1]);
	if (rc == 0 && router)
		rc = lab_sysctl_write("net/ipv6/conf/all/forwarding", "1");
	return rc;
}

int lab6_bridge(struct lab_rtnl *r, const struct lab_model *m, int i, int ifindex, unsigned flags)
{
	const struct lab_node *n = &m->nodes[i];
	struct in6_addr g = lab_node_gateway6(n);

	if (!lab_node_has6(n))
		return 0;
	return lab_addr6_add(r, ifindex, &g, 64, flags);
}

int lab6_uplink_route(struct lab_rtnl *r, const struct lab_model *m, int i, int ifindex, int onlink)
{
	struct lab_route6 rt = { .gw = lab_node_gateway6(&m->nodes[m->nodes[i].parent]) };

	if (!lab_node_uplink6(m, i))
		return 0;
	if (onlink) {
		rt.oif = ifindex;
		rt.onlink = 1;
	}
	return lab_route6_add(r, &rt);
}

int lab6_uplink(struct lab_rtnl *r, const struct lab_model *m, int i, int ifindex, unsigned flags,
                int onlink)
{
	const struct lab_node *n = &m->nodes[i];
	int rc = 0;

	for (int j = 0; j < n->naddrs6 && rc == 0; j++)
		rc = lab_addr6_add(r, ifindex, &n->addrs6[j], 64, flags);
	return rc < 0 ? rc : lab6_uplink_route(r, m, i, ifindex, onlink);
}

int lab6_hop_addr(struct lab_rtnl *r, const struct lab_model *m, int k, int ifindex)
{
	struct in6_addr a = lab_hop6_addr(m, k);

	return lab_addr6_add(r, ifindex, &a, 128, 0);
}

int lab6_backbone_route(struct lab_rtnl *r, const struct lab_model *m, int k, int oif)
{
	struct lab_route6 rt = {
		.gw = lab_hop6_addr(m, k + 1), .oif = oif, .onlink = 1, .src = lab_hop6_addr(m, k)
	};

	if (k == m->hops - 1)
		rt = (struct lab_route6){
			.dst = lab_subnet6(m, 0), .len = 64, .oif = oif, .src = lab_hop6_addr(m, k)
		};
	return lab_route6_add(r, &rt);
}

/* The node on at's network through which n is reached, or -1 if n is not below at. */
static int child_towards(const struct lab_model *m, int at, int n)
{
	for (int c = n; c >= 0; c = m->nodes[c].parent)
		if (m->nodes[c].parent == at)
			return c;
	return -1;
}

int lab6_lan_routes(struct lab_rtnl *r, const struct lab_model *m, int at, int oif,
                    const struct in6_addr *src, int *failed)
{
	for (int n = 0; n < m->nnodes; n++) {
		const struct lab_node *d = &m->nodes[n];
		struct lab_route6 rt = {
			.dst = d->pub6, .len = 64, .oif = oif, .onlink = oif != 0
		};
		int c = n == at ? -1 : child_towards(m, at, n);
		int rc;

		if (d->kind != LAB_NODE_NAT || !lab_node_has6(d) || c < 0 || !m->nodes[c].naddrs6)
			continue;
		rt.gw = m->nodes[c].addrs6[0];
		if (src)
			rt.src = *src;
		rc = lab_route6_add(r, &rt);
		if (rc < 0) {
			*failed = n;
			return rc;
		}
	}
	return 0;
}

int lab6_nat_apply(const struct lab_model *m, int i, char *err, size_t errlen)
{
	const struct lab_node *n = &m->nodes[i];
	struct nat6_box_addrs a = { .lan = n->prefix6, .pub = n->pub6 };
	struct in6_addr *hosts;
	char *rules = NULL;
	unsigned nh = 0;
	int rc;

	if (!lab_node_has6(n) || !n->knobs.translate)
		return 0;
	hosts = calloc((size_t)m->nnodes * LAB_ADDRS_MAX, sizeof(*hosts));
	if (!hosts) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int j = 0; j < m->nnodes; j++)
		for (int k = 0; m->nodes[j].parent == i && k < m->nodes[j].naddrs6; k++)
			hosts[nh++] = m->nodes[j].addrs6[k];
	a.hosts = hosts;
	a.nhosts = nh;
	rc = nat6_ruleset_render(&n->knobs, &a, &rules);
	if (rc < 0)
		snprintf(err, errlen, "IPv6 ruleset: %s", strerror(-rc));
	else
		rc = nat6_ruleset_apply(rules, err, errlen);
	free(rules);
	free(hosts);
	return rc;
}
