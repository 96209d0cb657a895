/* SPDX-License-Identifier: MIT */
/*
 * The scenario's event loop: the script runs as a Lua coroutine and every wait (sleep,
 * process exit, a matching output line, a time limit) is a yield that a libuv callback
 * resumes. Nothing in a scenario blocks the loop.
 */
#ifndef NATLAB_RUNTIME_H
#define NATLAB_RUNTIME_H

#include <lua.h>
#include <signal.h>
#include <uv.h>

/*
 * Something that owns handles on the loop (a spawned process): at runtime_close it is
 * asked to close them with its own callbacks, so it can free itself.
 */
struct runtime_child {
	struct runtime_child *next, **pprev;
	void (*close)(struct runtime_child *c);
};

struct runtime {
	uv_loop_t loop;
	lua_State *L;  /* the main state */
	lua_State *co; /* the scenario coroutine */
	int co_ref;
	int finished;  /* the coroutine returned or failed */
	char *error;   /* malloc'd message (first line file:line) if it failed */
	char *stopped; /* malloc'd reason if the run was cut short (limit, signal) */
	uv_timer_t deadline;
	uv_async_t wake; /* a signal arrived */
	int signals;
	uint64_t t0_ms;
	struct runtime_child *children;
	int kept; /* a daemon keeps the lab: closing must leave its processes running */
};

void runtime_child_add(struct runtime *rt, struct runtime_child *c);
void runtime_child_remove(struct runtime_child *c);

/*
 * Sets up the loop, the deadline (seconds, 0 = none) and signal handling: SIGINT,
 * SIGTERM and SIGHUP stop the scenario (the lab is torn down by the caller); the
 * default actions come back in runtime_close.
 */
int runtime_init(struct runtime *rt, lua_State *L, double deadline_s);

/*
 * Runs the function on top of L's stack as the scenario coroutine until it returns,
 * fails or the run is stopped (deadline, signal). Returns 0 if it returned normally.
 */
int runtime_run(struct runtime *rt);

/* Resumes the scenario with nargs values pushed on rt->co. For wait callbacks. */
void runtime_resume(struct runtime *rt, int nargs);

/* Closes every handle and the loop. Call after the lab's processes are gone. */
void runtime_close(struct runtime *rt);

struct runtime *runtime_from_lua(lua_State *L);
/* Non-zero (the signal number) once a signal asked the run to stop. */
volatile sig_atomic_t *runtime_stop_flag(void);

/*
 * SIGINT, SIGTERM and SIGHUP only set the stop flag (no SA_RESTART: a blocking read
 * returns EINTR), outside any run: a matrix worker between cells, holding a kept lab.
 */
void runtime_signals_catch(void);
/* Raises a Lua error unless L is the scenario coroutine and may wait. */
void runtime_check_wait(lua_State *L, const char *fn);
/* Milliseconds since the runtime started. */
double runtime_now_ms(struct runtime *rt);

/* Registers natlab.sleep and natlab.time. */
void runtime_lua_open(lua_State *L, struct runtime *rt);

#endif
