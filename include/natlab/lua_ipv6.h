/* SPDX-License-Identifier: MIT */
/*
 * The IPv6 parts of the scenario API (docs/scenarios.md, "IPv6"): the keys lab:internet,
 * lab:host and lab:nat take for it, and the nodes' IPv6 fields.
 */
#ifndef NATLAB_LUA_IPV6_H
#define NATLAB_LUA_IPV6_H

#include "natlab/model.h"

#include <lua.h>

/* lab:internet{ ipv6 = true, prefix6 = "..." } at idx: turns IPv6 on in m, or raises. */
void lua_ipv6_internet(lua_State *L, int idx, const char *fn, struct lab_model *m);

/*
 * lab:host{} / lab:nat{} (kind) at idx: ipv6 (true, false, "only"), addr6, and for a NAT
 * lan6, into the IPv6 fields of a scratch node n (zeroed first). Raises on a malformed
 * value, so call it before the node is added; lua_ipv6_copy moves the fields over.
 */
void lua_ipv6_node(lua_State *L, int idx, const char *fn, enum lab_node_kind kind,
                   struct lab_node *n);
void lua_ipv6_copy(const struct lab_node *from, struct lab_node *to);

/*
 * After node i was assigned: an IPv6 knob given at idx (filtering6, nptv6) on a NAT whose
 * LAN has no IPv6 would do nothing: returns 0, or -EINVAL with a sentence in err.
 */
int lua_ipv6_knobs_check(lua_State *L, int idx, const struct lab_model *m, int i, char *err,
                         size_t errlen);

/* Pushes node n's IPv6 field k (addr6, addrs6, lan6, ...) and returns 1, or returns 0. */
int lua_ipv6_field(lua_State *L, const struct lab_model *m, const struct lab_node *n,
                   const char *k);

#endif
