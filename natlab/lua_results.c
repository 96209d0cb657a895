/* SPDX-License-Identifier: MIT */
/*
 * expect(cond, name), expect_eq(got, want, name) and result{...}: what a scenario
 * asserts and measures. Each expectation is a TAP line at once; figures go to report.json.
 */
#include "natlab/lua_results.h"
#include "natlab/lua_json.h"
#include "natlab/runtime.h"
#include "natlab/scenario.h"

#include <lauxlib.h>
#include <string.h>

static const char *where(lua_State *L, char *buf, size_t len)
{
	lua_Debug ar;

	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
		snprintf(buf, len, "%s:%d", ar.short_src, ar.currentline);
		return buf;
	}
	return NULL;
}

/* A failed expectation: what the NATs hold at that moment, to read beside it. */
static int expect_done(lua_State *L, struct scenario *s, int ok, const char *name, const char *at)
{
	char file[32], reason[1024];

	snprintf(reason, sizeof(reason), "expectation %d %s: %s%s%s", s->results.count,
	         ok ? "held" : "failed", name, at && !ok ? " at " : "", at && !ok ? at : "");
	/* Expectations are moments in the lab's capture, beside the packets around them. */
	capture_set_comment(&s->captures, reason);
	timeline_event(&s->timeline, "scenario", ok ? "held" : "failed", reason);
	if (!ok) {
		snprintf(file, sizeof(file), "fail-%d", s->results.count);
		scenario_nat_snapshot(s, file, reason);
	}
	lua_pushboolean(L, ok);
	return 1;
}

static int lua_expect(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	const char *name = luaL_optstring(L, 2, "expectation");
	char at[512];

	luaL_checkany(L, 1);
	return expect_done(
	    L, s,
	    results_expect(&s->results, lua_toboolean(L, 1), name, where(L, at, sizeof(at)), NULL),
	    name, where(L, at, sizeof(at)));
}

static int lua_expect_eq(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	const char *name = luaL_optstring(L, 3, "values are equal");
	int ok = lua_compare(L, 1, 2, LUA_OPEQ);
	char at[512];

	luaL_checkany(L, 2);
	/* luaL_tolstring pushes each string: the diagnostic ends up on top. */
	lua_pushfstring(L, "got:      %s\nexpected: %s", luaL_tolstring(L, 1, NULL),
	                luaL_tolstring(L, 2, NULL));
	return expect_done(
	    L, s,
	    results_expect(&s->results, ok, name, where(L, at, sizeof(at)), lua_tostring(L, -1)),
	    name, where(L, at, sizeof(at)));
}

/* result{ name = "x", rtt_ms = 3.2, ... } records the table into report.json. */
static int lua_result(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	json_t *obj;

	luaL_checktype(L, 1, LUA_TTABLE);
	obj = lua_json_from(L, 1, "result");
	if (!json_is_object(obj)) {
		json_decref(obj);
		return luaL_error(L, "result: give a table of named figures");
	}
	results_record(&s->results, obj);
	return 0;
}

/*
 * natlab.mark(name[, clock_ms]): the phase name ended now, or at clock_ms (CLOCK_MONOTONIC
 * milliseconds, as natlab-peer's events tell: started.clock_ms + t_ms), for report.json's
 * phases. Only a run keeps marks: a plan or a check has no clock to put them on.
 */
static int lua_mark(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	const char *name = luaL_checkstring(L, 1);
	double clock_ms = luaL_optnumber(L, 2, -1);

	if (!*name)
		return luaL_argerror(L, 1, "natlab.mark: a phase needs a name");
	if (lua_gettop(L) >= 2 && !(clock_ms >= s->results.clock_ms))
		return luaL_error(L,
		                  "natlab.mark: %s: clock_ms %f is before the run started "
		                  "(%f): give CLOCK_MONOTONIC milliseconds",
		                  name, clock_ms, s->results.clock_ms);
	if (s->mode != SCENARIO_RUN || !s->rt)
		return 0;
	results_mark(&s->results, name,
	             clock_ms >= 0 ? clock_ms - s->results.clock_ms : runtime_now_ms(s->rt));
	return 0;
}

void lua_results_open(lua_State *L)
{
	lua_register(L, "expect", lua_expect);
	lua_register(L, "expect_eq", lua_expect_eq);
	lua_register(L, "result", lua_result);
	lua_getglobal(L, "natlab");
	lua_pushcfunction(L, lua_mark);
	lua_setfield(L, -2, "mark");
	lua_pop(L, 1);
}
