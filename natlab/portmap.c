/* SPDX-License-Identifier: MIT */
/*
 * The port-mapping gateway of NAT boxes: miniupnpd started inside the box as one of the
 * scenario's processes (so it is logged, and ends with the run), and restarted empty on
 * a reboot (nat:flush()). Its configuration comes from portmap_conf.c.
 */
#include "natlab/portmap.h"
#include "natlab/daemon.h"
#include "natlab/log.h"
#include "natlab/lua_proc.h"
#include "natlab/netns.h"
#include "natlab/outdir.h"
#include "natlab/runtime.h"
#include "natlab/scenario.h"
#include "natlab/topology.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Registry key of the table node index -> the gateway's proc object. */
#define PORTMAP_PROCS "natlab.portmap"
#define READY_WAIT_MS 5000
#define POLL_MS       10

/* The blocks miniupnpd counts as private or reserved (its getifaddr.c; RFC 6890). */
static const struct {
	uint32_t net;
	int len;
} reserved[] = {
	{ 0x00000000, 8 },  { 0x0a000000, 8 },  { 0x64400000, 10 }, { 0x7f000000, 8 },
	{ 0xa9fe0000, 16 }, { 0xac100000, 12 }, { 0xc0000000, 24 }, { 0xc0000200, 24 },
	{ 0xc01fc400, 24 }, { 0xc034c100, 24 }, { 0xc0586300, 24 }, { 0xc0a80000, 16 },
	{ 0xc0af3000, 24 }, { 0xc6120000, 15 }, { 0xc6336400, 24 }, { 0xcb007100, 24 },
	{ 0xe0000000, 4 },  { 0xf0000000, 4 },
};

int portmap_addr_reserved(struct in_addr addr)
{
	uint32_t a = ntohl(addr.s_addr);

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if ((a >> (32 - reserved[i].len)) == (reserved[i].net >> (32 - reserved[i].len)))
			return 1;
	return 0;
}

/* The namespace's socket tables: pid's own sockets only while it runs (see stop()). */
static int ready(pid_t pid, const struct nat_knobs *k)
{
	if (!lab_daemon_running(pid))
		return 0;
	if ((k->natpmp || k->pcp) && !lab_daemon_listening(pid, "udp", NAT_PORTMAP_PORT, "07"))
		return 0;
	/* Its HTTP socket is IPv6 (dual-stack) where the box has IPv6, else IPv4. */
	return !k->upnp || lab_daemon_listening(pid, "tcp", PORTMAP_HTTP_PORT, "0A") ||
	       lab_daemon_listening(pid, "tcp6", PORTMAP_HTTP_PORT, "0A");
}

/*
 * Writes node i's configuration to logs/<nat>-miniupnpd.conf; path gets its name, pid the
 * daemon's pid file beside it (its default, /var/run/miniupnpd.pid, is the host's, and a
 * second daemon would find the first one's there and exit).
 */
static int conf_make(struct scenario *s, int i, char *path, size_t len, char *pid, char *err,
                     size_t errlen)
{
	const struct lab_node *n = &s->model.nodes[i];
	struct nat_box_addrs a = { .wan = n->addrs[0],
		                   .lan_prefix = n->prefix,
		                   .lan_len = n->prefix_len };
	struct in_addr *subs = NULL;
	char *text = NULL, sock[108]; /* a unix socket path's limit */
	int rc, w;

	w = snprintf(path, len, "%s/logs/%s-miniupnpd.conf", s->out_dir, n->name);
	if (w >= 0 && (size_t)w < len)
		w = snprintf(pid, len, "%s/logs/%s-miniupnpd.pid", s->out_dir, n->name);
	if (w >= 0 && (size_t)w < len)
		w = snprintf(sock, sizeof(sock), "%s/logs/%s-minissdpd.sock", s->out_dir, n->name);
	if (w < 0 || (size_t)w >= len || (size_t)w >= sizeof(sock))
		return snprintf(err, errlen, "configuration path too long"), -ENAMETOOLONG;
	rc = lab_nat_subscribers(&s->model, i, &subs);
	if (rc >= 0) {
		a.subscribers = subs;
		a.nsubscribers = (unsigned)rc;
		rc = portmap_conf_render(&n->knobs, &a, n->name,
		                         s->model.seed * 1000003u + (unsigned)i, sock, &text);
	}
	if (rc == 0)
		rc = lab_daemon_conf_write(path, text);
	if (rc < 0)
		snprintf(err, errlen, "configuration %.400s: %s", path, strerror(-rc));
	free(text);
	free(subs);
	return rc;
}

/* Pushes the gateway's proc object for node i (nil if none), after the procs table. */
static void procs_push(lua_State *L, int i)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, PORTMAP_PROCS) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, LUA_REGISTRYINDEX, PORTMAP_PROCS);
	}
	lua_rawgeti(L, -1, i);
}

static pid_t proc_pid(lua_State *L, int idx)
{
	pid_t pid;

	lua_getfield(L, idx, "pid");
	pid = (pid_t)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return pid;
}

/* Waits until the daemon listens; raises with its log's name if it ends or never does. */
static void wait_ready(lua_State *L, const struct lab_node *n, pid_t pid, const char *conf)
{
	for (int waited = 0; !ready(pid, &n->knobs); waited += POLL_MS) {
		if (!lab_daemon_running(pid) || waited >= READY_WAIT_MS)
			luaL_error(
			    L,
			    "nat \"%s\": miniupnpd %s (configuration %s; its log is beside it, "
			    "%s-miniupnpd.log)",
			    n->name,
			    lab_daemon_running(pid) ? "does not listen after 5 s" : "ended at once",
			    conf, n->name);
		lab_daemon_pause(L, POLL_MS);
	}
}

static void start(lua_State *L, struct scenario *s, int i)
{
	const struct lab_node *n = &s->model.nodes[i];
	char conf[4096], pidfile[4096], err[512];
	/* -d: in the foreground, logs to stderr. */
	const char *argv[] = { "miniupnpd", "-d", "-f", conf, "-P", pidfile, NULL };
	pid_t pid;

	if (conf_make(s, i, conf, sizeof(conf), pidfile, err, sizeof(err)) < 0)
		luaL_error(L, "nat \"%s\": %s", n->name, err);
	/* The box's daemon is stopped (or never ran): a pid file left by one killed before it
	 * could remove it (a SIGKILL on a busy machine, a run killed before), naming a process
	 * that lives on, would make miniupnpd exit saying it is already running. */
	if (unlink(pidfile) < 0 && errno != ENOENT)
		luaL_error(L, "nat \"%s\": removing %s: %s", n->name, pidfile, strerror(errno));
	if (portmap_addr_reserved(n->addrs[0])) {
		char wan[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &n->addrs[0], wan, sizeof(wan));
		log_warnx(
		    "nat \"%s\": its WAN address %s is private or reserved, so miniupnpd will "
		    "refuse every mapping (as behind a CGN); for a gateway that grants them, "
		    "give its network a public prefix, e.g. lab:internet{ prefix = "
		    "\"20.0.0.0/16\" }",
		    n->name, wan);
	}
	procs_push(L, i);
	lua_pop(L, 1);
	/* The box's own daemon writes its NAT's rules: not confined like lab programs. */
	pid = lab_daemon_spawn(L, i, argv, "miniupnpd", 1);
	lua_rawseti(L, -2, i); /* procs[i] = proc */
	lua_pop(L, 1);
	log_debug("nat \"%s\": miniupnpd pid %d, %s", n->name, (int)pid, conf);
	wait_ready(L, n, pid, conf);
}

void portmap_start_all(lua_State *L, struct scenario *s)
{
	for (int i = 0; i < s->model.nnodes; i++)
		if (s->model.nodes[i].kind == LAB_NODE_NAT &&
		    nat_knobs_portmap(&s->model.nodes[i].knobs))
			start(L, s, i);
}

/* Ends node i's daemon, if one runs: SIGTERM, then SIGKILL after STOP_WAIT_MS. */
static void stop(lua_State *L, int i)
{
	pid_t pid;

	procs_push(L, i);
	pid = lua_isnil(L, -1) ? 0 : proc_pid(L, -1);
	lua_pop(L, 1);
	lua_pushnil(L);
	lua_rawseti(L, -2, i);
	lua_pop(L, 1);
	lab_daemon_stop(L, pid);
}

void portmap_restart(lua_State *L, struct scenario *s, int i)
{
	const struct lab_node *n = &s->model.nodes[i];
	char err[512];
	int rc;

	stop(L, i);
	rc = lab_node_netns_enter(s->model.name, n->name, err, sizeof(err));
	if (rc == 0) {
		rc = nat_portmap_apply(nat_knobs_portmap(&n->knobs), err, sizeof(err));
		if (rc == 0 && nat_knobs_portmap(&n->knobs))
			rc = nat_portmap_flush(err, sizeof(err));
		lab_netns_leave();
	}
	if (rc < 0)
		luaL_error(L, "nat \"%s\": port mappings: %s", n->name, err);
	if (nat_knobs_portmap(&n->knobs))
		start(L, s, i);
}
