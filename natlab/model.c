/* SPDX-License-Identifier: MIT */
#include "natlab/model.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORE_PREFIX	"198.18.0.0"
#define CORE_LEN	16
#define ROUTED_PREFIX	"198.19.0.0"
#define INTERNET_RANGE	"198.18.0.0"
#define INTERNET_LEN	15

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

int lab_prefix_parse(const char *s, struct in_addr *net, int *len)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	char *end;
	long l;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (inet_pton(AF_INET, buf, net) != 1)
		return -EINVAL;
	errno = 0;
	l = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || l < 8 || l > 30)
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

/* Picks a free /24 for a NAT's LAN: 198.19.k (routed), 100.64.k (CGNAT) or 10.k. */
static int prefix_allocate(const struct lab_model *m, struct lab_node *n)
{
	/* 10.k.0.0/24 steps in the second octet, the others in the third. */
	const char *base = ROUTED_PREFIX;
	int shift = 8;

	if (n->knobs.translate && strcmp(n->profile, "cgnat") == 0)
		base = "100.64.0.0";
	else if (n->knobs.translate) {
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
	if (n->knobs.translate &&
	    lab_prefix_overlap(n->prefix, n->prefix_len, ip4(INTERNET_RANGE), INTERNET_LEN)) {
		snprintf(err, errlen,
			 "lan of NAT \"%s\" overlaps the internet range " INTERNET_RANGE "/%d",
			 n->name, INTERNET_LEN);
		return -EINVAL;
	}
	if (!n->knobs.translate &&
	    !lab_prefix_overlap(n->prefix, n->prefix_len, ip4(ROUTED_PREFIX), 16)) {
		snprintf(err, errlen,
			 "lan of \"%s\" (profile none, routed) must lie in " ROUTED_PREFIX "/16",
			 n->name);
		return -EINVAL;
	}
	return 0;
}

static int assign_network(struct lab_model *m, struct lab_node *n, char *err, size_t errlen)
{
	if (n->kind == LAB_NODE_INTERNET) {
		n->prefix = ip4(CORE_PREFIX);
		n->prefix_len = CORE_LEN;
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
			snprintf(err, errlen, "network of \"%s\" has no free address left for \"%s\"",
				 m->nodes[n->parent].name, n->name);
			return -EINVAL;
		}
		n->naddrs++;
	}
	return 0;
}
