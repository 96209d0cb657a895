/* SPDX-License-Identifier: MIT */
#include "natlab/topology.h"
#include "natlab/topology6.h"
#include "natlab/model6.h"
#include "natlab/util.h"
#include "natlab/fd_limit.h"
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
#include <time.h>
#include <unistd.h>

#define IFINDEX_UPLINK 2
#define IFINDEX_LAN    3
#define IFINDEX_PORT0  10
/* A signal arrived (stop may be NULL when the caller handles signals itself). */
#define STOPPED(stop) ((stop) && *(stop))

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

/*
 * Sysctls every lab namespace gets: no IPv6 chatter in captures, no reverse-path surprises.
 * A node of a dual-stack lab that has IPv6 turns it back on (lab6_sysctls).
 */
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

/*
 * Creates namespace ns with its sysctls (a router's if router, plus the bridge ones if it
 * has a bridge, IPv6 on if v6), opens a routing socket in it and sets lo up. On error
 * *what says which step.
 */
static int netns_build(const char *ns, int router, int bridged, int v6, int *fd,
                       struct lab_rtnl **rtnl, const char **what)
{
	int rc = lab_netns_create(ns, fd);

	*what = rc == -EEXIST ? "namespace exists" : "create namespace";
	if (rc < 0)
		return rc;
	*what = "sysctls";
	rc = lab_netns_enter(*fd);
	if (rc == 0) {
		rc = sysctls_write(common_sysctls, ARRAY_SIZE(common_sysctls), 0);
		if (rc == 0 && router)
			rc = sysctls_write(router_sysctls, ARRAY_SIZE(router_sysctls), 0);
		if (rc == 0 && bridged)
			rc = sysctls_write(bridge_sysctls, ARRAY_SIZE(bridge_sysctls), 1);
		if (rc == 0 && v6)
			rc = lab6_sysctls(router);
		lab_netns_leave();
	}
	if (rc < 0)
		return rc;
	*what = "loopback up";
	rc = lab_rtnl_open(*fd, rtnl);
	return rc < 0 ? rc : lab_link_set_up(*rtnl, 1);
}

static int node_namespace(struct build *b, int i)
{
	const struct lab_node *n = &b->m->nodes[i];
	const char *what = "namespace name";
	char ns[128];
	int rc;

	rc = lab_netns_name(b->m->name, n->name, ns, sizeof(ns));
	if (rc == 0)
		rc = netns_build(ns, n->kind != LAB_NODE_HOST, n->kind != LAB_NODE_HOST,
		                 lab6_node_on(b->m, i), &b->nsfd[i], &b->rtnl[i], &what);
	return rc < 0 ? fail(b, rc, n->name, what) : 0;
}

/* The bridge a router's downstream nodes attach to, with the router's address on it. */
static int node_bridge(struct build *b, int i)
{
	const struct lab_node *n = &b->m->nodes[i];
	int internet = n->kind == LAB_NODE_INTERNET;
	int ifindex = internet ? IFINDEX_UPLINK : IFINDEX_LAN;
	int rc;

	unsigned flags = internet && b->m->hops >= 2 ? LAB_ADDR_NOPREFIXROUTE : 0;

	rc = lab_link_bridge_add(b->rtnl[i], internet ? LAB_IF_CORE : LAB_IF_LAN, ifindex);
	/*
	 * With a backbone, the core delivers nothing itself: the last backbone router does.
	 * An IPv6-only LAN keeps its IPv4 prefix in the model only.
	 */
	if (rc == 0 && lab_node_has4(n))
		rc = lab_addr_add(b->rtnl[i], ifindex, lab_node_gateway(n), n->prefix_len, flags);
	if (rc == 0)
		rc = lab6_bridge(b->rtnl[i], b->m, i, ifindex, flags);
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

/* Node i sits on an internet with hops: no attachment is on another's link. */
static int routed_attachment(const struct lab_model *m, int i)
{
	int p = m->nodes[i].parent;

	return p >= 0 && m->nodes[p].kind == LAB_NODE_INTERNET && m->hops >= 1;
}

/*
 * Node i's default route, out of its uplink ifindex. An attachment of an internet with
 * hops has no route to the attachment network (its addresses carry NOPREFIXROUTE): it
 * sends everything, even to another attachment, to the core, onlink, so that every path
 * between two attachments crosses the hops.
 */
static int uplink_route(struct lab_rtnl *r, const struct lab_model *m, int i, int ifindex)
{
	struct lab_route rt = { .gw = lab_node_gateway(&m->nodes[m->nodes[i].parent]) };

	if (routed_attachment(m, i)) {
		rt.oif = ifindex;
		rt.onlink = 1;
	}
	return lab_route_add_r(r, &rt);
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
	unsigned flags = routed_attachment(b->m, i) ? LAB_ADDR_NOPREFIXROUTE : 0;
	int uplink = IFINDEX_UPLINK, rc;

	snprintf(port, sizeof(port), "p-%s", n->name);
	if (n->has_link) {
		rc = node_wire(b, i, port, v.peer, master, &uplink);
	} else {
		rc = lab_link_veth_add(b->rtnl[n->parent], &v);
		if (rc == 0)
			rc = lab_link_set_up(b->rtnl[i], IFINDEX_UPLINK);
	}
	/* Rootless, a wire's TAP needs /dev/net/tun open to the user, which not every host allows.
	 */
	if (rc == -EACCES && n->has_link)
		return fail(b, rc, n->name,
		            "wire to its network (its link = {...} needs /dev/net/tun read-write "
		            "for this user)");
	if (rc < 0)
		return fail(b, rc, n->name,
		            n->has_link ? "wire to its network" : "veth to its network");
	for (int j = 0; j < n->naddrs && rc == 0; j++)
		rc = lab_addr_add(b->rtnl[i], uplink, n->addrs[j], p->prefix_len, flags);
	if (rc < 0)
		return fail(b, rc, n->name, "address");
	if (n->naddrs)
		rc = uplink_route(b->rtnl[i], b->m, i, uplink);
	if (rc < 0)
		return fail(b, rc, n->name, "default route");
	rc = lab6_uplink(b->rtnl[i], b->m, i, uplink, flags, routed_attachment(b->m, i));
	return rc < 0 ? fail(b, rc, n->name, "IPv6 address or default route") : 0;
}

int lab_nat_subscribers(const struct lab_model *m, int i, struct in_addr **out)
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

/* Renders node i's ruleset and loads it, with its conntrack timeouts, in the current namespace. */
static int nat_apply_here(const struct lab_model *m, int i, int flush, char *err, size_t errlen)
{
	const struct lab_node *n = &m->nodes[i];
	struct nat_box_addrs a = { .wan = n->addrs[0],
		                   .lan_prefix = n->prefix,
		                   .lan_len = n->prefix_len };
	struct in_addr *subs = NULL;
	char *rules = NULL;
	int rc;

	rc = lab_nat_subscribers(m, i, &subs);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	a.subscribers = subs;
	a.nsubscribers = (unsigned)rc;
	rc = nat_ruleset_render(&n->knobs, &a, &rules);
	/* Port mapping has its own table, so a profile change keeps the mappings granted so far. */
	if (rc == 0 && n->knobs.translate)
		rc = nat_box_apply(rules, nat_knobs_portmap(&n->knobs), err, errlen);
	else if (rc == 0)
		rc = nat_ruleset_apply(rules, err, errlen);
	else
		snprintf(err, errlen, "ruleset: %s", strerror(-rc));
	if (rc == 0)
		rc = lab6_nat_apply(m, i, err, errlen);
	/* Conntrack's timeouts are per namespace: they are the mapping lifetimes. */
	if (rc == 0 && n->knobs.translate)
		rc = nat_conntrack_timeouts_set(&n->knobs, err, errlen);
	if (rc == 0 && flush && (rc = nat_conntrack_flush()) < 0)
		snprintf(err, errlen, "conntrack flush: %s", strerror(-rc));
out:
	free(rules);
	free(subs);
	return rc;
}

/*
 * Knob isolation: every port of NAT i's LAN bridge (one per node on its LAN, veth or a
 * wire's TAP, all named "p-<node>" in i's namespace) isolated or not. Isolated ports
 * reach the bridge, where the box's LAN address is, but not each other: guests' ARP for
 * one another goes unanswered, so nothing passes between them at layer 2.
 */
static int lan_isolation_apply(const struct lab_model *m, int i, struct lab_rtnl *r, char *err,
                               size_t errlen)
{
	int rc = 0;

	for (int j = 0; j < m->nnodes && rc >= 0; j++) {
		char port[16];

		if (m->nodes[j].parent != i)
			continue;
		if (snprintf(port, sizeof(port), "p-%s", m->nodes[j].name) >= (int)sizeof(port))
			rc = -ENAMETOOLONG;
		if (rc == 0)
			rc = lab_link_index(r, port);
		if (rc >= 0)
			rc = lab_link_bridge_port_isolate(r, rc, (int)m->nodes[i].knobs.isolation);
		if (rc < 0)
			snprintf(err, errlen, "isolation of its LAN port for \"%s\": %s",
			         m->nodes[j].name, strerror(-rc));
	}
	return rc < 0 ? rc : 0;
}

static int node_isolation(struct build *b, int i)
{
	char nerr[512];
	int rc = lan_isolation_apply(b->m, i, b->rtnl[i], nerr, sizeof(nerr));

	if (rc < 0)
		snprintf(b->err, b->errlen, "node \"%s\": %s", b->m->nodes[i].name, nerr);
	return rc;
}

static int node_nat(struct build *b, int i)
{
	char nerr[512];
	int rc = lab_netns_enter(b->nsfd[i]);

	if (rc < 0)
		return fail(b, rc, b->m->nodes[i].name, "setns");
	rc = nat_apply_here(b->m, i, 0, nerr, sizeof(nerr));
	lab_netns_leave();
	if (rc < 0)
		snprintf(b->err, b->errlen, "node \"%s\": %s", b->m->nodes[i].name, nerr);
	return rc;
}

int lab_topology_nat_reload(const struct lab_model *m, int i, char *err, size_t errlen)
{
	int rc = lab_node_netns_enter(m->name, m->nodes[i].name, err, errlen);
	struct lab_rtnl *r = NULL;
	int fd = -1;

	if (rc < 0)
		return rc;
	rc = nat_apply_here(m, i, 1, err, errlen);
	lab_netns_leave();
	/* A profile change may turn isolation on or off: every port is set either way. */
	if (rc == 0 && (rc = lab_node_netns_open(m->name, m->nodes[i].name, &fd)) < 0)
		snprintf(err, errlen, "namespace of \"%s\": %s", m->nodes[i].name, strerror(-rc));
	if (rc == 0 && (rc = lab_rtnl_open(fd, &r)) < 0)
		snprintf(err, errlen, "routing socket of \"%s\": %s", m->nodes[i].name,
		         strerror(-rc));
	if (rc == 0)
		rc = lan_isolation_apply(m, i, r, err, errlen);
	lab_rtnl_free(r);
	if (fd >= 0)
		close(fd);
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
	if (rc > 0 && up && m->nodes[i].parent >= 0) {
		/* Taking a link down drops its routes: the default route comes back with it. */
		int ifindex = rc;

		rc = lab_link_set_up(r, ifindex);
		if (rc == 0 && m->nodes[i].naddrs)
			rc = uplink_route(r, m, i, ifindex);
		if (rc == 0 || rc == -EEXIST)
			rc = lab6_uplink_route(r, m, i, ifindex, routed_attachment(m, i));
		if (rc == -EEXIST)
			rc = 0;
	} else if (rc > 0) {
		rc = up ? lab_link_set_up(r, rc) : lab_link_set_down(r, rc);
	}
	if (rc < 0)
		snprintf(err, errlen, "link %s: %s", up ? "up" : "down", strerror(-rc));
	lab_rtnl_free(r);
	return rc;
}

/*
 * Routed public LANs (profile none) are reached through the router's WAN, from the router
 * that delivers onto the attachment network: the core, or the last backbone router (out
 * of oif, onlink, with src as source), r.
 */
static int routed_lan_routes(struct build *b, int core, struct lab_rtnl *r, int oif,
                             struct in_addr src)
{
	for (int i = 0; i < b->m->nnodes; i++) {
		const struct lab_node *n = &b->m->nodes[i];
		struct lab_route rt = { .dst = n->prefix,
			                .len = n->prefix_len,
			                .gw = n->addrs[0],
			                .oif = oif,
			                .onlink = oif != 0,
			                .src = src };
		int rc;

		if (n->kind != LAB_NODE_NAT || n->knobs.translate || n->parent != core)
			continue;
		rc = lab_route_add_r(r, &rt);
		if (rc < 0)
			return fail(b, rc, n->name, "route to its lan in the internet");
	}
	return 0;
}

/*
 * Router at's IPv6 routes to the LANs below it (r: its routing socket, or for the internet
 * the last backbone router's, out of oif, with hop's address as source if hop >= 0).
 */
static int lan6_routes(struct build *b, int at, struct lab_rtnl *r, int oif, int hop)
{
	struct in6_addr src = hop >= 0 ? lab_hop6_addr(b->m, hop) : (struct in6_addr){ 0 };
	int failed = at;
	int rc = lab6_lan_routes(r, b->m, at, oif, hop >= 0 ? &src : NULL, &failed);

	return rc < 0 ? fail(b, rc, b->m->nodes[failed].name, "IPv6 route to its lan") : 0;
}

#define IFINDEX_BB_IN  2 /* backbone router: "in", from the core or the previous router */
#define IFINDEX_BB_OUT 3 /* core: "bb0" to router 1; router k: "out" to k + 1, or "fab" */
#define IFINDEX_BB_FAB 4 /* core: "bbfab", the last router's port on the core bridge */

/* Backbone router k's veth to the next router (or, for the last, to the core bridge). */
static int backbone_link(struct build *b, int core, int k, int *fd, struct lab_rtnl **r)
{
	int last = k == b->m->hops - 1;
	struct lab_veth v = {
		.name = k == 1 ? "bb0" : "out",
		.ifindex = IFINDEX_BB_OUT,
		.peer = "in",
		.peer_ifindex = IFINDEX_BB_IN,
		.peer_nsfd = fd[k],
	};
	struct lab_veth fab = {
		.name = "bbfab",
		.ifindex = IFINDEX_BB_FAB,
		.master = IFINDEX_UPLINK,
		.peer = "fab",
		.peer_ifindex = IFINDEX_BB_OUT,
		.peer_nsfd = fd[k],
	};
	int rc = lab_link_veth_add(k == 1 ? b->rtnl[core] : r[k - 1], &v);

	if (rc == 0)
		rc = lab_link_set_up(r[k], IFINDEX_BB_IN);
	if (rc == 0 && last)
		rc = lab_link_veth_add(b->rtnl[core], &fab);
	if (rc == 0 && last)
		rc = lab_link_set_up(r[k], IFINDEX_BB_OUT);
	return rc;
}

/*
 * Backbone router k's routes (k = 0: the core's). Every router but the last sends all
 * it gets to the next one; the last delivers onto the attachment network and to the
 * routed LANs behind it. Each route carries the router's own address as source: the
 * ICMP time exceeded it sends goes that way and names it in a traceroute.
 */
static int backbone_routes(struct build *b, int core, int k, struct lab_rtnl *r)
{
	const struct lab_model *m = b->m;
	const struct lab_node *c = &m->nodes[core];
	struct lab_route rt = { .gw = lab_hop_addr(m, k + 1),
		                .oif = IFINDEX_BB_OUT,
		                .onlink = 1,
		                .src = lab_hop_addr(m, k) };

	if (k < m->hops - 1)
		return lab_route_add_r(r, &rt);
	rt = (struct lab_route){ .dst = c->prefix,
		                 .len = c->prefix_len,
		                 .oif = IFINDEX_BB_OUT,
		                 .src = lab_hop_addr(m, k) };
	return lab_route_add_r(r, &rt);
}

/*
 * The internet's path (hops >= 2): backbone routers 1 .. hops-1 in a chain behind the
 * core, each in its own namespace with its hop address on lo. The core sends everything
 * it gets from attachments to router 1 (it has no route to the attachment network),
 * each router passes it to the next, and the last one, which has a port on the core
 * bridge, delivers it. So every path between two attachments crosses the core and every
 * backbone router once, TTL decremented by each: hops - 1 namespaces for the whole lab,
 * none per attachment. The return path is the same chain: routes on a real path are
 * asymmetric too, and both directions cross hops routers.
 */
/* Names backbone router k (the core for k = 0) in err, as its namespace suffix does. */
static int backbone_fail(struct build *b, int core, int k, int rc, const char *what)
{
	const char *inet = b->m->nodes[core].name;
	char name[LAB_NODE_MAX + 24];
	int n = snprintf(name, sizeof(name), "%s.hop%d", inet, k);

	return fail(b, rc, k && n > 0 && (size_t)n < sizeof(name) ? name : inet, what);
}

static int backbone_up(struct build *b, int core, volatile sig_atomic_t *stop)
{
	const struct lab_model *m = b->m;
	const char *what = "backbone";
	int n = m->hops, rc = 0, k;
	int *fd = calloc((size_t)n, sizeof(*fd));
	struct lab_rtnl **r = calloc((size_t)n, sizeof(*r));
	char ns[128];

	if (!fd || !r) {
		rc = backbone_fail(b, core, 0, -ENOMEM, what);
		goto out;
	}
	for (k = 0; k < n; k++)
		fd[k] = -1;
	for (k = 1; k < n && rc == 0; k++) {
		what = "namespace name";
		rc = lab_hop_netns_name(m->name, m->nodes[core].name, k, ns, sizeof(ns));
		if (rc == 0)
			rc = STOPPED(stop) ? -EINTR
			                   : netns_build(ns, 1, 0, m->v6, &fd[k], &r[k], &what);
		if (rc == 0) {
			what = "address";
			rc = lab_addr_add(r[k], 1, lab_hop_addr(m, k), 32, 0);
		}
		if (rc == 0) {
			what = "link to the next router";
			rc = backbone_link(b, core, k, fd, r);
		}
		/* IPv6's hop address on the link from the previous router, where ND finds it. */
		if (rc == 0 && m->v6) {
			what = "IPv6 address";
			rc = lab6_hop_addr(r[k], m, k, IFINDEX_BB_IN);
		}
		if (rc < 0)
			rc = backbone_fail(b, core, k, rc, what);
	}
	for (k = 0; k < n && rc == 0; k++)
		if ((rc = backbone_routes(b, core, k, k ? r[k] : b->rtnl[core])) < 0 ||
		    (m->v6 && (rc = lab6_backbone_route(k ? r[k] : b->rtnl[core], m, k,
		                                        IFINDEX_BB_OUT)) < 0))
			rc = backbone_fail(b, core, k, rc, "routes");
	if (rc == 0)
		rc = routed_lan_routes(b, core, r[n - 1], IFINDEX_BB_OUT, lab_hop_addr(m, n - 1));
	if (rc == 0 && m->v6)
		rc = lan6_routes(b, core, r[n - 1], IFINDEX_BB_OUT, n - 1);
out:
	for (k = 0; fd && r && k < n; k++) {
		lab_rtnl_free(r[k]);
		if (fd[k] >= 0)
			close(fd[k]);
	}
	free(fd);
	free(r);
	return rc;
}

/* The core's part: a chain behind it, or (hops <= 1) its own routes to the routed LANs. */
static int internet_up(struct build *b, int core, volatile sig_atomic_t *stop)
{
	struct in_addr any = { 0 };

	int rc;

	if (b->m->hops >= 2)
		return backbone_up(b, core, stop);
	rc = routed_lan_routes(b, core, b->rtnl[core], 0, any);
	return rc < 0 ? rc : lan6_routes(b, core, b->rtnl[core], 0, -1);
}

/* Logs (debug) how long the build's phase took since the previous call, for natlab -v. */
static void phase_end(struct timespec *since, const char *phase)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	log_debug("build: %s: %.1f ms", phase,
	          (double)(now.tv_sec - since->tv_sec) * 1e3 +
	              (double)(now.tv_nsec - since->tv_nsec) / 1e6);
	*since = now;
}

static int build_all(struct build *b, volatile sig_atomic_t *stop)
{
	const struct lab_model *m = b->m;
	struct timespec t;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &t);

	for (int i = 0; i < m->nnodes && rc == 0; i++)
		rc = STOPPED(stop) ? -EINTR : node_namespace(b, i);
	phase_end(&t, "namespaces, sysctls, loopbacks");
	for (int i = 0; i < m->nnodes && rc == 0; i++)
		if (m->nodes[i].kind != LAB_NODE_HOST)
			rc = STOPPED(stop) ? -EINTR : node_bridge(b, i);
	phase_end(&t, "bridges");
	/* Before the uplinks: a wire's TAP takes a kernel-chosen ifindex in the core. */
	for (int i = 0; i < m->nnodes && rc == 0; i++)
		if (m->nodes[i].kind == LAB_NODE_INTERNET)
			rc = internet_up(b, i, stop);
	phase_end(&t, "backbone");
	for (int i = 0; i < m->nnodes && rc == 0; i++)
		if (m->nodes[i].parent >= 0)
			rc = STOPPED(stop) ? -EINTR : node_uplink(b, i);
	for (int i = 0; i < m->nnodes && rc == 0 && m->v6; i++)
		if (m->nodes[i].kind == LAB_NODE_NAT)
			rc = lan6_routes(b, i, b->rtnl[i], 0, -1);
	/* Bridge ports exist once every uplink is up; the routing sockets are freed next. */
	for (int i = 0; i < m->nnodes && rc == 0; i++)
		if (m->nodes[i].kind == LAB_NODE_NAT && m->nodes[i].knobs.isolation)
			rc = node_isolation(b, i);
	/*
	 * libnftables waits on its sockets with select(): they need numbers below FD_SETSIZE,
	 * which a big lab's routing sockets would have taken. The NATs need none of them.
	 */
	for (int i = 0; i < m->nnodes; i++) {
		lab_rtnl_free(b->rtnl[i]);
		b->rtnl[i] = NULL;
	}
	phase_end(&t, "uplinks, addresses, routes");
	nat_ctx_defer_begin();
	for (int i = 0; i < m->nnodes && rc == 0; i++)
		if (m->nodes[i].kind == LAB_NODE_NAT)
			rc = STOPPED(stop) ? -EINTR : node_nat(b, i);
	nat_ctx_defer_end();
	phase_end(&t, "rulesets");
	if (rc == -EINTR)
		snprintf(b->err, b->errlen, "interrupted");
	return rc;
}

int lab_topology_up(const struct lab_model *m, volatile sig_atomic_t *stop, struct lab_wires *wires,
                    char *err, size_t errlen)
{
	struct build b = { .m = m, .wires = wires, .err = err, .errlen = errlen };
	struct rlimit nofile;
	int rc, raised = 0;

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
	/* Two per node (namespace, routing socket), two per wire, the backbone's. */
	raised = lab_fd_limit_raise((size_t)m->nnodes * 4 + (size_t)m->hops * 2, &nofile);
	rc = build_all(&b, stop);
	lab_netns_batch_end();
out:
	for (int i = 0; b.rtnl && b.nsfd && i < m->nnodes; i++) {
		lab_rtnl_free(b.rtnl[i]);
		if (b.nsfd[i] >= 0)
			close(b.nsfd[i]);
	}
	free(b.rtnl);
	free(b.nsfd);
	if (raised)
		lab_fd_limit_restore(&nofile);
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
