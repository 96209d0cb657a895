/* SPDX-License-Identifier: MIT */
/*
 * natlab.proc: a process a scenario started inside a host (host:spawn{...}). Its stdout
 * and stderr go to <out>/logs/<host>-<name>.log; stdout lines are also kept for
 * proc:wait_line and passed to an on_line callback.
 */
#ifndef NATLAB_LUA_PROC_H
#define NATLAB_LUA_PROC_H

#include <lua.h>

/* Registers the natlab.proc type. */
void lua_proc_open(lua_State *L);

/*
 * host:spawn{ "cmd", "arg", ..., name = "x", env = { K = "v" }, on_line = function(line) }
 * for the host node at index node. Needs `natlab run` (a log directory and a loop).
 */
int lua_proc_spawn(lua_State *L, int node);

/* The hidden command `natlab __enter NETNS CMD ARGS...` that spawn runs through. */
int cmd_enter(int argc, char **argv);

#endif
