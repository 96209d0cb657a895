/* SPDX-License-Identifier: MIT */
#include "natlab/lua_opts.h"
#include "natlab/units.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

void lua_opts_check(lua_State *L, int idx, const char *fn, const char *const *allowed)
{
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *k;
		int ok = 0;

		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s: option keys must be names, got a %s", fn,
			           luaL_typename(L, -1));
		k = lua_tostring(L, -1);
		for (int i = 0; allowed[i] && !ok; i++)
			ok = strcmp(allowed[i], k) == 0;
		if (!ok)
			luaL_error(L, "%s: unknown key \"%s\"", fn, k);
	}
}

const char *lua_opts_string(lua_State *L, int idx, const char *fn, const char *key, const char *def)
{
	const char *v = def;

	if (lua_getfield(L, idx, key) != LUA_TNIL) {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s: \"%s\" must be a string, got a %s", fn, key,
			           luaL_typename(L, -1));
		v = lua_tostring(L, -1);
	}
	/* The string stays reachable from the option table, so popping it is safe. */
	lua_pop(L, 1);
	return v;
}

lua_Integer lua_opts_integer(lua_State *L, int idx, const char *fn, const char *key,
                             lua_Integer def, lua_Integer min, lua_Integer max)
{
	lua_Integer v = def;
	int isint;

	if (lua_getfield(L, idx, key) != LUA_TNIL) {
		v = lua_tointegerx(L, -1, &isint);
		if (!isint || lua_type(L, -1) != LUA_TNUMBER)
			luaL_error(L, "%s: \"%s\" must be an integer", fn, key);
		if (v < min || v > max)
			luaL_error(L, "%s: \"%s\" must be between %I and %I, got %I", fn, key,
			           (LUAI_UACINT)min, (LUAI_UACINT)max, (LUAI_UACINT)v);
	}
	lua_pop(L, 1);
	return v;
}

int lua_opts_boolean(lua_State *L, int idx, const char *fn, const char *key, int def)
{
	int v = def;

	switch (lua_getfield(L, idx, key)) {
	case LUA_TNIL:
		break;
	case LUA_TBOOLEAN:
		v = lua_toboolean(L, -1);
		break;
	case LUA_TSTRING:
		if (strcmp(lua_tostring(L, -1), "on") == 0)
			v = 1;
		else if (strcmp(lua_tostring(L, -1), "off") == 0)
			v = 0;
		else
			luaL_error(L, "%s: \"%s\" must be true/false or \"on\"/\"off\"", fn, key);
		break;
	default:
		luaL_error(L, "%s: \"%s\" must be true/false or \"on\"/\"off\"", fn, key);
	}
	lua_pop(L, 1);
	return v;
}

double lua_opts_duration(lua_State *L, int idx, const char *fn, const char *key, double def,
                         double min, double max)
{
	double v = def;

	switch (lua_getfield(L, idx, key)) {
	case LUA_TNIL:
		break;
	case LUA_TNUMBER:
		v = lua_tonumber(L, -1);
		break;
	case LUA_TSTRING:
		if (lab_duration_parse(lua_tostring(L, -1), &v) < 0)
			luaL_error(L,
			           "%s: \"%s\" = \"%s\" is not a duration (e.g. \"30s\", \"2m\")",
			           fn, key, lua_tostring(L, -1));
		break;
	default:
		luaL_error(L, "%s: \"%s\" must be a duration, got a %s", fn, key,
		           luaL_typename(L, -1));
	}
	/* Checked as parsed, before anyone converts it: NaN fails both comparisons. */
	if (!(v >= min && v <= max)) {
		const char *q = lua_type(L, -1) == LUA_TSTRING ? "\"" : "";
		char lo[32], hi[32];

		/* %.15g says 86400, not Lua's 86400.0; 32 bytes hold any double. */
		snprintf(lo, sizeof(lo), "%.15g", min);
		snprintf(hi, sizeof(hi), "%.15g", max);
		luaL_error(L, "%s: \"%s\" must be between %s s and %s s, got %s%s%s", fn, key, lo,
		           hi, q, luaL_tolstring(L, -1, NULL), q);
	}
	lua_pop(L, 1);
	return v;
}
