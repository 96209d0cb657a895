/* SPDX-License-Identifier: MIT */
/* The natlab.node Lua type (lua_node.c). */
#ifndef NATLAB_LUA_NODE_H
#define NATLAB_LUA_NODE_H

#include <lua.h>

void lua_node_open(lua_State *L);
/* Pushes a node object for model node index. */
void lua_node_push(lua_State *L, int index);
/* The model index of the node at idx; raises naming fn and key if it is not a node. */
int lua_node_check(lua_State *L, int idx, const char *fn, const char *key);

struct nat_knobs;
/*
 * Reads { profile = ..., knob = ... } at idx into *k and profile (lua_lab.c); unknown
 * keys and bad values raise errors naming fn.
 */
void lua_lab_read_knobs(lua_State *L, int idx, const char *fn, struct nat_knobs *k, char *profile,
                        size_t len);

struct wire_impairment;
/* Reads a link table at idx into *imp (lua_lab.c); bad keys and values raise errors. */
void lua_lab_read_link(lua_State *L, int idx, const char *fn, struct wire_impairment *imp);

#endif
