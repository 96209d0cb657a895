/* SPDX-License-Identifier: MIT */
#include "natlab/model.h"
#include "natlab/model6.h"
#include "natlab/nat64.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a;
}

static uint32_t mask_of(int len)
{
	return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

void lab_model_init(struct lab_model *m)
{
	memset(m, 0, sizeof(*m));
	lab_prefix_parse(LAB_INTERNET_DEFAULT, &m->inet_prefix, &m->inet_len);
	m->hops = LAB_HOPS_DEFAULT;
}

/*
 * The internet's second half is cut into blocks: /24s, or eighths of the half when those
 * are smaller (internets smaller than a /20), so that even a /26 has a hop block and a
 * few routed LANs.
 */
static int block_len(const struct lab_model *m)
{
	return m->inet_len + 4 > 24 ? m->inet_len + 4 : 24;
}

/* Block k of the internet's second half: k = 0 the hop routers, k >= 1 routed LANs. */
static struct in_addr block_net(const struct lab_model *m, uint32_t k)
{
	uint32_t half = 1u << (32 - m->inet_len - 1);
	struct in_addr a = { htonl(ntohl(m->inet_prefix.s_addr) + half +
		                   (k << (32 - block_len(m)))) };

	return a;
}

static uint32_t block_count(const struct lab_model *m)
{
	return 1u << (block_len(m) - m->inet_len - 1);
}

void lab_hop_block(const struct lab_model *m, struct in_addr *net, int *len)
{
	*net = block_net(m, 0);
	*len = block_len(m);
}

struct in_addr lab_hop_addr(const struct lab_model *m, int k)
{
	struct in_addr a = { htonl(ntohl(k ? block_net(m, 0).s_addr : m->inet_prefix.s_addr) +
		                   (uint32_t)(k ? k : 1)) };

	return a;
}

/* Address space an internet must not take: the lab's LANs, or no unicast at all. */
static const struct {
	const char *net;
	int len;
	const char *what;
} reserved[] = {
	{ "10.0.0.0", 8, "private LAN space 10.0.0.0/8 (NAT LANs)" },
	{ "172.16.0.0", 12, "private LAN space 172.16.0.0/12" },
	{ "192.168.0.0", 16, "private LAN space 192.168.0.0/16 (NAT LANs)" },
	{ "100.64.0.0", 10, "the CGNAT shared space 100.64.0.0/10 (CGN LANs)" },
	{ "0.0.0.0", 8, "\"this network\" 0.0.0.0/8" },
	{ "127.0.0.0", 8, "loopback 127.0.0.0/8" },
	{ "169.254.0.0", 16, "link-local 169.254.0.0/16" },
	{ "224.0.0.0", 3, "multicast and reserved space 224.0.0.0/3" },
};

static int internet_prefix_parse(const char *s, struct in_addr *net, int *len, char *err,
                                 size_t errlen)
{
	char buf[INET_ADDRSTRLEN], a[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr want;
	char *end;
	long l = -1;

	if (slash && (size_t)(slash - s) < sizeof(buf)) {
		memcpy(buf, s, (size_t)(slash - s));
		buf[slash - s] = '\0';
		errno = 0;
		l = strtol(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || inet_pton(AF_INET, buf, net) != 1)
			l = -1;
	}
	if (l < 0 || l > 32) {
		snprintf(err, errlen, "prefix \"%s\" is not an IPv4 prefix like \"%s\"", s,
		         LAB_INTERNET_DEFAULT);
		return -EINVAL;
	}
	if (l < 8 || l > LAB_INTERNET_LEN_MAX) {
		snprintf(err, errlen,
		         "prefix %s is too %s: the internet takes a /8 to a /%d (half for "
		         "attachments, half for hop routers and routed LANs)",
		         s, l < 8 ? "large" : "small for a lab", LAB_INTERNET_LEN_MAX);
		return -EINVAL;
	}
	want.s_addr = htonl(ntohl(net->s_addr) & mask_of((int)l));
	if (want.s_addr != net->s_addr) {
		inet_ntop(AF_INET, &want, a, sizeof(a));
		snprintf(err, errlen,
		         "prefix %s is not a network address (host bits set; did you mean %s/%ld?)",
		         s, a, l);
		return -EINVAL;
	}
	*len = (int)l;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (lab_prefix_overlap(*net, *len, ip4(reserved[i].net), reserved[i].len)) {
			snprintf(err, errlen,
			         "prefix %s overlaps %s; use public or documentation space such "
			         "as 203.0.113.0/24 or %s",
			         s, reserved[i].what, LAB_INTERNET_DEFAULT);
			return -EINVAL;
		}
	}
	return 0;
}

int lab_internet_set(struct lab_model *m, const char *prefix, int hops, char *err, size_t errlen)
{
	struct lab_model t = *m;
	int room;

	if (prefix && internet_prefix_parse(prefix, &t.inet_prefix, &t.inet_len, err, errlen) < 0)
		return -EINVAL;
	room = (1 << (32 - block_len(&t))) - 2;
	if (hops < 0 || hops > LAB_HOPS_MAX) {
		snprintf(err, errlen, "hops = %d is out of range (0 to %d)", hops, LAB_HOPS_MAX);
		return -EINVAL;
	}
	if (hops - 1 > room) {
		snprintf(err, errlen,
		         "hops = %d needs %d backbone router addresses but internet %s has room "
		         "for %d; use a larger prefix or fewer hops",
		         hops, hops - 1, prefix ? prefix : LAB_INTERNET_DEFAULT, room);
		return -EINVAL;
	}
	m->inet_prefix = t.inet_prefix;
	m->inet_len = t.inet_len;
	m->hops = hops;
	return 0;
}

void lab_model_close(struct lab_model *m)
{
	if (!m)
		return;
	free(m->nodes);
	m->nodes = NULL;
	m->nnodes = m->cap = 0;
}

int lab_name_check(const char *name, size_t max, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (n == 0 || n > max) {
		snprintf(err, errlen, "name \"%s\" must have 1 to %zu characters", name, max);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-') {
			snprintf(err, errlen,
			         "name \"%s\" may only use letters, digits, '_' and '-'", name);
			return -EINVAL;
		}
	}
	return 0;
}

int lab_model_find(const struct lab_model *m, const char *name)
{
	for (int i = 0; i < m->nnodes; i++)
		if (strcmp(m->nodes[i].name, name) == 0)
			return i;
	return -ENOENT;
}

int lab_model_add(struct lab_model *m, const char *name, enum lab_node_kind kind, int parent,
                  char *err, size_t errlen)
{
	struct lab_node *n;
	int rc;

	rc = lab_name_check(name, LAB_NODE_MAX, err, errlen);
	if (rc < 0)
		return rc;
	if (lab_model_find(m, name) >= 0) {
		snprintf(err, errlen, "a node named \"%s\" already exists in this lab", name);
		return -EINVAL;
	}
	if (m->nnodes >= LAB_NODES_MAX) {
		snprintf(err, errlen, "a lab holds at most %d nodes", LAB_NODES_MAX);
		return -EINVAL;
	}
	if (m->nnodes == m->cap) {
		int cap = m->cap ? m->cap * 2 : 16;
		struct lab_node *nodes = realloc(m->nodes, (size_t)cap * sizeof(*nodes));

		if (!nodes) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		m->nodes = nodes;
		m->cap = cap;
	}
	n = &m->nodes[m->nnodes];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->kind = kind;
	n->parent = parent;
	return m->nnodes++;
}

int lab_prefix_split(const char *s, int family, void *addr, long *len)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	char *end;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (inet_pton(family, buf, addr) != 1)
		return -EINVAL;
	errno = 0;
	*len = strtol(slash + 1, &end, 10);
	return errno || *end || end == slash + 1 ? -EINVAL : 0;
}

int lab_prefix_parse(const char *s, struct in_addr *net, int *len)
{
	long l;

	if (lab_prefix_split(s, AF_INET, net, &l) < 0 || l < 8 || l > 30)
		return -EINVAL;
	if (ntohl(net->s_addr) & ~mask_of((int)l))
		return -EINVAL;
	*len = (int)l;
	return 0;
}

int lab_prefix_overlap(struct in_addr a, int alen, struct in_addr b, int blen)
{
	uint32_t m = mask_of(alen < blen ? alen : blen);

	return (ntohl(a.s_addr) & m) == (ntohl(b.s_addr) & m);
}

struct in_addr lab_node_gateway(const struct lab_node *n)
{
	struct in_addr g = { htonl(ntohl(n->prefix.s_addr) + 1) };

	return g;
}

int lab_netns_name(const char *lab, const char *node, char *buf, size_t len)
{
	int n = snprintf(buf, len, LAB_NETNS_PREFIX "%s.%s", lab, node);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int lab_hop_netns_name(const char *lab, const char *inet, int k, char *buf, size_t len)
{
	int n = snprintf(buf, len, LAB_NETNS_PREFIX "%s.%s.hop%d", lab, inet, k);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int lab_hop_find(const struct lab_model *m, const char *name)
{
	const char *dot = strchr(name, '.');
	char *end;
	long k;

	if (!dot || strncmp(dot, ".hop", 4) != 0)
		return -ENOENT;
	errno = 0;
	k = strtol(dot + 4, &end, 10);
	if (errno || *end || end == dot + 4 || dot[4] == '0' || k < 1 || k >= m->hops)
		return -ENOENT;
	for (int i = 0; i < m->nnodes; i++)
		if (m->nodes[i].kind == LAB_NODE_INTERNET &&
		    strlen(m->nodes[i].name) == (size_t)(dot - name) &&
		    strncmp(m->nodes[i].name, name, (size_t)(dot - name)) == 0)
			return (int)k;
	return -ENOENT;
}

static int prefix_in_use(const struct lab_model *m, struct in_addr p, int len)
{
	for (int i = 0; i < m->nnodes; i++) {
		const struct lab_node *n = &m->nodes[i];

		if (n->kind != LAB_NODE_HOST && n->prefix_len &&
		    lab_prefix_overlap(n->prefix, n->prefix_len, p, len))
			return 1;
	}
	return 0;
}

/*
 * Picks a free LAN for a router: a /24 10.k (NAT) or 100.64.k (CGNAT), or a routed block
 * k >= 1 of the internet's second half (profile none: 198.19.k.0/24 by default).
 */
static int prefix_allocate(const struct lab_model *m, struct lab_node *n)
{
	/* 10.k.0.0/24 steps in the second octet, 100.64.k.0/24 in the third. */
	const char *base = "100.64.0.0";
	int shift = 8;

	if (!n->knobs.translate) {
		for (uint32_t k = 1; k < block_count(m); k++) {
			struct in_addr p = block_net(m, k);

			if (!prefix_in_use(m, p, block_len(m))) {
				n->prefix = p;
				n->prefix_len = block_len(m);
				return 0;
			}
		}
		return -ENOSPC;
	}
	if (strcmp(n->profile, "cgnat") != 0) {
		base = "10.0.0.0";
		shift = 16;
	}
	uint32_t b = ntohl(ip4(base).s_addr);

	for (uint32_t k = 1; k < 256; k++) {
		struct in_addr p = { htonl(b + (k << shift)) };

		if (!prefix_in_use(m, p, 24)) {
			n->prefix = p;
			n->prefix_len = 24;
			return 0;
		}
	}
	return -ENOSPC;
}

static int addr_taken(const struct lab_model *m, int parent, struct in_addr a, int self)
{
	const struct lab_node *p = &m->nodes[parent];

	if (a.s_addr == lab_node_gateway(p).s_addr)
		return 1;
	for (int i = 0; i < m->nnodes; i++) {
		if (m->nodes[i].parent != parent || (i == self && m->nodes[i].naddrs == 0))
			continue;
		for (int j = 0; j < m->nodes[i].naddrs; j++)
			if (m->nodes[i].addrs[j].s_addr == a.s_addr)
				return 1;
	}
	return 0;
}

static int check_prefix_path(const struct lab_model *m, const struct lab_node *n, char *err,
                             size_t errlen)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	for (int up = n->parent; up >= 0; up = m->nodes[up].parent) {
		const struct lab_node *u = &m->nodes[up];

		if (!lab_prefix_overlap(n->prefix, n->prefix_len, u->prefix, u->prefix_len))
			continue;
		inet_ntop(AF_INET, &n->prefix, a, sizeof(a));
		inet_ntop(AF_INET, &u->prefix, b, sizeof(b));
		snprintf(err, errlen,
		         "lan %s/%d of \"%s\" overlaps %s/%d of \"%s\" on its way to the internet",
		         a, n->prefix_len, n->name, b, u->prefix_len, u->name);
		return -EINVAL;
	}
	inet_ntop(AF_INET, &m->inet_prefix, a, sizeof(a));
	if (n->knobs.translate &&
	    lab_prefix_overlap(n->prefix, n->prefix_len, m->inet_prefix, m->inet_len)) {
		snprintf(err, errlen, "lan of NAT \"%s\" overlaps the internet range %s/%d",
		         n->name, a, m->inet_len);
		return -EINVAL;
	}
	if (!n->knobs.translate) {
		struct in_addr routed = block_net(m, 0);
		int in_routed =
		    n->prefix_len > m->inet_len + 1 &&
		    lab_prefix_overlap(n->prefix, n->prefix_len, routed, m->inet_len + 1) &&
		    !lab_prefix_overlap(n->prefix, n->prefix_len, routed, block_len(m));

		if (!in_routed) {
			inet_ntop(AF_INET, &routed, b, sizeof(b));
			snprintf(err, errlen,
			         "lan of \"%s\" (profile none, routed) must lie in the internet's "
			         "routed half %s/%d, outside its hop block %s/%d",
			         n->name, b, m->inet_len + 1, b, block_len(m));
			return -EINVAL;
		}
	}
	return 0;
}

static int assign_network(struct lab_model *m, struct lab_node *n, char *err, size_t errlen)
{
	if (n->kind == LAB_NODE_INTERNET) {
		/* The first half of the internet: the attachment network. */
		n->prefix = m->inet_prefix;
		n->prefix_len = m->inet_len + 1;
		n->next_free = 2;
		return 0;
	}
	if (!n->knobs.translate && m->nodes[n->parent].kind != LAB_NODE_INTERNET) {
		snprintf(err, errlen, "a router with profile \"none\" must sit on the internet");
		return -EINVAL;
	}
	if (!n->prefix_fixed && prefix_allocate(m, n) < 0) {
		snprintf(err, errlen, "no free /24 left for the lan of \"%s\"", n->name);
		return -EINVAL;
	}
	n->next_free = 2;
	return check_prefix_path(m, n, err, errlen);
}

static int take_next_free(struct lab_model *m, int self, struct in_addr *out)
{
	struct lab_node *p = &m->nodes[m->nodes[self].parent];
	uint32_t size = 1u << (32 - p->prefix_len);

	for (; p->next_free < size - 1; p->next_free++) {
		struct in_addr a = { htonl(ntohl(p->prefix.s_addr) + p->next_free) };

		if (!addr_taken(m, m->nodes[self].parent, a, self)) {
			*out = a;
			p->next_free++;
			return 0;
		}
	}
	return -ENOSPC;
}

static int assign_fixed(struct lab_model *m, int i, char *err, size_t errlen)
{
	struct lab_node *n = &m->nodes[i];
	struct lab_node *p = &m->nodes[n->parent];
	char a[INET_ADDRSTRLEN];
	uint32_t host = ntohl(n->want_addr.s_addr) & ~mask_of(p->prefix_len);

	inet_ntop(AF_INET, &n->want_addr, a, sizeof(a));
	if (!lab_prefix_overlap(n->want_addr, 32, p->prefix, p->prefix_len) || host == 0 ||
	    host == ~mask_of(p->prefix_len)) {
		snprintf(err, errlen, "addr %s of \"%s\" is not a host address of \"%s\"", a,
		         n->name, p->name);
		return -EINVAL;
	}
	if (addr_taken(m, n->parent, n->want_addr, i)) {
		snprintf(err, errlen, "addr %s of \"%s\" is already taken", a, n->name);
		return -EINVAL;
	}
	n->addrs[n->naddrs++] = n->want_addr;
	return 0;
}

int lab_model_assign(struct lab_model *m, int i, char *err, size_t errlen)
{
	struct lab_node *n = &m->nodes[i];
	int want = n->kind == LAB_NODE_HOST ? n->want_naddrs : (n->kind == LAB_NODE_NAT ? 1 : 0);
	int rc;

	rc = lab_model_families(m, i, err, errlen);
	if (rc < 0)
		return rc;
	if (!lab_node_has4(n) && n->kind == LAB_NODE_HOST)
		want = 0;
	if (n->kind != LAB_NODE_HOST) {
		rc = assign_network(m, n, err, errlen);
		if (rc < 0)
			return rc;
	}
	n->naddrs = 0;
	if (want && n->want_addr.s_addr) {
		rc = assign_fixed(m, i, err, errlen);
		if (rc < 0)
			return rc;
	}
	while (n->naddrs < want) {
		if (take_next_free(m, i, &n->addrs[n->naddrs]) < 0) {
			const struct lab_node *p = &m->nodes[n->parent];
			char a[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &m->inet_prefix, a, sizeof(a));
			if (p->kind == LAB_NODE_INTERNET)
				snprintf(err, errlen,
				         "internet %s/%d is too small for this lab: its attachment "
				         "half %s/%d has no free address left for \"%s\"; give "
				         "lab:internet{} a larger prefix",
				         a, m->inet_len, a, p->prefix_len, n->name);
			else
				snprintf(err, errlen,
				         "network of \"%s\" has no free address left for \"%s\"",
				         p->name, n->name);
			return -EINVAL;
		}
		n->naddrs++;
	}
	rc = lab_model_assign6(m, i, err, errlen);
	return rc < 0 ? rc : nat64_model_check(m, i, err, errlen);
}
