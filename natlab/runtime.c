/* SPDX-License-Identifier: MIT */
#include "natlab/runtime.h"
#include "natlab/log.h"
#include "natlab/lua_opts.h"
#include "natlab/units.h"
#include "natlab/util.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char runtime_key = 'R';

/*
 * Signals set a flag at once (the synchronous topology build and the Lua hook check it)
 * and wake the loop through an async handle, which is safe to signal from a handler.
 */
static volatile sig_atomic_t runtime_signal;
static uv_async_t *runtime_wake;

struct sleep_op {
	uv_timer_t timer;
	struct runtime *rt;
};

struct runtime *runtime_from_lua(lua_State *L)
{
	struct runtime *rt;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &runtime_key);
	rt = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return rt;
}

double runtime_now_ms(struct runtime *rt)
{
	return (double)(uv_hrtime() / 1000) / 1000.0 - (double)rt->t0_ms;
}

static void stop_with(struct runtime *rt, const char *why)
{
	if (!rt->stopped && !rt->finished)
		rt->stopped = strdup(why);
	uv_stop(&rt->loop);
}

static void deadline_cb(uv_timer_t *t)
{
	struct runtime *rt = container_of(t, struct runtime, deadline);
	char why[128];

	snprintf(why, sizeof(why), "the scenario ran past its time limit of %.0f s",
	         (double)uv_timer_get_repeat(t) / 1000.0);
	stop_with(rt, why);
}

static void signal_handler(int signum)
{
	runtime_signal = signum;
	if (runtime_wake)
		uv_async_send(runtime_wake);
}

static void wake_cb(uv_async_t *a)
{
	struct runtime *rt = a->data;
	int signum = runtime_signal;

	if (!signum || rt->signals)
		return;
	rt->signals++;
	log_warnx("%s: stopping the scenario and tearing the lab down",
	          signum == SIGINT ? "interrupted" : "terminated");
	stop_with(rt, signum == SIGINT ? "interrupted (SIGINT)" : "terminated by a signal");
}

static void signals_set(void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void runtime_signals_catch(void)
{
	signals_set(signal_handler);
}

volatile sig_atomic_t *runtime_stop_flag(void)
{
	return &runtime_signal;
}

int runtime_init(struct runtime *rt, lua_State *L, double deadline_s)
{
	int rc;

	memset(rt, 0, sizeof(*rt));
	rt->L = L;
	rt->co_ref = LUA_NOREF;
	rc = uv_loop_init(&rt->loop);
	if (rc < 0)
		return rc;
	rt->t0_ms = uv_hrtime() / 1000000;
	uv_timer_init(&rt->loop, &rt->deadline);
	if (deadline_s > 0) {
		uint64_t ms = (uint64_t)(deadline_s * 1000);

		uv_timer_start(&rt->deadline, deadline_cb, ms, ms);
	}
	uv_unref((uv_handle_t *)&rt->deadline);
	uv_async_init(&rt->loop, &rt->wake, wake_cb);
	rt->wake.data = rt;
	uv_unref((uv_handle_t *)&rt->wake);
	runtime_wake = &rt->wake;
	signals_set(signal_handler);
	if (runtime_signal)
		uv_async_send(&rt->wake);
	lua_pushlightuserdata(L, rt);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &runtime_key);
	return 0;
}

static void fail_with_traceback(struct runtime *rt)
{
	const char *msg = lua_tostring(rt->co, -1);

	luaL_traceback(rt->L, rt->co, msg ? msg : "(error object is not a string)", 0);
	rt->error = strdup(lua_tostring(rt->L, -1));
	lua_pop(rt->L, 1);
}

void runtime_resume(struct runtime *rt, int nargs)
{
	int nres = 0, status;

	if (rt->finished || rt->stopped) {
		lua_pop(rt->co, nargs);
		return;
	}
	status = lua_resume(rt->co, rt->L, nargs, &nres);
	if (status == LUA_YIELD) {
		lua_pop(rt->co, nres);
		return;
	}
	if (status != LUA_OK)
		fail_with_traceback(rt);
	rt->finished = 1;
	uv_stop(&rt->loop);
}

int runtime_run(struct runtime *rt)
{
	rt->co = lua_newthread(rt->L);
	rt->co_ref = luaL_ref(rt->L, LUA_REGISTRYINDEX);
	lua_xmove(rt->L, rt->co, 1);
	runtime_resume(rt, 0);
	if (runtime_signal && !rt->finished)
		wake_cb(&rt->wake);
	while (!rt->finished && !rt->stopped) {
		/* Only the scenario's waits keep the loop alive: if none is pending, it is stuck.
		 */
		if (uv_run(&rt->loop, UV_RUN_DEFAULT) == 0 && !rt->finished && !rt->stopped)
			stop_with(rt, "the scenario waits for nothing that can happen");
	}
	return rt->finished && !rt->error ? 0 : -1;
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void runtime_child_add(struct runtime *rt, struct runtime_child *c)
{
	c->next = rt->children;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &rt->children;
	rt->children = c;
}

void runtime_child_remove(struct runtime_child *c)
{
	if (!c->pprev)
		return;
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	c->pprev = NULL;
}

void runtime_close(struct runtime *rt)
{
	for (struct runtime_child *c = rt->children, *next; c; c = next) {
		next = c->next;
		c->close(c);
	}
	/* Teardown is over: signals get their default meaning back. */
	runtime_wake = NULL;
	signals_set(SIG_DFL);
	uv_walk(&rt->loop, close_walk_cb, NULL);
	/* A pending uv_stop() makes the first uv_run return at once: run until idle. */
	while (uv_run(&rt->loop, UV_RUN_DEFAULT) != 0)
		;
	if (uv_loop_close(&rt->loop) < 0)
		log_debug("runtime: the loop still had handles at close");
	if (rt->co_ref != LUA_NOREF)
		luaL_unref(rt->L, LUA_REGISTRYINDEX, rt->co_ref);
	free(rt->error);
	free(rt->stopped);
	rt->error = rt->stopped = NULL;
}

void runtime_check_wait(lua_State *L, const char *fn)
{
	struct runtime *rt = runtime_from_lua(L);

	if (!rt || L != rt->co || !lua_isyieldable(L))
		luaL_error(L, "%s: can only wait in the scenario itself, not in a callback", fn);
}

static void sleep_close_cb(uv_handle_t *h)
{
	free(container_of((uv_timer_t *)h, struct sleep_op, timer));
}

static void sleep_cb(uv_timer_t *t)
{
	struct sleep_op *op = container_of(t, struct sleep_op, timer);
	struct runtime *rt = op->rt;

	uv_close((uv_handle_t *)t, sleep_close_cb);
	runtime_resume(rt, 0);
}

/* natlab.sleep(duration): yields to the loop for that long. */
static int natlab_sleep(lua_State *L)
{
	struct runtime *rt = runtime_from_lua(L);
	struct sleep_op *op;
	double s;

	lua_settop(L, 1);
	lua_newtable(L);
	lua_insert(L, 1);
	lua_setfield(L, 1, "d");
	s = lua_opts_duration(L, 1, "natlab.sleep", "d", 0, 0, LAB_DURATION_MAX);
	runtime_check_wait(L, "natlab.sleep");
	op = malloc(sizeof(*op));
	if (!op)
		return luaL_error(L, "natlab.sleep: out of memory");
	op->rt = rt;
	uv_timer_init(&rt->loop, &op->timer);
	/* The loop's clock is cached and the script may have run a while: refresh it. */
	uv_update_time(&rt->loop);
	uv_timer_start(&op->timer, sleep_cb, (uint64_t)(s * 1000 + 0.5), 0);
	return lua_yield(L, 0);
}

/* natlab.time(): seconds since the run started, monotonic. */
static int natlab_time(lua_State *L)
{
	lua_pushnumber(L, runtime_now_ms(runtime_from_lua(L)) / 1000.0);
	return 1;
}

void runtime_lua_open(lua_State *L, struct runtime *rt)
{
	lua_getglobal(L, "natlab");
	lua_pushcfunction(L, natlab_sleep);
	lua_setfield(L, -2, "sleep");
	lua_pushcfunction(L, natlab_time);
	lua_setfield(L, -2, "time");
	lua_pop(L, 1);
}
