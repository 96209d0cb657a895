/* SPDX-License-Identifier: MIT */
/* expect, expect_eq and result for scenarios (lua_results.c). */
#ifndef NATLAB_LUA_RESULTS_H
#define NATLAB_LUA_RESULTS_H

#include <lua.h>

void lua_results_open(lua_State *L);

#endif
