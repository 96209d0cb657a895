/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the JSON the harness reads from processes in a lab (natlab-peer's and the
 * adapters' event lines, natlab probe's output): natlab.json_decode, i.e. jansson's
 * parser and the conversion into Lua values (natlab/lua_json.c), then back to JSON as
 * a result{} does. One Lua state for all inputs, as a scenario has.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lualib.h>

#include "natlab/lua_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int decode_and_back(lua_State *L)
{
	json_t *j;

	lua_pushcfunction(L, lua_json_decode);
	lua_pushvalue(L, 1);
	lua_call(L, 1, 2);
	if (!lua_isnil(L, -2)) {
		j = lua_json_from(L, -2, "fuzz");
		json_decref(j);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lua_State *L;

	if (!L)
		L = luaL_newstate();
	if (!L)
		return 0;
	lua_settop(L, 0);
	lua_pushcfunction(L, decode_and_back);
	lua_pushlstring(L, (const char *)data, size);
	/* Lua errors (too deep, say) are answers, not crashes. */
	lua_pcall(L, 1, 0, 0);
	lua_settop(L, 0);
	return 0;
}
