/* SPDX-License-Identifier: MIT */
/*
 * Option tables of the scenario API: `lab:host{ name = "a", net = inet }`. Every key
 * is checked against the allowed ones, so a typo is an error naming file and line,
 * and values are type-checked before any resource is taken (Lua errors longjmp).
 */
#ifndef NATLAB_LUA_OPTS_H
#define NATLAB_LUA_OPTS_H

#include <lua.h>

/* Raises "<fn>: unknown key \"k\"" for a key not in allowed (NULL-terminated). */
void lua_opts_check(lua_State *L, int idx, const char *fn, const char *const *allowed);
/* String option or def when absent; raises if present with another type. */
const char *lua_opts_string(lua_State *L, int idx, const char *fn, const char *key,
                            const char *def);
/* Integer option in [min, max] or def when absent. */
lua_Integer lua_opts_integer(lua_State *L, int idx, const char *fn, const char *key,
                             lua_Integer def, lua_Integer min, lua_Integer max);
/* Boolean option; also accepts "on"/"off". */
int lua_opts_boolean(lua_State *L, int idx, const char *fn, const char *key, int def);
/*
 * Duration option (number of seconds or "30s", "2m", ...), in seconds, in [min, max] or
 * def when absent; raises naming the value otherwise (NaN and infinities included).
 */
double lua_opts_duration(lua_State *L, int idx, const char *fn, const char *key, double def,
                         double min, double max);

#endif
