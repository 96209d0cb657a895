/* SPDX-License-Identifier: MIT */
#include "natlab/model6.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lab_ipv6_word(enum lab_ipv6 v)
{
	return v == LAB_IPV6_ONLY ? "only" : v == LAB_IPV6_DUAL ? "true" : "false";
}

/* The upper 64 bits of a as a number, and back. */
static uint64_t hi64(const struct in6_addr *a)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | a->s6_addr[i];
	return v;
}

static struct in6_addr with_hi64(struct in6_addr a, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		a.s6_addr[i] = (uint8_t)v;
	return a;
}

/* prefix (a /64) with host number h in its lower 64 bits. */
static struct in6_addr host6(const struct in6_addr *prefix, uint64_t h)
{
	struct in6_addr a = *prefix;

	for (int i = 15; i >= 8; i--, h >>= 8)
		a.s6_addr[i] = (uint8_t)h;
	return a;
}

static int prefix6_contains(const struct in6_addr *net, int len, const struct in6_addr *a)
{
	for (int b = 0; b < len; b++) {
		int mask = 0x80 >> (b % 8);

		if ((net->s6_addr[b / 8] & mask) != (a->s6_addr[b / 8] & mask))
			return 0;
	}
	return 1;
}

int lab_prefix6_parse(const char *s, struct in6_addr *net, int *len)
{
	long l;

	if (lab_prefix_split(s, AF_INET6, net, &l) < 0 || l < 0 || l > 128)
		return -EINVAL;
	/* Host bits zero: the address equals its own prefix cut to l bits. */
	for (int b = (int)l; b < 128; b++)
		if (net->s6_addr[b / 8] & (0x80 >> (b % 8)))
			return -EINVAL;
	*len = (int)l;
	return 0;
}

/* IPv6 space an internet must not take: not global unicast, or given a meaning of its own. */
static const struct {
	const char *net;
	int len;
	const char *what;
} reserved6[] = {
	{ "64:ff9b::", 96, "the NAT64 well-known prefix 64:ff9b::/96" },
	{ "::", 8, "::/8 (unspecified, loopback, IPv4-mapped and -compatible)" },
	{ "fc00::", 7, "unique local space fc00::/7 (NPTv6 LANs)" },
	{ "fe80::", 10, "link-local fe80::/10" },
	{ "ff00::", 8, "multicast ff00::/8" },
};

int lab_internet6_set(struct lab_model *m, const char *prefix, char *err, size_t errlen)
{
	const char *p = prefix ? prefix : LAB_INTERNET6_DEFAULT;
	struct in6_addr net;
	int len;

	if (lab_prefix6_parse(p, &net, &len) < 0) {
		snprintf(err, errlen,
		         "prefix6 \"%s\" is not an IPv6 network address like \"%s\" (host bits "
		         "zero)",
		         p, LAB_INTERNET6_DEFAULT);
		return -EINVAL;
	}
	if (len < LAB_INTERNET6_LEN_MIN || len > LAB_INTERNET6_LEN_MAX) {
		snprintf(err, errlen,
		         "prefix6 %s is too %s: the internet takes a /%d to a /%d (cut into /64s "
		         "for attachments, hop routers and LANs)",
		         p, len < LAB_INTERNET6_LEN_MIN ? "large" : "small", LAB_INTERNET6_LEN_MIN,
		         LAB_INTERNET6_LEN_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(reserved6) / sizeof(reserved6[0]); i++) {
		struct in6_addr r;
		int rl = reserved6[i].len < len ? reserved6[i].len : len;

		inet_pton(AF_INET6, reserved6[i].net, &r);
		if (prefix6_contains(&r, rl, &net)) {
			snprintf(err, errlen,
			         "prefix6 %s overlaps %s; use global unicast or documentation "
			         "space such as %s",
			         p, reserved6[i].what, LAB_INTERNET6_DEFAULT);
			return -EINVAL;
		}
	}
	m->v6 = 1;
	m->inet6_prefix = net;
	m->inet6_len = len;
	m->next_subnet6 = LAB_LAN6_SUBNET0;
	return 0;
}

struct in6_addr lab_subnet6(const struct lab_model *m, uint32_t k)
{
	return with_hi64(m->inet6_prefix, hi64(&m->inet6_prefix) + k);
}

struct in6_addr lab_node_gateway6(const struct lab_node *n)
{
	return host6(&n->prefix6, 1);
}

struct in6_addr lab_hop6_addr(const struct lab_model *m, int k)
{
	struct in6_addr s = lab_subnet6(m, k ? LAB_HOP6_SUBNET : 0);

	return host6(&s, k ? (uint64_t)k : 1);
}

int lab_node_has4(const struct lab_node *n)
{
	return n->ipv6 != LAB_IPV6_ONLY;
}

int lab_node_has6(const struct lab_node *n)
{
	return n->ipv6 == LAB_IPV6_DUAL || n->ipv6 == LAB_IPV6_ONLY;
}

int lab_node_uplink6(const struct lab_model *m, int i)
{
	const struct lab_node *n = &m->nodes[i];

	if (n->parent < 0)
		return 0;
	return n->kind == LAB_NODE_HOST ? lab_node_has6(n) : lab_node_has6(&m->nodes[n->parent]);
}

int lab_model_families(struct lab_model *m, int i, char *err, size_t errlen)
{
	struct lab_node *n = &m->nodes[i];
	const struct lab_node *p = n->parent >= 0 ? &m->nodes[n->parent] : NULL;

	if (n->kind == LAB_NODE_INTERNET) {
		n->ipv6 = m->v6 ? LAB_IPV6_DUAL : LAB_IPV6_OFF;
		return 0;
	}
	if (n->kind == LAB_NODE_NAT && !lab_node_has4(p)) {
		snprintf(err, errlen,
		         "NAT \"%s\" needs IPv4 on its WAN, and network \"%s\" is IPv6-only; "
		         "put it on a network with IPv4",
		         n->name, p->name);
		return -EINVAL;
	}
	/* A NAT64 box's LAN is IPv6-only unless the scenario says otherwise (nat64.h). */
	if (n->ipv6 == LAB_IPV6_INHERIT && n->kind == LAB_NODE_NAT && n->knobs.nat64 &&
	    lab_node_has6(p))
		n->ipv6 = LAB_IPV6_ONLY;
	/* A NAT's network has IPv4 (checked above), so what it inherits is dual or off. */
	if (n->ipv6 == LAB_IPV6_INHERIT)
		n->ipv6 = p->ipv6;
	if (lab_node_has6(n) && !lab_node_has6(p)) {
		snprintf(err, errlen,
		         "\"%s\" asks for IPv6 (ipv6 = %s) but network \"%s\" has none; turn it on "
		         "with lab:internet{ ipv6 = true }%s",
		         n->name, lab_ipv6_word(n->ipv6), p->name,
		         p->kind == LAB_NODE_NAT ? " and leave the NAT's ipv6 unset or true" : "");
		return -EINVAL;
	}
	if (n->kind == LAB_NODE_HOST && lab_node_has4(n) && !lab_node_has4(p)) {
		snprintf(err, errlen,
		         "host \"%s\" asks for IPv4 (ipv6 = %s) but network \"%s\" is IPv6-only; "
		         "use ipv6 = \"only\" or put it on a network with IPv4",
		         n->name, lab_ipv6_word(n->ipv6), p->name);
		return -EINVAL;
	}
	if (n->kind == LAB_NODE_NAT && n->ipv6 == LAB_IPV6_ONLY && !n->knobs.translate) {
		snprintf(err, errlen,
		         "router \"%s\" (profile none) cannot have an IPv6-only LAN: its LAN is "
		         "routed public IPv4 space; use ipv6 = true",
		         n->name);
		return -EINVAL;
	}
	if (n->kind == LAB_NODE_NAT && n->knobs.nptv6 && !lab_node_has6(n)) {
		snprintf(err, errlen,
		         "NAT \"%s\": nptv6 translates its IPv6 LAN, and it has none; turn IPv6 "
		         "on (lab:internet{ ipv6 = true }) or drop nptv6",
		         n->name);
		return -EINVAL;
	}
	return 0;
}

static int subnet_taken(const struct lab_model *m, const struct in6_addr *s, int self)
{
	for (int i = 0; i < m->nnodes; i++) {
		const struct lab_node *o = &m->nodes[i];

		if (i != self && o->kind != LAB_NODE_HOST && lab_node_has6(o) &&
		    (memcmp(&o->pub6, s, sizeof(*s)) == 0 ||
		     memcmp(&o->prefix6, s, sizeof(*s)) == 0))
			return 1;
	}
	return 0;
}

static void ntop6(const struct in6_addr *a, char *buf, size_t len)
{
	inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

/* A LAN given as lan6 = "...": a /64 of the internet's prefix, or a ULA under nptv6. */
static int lan6_fixed_check(const struct lab_model *m, int i, char *err, size_t errlen)
{
	const struct lab_node *n = &m->nodes[i];
	struct in6_addr ula, s0 = lab_subnet6(m, 0), s1 = lab_subnet6(m, LAB_HOP6_SUBNET);
	char a[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN];

	inet_pton(AF_INET6, "fc00::", &ula);
	ntop6(&n->prefix6, a, sizeof(a));
	ntop6(&m->inet6_prefix, p, sizeof(p));
	if (n->knobs.nptv6 && !prefix6_contains(&ula, 7, &n->prefix6)) {
		snprintf(err, errlen,
		         "lan6 %s/64 of \"%s\" must be unique local space (fc00::/7) under nptv6, "
		         "e.g. fd00:0:0:1::/64",
		         a, n->name);
		return -EINVAL;
	}
	if (!n->knobs.nptv6 &&
	    (!prefix6_contains(&m->inet6_prefix, m->inet6_len, &n->prefix6) ||
	     !memcmp(&s0, &n->prefix6, sizeof(s0)) || !memcmp(&s1, &n->prefix6, sizeof(s1)))) {
		snprintf(err, errlen,
		         "lan6 %s/64 of \"%s\" must be a /64 of the internet's prefix %s/%d other "
		         "than its first two (attachments and hop routers)",
		         a, n->name, p, m->inet6_len);
		return -EINVAL;
	}
	if (subnet_taken(m, &n->prefix6, i)) {
		snprintf(err, errlen, "lan6 %s/64 of \"%s\" is already another LAN's", a, n->name);
		return -EINVAL;
	}
	return 0;
}

static int network6_assign(struct lab_model *m, int i, char *err, size_t errlen)
{
	struct lab_node *n = &m->nodes[i];
	uint64_t room = m->inet6_len >= 64 - 32 ? 1ull << (64 - m->inet6_len) : 1ull << 32;
	struct in6_addr s;

	n->next_free6 = 2;
	if (n->kind == LAB_NODE_INTERNET) {
		n->prefix6 = n->pub6 = lab_subnet6(m, 0);
		return 0;
	}
	if (n->prefix6_fixed && !n->knobs.nptv6) {
		n->pub6 = n->prefix6;
		return lan6_fixed_check(m, i, err, errlen);
	}
	for (;; m->next_subnet6++) {
		if (m->next_subnet6 >= room) {
			snprintf(err, errlen,
			         "no free /64 left in the internet's IPv6 prefix for \"%s\"",
			         n->name);
			return -EINVAL;
		}
		s = lab_subnet6(m, m->next_subnet6);
		if (!subnet_taken(m, &s, i))
			break;
	}
	n->pub6 = s;
	if (n->prefix6_fixed)
		return lan6_fixed_check(m, i, err, errlen);
	if (n->knobs.nptv6) {
		struct in6_addr ula;

		inet_pton(AF_INET6, LAB_ULA6_DEFAULT, &ula);
		n->prefix6 = with_hi64(ula, hi64(&ula) + m->next_subnet6);
	} else {
		n->prefix6 = s;
	}
	m->next_subnet6++;
	return 0;
}

static int addr6_taken(const struct lab_model *m, int parent, const struct in6_addr *a)
{
	struct in6_addr g = lab_node_gateway6(&m->nodes[parent]);

	if (!memcmp(&g, a, sizeof(g)))
		return 1;
	for (int i = 0; i < m->nnodes; i++)
		for (int j = 0; m->nodes[i].parent == parent && j < m->nodes[i].naddrs6; j++)
			if (!memcmp(&m->nodes[i].addrs6[j], a, sizeof(*a)))
				return 1;
	return 0;
}

int lab_model_assign6(struct lab_model *m, int i, char *err, size_t errlen)
{
	struct lab_node *n = &m->nodes[i];
	struct lab_node *p;
	int want, rc;
	char a[INET6_ADDRSTRLEN];

	if (n->kind != LAB_NODE_HOST && lab_node_has6(n)) {
		rc = network6_assign(m, i, err, errlen);
		if (rc < 0)
			return rc;
	}
	n->naddrs6 = 0;
	if (!lab_node_uplink6(m, i))
		return 0;
	p = &m->nodes[n->parent];
	want = n->kind == LAB_NODE_HOST ? n->want_naddrs : 1;
	if (!IN6_IS_ADDR_UNSPECIFIED(&n->want_addr6)) {
		ntop6(&n->want_addr6, a, sizeof(a));
		if (!prefix6_contains(&p->prefix6, LAB_LAN6_LEN, &n->want_addr6) ||
		    !memcmp(&n->want_addr6, &p->prefix6, sizeof(p->prefix6))) {
			snprintf(err, errlen, "addr6 %s of \"%s\" is not a host address of \"%s\"",
			         a, n->name, p->name);
			return -EINVAL;
		}
		if (addr6_taken(m, n->parent, &n->want_addr6)) {
			snprintf(err, errlen, "addr6 %s of \"%s\" is already taken", a, n->name);
			return -EINVAL;
		}
		n->addrs6[n->naddrs6++] = n->want_addr6;
	}
	while (n->naddrs6 < want) {
		struct in6_addr c = host6(&p->prefix6, p->next_free6++);

		if (!addr6_taken(m, n->parent, &c))
			n->addrs6[n->naddrs6++] = c;
	}
	return 0;
}
