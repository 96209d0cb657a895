/* SPDX-License-Identifier: MIT */
/*
 * natlab.lab and its methods: the v1 topology contract of DESIGN.md.
 *   natlab.lab{ name, seed }  lab:internet{}  lab:host{...}  lab:nat{...}  lab:up()
 * Each declaration is checked and given its addresses at once, so host.addr can be used
 * right after lab:host{} and errors point at the line that caused them.
 */
#include "natlab/lua_json.h"
#include "natlab/lua_ipv6.h"
#include "natlab/lua_node.h"
#include "natlab/link_preset.h"
#include "natlab/lua_opts.h"
#include "natlab/nat.h"
#include "natlab/scenario.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LAB_MT "natlab.lab"

struct lua_lab {
	int unused;
};

static struct scenario *check_lab(lua_State *L)
{
	luaL_checkudata(L, 1, LAB_MT);
	return scenario_from_lua(L);
}

static void check_not_up(lua_State *L, struct scenario *s, const char *fn)
{
	if (s->model.built)
		luaL_error(L, "%s: the lab is already up; declare every node before lab:up()", fn);
}

static int current_line(lua_State *L)
{
	lua_Debug ar;

	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
		return ar.currentline;
	return 0;
}

/*
 * Reads a link table ({ delay = "30ms", loss = "1%", rate = "10mbit", ... }; numbers are
 * seconds, fractions and bits/s) into *imp. Any link table, even empty, makes a wire.
 */
/* link = "4g", or { preset = "4g", ... }: the preset's impairments, under any others. */
static void read_link_preset(lua_State *L, int idx, const char *fn, struct wire_impairment *imp)
{
	const char *name = lua_tostring(L, idx);

	if (link_preset_apply(name, imp) < 0)
		luaL_error(L,
		           "%s: unknown link preset \"%s\" (one of: %s; or a table of delay, "
		           "jitter, loss, ...)",
		           fn, name, link_preset_names());
}

void lua_lab_read_link(lua_State *L, int idx, const char *fn, struct wire_impairment *imp)
{
	idx = lua_absindex(L, idx);
	if (lua_type(L, idx) == LUA_TSTRING) {
		read_link_preset(L, idx, fn, imp);
		return;
	}
	luaL_checktype(L, idx, LUA_TTABLE);
	if (lua_getfield(L, idx, "preset") != LUA_TNIL) {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s: link preset must be a name, e.g. preset = \"4g\"", fn);
		read_link_preset(L, -1, fn, imp);
	}
	lua_pop(L, 1);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
		int rc;

		if (strcmp(k, "preset") == 0) {
			lua_pop(L, 1);
			continue;
		}

		if (!lua_isstring(L, -1))
			luaL_error(L, "%s: link \"%s\" must be a string or a number", fn, k);
		rc = wire_impairment_set(imp, k, lua_tostring(L, -1));
		if (rc == -ENOENT)
			luaL_error(L,
			           "%s: unknown link key \"%s\" (delay, jitter, loss, duplicate, "
			           "reorder, rate, limit, preset)",
			           fn, k);
		if (rc < 0)
			luaL_error(L,
			           "%s: link %s = \"%s\" is not valid (e.g. delay = \"30ms\", "
			           "loss = \"1%%\", rate = \"10mbit\")",
			           fn, k, lua_tostring(L, -1));
		lua_pop(L, 1);
	}
}

static int read_link(lua_State *L, const char *fn, struct wire_impairment *imp)
{
	int has = lua_getfield(L, 2, "link") != LUA_TNIL;

	memset(imp, 0, sizeof(*imp));
	if (has)
		lua_lab_read_link(L, -1, fn, imp);
	lua_pop(L, 1);
	return has;
}

static int add_node(lua_State *L, struct scenario *s, const char *fn, enum lab_node_kind kind,
                    int parent)
{
	char err[256];
	const char *name = lua_opts_string(L, 2, fn, "name", NULL);
	int i;

	if (!name)
		luaL_error(L, "%s: \"name\" is required", fn);
	if (parent >= 0 && s->model.nodes[parent].kind == LAB_NODE_HOST)
		luaL_error(
		    L, "%s: \"net\" must be a network (lab:internet or lab:nat), not host \"%s\"",
		    fn, s->model.nodes[parent].name);
	i = lab_model_add(&s->model, name, kind, parent, err, sizeof(err));
	if (i < 0)
		luaL_error(L, "%s: %s", fn, err);
	s->model.nodes[i].line = current_line(L);
	return i;
}

static struct in_addr opt_addr(lua_State *L, const char *fn)
{
	const char *a = lua_opts_string(L, 2, fn, "addr", NULL);
	struct in_addr in = { 0 };

	if (a && inet_pton(AF_INET, a, &in) != 1)
		luaL_error(L, "%s: \"addr\" = \"%s\" is not an IPv4 address", fn, a);
	return in;
}

static void assign(lua_State *L, struct scenario *s, const char *fn, int i)
{
	char err[256];

	if (lab_model_assign(&s->model, i, err, sizeof(err)) < 0) {
		/* Keep the model consistent: the failed node is dropped again. */
		s->model.nnodes--;
		luaL_error(L, "%s: %s", fn, err);
	}
}

/*
 * lab:internet{ name, prefix, hops }: the core, its address range and how many routers
 * (the core and hops - 1 backbone routers) lie between any two attachments.
 */
static int lab_internet(lua_State *L)
{
	static const char *const keys[] = { "name", "prefix", "hops", "ipv6", "prefix6", NULL };
	const char *fn = "lab:internet", *prefix;
	struct scenario *s = check_lab(L);
	char err[256];
	int i, hops;

	if (lua_isnoneornil(L, 2))
		lua_newtable(L);
	lua_opts_check(L, 2, fn, keys);
	check_not_up(L, s, fn);
	for (i = 0; i < s->model.nnodes; i++)
		if (s->model.nodes[i].kind == LAB_NODE_INTERNET)
			luaL_error(
			    L, "lab:internet: a lab has one internet, already declared as \"%s\"",
			    s->model.nodes[i].name);
	prefix = lua_opts_string(L, 2, fn, "prefix", NULL);
	hops = (int)lua_opts_integer(L, 2, fn, "hops", LAB_HOPS_DEFAULT, 0, LAB_HOPS_MAX);
	if (lab_internet_set(&s->model, prefix, hops, err, sizeof(err)) < 0)
		luaL_error(L, "%s: %s", fn, err);
	lua_ipv6_internet(L, 2, fn, &s->model);
	if (lua_getfield(L, 2, "name") == LUA_TNIL) {
		lua_pushliteral(L, "internet");
		lua_setfield(L, 2, "name");
	}
	lua_pop(L, 1);
	i = add_node(L, s, "lab:internet", LAB_NODE_INTERNET, -1);
	assign(L, s, "lab:internet", i);
	lua_node_push(L, i);
	return 1;
}

static int lab_host(lua_State *L)
{
	static const char *const keys[] = { "name", "net",   "addrs", "addr", "link",
		                            "ipv6", "addr6", "clat",  NULL };
	const char *fn = "lab:host";
	struct scenario *s = check_lab(L);
	int parent, naddrs, i, has_link, clat;
	struct wire_impairment link;
	struct lab_node v6;
	struct in_addr want;

	lua_opts_check(L, 2, fn, keys);
	check_not_up(L, s, fn);
	if (lua_getfield(L, 2, "net") == LUA_TNIL)
		luaL_error(L, "%s: \"net\" is required (the network the host sits on)", fn);
	parent = lua_node_check(L, -1, fn, "net");
	lua_pop(L, 1);
	naddrs = (int)lua_opts_integer(L, 2, fn, "addrs", 1, 1, LAB_ADDRS_MAX);
	want = opt_addr(L, fn);
	has_link = read_link(L, fn, &link);
	lua_ipv6_node(L, 2, fn, LAB_NODE_HOST, &v6);
	clat = lua_opts_boolean(L, 2, fn, "clat", 0);
	i = add_node(L, s, fn, LAB_NODE_HOST, parent);
	s->model.nodes[i].clat = clat;
	s->model.nodes[i].has_link = has_link;
	s->model.nodes[i].link = link;
	s->model.nodes[i].want_naddrs = naddrs;
	s->model.nodes[i].want_addr = want;
	lua_ipv6_copy(&v6, &s->model.nodes[i]);
	assign(L, s, fn, i);
	lua_node_push(L, i);
	return 1;
}

/* Raises naming fn and the knob's words when s is not one of them. */
static void nat_knob_bad_word(lua_State *L, const char *fn, const struct nat_knob *kb,
                              const char *s)
{
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (int i = 0; kb->words[i]; i++) {
		luaL_addstring(&b, i ? ", " : "");
		luaL_addstring(&b, kb->words[i]);
	}
	luaL_pushresult(&b);
	{
		struct nat_knobs k;

		/* mapping = "symmetric" is a common slip: say where the word belongs. */
		if (nat_profile_lookup(s, &k) == 0)
			luaL_error(L,
			           "%s: \"%s\" = \"%s\" is not a valid value (one of: %s); "
			           "\"%s\" is a profile: profile = \"%s\"",
			           fn, kb->key, s, lua_tostring(L, -1), s, s);
	}
	luaL_error(L, "%s: \"%s\" = \"%s\" is not a valid value (one of: %s)", fn, kb->key, s,
	           lua_tostring(L, -1));
}

/* One knob given at idx overrides the profile's preset in *k; absent, the preset stays. */
static void nat_knob_read(lua_State *L, int idx, const char *fn, const struct nat_knob *kb,
                          struct nat_knobs *k)
{
	unsigned v = nat_knob_get(kb, k);
	const char *w;
	double d;

	switch (kb->type) {
	case NAT_KNOB_WORD:
		w = lua_opts_string(L, idx, fn, kb->key, NULL);
		if (w && nat_knob_set_word(kb, k, w) < 0)
			nat_knob_bad_word(L, fn, kb, w);
		return;
	case NAT_KNOB_BOOL:
		v = (unsigned)lua_opts_boolean(L, idx, fn, kb->key, (int)v);
		break;
	case NAT_KNOB_SECONDS:
		d = lua_opts_duration(L, idx, fn, kb->key, v, kb->min, kb->max);
		v = (unsigned)(d + 0.5);
		break;
	case NAT_KNOB_COUNT:
		v = (unsigned)lua_opts_integer(L, idx, fn, kb->key, v, kb->min, kb->max);
		break;
	}
	if (nat_knob_set(kb, k, v) < 0)
		luaL_error(L, "%s: \"%s\" = %d is outside %d-%d", fn, kb->key, (int)v, (int)kb->min,
		           (int)kb->max);
}

/* Checks the keys at idx: those in extra (NULL-terminated, may be NULL), profile, knobs. */
static void nat_opts_check(lua_State *L, int idx, const char *fn, const char *const *extra)
{
	const char *keys[32];
	size_t n = 0;

	for (; extra && extra[n]; n++)
		keys[n] = extra[n];
	keys[n++] = "profile";
	for (const struct nat_knob *kb = nat_knob_table; kb->key && n < 31; kb++)
		keys[n++] = kb->key;
	keys[n] = NULL;
	lua_opts_check(L, idx, fn, keys);
}

/* Reads the profile at idx, then the knobs given there over its preset. */
static void nat_read(lua_State *L, int idx, const char *fn, struct nat_knobs *k, char *profile,
                     size_t len)
{
	const char *p = lua_opts_string(L, idx, fn, "profile", NULL);
	luaL_Buffer b;

	if (!p)
		luaL_error(L, "%s: \"profile\" is required", fn);
	if (nat_profile_lookup(p, k) < 0) {
		luaL_buffinit(L, &b);
		for (int i = 0; nat_profile_names[i]; i++) {
			luaL_addstring(&b, i ? ", " : "");
			luaL_addstring(&b, nat_profile_names[i]);
		}
		luaL_pushresult(&b);
		luaL_error(L, "%s: unknown profile \"%s\" (one of: %s)", fn, p,
		           lua_tostring(L, -1));
	}
	if (strlen(p) >= len)
		luaL_error(L, "%s: profile name \"%s\" is too long", fn, p);
	for (const struct nat_knob *kb = nat_knob_table; kb->key; kb++) {
		/* A router that does not translate would silently ignore every knob. */
		if (!k->translate && lua_getfield(L, idx, kb->key) != LUA_TNIL)
			luaL_error(L,
			           "%s: profile \"%s\" does not translate, so \"%s\" would do "
			           "nothing: pick a NAT profile (e.g. \"port-restricted-cone\") "
			           "or drop \"%s\"",
			           fn, p, kb->key, kb->key);
		if (!k->translate)
			lua_pop(L, 1);
		nat_knob_read(L, idx, fn, kb, k);
	}
	memcpy(profile, p, strlen(p) + 1);
}

void lua_lab_read_knobs(lua_State *L, int idx, const char *fn, struct nat_knobs *k, char *profile,
                        size_t len)
{
	nat_opts_check(L, idx, fn, NULL);
	nat_read(L, idx, fn, k, profile, len);
}

static int lab_nat(lua_State *L)
{
	static const char *const keys[] = { "name", "net",  "lan",   "addr", "link",
		                            "ipv6", "lan6", "addr6", NULL };
	const char *fn = "lab:nat", *lan;
	struct scenario *s = check_lab(L);
	struct nat_knobs k;
	char profile[32], err[256];
	struct wire_impairment link;
	struct lab_node v6;
	struct in_addr want;
	int parent, i, has_link;

	nat_opts_check(L, 2, fn, keys);
	check_not_up(L, s, fn);
	if (lua_getfield(L, 2, "net") == LUA_TNIL)
		luaL_error(L, "%s: \"net\" is required (the network its WAN sits on)", fn);
	parent = lua_node_check(L, -1, fn, "net");
	lua_pop(L, 1);
	nat_read(L, 2, fn, &k, profile, sizeof(profile));
	if (nat_knobs_validate(&k, 0, err, sizeof(err)) < 0)
		luaL_error(L, "%s: %s", fn, err);
	lan = lua_opts_string(L, 2, fn, "lan", NULL);
	want = opt_addr(L, fn);
	has_link = read_link(L, fn, &link);
	lua_ipv6_node(L, 2, fn, LAB_NODE_NAT, &v6);
	i = add_node(L, s, fn, LAB_NODE_NAT, parent);
	s->model.nodes[i].has_link = has_link;
	s->model.nodes[i].link = link;
	s->model.nodes[i].knobs = k;
	s->model.nodes[i].want_addr = want;
	snprintf(s->model.nodes[i].profile, sizeof(s->model.nodes[i].profile), "%s", profile);
	if (lan) {
		if (lab_prefix_parse(lan, &s->model.nodes[i].prefix,
		                     &s->model.nodes[i].prefix_len) < 0) {
			s->model.nnodes--;
			luaL_error(L,
			           "%s: \"lan\" = \"%s\" is not a prefix like \"192.168.1.0/24\" "
			           "(length 8-30, host bits zero)",
			           fn, lan);
		}
		s->model.nodes[i].prefix_fixed = 1;
	}
	lua_ipv6_copy(&v6, &s->model.nodes[i]);
	assign(L, s, fn, i);
	if (lua_ipv6_knobs_check(L, 2, &s->model, i, err, sizeof(err)) < 0) {
		s->model.nnodes--;
		luaL_error(L, "%s: %s", fn, err);
	}
	lua_node_push(L, i);
	return 1;
}

static int lab_up(lua_State *L)
{
	struct scenario *s = check_lab(L);

	check_not_up(L, s, "lab:up");
	return scenario_lab_up(L, s);
}

static int lab_index(lua_State *L)
{
	struct scenario *s = check_lab(L);
	const char *k = luaL_checkstring(L, 2);

	if (strcmp(k, "name") == 0)
		lua_pushstring(L, s->model.name);
	else if (strcmp(k, "seed") == 0)
		lua_pushinteger(L, (lua_Integer)s->model.seed);
	else if (luaL_getmetafield(L, 1, "methods") != LUA_TNIL)
		lua_getfield(L, -1, k);
	else
		lua_pushnil(L);
	return 1;
}

static int natlab_lab(lua_State *L)
{
	static const char *const keys[] = { "name", "seed", NULL };
	struct scenario *s = scenario_from_lua(L);
	const char *name;
	char err[256];

	lua_settop(L, 1);
	if (lua_isnil(L, 1))
		lua_newtable(L), lua_replace(L, 1);
	lua_opts_check(L, 1, "natlab.lab", keys);
	if (s->have_lab)
		luaL_error(L, "natlab.lab: a scenario describes one lab");
	name = s->lab_name ? s->lab_name : lua_opts_string(L, 1, "natlab.lab", "name", "lab");
	if (lab_name_check(name, LAB_NAME_MAX, err, sizeof(err)) < 0)
		luaL_error(L, "natlab.lab: %s", err);
	snprintf(s->model.name, sizeof(s->model.name), "%s", name);
	s->model.seed =
	    (uint64_t)lua_opts_integer(L, 1, "natlab.lab", "seed", 1, 0, LUA_MAXINTEGER);
	s->have_lab = 1;
	lua_newuserdatauv(L, sizeof(struct lua_lab), 0);
	luaL_setmetatable(L, LAB_MT);
	return 1;
}

/* natlab.bin("natlab-relay"): the path of a natlab binary installed beside this one. */
static int natlab_bin(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	const char *name = luaL_checkstring(L, 1);
	const char *slash = strrchr(s->self_exe, '/');

	if (strchr(name, '/') || !slash)
		return luaL_error(L, "natlab.bin: \"%s\" is not a binary name", name);
	lua_pushfstring(L, "%s/%s", lua_pushlstring(L, s->self_exe, (size_t)(slash - s->self_exe)),
	                name);
	if (access(lua_tostring(L, -1), X_OK) != 0)
		return luaL_error(L, "natlab.bin: %s is not there; build it (cmake --build build)",
		                  lua_tostring(L, -1));
	return 1;
}

/*
 * natlab.selected(name): whether name matches --filter (a glob, e.g. "symmetric*"); true
 * for everything without one. Scenarios use it to run only the parts asked for.
 */
static int natlab_selected(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	const char *name = luaL_checkstring(L, 1);

	lua_pushboolean(L, !s->filter || fnmatch(s->filter, name, 0) == 0);
	return 1;
}

/*
 * natlab.out: the run's out dir (logs/, report.json), or nil outside `natlab run`;
 * natlab.filter: --filter; natlab.params: the --param KEY=VALUE pairs as a table;
 * natlab.lib: the library directory require() loads from (for files beside a library).
 */
static int natlab_index(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	const char *k = luaL_checkstring(L, 2);

	if (strcmp(k, "out") == 0 && s->out_dir)
		lua_pushstring(L, s->out_dir);
	else if (strcmp(k, "filter") == 0 && s->filter)
		lua_pushstring(L, s->filter);
	else if (strcmp(k, "lib") == 0) {
		char dir[4096];

		if (scenario_lib_dir(s, dir, sizeof(dir)) < 0)
			return luaL_error(
			    L, "natlab.lib: cannot tell where the Lua library is (set NATLAB_LIB)");
		lua_pushstring(L, dir);
	} else if (strcmp(k, "params") == 0) {
		/* A fresh table each time: a scenario cannot change what the CLI said. */
		lua_newtable(L);
		for (int i = 0; i < s->nparams; i++) {
			const char *eq = strchr(s->params[i], '=');

			lua_pushlstring(L, s->params[i], (size_t)(eq - s->params[i]));
			lua_pushstring(L, eq + 1);
			lua_settable(L, -3);
		}
	} else
		lua_pushnil(L);
	return 1;
}

void lua_lab_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "internet", lab_internet },
		{ "host", lab_host },
		{ "nat", lab_nat },
		{ "up", lab_up },
		{ NULL, NULL },
	};
	static const luaL_Reg module[] = { { "lab", natlab_lab },
		                           { "bin", natlab_bin },
		                           { "selected", natlab_selected },
		                           { "json_decode", lua_json_decode },
		                           { NULL, NULL } };

	luaL_newmetatable(L, LAB_MT);
	lua_pushcfunction(L, lab_index);
	lua_setfield(L, -2, "__index");
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "methods");
	lua_pop(L, 1);
	lua_node_open(L);
	luaL_newlib(L, module);
	lua_pushstring(L, NATLAB_VERSION);
	lua_setfield(L, -2, "version");
	lua_newtable(L);
	lua_pushcfunction(L, natlab_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_setglobal(L, "natlab");
}
