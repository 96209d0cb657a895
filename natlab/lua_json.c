/* SPDX-License-Identifier: MIT */
#include "natlab/lua_json.h"

#include <lauxlib.h>

#define JSON_DEPTH_MAX 32

static void push_depth(lua_State *L, const json_t *j, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	luaL_checkstack(L, 4, "JSON nesting");
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		lua_createtable(L, 0, (int)json_object_size(j));
		if (depth < JSON_DEPTH_MAX)
			json_object_foreach((json_t *)j, k, v)
			{
				push_depth(L, v, depth + 1);
				lua_setfield(L, -2, k);
			}
		break;
	case JSON_ARRAY:
		lua_createtable(L, (int)json_array_size(j), 0);
		if (depth < JSON_DEPTH_MAX)
			json_array_foreach((json_t *)j, i, v)
			{
				push_depth(L, v, depth + 1);
				lua_rawseti(L, -2, (lua_Integer)i + 1);
			}
		break;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(j));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(j));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		lua_pushboolean(L, json_is_true(j));
		break;
	default:
		lua_pushnil(L);
	}
}

void lua_json_push(lua_State *L, const json_t *j)
{
	push_depth(L, j, 0);
}

/*
 * Raises what lua_json_from() refuses, before anything is built: an error raised while
 * building would jump past the partly built parents and leak them (fuzz_json found it).
 */
static void check_depth(lua_State *L, int idx, const char *fn, int depth)
{
	size_t n;

	switch (lua_type(L, idx)) {
	case LUA_TNIL:
	case LUA_TBOOLEAN:
	case LUA_TNUMBER:
	case LUA_TSTRING:
		return;
	case LUA_TTABLE:
		break;
	default:
		luaL_error(L, "%s: cannot record a %s", fn, luaL_typename(L, idx));
	}
	if (depth > JSON_DEPTH_MAX)
		luaL_error(L, "%s: tables nest deeper than %d", fn, JSON_DEPTH_MAX);
	luaL_checkstack(L, 3, "JSON nesting");
	n = lua_rawlen(L, idx);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		check_depth(L, lua_gettop(L), fn, depth + 1);
		lua_pop(L, 1);
	}
	if (n)
		return;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "%s: keys must be strings (or a plain list)", fn);
		check_depth(L, lua_gettop(L), fn, depth + 1);
		lua_pop(L, 1);
	}
}

/* Builds what check_depth() accepted: raises nothing. */
static json_t *from_depth(lua_State *L, int idx)
{
	size_t n;
	json_t *out;

	switch (lua_type(L, idx)) {
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		return lua_isinteger(L, idx) ? json_integer(lua_tointeger(L, idx))
		                             : json_real(lua_tonumber(L, idx));
	case LUA_TSTRING:
		return json_string(lua_tostring(L, idx));
	case LUA_TTABLE:
		break;
	default:
		return json_null();
	}
	n = lua_rawlen(L, idx);
	out = n ? json_array() : json_object();
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		json_array_append_new(out, from_depth(L, lua_gettop(L)));
		lua_pop(L, 1);
	}
	if (n)
		return out;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		json_object_set_new(out, lua_tostring(L, -2), from_depth(L, lua_gettop(L)));
		lua_pop(L, 1);
	}
	return out;
}

json_t *lua_json_from(lua_State *L, int idx, const char *fn)
{
	idx = lua_absindex(L, idx);
	check_depth(L, idx, fn, 0);
	return from_depth(L, idx);
}

/* natlab.json_decode(text): the JSON document as a Lua value, or nil and the error. */
int lua_json_decode(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	json_error_t err;
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &err);

	if (!j) {
		lua_pushnil(L);
		lua_pushfstring(L, "line %d: %s", err.line, err.text);
		return 2;
	}
	lua_json_push(L, j);
	json_decref(j);
	return 1;
}
