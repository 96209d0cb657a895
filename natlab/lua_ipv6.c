/* SPDX-License-Identifier: MIT */
#include "natlab/lua_ipv6.h"
#include "natlab/lua_opts.h"
#include "natlab/model6.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

void lua_ipv6_internet(lua_State *L, int idx, const char *fn, struct lab_model *m)
{
	const char *prefix = lua_opts_string(L, idx, fn, "prefix6", NULL);
	int on = lua_opts_boolean(L, idx, fn, "ipv6", prefix != NULL);
	char err[256];

	if (!on && prefix)
		luaL_error(L, "%s: prefix6 with ipv6 = false: drop one of them", fn);
	if (on && lab_internet6_set(m, prefix, err, sizeof(err)) < 0)
		luaL_error(L, "%s: %s", fn, err);
}

static enum lab_ipv6 opt_ipv6(lua_State *L, int idx, const char *fn)
{
	enum lab_ipv6 v = LAB_IPV6_INHERIT;

	switch (lua_getfield(L, idx, "ipv6")) {
	case LUA_TNIL:
		break;
	case LUA_TBOOLEAN:
		v = lua_toboolean(L, -1) ? LAB_IPV6_DUAL : LAB_IPV6_OFF;
		break;
	default:
		if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "only") != 0)
			luaL_error(L,
			           "%s: \"ipv6\" must be true (dual-stack), false (IPv4 only) or "
			           "\"only\" (IPv6 only)",
			           fn);
		v = LAB_IPV6_ONLY;
	}
	lua_pop(L, 1);
	return v;
}

void lua_ipv6_node(lua_State *L, int idx, const char *fn, enum lab_node_kind kind,
                   struct lab_node *n)
{
	const char *a = lua_opts_string(L, idx, fn, "addr6", NULL);
	const char *lan = kind == LAB_NODE_NAT ? lua_opts_string(L, idx, fn, "lan6", NULL) : NULL;
	int len;

	memset(n, 0, sizeof(*n));
	n->ipv6 = opt_ipv6(L, idx, fn);
	if (a && inet_pton(AF_INET6, a, &n->want_addr6) != 1)
		luaL_error(L, "%s: \"addr6\" = \"%s\" is not an IPv6 address", fn, a);
	if (lan && (lab_prefix6_parse(lan, &n->prefix6, &len) < 0 || len != LAB_LAN6_LEN))
		luaL_error(L,
		           "%s: \"lan6\" = \"%s\" is not a /64 like \"2001:db8:0:42::/64\" (host "
		           "bits zero)",
		           fn, lan);
	n->prefix6_fixed = lan != NULL;
}

void lua_ipv6_copy(const struct lab_node *from, struct lab_node *to)
{
	to->ipv6 = from->ipv6;
	to->want_addr6 = from->want_addr6;
	to->prefix6 = from->prefix6;
	to->prefix6_fixed = from->prefix6_fixed;
}

int lua_ipv6_knobs_check(lua_State *L, int idx, const struct lab_model *m, int i, char *err,
                         size_t errlen)
{
	static const char *const keys[] = { "filtering6", "nptv6", NULL };
	const struct lab_node *n = &m->nodes[i];

	for (int k = 0; keys[k]; k++) {
		int given = lua_getfield(L, idx, keys[k]) != LUA_TNIL;

		lua_pop(L, 1);
		if (given && !lab_node_has6(n)) {
			snprintf(err, errlen,
			         "\"%s\" applies to IPv6 and the LAN of \"%s\" has none: turn IPv6 "
			         "on (lab:internet{ ipv6 = true }) or drop \"%s\"",
			         keys[k], n->name, keys[k]);
			return -EINVAL;
		}
	}
	return 0;
}

static void push6(lua_State *L, const struct in6_addr *a)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, s, sizeof(s));
	lua_pushstring(L, s);
}

static void push6_prefix(lua_State *L, const struct in6_addr *a, int len)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, s, sizeof(s));
	lua_pushfstring(L, "%s/%d", s, len);
}

static int push6_list(lua_State *L, const struct in6_addr *v, int n)
{
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		push6(L, &v[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* The fields of a router (the internet or a NAT) with IPv6 on its LAN. */
static int router_field(lua_State *L, const struct lab_model *m, const struct lab_node *n,
                        const char *k)
{
	struct in6_addr routers[LAB_HOPS_MAX];

	if (n->kind == LAB_NODE_HOST || !lab_node_has6(n))
		return 0;
	if (strcmp(k, "lan6") == 0)
		push6_prefix(L, &n->prefix6, LAB_LAN6_LEN);
	else if (strcmp(k, "gateway6") == 0) {
		struct in6_addr g = lab_node_gateway6(n);

		push6(L, &g);
	} else if (strcmp(k, "pub6") == 0 && n->kind == LAB_NODE_NAT)
		push6_prefix(L, &n->pub6, LAB_LAN6_LEN);
	else if (strcmp(k, "prefix6") == 0 && n->kind == LAB_NODE_INTERNET)
		push6_prefix(L, &m->inet6_prefix, m->inet6_len);
	else if (strcmp(k, "routers6") == 0 && n->kind == LAB_NODE_INTERNET) {
		for (int i = 0; i < m->hops; i++)
			routers[i] = lab_hop6_addr(m, i);
		push6_list(L, routers, m->hops);
	} else
		return 0;
	return 1;
}

int lua_ipv6_field(lua_State *L, const struct lab_model *m, const struct lab_node *n, const char *k)
{
	if (strcmp(k, "ipv6") == 0 && n->ipv6 == LAB_IPV6_ONLY) {
		lua_pushliteral(L, "only");
		return 1;
	}
	if (strcmp(k, "ipv6") == 0) {
		lua_pushboolean(L, lab_node_has6(n));
		return 1;
	}
	if (strcmp(k, "addr6") == 0 && n->naddrs6 > 0) {
		push6(L, &n->addrs6[0]);
		return 1;
	}
	if (strcmp(k, "addrs6") == 0)
		return push6_list(L, n->addrs6, n->naddrs6);
	return router_field(L, m, n, k);
}
