/* SPDX-License-Identifier: MIT */
#include "natlab/topology.h"
#include "natlab/util.h"
#include "natlab/link.h"
#include "natlab/log.h"
#include "natlab/nat.h"
#include "natlab/netns.h"
#include "natlab/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IFINDEX_UPLINK 2
#define IFINDEX_LAN    3
#define IFINDEX_PORT0  10
/* A signal arrived (stop may be NULL when the caller handles signals itself). */
#define STOPPED(stop)  ((stop) && *(stop))

struct build {
	const struct lab_model *m;
	struct lab_wires *wires;
	int *nsfd;
	struct lab_rtnl **rtnl;
	char *err;
	size_t errlen;
};

static int fail(struct build *b, int rc, const char *node, const char *what)
{
	snprintf(b->err, b->errlen, "node \"%s\": %s: %s", node, what, strerror(-rc));
	return rc;
}

/* Sysctls every lab namespace gets: no IPv6 chatter in captures, no reverse-path surprises. */
static const char *const common_sysctls[][2] = {
	{ "net/ipv6/conf/all/disable_ipv6", "1" },
	{ "net/ipv6/conf/default/disable_ipv6", "1" },
	{ "net/ipv4/conf/all/rp_filter", "0" },
	{ "net/ipv4/conf/default/rp_filter", "0" },
};

/* Routers forward; they must not send redirects when hairpinning out the LAN they came in. */
static const char *const router_sysctls[][2] = {
	{ "net/ipv4/ip_forward", "1" },
	{ "net/ipv4/conf/all/send_redirects", "0" },
	{ "net/ipv4/conf/default/send_redirects", "0" },
};

/*
 * With br_netfilter loaded (Docker loads it), bridges run the IP hooks on frames at
 * layer 2: a hairpinned packet is DNATed there and "bridged" back out the port it came
 * in on, where the bridge drops it. NAT boxes must route, not bridge, their LAN traffic.
 * These keys exist only while the module is loaded.
 */
static const char *const bridge_sysctls[][2] = {
	{ "net/bridge/bridge-nf-call-iptables", "0" },
	{ "net/bridge/bridge-nf-call-ip6tables", "0" },
	{ "net/bridge/bridge-nf-call-arptables", "0" },
};

static int sysctls_write(const char *const (*kv)[2], size_t n, int optional)
{
	for (size_t i = 0; i < n; i++) {
		int rc = lab_sysctl_write(kv[i][0], kv[i][1]);

		if (rc == -ENOENT && optional)
			continue;
		if (rc < 0) {
			log_debug("sysctl %s: %s", kv[i][0], strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int node_namespace(struct build *b, int i)
{
	const struct lab_node *n = &b->m->nodes[i];
	char ns[128];
	int rc;

	rc = lab_netns_name(b->m->name, n->name, ns, sizeof(ns));
	if (rc == 0)
		rc = lab_netns_create(ns, &b->nsfd[i]);
	if (rc < 0)
		return fail(b, rc, n->name, rc == -EEXIST ? "namespace exists" : "create namespace");
	rc = lab_netns_enter(b->nsfd[i]);
	if (rc == 0) {
		rc = sysctls_write(common_sysctls, ARRAY_SIZE(common_sysctls), 0);
		if (rc == 0 && n->kind != LAB_NODE_HOST)
			rc = sysctls_write(router_sysctls, ARRAY_SIZE(router_sysctls), 0);
		if (rc == 0 && n->kind != LAB_NODE_HOST)
			rc = sysctls_write(bridge_sysctls, ARRAY_SIZE(bridge_sysctls), 1);
		lab_netns_leave();
	}
	if (rc < 0)
		return fail(b, rc, n->name, "sysctls");
	rc = lab_rtnl_open(b->nsfd[i], &b->rtnl[i]);
	if (rc == 0)
		rc = lab_link_set_up(b->rtnl[i], 1);
	return rc < 0 ? fail(b, rc, n->name, "loopback up") : 0;
}

/* The bridge a router's downstream nodes attach to, with the router's address on it. */
static int node_bridge(struct build *b, int i)
{
	const struct lab_node *n = &b->m->nodes[i];
	int internet = n->kind == LAB_NODE_INTERNET;
	int ifindex = internet ? IFINDEX_UPLINK : IFINDEX_LAN;
	int rc;

	rc = lab_link_bridge_add(b->rtnl[i], internet ? LAB_IF_CORE : LAB_IF_LAN, ifindex);
	if (rc == 0)
		rc = lab_addr_add(b->rtnl[i], ifindex, lab_node_gateway(n), n->prefix_len, 0);
	return rc < 0 ? fail(b, rc, n->name, "bridge") : 0;
}

void lab_wires_close(struct lab_wires *w)
{
	for (int k = 0; k < w->n; k++) {
		if (w->v[k].fd_parent >= 0)
			close(w->v[k].fd_parent);
		if (w->v[k].fd_child >= 0)
			close(w->v[k].fd_child);
	}
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

/* A TAP pair instead of a veth: created here, forwarded by whoever keeps the lab. */
static int node_wire(struct build *b, int i, const char *port, const char *peer, int master,
		     int *child_ifindex)
{
	const struct lab_node *n = &b->m->nodes[i];
	struct lab_wire_fds *v = realloc(b->wires->v, (size_t)(b->wires->n + 1) * sizeof(*v));
	int ifindex, rc;

	if (!v)
		return -ENOMEM;
	b->wires->v = v;
	v = &v[b->wires->n++];
	*v = (struct lab_wire_fds){ .node = i, .fd_parent = -1, .fd_child = -1 };
	rc = wire_tap_create(b->nsfd[n->parent], port, &v->fd_parent, &ifindex);
	if (rc == 0)
		rc = lab_link_enslave_up(b->rtnl[n->parent], ifindex, master);
	if (rc == 0)
		rc = wire_tap_create(b->nsfd[i], peer, &v->fd_child, child_ifindex);
	if (rc == 0)
		rc = lab_link_set_up(b->rtnl[i], *child_ifindex);
	return rc;
}

/* The link from node i up to its parent's bridge, plus i's addresses and default route. */
static int node_uplink(struct build *b, int i)
{
	const struct lab_node *n = &b->m->nodes[i];
	const struct lab_node *p = &b->m->nodes[n->parent];
	int master = p->kind == LAB_NODE_INTERNET ? IFINDEX_UPLINK : IFINDEX_LAN;
	char port[16];
	struct lab_veth v = {
		.name = port,
		.ifindex = IFINDEX_PORT0 + i,
		.master = master,
		.peer = n->kind == LAB_NODE_HOST ? LAB_IF_UPLINK_HOST : LAB_IF_UPLINK_NAT,
		.peer_ifindex = IFINDEX_UPLINK,
		.peer_nsfd = b->nsfd[i],
	};
	struct in_addr any = { 0 };
	int uplink = IFINDEX_UPLINK, rc;

	snprintf(port, sizeof(port), "p-%s", n->name);
	if (n->has_link) {
		rc = node_wire(b, i, port, v.peer, master, &uplink);
	} else {
		rc = lab_link_veth_add(b->rtnl[n->parent], &v);
		if (rc == 0)
			rc = lab_link_set_up(b->rtnl[i], IFINDEX_UPLINK);
	}
	if (rc < 0)
		return fail(b, rc, n->name, n->has_link ? "wire to its network" : "veth to its network");
	for (int j = 0; j < n->naddrs && rc == 0; j++)
		rc = lab_addr_add(b->rtnl[i], uplink, n->addrs[j], p->prefix_len, 0);
	if (rc < 0)
		return fail(b, rc, n->name, "address");
	rc = lab_route_add(b->rtnl[i], any, 0, lab_node_gateway(p));
	return rc < 0 ? fail(b, rc, n->name, "default route") : 0;
}

static int nat_subscribers(const struct lab_model *m, int i, struct in_addr **out)
{
	struct in_addr *subs = calloc((size_t)m->nnodes, sizeof(*subs));
	int n = 0;

	if (!subs)
		return -ENOMEM;
	for (int j = 0; j < m->nnodes; j++)
		for (int k = 0; m->nodes[j].parent == i && k < m->nodes[j].naddrs; k++)
			subs[n++] = m->nodes[j].addrs[k];
	*out = subs;
	return n;
}

/* Renders node i's ruleset and loads it, with its UDP timeouts, in the current namespace. */
static int nat_apply_here(const struct lab_model *m, int i, int flush, char *err, size_t errlen)
{
	const struct lab_node *n = &m->nodes[i];
	struct nat_box_addrs a = { .wan = n->addrs[0], .lan_prefix = n->prefix,
				   .lan_len = n->prefix_len };
	struct in_addr *subs = NULL;
	char *rules = NULL, timeout[16];
	int rc;

	rc = nat_subscribers(m, i, &subs);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	a.subscribers = subs;
	a.nsubscribers = (unsigned)rc;
	rc = nat_ruleset_render(&n->knobs, &a, &rules);
	if (rc == 0)
		rc = nat_ruleset_apply(rules, err, errlen);
	else
		snprintf(err, errlen, "ruleset: %s", strerror(-rc));
	snprintf(timeout, sizeof(timeout), "%u", n->knobs.udp_timeout);
	/* Conntrack's UDP timeouts are per namespace: they are the mapping lifetime. */
	if (rc == 0 && n->knobs.translate &&
	    ((rc = lab_sysctl_write("net/netfilter/nf_conntrack_udp_timeout", timeout)) < 0 ||
	     (rc = lab_sysctl_write("net/netfilter/nf_conntrack_udp_timeout_stream", timeout)) < 0))
		snprintf(err, errlen, "conntrack udp timeout: %s", strerror(-rc));
	if (rc == 0 && flush && (rc = nat_conntrack_flush()) < 0)
		snprintf(err, errlen, "conntrack flush: %s", strerror(-rc));
out:
	free(rules);
	free(subs);
	return rc;
}

static int node_nat(struct build *b, int i)
{
	char nerr[512];
	int rc = lab_netns_enter(b->nsfd[i]);

	if (rc < 0)
		return fail(b, rc, b->m->nodes[i].name, "setns");
	rc = nat_apply_here(b->m, i, 0, nerr, sizeof(nerr));
	if (rc < 0)
		snprintf(b->err, b->errlen, "node \"%s\": %s", b->m->nodes[i].name, nerr);
	lab_netns_leave();
	return rc;
}

int lab_topology_nat_reload(const struct lab_model *m, int i, char *err, size_t errlen)
{
	int fd, rc;

	rc = lab_node_netns_open(m->name, m->nodes[i].name, &fd);
	if (rc < 0) {
		snprintf(err, errlen, "namespace of \"%s\": %s", m->nodes[i].name, strerror(-rc));
		return rc;
	}
	rc = lab_netns_enter(fd);
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "setns: %s", strerror(-rc));
		return rc;
	}
	rc = nat_apply_here(m, i, 1, err, errlen);
	lab_netns_leave();
	return rc;
}

int lab_topology_link_set(const struct lab_model *m, int i, int up, char *err, size_t errlen)
{
	struct lab_rtnl *r = NULL;
	int fd, rc;

	rc = lab_node_netns_open(m->name, m->nodes[i].name, &fd);
	if (rc < 0) {
		snprintf(err, errlen, "namespace of \"%s\": %s", m->nodes[i].name, strerror(-rc));
		return rc;
	}
	rc = lab_rtnl_open(fd, &r);
	close(fd);
	/* A wired uplink is a TAP whose ifindex the kernel chose: find it by name. */
	if (rc == 0)
		rc = lab_link_index(r, m->nodes[i].kind == LAB_NODE_HOST ? LAB_IF_UPLINK_HOST
									  : LAB_IF_UPLINK_NAT);
	if (rc > 0)
		rc = up ? lab_link_set_up(r, rc) : lab_link_set_down(r, rc);
	if (rc == 0 && up && m->nodes[i].parent >= 0) {
		/* Taking a link down drops its routes: the default route comes back with it. */
		struct in_addr any = { 0 };

		rc = lab_route_add(r, any, 0, lab_node_gateway(&m->nodes[m->nodes[i].parent]));
		if (rc == -EEXIST)
			rc = 0;
	}
	if (rc < 0)
		snprintf(err, errlen, "link %s: %s", up ? "up" : "down", strerror(-rc));
	lab_rtnl_free(r);
	return rc;
}

/* Routed public LANs (profile none) are reached from the core through the router's WAN. */
static int core_routes(struct build *b, int core)
{
	for (int i = 0; i < b->m->nnodes; i++) {
		const struct lab_node *n = &b->m->nodes[i];
		int rc;

		if (n->kind != LAB_NODE_NAT || n->knobs.translate || n->parent != core)
			continue;
		rc = lab_route_add(b->rtnl[core], n->prefix, n->prefix_len, n->addrs[0]);
		if (rc < 0)
			return fail(b, rc, n->name, "route in the core");
	}
	return 0;
}

static int build_all(struct build *b, volatile sig_atomic_t *stop)
{
	const struct lab_model *m = b->m;
	int rc = 0;

	for (int i = 0; i < m->nnodes && rc == 0; i++)
		rc = STOPPED(stop) ? -EINTR : node_namespace(b, i);
	for (int i = 0; i < m->nnodes && rc == 0; i++)
		if (m->nodes[i].kind != LAB_NODE_HOST)
			rc = STOPPED(stop) ? -EINTR : node_bridge(b, i);
	for (int i = 0; i < m->nnodes && rc == 0; i++)
		if (m->nodes[i].parent >= 0)
			rc = STOPPED(stop) ? -EINTR : node_uplink(b, i);
	for (int i = 0; i < m->nnodes && rc == 0; i++) {
		if (m->nodes[i].kind == LAB_NODE_NAT)
			rc = STOPPED(stop) ? -EINTR : node_nat(b, i);
		else if (m->nodes[i].kind == LAB_NODE_INTERNET)
			rc = core_routes(b, i);
	}
	if (rc == -EINTR)
		snprintf(b->err, b->errlen, "interrupted");
	return rc;
}

int lab_topology_up(const struct lab_model *m, volatile sig_atomic_t *stop,
		    struct lab_wires *wires, char *err, size_t errlen)
{
	struct build b = { .m = m, .wires = wires, .err = err, .errlen = errlen };
	int rc;

	rc = lab_netns_init();
	if (rc < 0) {
		snprintf(err, errlen, "cannot open our own network namespace: %s", strerror(-rc));
		return rc;
	}
	b.nsfd = malloc((size_t)m->nnodes * sizeof(*b.nsfd));
	b.rtnl = calloc((size_t)m->nnodes, sizeof(*b.rtnl));
	if (!b.nsfd || !b.rtnl) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < m->nnodes; i++)
		b.nsfd[i] = -1;
	rc = build_all(&b, stop);
out:
	for (int i = 0; b.rtnl && b.nsfd && i < m->nnodes; i++) {
		lab_rtnl_free(b.rtnl[i]);
		if (b.nsfd[i] >= 0)
			close(b.nsfd[i]);
	}
	free(b.rtnl);
	free(b.nsfd);
	return rc;
}

static int delete_cb(const char *ns, void *arg)
{
	int *removed = arg;
	int rc = lab_netns_delete(ns);

	if (rc < 0) {
		log_warn_code(rc, "netns \"%s\": delete", ns);
		return rc;
	}
	(*removed)++;
	return 0;
}

int lab_topology_down(const char *lab)
{
	char prefix[128];
	int removed = 0, rc;
	int n = snprintf(prefix, sizeof(prefix), LAB_NETNS_PREFIX "%s.", lab);

	if (n < 0 || (size_t)n >= sizeof(prefix))
		return -ENAMETOOLONG;
	/* Processes keep a namespace alive after its mount is gone: kill them first. */
	rc = lab_netns_kill_procs(prefix, 2000);
	if (rc < 0)
		log_warn_code(rc, "lab \"%s\": killing its processes", lab);
	rc = lab_netns_foreach(prefix, delete_cb, &removed);
	return rc < 0 ? rc : removed;
}
