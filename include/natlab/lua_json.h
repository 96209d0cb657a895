/* SPDX-License-Identifier: MIT */
/* Lua values <-> JSON (jansson), for result{} and for JSON Lines from processes. */
#ifndef NATLAB_LUA_JSON_H
#define NATLAB_LUA_JSON_H

#include <jansson.h>
#include <lua.h>

/* Pushes j as a Lua value: objects and arrays become tables, null becomes nil. */
void lua_json_push(lua_State *L, const json_t *j);

/*
 * The value at idx as JSON: a table with a non-empty array part becomes an array, other
 * tables objects (string keys only). Raises a Lua error naming fn for what JSON cannot
 * hold; a new reference otherwise.
 */
json_t *lua_json_from(lua_State *L, int idx, const char *fn);

/* natlab.json_decode(text): the document as a Lua value; nil and a message if invalid. */
int lua_json_decode(lua_State *L);

#endif
