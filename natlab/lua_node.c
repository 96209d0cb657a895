/* SPDX-License-Identifier: MIT */
/*
 * natlab.node: a host, NAT box or the internet core, as scenarios see it. Read-only
 * fields: name, kind, addr, addrs, net; routers also lan and gateway; NATs profile; the
 * internet prefix, hops and routers.
 */
#include "natlab/lua_node.h"
#include "natlab/lua_ipv6.h"
#include "natlab/lua_proc.h"
#include "natlab/portmap.h"
#include "natlab/nat64.h"
#include "natlab/topology.h"
#include "natlab/wire.h"
#include "natlab/wire_count.h"

#include <string.h>
#include "natlab/scenario.h"

#include <arpa/inet.h>
#include <lauxlib.h>
#include <string.h>

#define NODE_MT "natlab.node"

struct lua_node {
	int index;
};

void lua_node_push(lua_State *L, int index)
{
	struct lua_node *n = lua_newuserdatauv(L, sizeof(*n), 0);

	n->index = index;
	luaL_setmetatable(L, NODE_MT);
}

int lua_node_check(lua_State *L, int idx, const char *fn, const char *key)
{
	struct lua_node *n = luaL_testudata(L, idx, NODE_MT);

	if (!n)
		luaL_error(L, "%s: \"%s\" must be a network (lab:internet or lab:nat), got a %s",
		           fn, key, luaL_typename(L, idx));
	return n->index;
}

static void push_addr(lua_State *L, struct in_addr a)
{
	char s[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, s, sizeof(s));
	lua_pushstring(L, s);
}

static const char *const kind_names[] = { "internet", "nat", "host" };

/* host:spawn{...} */
static int node_spawn(lua_State *L)
{
	struct lua_node *ud = luaL_checkudata(L, 1, NODE_MT);
	struct scenario *s = scenario_from_lua(L);

	if (s->model.nodes[ud->index].kind != LAB_NODE_HOST)
		return luaL_error(L, "spawn: \"%s\" is not a host", s->model.nodes[ud->index].name);
	return lua_proc_spawn(L, ud->index);
}

static struct lab_node *check_live_node(lua_State *L, const char *fn, int *index)
{
	struct lua_node *ud = luaL_checkudata(L, 1, NODE_MT);
	struct scenario *s = scenario_from_lua(L);

	if (s->mode == SCENARIO_CHECK || !s->lab_up)
		luaL_error(L, "%s: the lab is not up (call lab:up() first, under natlab run)", fn);
	*index = ud->index;
	return &s->model.nodes[ud->index];
}

/* nat:flush(): forget every mapping, as a router reboot does, port mappings too. */
static int node_flush(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	char err[512];
	int i;

	check_live_node(L, "nat:flush", &i);
	/* The port-mapping daemon and its rules go first: flushing conntrack while its old
	 * rules still forward would let a datagram arriving meanwhile make a new entry that
	 * outlives the reboot (tests/lab_portmap.sh). */
	if (nat_knobs_portmap(&s->model.nodes[i].knobs))
		portmap_restart(L, s, i);
	if (lab_topology_nat_reload(&s->model, i, err, sizeof(err)) < 0)
		return luaL_error(L, "nat:flush: %s", err);
	return 0;
}

/* portmap_restart(node index) under lua_pcall. */
static int portmap_restart_call(lua_State *L)
{
	portmap_restart(L, scenario_from_lua(L), (int)lua_tointeger(L, 1));
	return 0;
}

/*
 * nat:set_profile("symmetric") or nat:set_profile{ profile = "full-cone", hairpin = false }:
 * the new behaviour replaces the old ruleset atomically and every mapping is dropped.
 */
static int node_set_profile(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	struct lab_node *n;
	struct nat_knobs before, k;
	char err[512], profile[sizeof(n->profile)], old_profile[sizeof(n->profile)];
	int i, gateway;

	n = check_live_node(L, "nat:set_profile", &i);
	if (lua_isstring(L, 2)) {
		lua_newtable(L);
		lua_pushvalue(L, 2);
		lua_setfield(L, -2, "profile");
		lua_replace(L, 2);
	}
	/* Parsed into a copy: a bad table raises before the node is touched. */
	lua_lab_read_knobs(L, 2, "nat:set_profile", &k, profile, sizeof(profile));
	if (!k.translate || !n->knobs.translate)
		return luaL_error(
		    L, "nat:set_profile: cannot switch between NAT and profile \"none\"");
	if (nat_knobs_validate(&k, 0, err, sizeof(err)) < 0)
		return luaL_error(L, "nat:set_profile: %s", err);
	/* nptv6 decided the LAN's addresses when it was declared. */
	if (k.nptv6 != n->knobs.nptv6)
		return luaL_error(L,
		                  "nat:set_profile: nptv6 cannot change mid-run (it decides the "
		                  "LAN's IPv6 addresses): keep nptv6 = %s",
		                  n->knobs.nptv6 ? "true" : "false");
	if (lua_ipv6_knobs_check(L, 2, &s->model, i, err, sizeof(err)) < 0)
		return luaL_error(L, "nat:set_profile: %s", err);
	/* TAYGA and the IPv6-only LAN were built for them (nat64.h). */
	if (k.nat64 != n->knobs.nat64 || (k.nat64 && k.nat64_prefix != n->knobs.nat64_prefix))
		return luaL_error(
		    L,
		    "nat:set_profile: nat64 and nat64_prefix are fixed when the NAT "
		    "is declared (they decide its LAN); give nat64 = %s%s%s%s",
		    n->knobs.nat64 ? "true" : "false", n->knobs.nat64 ? ", nat64_prefix = \"" : "",
		    n->knobs.nat64 ? nat_knob_word(nat_knob_find("nat64_prefix"), &n->knobs) : "",
		    n->knobs.nat64 ? "\"" : "");
	before = n->knobs;
	memcpy(old_profile, n->profile, sizeof(old_profile));
	n->knobs = k;
	memcpy(n->profile, profile, sizeof(profile));
	/* A new profile drops every mapping: the gateway restarts (or stops) with it, before
	 * the reload, as for nat:flush() (a datagram in between would keep an old mapping). */
	gateway = nat_knobs_portmap(&before) || nat_knobs_portmap(&k);
	if (gateway) {
		lua_pushcfunction(L, portmap_restart_call);
		lua_pushinteger(L, i);
		/* A gateway that does not start: the box keeps its old knobs, as its ruleset. */
		if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
			n->knobs = before;
			memcpy(n->profile, old_profile, sizeof(old_profile));
			return lua_error(L);
		}
	}
	if (lab_topology_nat_reload(&s->model, i, err, sizeof(err)) < 0) {
		n->knobs = before;
		memcpy(n->profile, old_profile, sizeof(old_profile));
		if (gateway)
			portmap_restart(L, s, i);
		return luaL_error(L, "nat:set_profile: %s", err);
	}
	return 0;
}

static int node_link(lua_State *L, int up)
{
	struct scenario *s = scenario_from_lua(L);
	char err[512];
	int i;

	check_live_node(L, up ? "node:link_up" : "node:link_down", &i);
	s->link_downed |= !up;
	if (lab_topology_link_set(&s->model, i, up, err, sizeof(err)) < 0)
		return luaL_error(L, "%s: %s", up ? "node:link_up" : "node:link_down", err);
	return 0;
}

/* node:set_link{ delay = "50ms", loss = "5%" }: new impairments on a wired link, at once. */
static int node_set_link(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	struct wire_impairment imp = { 0 };
	struct lab_node *n;
	int i, rc;

	n = check_live_node(L, "node:set_link", &i);
	lua_lab_read_link(L, 2, "node:set_link", &imp);
	if (!s->wires || !s->wires[i])
		return luaL_error(L,
		                  "node:set_link: \"%s\" has no wire; declare it with link = {} "
		                  "(under natlab run)",
		                  n->name);
	rc = lab_wires_set_link(s->wires[i], &imp);
	if (rc < 0)
		return luaL_error(L, "node:set_link: %s", strerror(-rc));
	n->link = imp;
	return 0;
}

static int node_link_down(lua_State *L)
{
	return node_link(L, 0);
}

static int node_link_up(lua_State *L)
{
	return node_link(L, 1);
}

/*
 * node:wire_load(text): the node's wire counters (tables inet and bridge natlab_wire, with
 * named counters), replacing the previous ones. scenarios/lib/wire.lua writes them.
 */
static int node_wire_load(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	const char *text;
	char err[1024];
	struct lab_node *n;
	int i;

	n = check_live_node(L, "node:wire_load", &i);
	text = luaL_checkstring(L, 2);
	if (lab_wire_count_load(&s->model, i, text, err, sizeof(err)) < 0)
		return luaL_error(L, "node:wire_load: \"%s\": %s", n->name, err);
	return 0;
}

static int wire_counter_cb(const char *name, uint64_t packets, uint64_t bytes, void *arg)
{
	lua_State *L = arg;

	/* The same name in the ip and the bridge table counts one thing: add them up. */
	if (lua_getfield(L, -1, name) == LUA_TTABLE) {
		lua_getfield(L, -1, "packets");
		packets += (uint64_t)lua_tointeger(L, -1);
		lua_getfield(L, -2, "bytes");
		bytes += (uint64_t)lua_tointeger(L, -1);
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
	lua_createtable(L, 0, 2);
	lua_pushinteger(L, (lua_Integer)packets);
	lua_setfield(L, -2, "packets");
	lua_pushinteger(L, (lua_Integer)bytes);
	lua_setfield(L, -2, "bytes");
	lua_setfield(L, -2, name);
	return 0;
}

/*
 * node:wire_read(): { [counter name] = { packets = P, bytes = B } } of its wire counters,
 * a name's ip and bridge counters summed.
 */
static int node_wire_read(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	char err[1024];
	struct lab_node *n;
	int i;

	n = check_live_node(L, "node:wire_read", &i);
	lua_settop(L, 1);
	lua_newtable(L);
	if (lab_wire_count_read(&s->model, i, wire_counter_cb, L, err, sizeof(err)) < 0)
		return luaL_error(L,
		                  "node:wire_read: \"%s\": %s (load counters with "
		                  "node:wire_load first)",
		                  n->name, err);
	return 1;
}

static int node_method(lua_State *L, const struct lab_node *n, const char *k)
{
	static const struct {
		const char *name;
		lua_CFunction fn;
		int nat_only;
	} methods[] = {
		{ "spawn", node_spawn, 0 },
		{ "flush", node_flush, 1 },
		{ "set_profile", node_set_profile, 1 },
		{ "link_down", node_link_down, 0 },
		{ "link_up", node_link_up, 0 },
		{ "set_link", node_set_link, 0 },
		{ "wire_load", node_wire_load, 0 },
		{ "wire_read", node_wire_read, 0 },
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(k, methods[i].name) != 0)
			continue;
		if ((methods[i].fn == node_spawn && n->kind != LAB_NODE_HOST) ||
		    (methods[i].nat_only && n->kind != LAB_NODE_NAT) ||
		    (n->kind == LAB_NODE_INTERNET && !methods[i].nat_only))
			return 0;
		lua_pushcfunction(L, methods[i].fn);
		return 1;
	}
	return 0;
}

static int node_router_field(lua_State *L, const struct lab_node *n, const char *k)
{
	char s[INET_ADDRSTRLEN + 4];

	if (n->kind == LAB_NODE_HOST)
		return 0;
	if (strcmp(k, "lan") == 0) {
		inet_ntop(AF_INET, &n->prefix, s, INET_ADDRSTRLEN);
		lua_pushfstring(L, "%s/%d", s, n->prefix_len);
		return 1;
	}
	if (strcmp(k, "gateway") == 0) {
		push_addr(L, lab_node_gateway(n));
		return 1;
	}
	if (strcmp(k, "profile") == 0 && n->kind == LAB_NODE_NAT) {
		lua_pushstring(L, n->profile);
		return 1;
	}
	return 0;
}

/* The internet's prefix, hop count and the routers on a path between two attachments. */
static int node_internet_field(lua_State *L, const struct lab_model *m, const struct lab_node *n,
                               const char *k)
{
	char s[INET_ADDRSTRLEN];

	if (n->kind != LAB_NODE_INTERNET)
		return 0;
	if (strcmp(k, "prefix") == 0) {
		inet_ntop(AF_INET, &m->inet_prefix, s, sizeof(s));
		lua_pushfstring(L, "%s/%d", s, m->inet_len);
		return 1;
	}
	if (strcmp(k, "hops") == 0) {
		lua_pushinteger(L, m->hops);
		return 1;
	}
	if (strcmp(k, "routers") == 0) {
		lua_createtable(L, m->hops, 0);
		for (int i = 0; i < m->hops; i++) {
			push_addr(L, lab_hop_addr(m, i));
			lua_rawseti(L, -2, i + 1);
		}
		return 1;
	}
	return 0;
}

static int node_index(lua_State *L)
{
	struct lua_node *ud = luaL_checkudata(L, 1, NODE_MT);
	const char *k = luaL_checkstring(L, 2);
	struct scenario *s = scenario_from_lua(L);
	const struct lab_node *n = &s->model.nodes[ud->index];

	if (strcmp(k, "name") == 0)
		lua_pushstring(L, n->name);
	else if (strcmp(k, "kind") == 0)
		lua_pushstring(L, kind_names[n->kind]);
	else if (strcmp(k, "addr") == 0 && n->naddrs > 0)
		push_addr(L, n->addrs[0]);
	else if (strcmp(k, "addrs") == 0) {
		lua_createtable(L, n->naddrs, 0);
		for (int i = 0; i < n->naddrs; i++) {
			push_addr(L, n->addrs[i]);
			lua_rawseti(L, -2, i + 1);
		}
	} else if (node_method(L, n, k))
		;
	else if (strcmp(k, "net") == 0 && n->parent >= 0)
		lua_node_push(L, n->parent);
	else if (!node_router_field(L, n, k) && !node_internet_field(L, &s->model, n, k) &&
	         !lua_ipv6_field(L, &s->model, n, k) && !nat64_lua_field(L, &s->model, n, k))
		lua_pushnil(L);
	return 1;
}

static int node_tostring(lua_State *L)
{
	struct lua_node *ud = luaL_checkudata(L, 1, NODE_MT);
	struct scenario *s = scenario_from_lua(L);

	lua_pushfstring(L, "%s \"%s\"", kind_names[s->model.nodes[ud->index].kind],
	                s->model.nodes[ud->index].name);
	return 1;
}

static int node_newindex(lua_State *L)
{
	return luaL_error(L, "node fields are read-only");
}

void lua_node_open(lua_State *L)
{
	static const luaL_Reg meta[] = {
		{ "__index", node_index },
		{ "__newindex", node_newindex },
		{ "__tostring", node_tostring },
		{ NULL, NULL },
	};

	luaL_newmetatable(L, NODE_MT);
	luaL_setfuncs(L, meta, 0);
	lua_pop(L, 1);
}
