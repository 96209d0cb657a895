/* SPDX-License-Identifier: MIT */
/*
 * NAT64 and DNS64 in a NAT box, while a scenario runs (nat64.h): TAYGA's TUN device and
 * routes, TAYGA and unbound started as the box's daemons, the resolv.conf of its hosts.
 */
#include "natlab/nat64.h"
#include "natlab/daemon.h"
#include "natlab/link.h"
#include "natlab/log.h"
#include "natlab/model6.h"
#include "natlab/netns.h"
#include "natlab/scenario.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define READY_WAIT_MS 5000
#define POLL_MS       10

/*
 * Host numbers in a LAN /64 that no host takes (they count from 2): TAYGA's own IPv6
 * address in the box, ::6464:6464; host N's CLAT address, ::464:N, and its TAYGA's own,
 * ::465:N.
 */
#define TAYGA_HOST6 0x64646464u
#define CLAT_HOST6  0x04640000u
#define CLAT_SELF6  0x04650000u

static int is_nat64(const struct lab_node *n)
{
	return n->kind == LAB_NODE_NAT && n->knobs.translate && n->knobs.nat64;
}

/* a with host number h in its lower 32 bits. */
static struct in6_addr with_host(struct in6_addr a, uint32_t h)
{
	for (int i = 15; i >= 12; i--, h >>= 8)
		a.s6_addr[i] = (uint8_t)h;
	return a;
}

/*
 * The network-specific prefix: the first /96 of the internet prefix's /64 whose 16 bits
 * after the prefix are all ones (2001:db8:ffff::/96 in 2001:db8::/32). LANs take subnets
 * from 2 up, so none reaches it.
 */
static struct in6_addr network_specific(const struct lab_model *m)
{
	struct in6_addr a = m->inet6_prefix;

	for (int b = m->inet6_len; b < m->inet6_len + 16; b++)
		a.s6_addr[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	return a;
}

int nat64_prefix_of(const struct lab_model *m, const struct lab_node *n, struct in6_addr *out,
                    char *err, size_t errlen)
{
	char inet[INET_ADDRSTRLEN];
	int refused = nat64_well_known_refused(m->inet_prefix, m->inet_len);
	enum nat64_prefix p = n->knobs.nat64_prefix;

	if (p == NAT64_PREFIX_AUTO)
		p = refused ? NAT64_PREFIX_NETWORK : NAT64_PREFIX_WELL_KNOWN;
	if (p == NAT64_PREFIX_WELL_KNOWN && refused) {
		inet_ntop(AF_INET, &m->inet_prefix, inet, sizeof(inet));
		snprintf(
		    err, errlen,
		    "nat64_prefix \"well-known\" (64:ff9b::/96) cannot reach the internet "
		    "%s/%d: RFC 6052 keeps non-global IPv4 out of it and TAYGA drops it; give "
		    "the lab a global internet, e.g. lab:internet{ prefix = \"20.0.0.0/16\" }, "
		    "or use nat64_prefix = \"network-specific\"",
		    inet, m->inet_len);
		return -EINVAL;
	}
	if (p == NAT64_PREFIX_WELL_KNOWN)
		inet_pton(AF_INET6, NAT64_WELL_KNOWN, out);
	else
		*out = network_specific(m);
	return 0;
}

int nat64_model_check(struct lab_model *m, int i, char *err, size_t errlen)
{
	struct lab_node *n = &m->nodes[i];
	char a[INET6_ADDRSTRLEN];
	struct in6_addr p;

	if (n->kind != LAB_NODE_HOST && m->v6 && lab_node_has6(n)) {
		p = network_specific(m);
		if (!memcmp(&n->prefix6, &p, 8) || !memcmp(&n->pub6, &p, 8)) {
			inet_ntop(AF_INET6, &p, a, sizeof(a));
			snprintf(err, errlen,
			         "\"%s\": LAN %s/64 is reserved for NAT64's network-specific "
			         "prefix; give lan6 another /64",
			         n->name, a);
			return -EINVAL;
		}
	}
	if (n->kind == LAB_NODE_HOST && n->clat && !is_nat64(&m->nodes[n->parent])) {
		snprintf(err, errlen,
		         "host \"%s\": clat = true translates through its network's NAT64, and "
		         "\"%s\" has none; put it behind a box with nat64 = true (e.g. profile "
		         "\"mobile-nat64\") or drop clat",
		         n->name, m->nodes[n->parent].name);
		return -EINVAL;
	}
	if (!is_nat64(n))
		return 0;
	if (!m->v6) {
		snprintf(err, errlen,
		         "NAT \"%s\": nat64 gives its LAN IPv6 only, and the lab has no IPv6; turn "
		         "it on with lab:internet{ ipv6 = true }",
		         n->name);
		return -EINVAL;
	}
	if (n->ipv6 != LAB_IPV6_ONLY) {
		snprintf(err, errlen,
		         "NAT \"%s\": nat64 serves an IPv6-only LAN, and its LAN has ipv6 = %s; "
		         "leave ipv6 unset or \"only\"",
		         n->name, lab_ipv6_word(n->ipv6));
		return -EINVAL;
	}
	if (n->knobs.nptv6) {
		snprintf(err, errlen, "NAT \"%s\": nat64 and nptv6 cannot be combined; drop one",
		         n->name);
		return -EINVAL;
	}
	return nat64_prefix_of(m, n, &p, err, errlen) < 0 ? -EINVAL : 0;
}

/* Whether hosts behind node i's uplink reach it at its IPv4 address: nothing translates. */
static int public4(const struct lab_model *m, int i)
{
	for (int p = m->nodes[i].parent; p >= 0 && m->nodes[p].kind != LAB_NODE_INTERNET;
	     p = m->nodes[p].parent)
		if (m->nodes[p].knobs.translate)
			return 0;
	return 1;
}

/* Whether node i's IPv6 addresses are global (no NPTv6 box above it). */
static int public6(const struct lab_model *m, int i)
{
	for (int p = m->nodes[i].parent; p >= 0; p = m->nodes[p].parent)
		if (m->nodes[p].knobs.translate && m->nodes[p].knobs.nptv6)
			return 0;
	return 1;
}

/*
 * The lab's names: every host and NAT (its WAN) with the addresses the internet reaches
 * it at. *out malloc'd (zone text); 0 or -errno.
 */
static int zone_make(const struct lab_model *m, char **out)
{
	struct nat64_record *r = calloc((size_t)m->nnodes * 2 * LAB_ADDRS_MAX, sizeof(*r));
	size_t n = 0;
	int rc;

	if (!r)
		return -ENOMEM;
	for (int i = 0; i < m->nnodes; i++) {
		const struct lab_node *node = &m->nodes[i];

		if (node->kind == LAB_NODE_INTERNET)
			continue;
		for (int a = 0; public4(m, i) && a < node->naddrs; a++)
			r[n++] = (struct nat64_record){ .name = node->name,
				                        .family = AF_INET,
				                        .addr.v4 = node->addrs[a] };
		for (int a = 0; public6(m, i) && a < node->naddrs6; a++)
			r[n++] = (struct nat64_record){ .name = node->name,
				                        .family = AF_INET6,
				                        .addr.v6 = node->addrs6[a] };
	}
	rc = nat64_zone_render(r, n, out);
	free(r);
	return rc;
}

/* logs/<node>-<what> in the out dir. */
static int log_path(const struct scenario *s, const char *node, const char *what, char *path,
                    size_t len)
{
	int w = snprintf(path, len, "%s/logs/%s-%s", s->out_dir, node, what);

	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int nat64_box_of(const struct lab_model *m, int node)
{
	const struct lab_node *n = &m->nodes[node];

	if (n->kind != LAB_NODE_HOST || n->parent < 0 || !is_nat64(&m->nodes[n->parent]))
		return -ENOENT;
	return n->parent;
}

int nat64_resolv_text(const struct lab_node *box, char **out)
{
	struct in6_addr gw6 = lab_node_gateway6(box);
	char gw[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, &gw6, gw, sizeof(gw));
	if (asprintf(out, "nameserver %s\nsearch " NAT64_ZONE "\n", gw) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int nat64_resolv_path(const struct scenario *s, int node, char *path, size_t len)
{
	int box = nat64_box_of(&s->model, node);

	return box < 0 ? box : log_path(s, s->model.nodes[box].name, "resolv.conf", path, len);
}

/*
 * A persistent TUN device (IFF_TUN) called name in the namespace behind nsfd, for TAYGA
 * to attach to: it can be addressed and routed before TAYGA runs, and lives until the
 * namespace goes (the kernel deletes it then; it never moves to the root namespace).
 */
static int tun_make(int nsfd, const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd, rc = lab_netns_enter(nsfd);

	if (rc < 0)
		return rc;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	lab_netns_leave();
	return rc;
}

/* Up, with routes to the pool and the prefix through it (IPv4, IPv6 and TAYGA meet there). */
static int tun_route(int nsfd, const char *name, const struct nat64_tayga *t)
{
	struct lab_rtnl *r = NULL;
	int idx, rc = lab_rtnl_open(nsfd, &r);

	if (rc < 0)
		return rc;
	idx = rc = lab_link_index(r, name);
	if (rc >= 0)
		rc = lab_link_set_up(r, idx);
	if (rc >= 0 && t->pool_len)
		rc = lab_route_add_r(
		    r, &(struct lab_route){ .dst = t->pool, .len = t->pool_len, .oif = idx });
	if (rc >= 0)
		rc = lab_route6_add(r, &(struct lab_route6){
		                           .dst = t->prefix, .len = NAT64_PREFIX_LEN, .oif = idx });
	lab_rtnl_free(r);
	return rc < 0 ? rc : 0;
}

/* Whether pid holds a TUN fd attached to device name (its fdinfo says iff: NAME). */
static int tun_attached(pid_t pid, const char *name)
{
	char dir[64], path[320], line[128], want[IFNAMSIZ + 8];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)pid);
	snprintf(want, sizeof(want), "iff:\t%s\n", name);
	d = opendir(dir);
	while (d && !found && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "re");
		while (f && !found && fgets(line, sizeof(line), f))
			found = strcmp(line, want) == 0;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

static int tayga_ready(pid_t pid, const char *tun)
{
	return tun_attached(pid, tun);
}

static int unbound_ready(pid_t pid, const char *unused)
{
	(void)unused;
	return lab_daemon_listening(pid, "udp6", 53, "07");
}

/* Waits until ready(pid) or raises naming the node, the daemon and its files. */
static void wait_ready(lua_State *L, const char *node, const char *daemon, pid_t pid,
                       int (*ready)(pid_t, const char *), const char *arg, const char *conf)
{
	for (int waited = 0; !ready(pid, arg); waited += POLL_MS) {
		if (!lab_daemon_running(pid) || waited >= READY_WAIT_MS)
			luaL_error(
			    L, "\"%s\": %s %s (configuration %s; its log is %s-%s.log beside it)",
			    node, daemon,
			    lab_daemon_running(pid) ? "is not serving after 5 s" : "ended at once",
			    conf, node, daemon);
		lab_daemon_pause(L, POLL_MS);
	}
}

/* After rendering (rc, text malloc'd): writes text to logs/<node>-<what>; frees it. */
static void conf_put(lua_State *L, const struct scenario *s, const char *node, const char *what,
                     int rc, char *text, char *path, size_t len)
{
	if (rc == 0)
		rc = log_path(s, node, what, path, len);
	if (rc == 0)
		rc = lab_daemon_conf_write(path, text);
	free(text);
	if (rc < 0)
		luaL_error(L, "\"%s\": %s %s: %s", node, what, path, strerror(-rc));
}

/* TUN device, routes, TAYGA started and attached. */
static void tayga_start(lua_State *L, struct scenario *s, int i, const struct nat64_tayga *t)
{
	const char *name = s->model.nodes[i].name;
	char conf[4096], *text = NULL;
	const char *argv[] = { "tayga", "-d", "-c", conf, NULL };
	int nsfd, rc;
	pid_t pid;

	rc = lab_node_netns_open(s->model.name, name, &nsfd);
	if (rc == 0) {
		rc = tun_make(nsfd, t->tun);
		if (rc == 0)
			rc = tun_route(nsfd, t->tun, t);
		close(nsfd);
	}
	if (rc < 0)
		luaL_error(L, "\"%s\": TUN device %s for TAYGA: %s", name, t->tun, strerror(-rc));
	rc = nat64_tayga_conf_render(t, &text);
	conf_put(L, s, name, "tayga.conf", rc, text, conf, sizeof(conf));
	/* It opens the TUN device, which takes CAP_NET_ADMIN: not confined. */
	pid = lab_daemon_spawn(L, i, argv, "tayga", 1);
	lua_pop(L, 1);
	log_debug("\"%s\": tayga pid %d, %s", name, (int)pid, conf);
	wait_ready(L, name, "tayga", pid, tayga_ready, t->tun, conf);
}

static void box_start(lua_State *L, struct scenario *s, int i)
{
	const struct lab_node *n = &s->model.nodes[i];
	struct nat64_tayga t = { .tun = NAT64_IF, .pool = n->prefix, .pool_len = n->prefix_len };
	struct in6_addr gw6 = lab_node_gateway6(n);
	char conf[4096], zone[4096], dir[4096], resolv[4096], err[512], *text = NULL;
	const char *argv[] = { "unbound", "-d", "-p", "-c", conf, NULL };
	pid_t pid;
	int rc;

	if (nat64_prefix_of(&s->model, n, &t.prefix, err, sizeof(err)) < 0)
		luaL_error(L, "NAT \"%s\": %s", n->name, err);
	/* TAYGA speaks for itself as the LAN's IPv4 gateway, which the LAN does not have. */
	t.addr4.s_addr = htonl(ntohl(n->prefix.s_addr) + 1);
	t.addr6 = with_host(n->prefix6, TAYGA_HOST6);
	tayga_start(L, s, i, &t);

	rc = zone_make(&s->model, &text);
	conf_put(L, s, n->name, "zone", rc, text, zone, sizeof(zone));
	rc = snprintf(dir, sizeof(dir), "%s/logs", s->out_dir);
	rc = rc < 0 || (size_t)rc >= sizeof(dir)
	         ? -ENAMETOOLONG
	         : nat64_unbound_conf_render(&gw6, &t.prefix, zone, dir, &text);
	conf_put(L, s, n->name, "unbound.conf", rc, text, conf, sizeof(conf));
	rc = nat64_resolv_text(n, &text);
	conf_put(L, s, n->name, "resolv.conf", rc, text, resolv, sizeof(resolv));
	/* A resolver needs nothing but its port: confined like the lab's programs. */
	pid = lab_daemon_spawn(L, i, argv, "unbound", 0);
	lua_pop(L, 1);
	log_debug("\"%s\": unbound pid %d, %s", n->name, (int)pid, conf);
	wait_ready(L, n->name, "unbound", pid, unbound_ready, NULL, conf);
}

/* Host i's CLAT address (a /128 of its LAN that the box routes to the host). */
static struct in6_addr clat_addr6(const struct lab_model *m, int i, uint32_t base)
{
	return with_host(m->nodes[m->nodes[i].parent].prefix6, base + (uint32_t)i);
}

/*
 * The host's side of 464XLAT: IPv4 (192.0.0.1, the default route) into TAYGA's TUN device,
 * out as IPv6 from the CLAT address, forwarded to the box; back the same way. In the box,
 * a route sends the CLAT address to the host.
 */
static int clat_links(struct scenario *s, int i, const struct nat64_tayga *t)
{
	const struct lab_model *m = &s->model;
	const struct lab_node *n = &m->nodes[i], *box = &m->nodes[n->parent];
	struct lab_rtnl *r = NULL;
	int nsfd, idx, rc;

	rc = lab_node_netns_open(m->name, n->name, &nsfd);
	if (rc < 0)
		return rc;
	rc = tun_make(nsfd, t->tun);
	if (rc == 0)
		rc = lab_netns_enter(nsfd);
	if (rc == 0) {
		/* The host forwards between TAYGA and its link. */
		rc = lab_sysctl_write("net/ipv6/conf/all/forwarding", "1");
		lab_netns_leave();
	}
	if (rc == 0)
		rc = lab_rtnl_open(nsfd, &r);
	close(nsfd);
	idx = rc = rc < 0 ? rc : lab_link_index(r, t->tun);
	if (rc >= 0)
		rc = lab_link_set_up(r, idx);
	if (rc >= 0)
		rc = lab_addr_add(r, idx, t->map4, 29, 0);
	if (rc >= 0)
		rc = lab_route_add_r(r, &(struct lab_route){ .len = 0, .oif = idx });
	if (rc >= 0)
		rc = lab_route6_add(r,
		                    &(struct lab_route6){ .dst = t->map6, .len = 128, .oif = idx });
	lab_rtnl_free(r);
	r = NULL;
	if (rc >= 0)
		rc = lab_node_netns_open(m->name, box->name, &nsfd);
	if (rc >= 0) {
		rc = lab_rtnl_open(nsfd, &r);
		close(nsfd);
	}
	if (rc >= 0)
		rc = lab_route6_add(
		    r, &(struct lab_route6){ .dst = t->map6, .len = 128, .gw = n->addrs6[0] });
	lab_rtnl_free(r);
	return rc < 0 ? rc : 0;
}

static void clat_start(lua_State *L, struct scenario *s, int i)
{
	const struct lab_node *n = &s->model.nodes[i];
	struct nat64_tayga t = { .tun = NAT64_CLAT_IF };
	char conf[4096], err[512], *text = NULL;
	const char *argv[] = { "tayga", "-d", "-c", conf, NULL };
	pid_t pid;
	int rc;

	if (nat64_prefix_of(&s->model, &s->model.nodes[n->parent], &t.prefix, err, sizeof(err)) < 0)
		luaL_error(L, "host \"%s\": clat: %s", n->name, err);
	inet_pton(AF_INET, NAT64_CLAT_TAYGA, &t.addr4);
	inet_pton(AF_INET, NAT64_CLAT_HOST, &t.map4);
	t.addr6 = clat_addr6(&s->model, i, CLAT_SELF6);
	t.map6 = clat_addr6(&s->model, i, CLAT_HOST6);
	rc = clat_links(s, i, &t);
	if (rc < 0)
		luaL_error(L, "host \"%s\": CLAT device %s and routes: %s", n->name, t.tun,
		           strerror(-rc));
	rc = nat64_tayga_conf_render(&t, &text);
	conf_put(L, s, n->name, "clat.conf", rc, text, conf, sizeof(conf));
	pid = lab_daemon_spawn(L, i, argv, "clat", 1);
	lua_pop(L, 1);
	log_debug("\"%s\": CLAT (tayga) pid %d, %s", n->name, (int)pid, conf);
	wait_ready(L, n->name, "clat", pid, tayga_ready, t.tun, conf);
}

void nat64_start_all(lua_State *L, struct scenario *s)
{
	for (int i = 0; i < s->model.nnodes; i++)
		if (is_nat64(&s->model.nodes[i]))
			box_start(L, s, i);
	for (int i = 0; i < s->model.nnodes; i++)
		if (s->model.nodes[i].kind == LAB_NODE_HOST && s->model.nodes[i].clat)
			clat_start(L, s, i);
}

int nat64_lua_field(lua_State *L, const struct lab_model *m, const struct lab_node *n,
                    const char *k)
{
	char a[INET6_ADDRSTRLEN];
	struct in6_addr p;

	if (strcmp(k, "nat64_prefix") == 0 && is_nat64(n) &&
	    nat64_prefix_of(m, n, &p, NULL, 0) == 0) {
		inet_ntop(AF_INET6, &p, a, sizeof(a));
		lua_pushfstring(L, "%s/%d", a, NAT64_PREFIX_LEN);
		return 1;
	}
	if (strcmp(k, "clat") == 0 && n->kind == LAB_NODE_HOST && n->clat) {
		p = clat_addr6(m, (int)(n - m->nodes), CLAT_HOST6);
		inet_ntop(AF_INET6, &p, a, sizeof(a));
		lua_pushstring(L, a);
		return 1;
	}
	return 0;
}
