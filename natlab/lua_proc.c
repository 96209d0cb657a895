/* SPDX-License-Identifier: MIT */
#include "natlab/lua_proc.h"
#include "natlab/confine.h"
#include "natlab/nat64.h"
#include "natlab/log.h"
#include "natlab/lua_json.h"
#include "natlab/lua_opts.h"
#include "natlab/netns.h"
#include "natlab/outdir.h"
#include "natlab/runtime.h"
#include "natlab/scenario.h"
#include "natlab/units.h"
#include "natlab/util.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_MT        "natlab.proc"
#define PROC_ARGS_MAX  256
#define PROC_LINES_MAX 100000 /* kept for wait_line; older lines are dropped */
#define PROC_LINE_MAX  65536

enum proc_wait { WAIT_NONE, WAIT_EXIT, WAIT_LINE, WAIT_EVENT };

struct lab_proc;

/* The Lua side: outlives the process, so wait() after exit still answers. */
struct proc_box {
	struct lab_proc *p; /* NULL once the process is gone and its handles closed */
	int exited;
	int64_t status;
	int term_signal;
	int pid;
	int json;              /* stdout is JSON Lines: objects become events */
	int cursor;            /* wait_line scans lines after this one */
	int ecursor;           /* wait_event scans events after this one */
	char match_error[256]; /* why the last scan stopped: its match function raised */
};

struct lab_proc {
	struct runtime_child child;
	uv_process_t proc;
	uv_pipe_t out;
	uv_pipe_t err;
	uv_timer_t timer;
	struct runtime *rt;
	struct proc_box *box;
	int box_ref;     /* keeps the box alive while the process runs */
	int lines_ref;   /* Lua table of stdout lines */
	int on_line_ref; /* callback or LUA_NOREF */
	int log_fd;
	int open_handles;
	enum proc_wait waiting;
	int nlines;
	int pattern_ref; /* wait_line pattern, or wait_event matcher */
	int json;        /* stdout is JSON Lines: objects become events */
	int events_ref;  /* Lua table of decoded events */
	int nevents;
	char label[64]; /* "host/name", for the events it writes into the lab's capture */
	char line[PROC_LINE_MAX];
	size_t linelen;
};

static void proc_free_if_done(struct lab_proc *p)
{
	lua_State *L = p->rt->L;

	if (p->open_handles > 0)
		return;
	runtime_child_remove(&p->child);
	if (p->box) {
		/* Lines and events outlive the process: they move to the Lua object. */
		lua_rawgeti(L, LUA_REGISTRYINDEX, p->box_ref);
		if (p->json)
			lua_rawgeti(L, LUA_REGISTRYINDEX, p->events_ref);
		else
			lua_pushnil(L);
		lua_setiuservalue(L, -2, 1);
		lua_rawgeti(L, LUA_REGISTRYINDEX, p->lines_ref);
		lua_setiuservalue(L, -2, 2);
		lua_pop(L, 1);
		p->box->p = NULL;
	}
	luaL_unref(L, LUA_REGISTRYINDEX, p->lines_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, p->events_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, p->on_line_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, p->pattern_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, p->box_ref);
	if (p->log_fd >= 0)
		close(p->log_fd);
	free(p);
}

static void handle_closed_cb(uv_handle_t *h)
{
	struct lab_proc *p = h->data;

	p->open_handles--;
	proc_free_if_done(p);
}

static void close_handle(struct lab_proc *p, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, handle_closed_cb);
}

/* A wait that cannot be satisfied returns nil and why. */
static int push_fail(lua_State *L, const char *why)
{
	lua_pushnil(L);
	lua_pushstring(L, why);
	return 2;
}

/* Pushes what wait() returns: the exit status, or nil and the signal that killed it. */
static int push_exit(lua_State *L, const struct proc_box *b)
{
	if (b->term_signal) {
		lua_pushnil(L);
		lua_pushfstring(L, "killed by signal %d", b->term_signal);
		return 2;
	}
	lua_pushinteger(L, (lua_Integer)b->status);
	return 1;
}

static void wait_done(struct lab_proc *p, int nargs)
{
	p->waiting = WAIT_NONE;
	uv_timer_stop(&p->timer);
	runtime_resume(p->rt, nargs);
}

static void split_lines(struct lab_proc *p, const char *data, size_t n);
static void on_line(struct lab_proc *p, const char *line, size_t len);

/*
 * What the process wrote before it exited may still sit in the pipe when its exit is
 * reported: read it now, so that a pending wait_line or wait_event sees those lines
 * before it is told "exited". The pipe is non-blocking; a child the process left behind
 * may hold it open (EAGAIN), and then its later lines come through read_cb as usual.
 */
static void drain_out(struct lab_proc *p)
{
	static char buf[65536];
	ssize_t n;
	int fd;

	if (uv_is_closing((uv_handle_t *)&p->out) || uv_fileno((uv_handle_t *)&p->out, &fd) < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (write(p->log_fd, buf, (size_t)n) != n)
			log_debug("proc log: %s", strerror(errno));
		split_lines(p, buf, (size_t)n);
	}
	if (n == 0 && p->linelen) {
		on_line(p, p->line, p->linelen);
		p->linelen = 0;
	}
}

static void exit_cb(uv_process_t *h, int64_t status, int term_signal)
{
	struct lab_proc *p = container_of(h, struct lab_proc, proc);

	if (p->waiting == WAIT_LINE || p->waiting == WAIT_EVENT)
		drain_out(p);
	p->box->exited = 1;
	p->box->status = status;
	p->box->term_signal = term_signal;
	log_debug("process %d exited: status %lld, signal %d", p->box->pid, (long long)status,
	          term_signal);
	if (p->waiting == WAIT_EXIT)
		wait_done(p, push_exit(p->rt->co, p->box));
	else if (p->waiting == WAIT_LINE || p->waiting == WAIT_EVENT)
		wait_done(p, push_fail(p->rt->co, "exited"));
	close_handle(p, (uv_handle_t *)&p->proc);
	close_handle(p, (uv_handle_t *)&p->timer);
}

/* Pops the item and the error under it; says what went wrong in err. */
static int match_raised(lua_State *L, const char *what, char *err, size_t errlen)
{
	const char *why = lua_tostring(L, -1);

	snprintf(err, errlen, "%s: %s", what, why ? why : "(an error that is not a string)");
	lua_pop(L, 2);
	return -1;
}

/*
 * Does item i (1-based) of the table at index t match the matcher at index m: a Lua
 * pattern for lines; for events every field of a match table equal, or a predicate true?
 * -1 when the pattern or predicate raised: the message goes to err, and the wait ends
 * with it (a predicate's message, a string, must never read as true).
 */
static int item_matches(lua_State *L, int t, int i, int m, enum proc_wait what, char *err,
                        size_t errlen)
{
	int ok = 1;

	lua_rawgeti(L, t, i);
	if (what == WAIT_LINE) {
		lua_getglobal(L, "string");
		lua_getfield(L, -1, "find");
		lua_remove(L, -2);
		lua_pushvalue(L, -2);
		lua_pushvalue(L, m);
		if (lua_pcall(L, 2, 1, 0) != LUA_OK)
			return match_raised(L, "bad match pattern", err, errlen);
		ok = !lua_isnil(L, -1);
		lua_pop(L, 2);
		return ok;
	}
	if (lua_isfunction(L, m)) {
		lua_pushvalue(L, m);
		lua_pushvalue(L, -2);
		if (lua_pcall(L, 1, 1, 0) != LUA_OK)
			return match_raised(L, "match function raised", err, errlen);
		ok = lua_toboolean(L, -1);
		lua_pop(L, 2);
		return ok;
	}
	lua_pushnil(L);
	while (ok && lua_next(L, m)) {
		lua_pushvalue(L, -2);
		lua_gettable(L, -4);
		ok = lua_compare(L, -1, -2, LUA_OPEQ);
		lua_pop(L, 2);
	}
	if (!ok)
		lua_pop(L, 1); /* the key lua_next left */
	lua_pop(L, 1);
	return ok;
}

/*
 * Scans the items of the table at t after *cursor up to n; pushes the first match (1).
 * -1: the match function raised, b->match_error says how.
 */
static int scan_table(lua_State *L, int t, int n, struct proc_box *b, int m, enum proc_wait what)
{
	int *cursor = what == WAIT_LINE ? &b->cursor : &b->ecursor;
	int r;

	while (*cursor < n) {
		(*cursor)++;
		r = item_matches(L, t, *cursor, m, what, b->match_error, sizeof(b->match_error));
		if (r < 0)
			return -1;
		if (r) {
			lua_rawgeti(L, t, *cursor);
			return 1;
		}
	}
	return 0;
}

/*
 * Scans a running process's lines or events for its pending wait; the match goes to co
 * (1). -1: the match function raised (box->match_error).
 */
static int scan_live(struct lab_proc *p, enum proc_wait what)
{
	lua_State *L = p->rt->L;
	int top = lua_gettop(L), found;

	lua_rawgeti(L, LUA_REGISTRYINDEX, what == WAIT_LINE ? p->lines_ref : p->events_ref);
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->pattern_ref);
	found = scan_table(L, top + 1, what == WAIT_LINE ? p->nlines : p->nevents, p->box, top + 2,
	                   what);
	if (found > 0)
		lua_xmove(L, p->rt->co, 1);
	lua_settop(L, top);
	return found;
}

/*
 * Scans what the process printed, running or gone (then its lines and events live in the
 * box's user values), with the matcher at index m; pushes the match onto L (1); -1 when
 * the matcher raised (b->match_error).
 */
static int scan_box(lua_State *L, struct proc_box *b, enum proc_wait what, int m)
{
	int t, found;

	if (b->p)
		return scan_live(b->p, what);
	lua_getiuservalue(L, 1, what == WAIT_LINE ? 2 : 1);
	t = lua_gettop(L);
	found = scan_table(L, t, (int)lua_rawlen(L, t), b, m, what);
	lua_remove(L, t);
	return found;
}

/* A new line or event for the pending wait: it ends on a match or a raising matcher. */
static void scan_pending(struct lab_proc *p, enum proc_wait what)
{
	int found = scan_live(p, what);

	if (found > 0)
		wait_done(p, 1);
	else if (found < 0)
		wait_done(p, push_fail(p->rt->co, p->box->match_error));
}

/* JSON Lines: each object on stdout becomes an event (other lines stay lines only). */
static void on_json(struct lab_proc *p, const char *line, size_t len)
{
	lua_State *L = p->rt->L;
	json_t *j = json_loadb(line, len, 0, NULL);

	if (!json_is_object(j) || p->nevents >= PROC_LINES_MAX) {
		json_decref(j);
		return;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->events_ref);
	lua_json_push(L, j);
	lua_rawseti(L, -2, ++p->nevents);
	lua_pop(L, 1);
	/* An event (punch, path, ...) is a comment at its moment in the lab's pcapng. */
	if (json_object_get(j, "event")) {
		char text[PROC_LINE_MAX + 80];

		snprintf(text, sizeof(text), "%s: %.*s", p->label, (int)len, line);
		capture_set_comment(&scenario_from_lua(L)->captures, text);
		if (json_is_string(json_object_get(j, "event")))
			timeline_event(&scenario_from_lua(L)->timeline, p->label,
			               json_string_value(json_object_get(j, "event")),
			               text + strlen(p->label) + 2);
	}
	json_decref(j);
	if (p->waiting == WAIT_EVENT)
		scan_pending(p, WAIT_EVENT);
}

static void on_line(struct lab_proc *p, const char *line, size_t len)
{
	lua_State *L = p->rt->L;

	lua_rawgeti(L, LUA_REGISTRYINDEX, p->lines_ref);
	if (p->nlines < PROC_LINES_MAX) {
		lua_pushlstring(L, line, len);
		lua_rawseti(L, -2, ++p->nlines);
	}
	lua_pop(L, 1);
	if (p->on_line_ref != LUA_NOREF) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, p->on_line_ref);
		lua_pushlstring(L, line, len);
		if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
			log_warnx("on_line callback: %s", lua_tostring(L, -1));
			lua_pop(L, 1);
		}
	}
	if (p->waiting == WAIT_LINE)
		scan_pending(p, WAIT_LINE);
	if (p->json)
		on_json(p, line, len);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char chunk[65536];

	buf->base = chunk;
	buf->len = sizeof(chunk);
}

static void split_lines(struct lab_proc *p, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n' || p->linelen == sizeof(p->line)) {
			on_line(p, p->line, p->linelen);
			p->linelen = 0;
			if (data[i] == '\n')
				continue;
		}
		p->line[p->linelen++] = data[i];
	}
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct lab_proc *p = s->data;

	if (n > 0) {
		if (write(p->log_fd, buf->base, (size_t)n) != n)
			log_debug("proc log: %s", strerror(errno));
		if (s == (uv_stream_t *)&p->out)
			split_lines(p, buf->base, (size_t)n);
		return;
	}
	if (n < 0) {
		if (s == (uv_stream_t *)&p->out && p->linelen) {
			on_line(p, p->line, p->linelen);
			p->linelen = 0;
		}
		close_handle(p, (uv_handle_t *)s);
	}
}

static void timeout_cb(uv_timer_t *t)
{
	struct lab_proc *p = t->data;

	wait_done(p, push_fail(p->rt->co, "timeout"));
}

static struct proc_box *check_proc(lua_State *L)
{
	return luaL_checkudata(L, 1, PROC_MT);
}

static void wait_start(lua_State *L, struct lab_proc *p, enum proc_wait what, int opts,
                       const char *fn)
{
	double timeout = lua_istable(L, opts)
	                     ? lua_opts_duration(L, opts, fn, "timeout", 0, 0, LAB_DURATION_MAX)
	                     : 0;

	runtime_check_wait(L, fn);
	p->waiting = what;
	uv_update_time(&p->rt->loop);
	if (timeout > 0)
		uv_timer_start(&p->timer, timeout_cb, (uint64_t)(timeout * 1000 + 0.5), 0);
}

/* proc:wait{ timeout = "5s" } -> exit status | nil, "timeout" | nil, "killed by signal N" */
static int proc_wait(lua_State *L)
{
	static const char *const keys[] = { "timeout", NULL };
	struct proc_box *b = check_proc(L);

	if (lua_istable(L, 2))
		lua_opts_check(L, 2, "proc:wait", keys);
	if (b->exited)
		return push_exit(L, b);
	wait_start(L, b->p, WAIT_EXIT, 2, "proc:wait");
	return lua_yield(L, 0);
}

/*
 * wait_line and wait_event: lines and events printed earlier count, also once the process
 * has exited (docs/scenarios.md); only when none matches is it "exited", or a wait.
 */
static int proc_wait_for(lua_State *L, struct proc_box *b, enum proc_wait what, const char *fn)
{
	struct lab_proc *p = b->p;
	int found;

	lua_getfield(L, 2, "match");
	if (p) {
		luaL_unref(L, LUA_REGISTRYINDEX, p->pattern_ref);
		lua_pushvalue(L, -1);
		p->pattern_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	runtime_check_wait(L, fn);
	found = scan_box(L, b, what, lua_gettop(L));
	if (found < 0)
		return push_fail(L, b->match_error);
	if (found)
		return 1;
	if (b->exited)
		return push_fail(L, "exited");
	wait_start(L, p, what, 2, fn);
	return lua_yield(L, 0);
}

/* proc:wait_line{ match = "lua pattern", timeout = "5s" } -> line | nil, "timeout"|"exited" */
static int proc_wait_line(lua_State *L)
{
	static const char *const keys[] = { "match", "timeout", NULL };
	struct proc_box *b = check_proc(L);
	const char *pattern;

	lua_opts_check(L, 2, "proc:wait_line", keys);
	pattern = lua_opts_string(L, 2, "proc:wait_line", "match", NULL);
	if (!pattern)
		return luaL_error(L, "proc:wait_line: \"match\" (a Lua pattern) is required");
	return proc_wait_for(L, b, WAIT_LINE, "proc:wait_line");
}

/*
 * proc:wait_event{ match = { event = "path", kind = "direct" } | function(ev), timeout = }
 * -> the first event (a table) after the last one returned | nil, "timeout" | "exited".
 * Needs spawn{ ..., json = true }.
 */
static int proc_wait_event(lua_State *L)
{
	static const char *const keys[] = { "match", "timeout", NULL };
	struct proc_box *b = check_proc(L);

	lua_opts_check(L, 2, "proc:wait_event", keys);
	if (lua_getfield(L, 2, "match") != LUA_TTABLE && !lua_isfunction(L, -1))
		return luaL_error(L, "proc:wait_event: \"match\" must be a table of fields or a "
		                     "function");
	lua_pop(L, 1);
	if (!b->json)
		return luaL_error(L, "proc:wait_event: spawn the process with json = true");
	return proc_wait_for(L, b, WAIT_EVENT, "proc:wait_event");
}

/* proc:kill([signal]) sends a signal (default SIGTERM) to the process. */
static int proc_kill(lua_State *L)
{
	struct proc_box *b = check_proc(L);
	lua_Integer sig = luaL_optinteger(L, 2, SIGTERM);

	/* Checked before the cast: (int)(2^32 + 9) would be SIGKILL. */
	if (sig < 1 || sig > SIGRTMAX)
		return luaL_error(L, "proc:kill: signal must be 1-%d, got %I", (int)SIGRTMAX,
		                  (LUAI_UACINT)sig);
	if (b->p && !b->exited)
		uv_process_kill(&b->p->proc, (int)sig);
	return 0;
}

static int proc_index(lua_State *L)
{
	struct proc_box *b = check_proc(L);
	const char *k = luaL_checkstring(L, 2);

	if (strcmp(k, "pid") == 0)
		lua_pushinteger(L, b->pid);
	else if (strcmp(k, "exited") == 0)
		lua_pushboolean(L, b->exited);
	else if (strcmp(k, "events") == 0 && b->p)
		b->p->json ? (void)lua_rawgeti(L, LUA_REGISTRYINDEX, b->p->events_ref)
		           : lua_pushnil(L);
	else if (strcmp(k, "events") == 0)
		lua_getiuservalue(L, 1, 1);
	else if (strcmp(k, "lines") == 0 && b->p)
		lua_rawgeti(L, LUA_REGISTRYINDEX, b->p->lines_ref);
	else if (strcmp(k, "lines") == 0)
		lua_getiuservalue(L, 1, 2);
	else if (strcmp(k, "status") == 0 && b->exited && !b->term_signal)
		lua_pushinteger(L, (lua_Integer)b->status);
	else if (luaL_getmetafield(L, 1, "methods") != LUA_TNIL)
		lua_getfield(L, -1, k);
	else
		lua_pushnil(L);
	return 1;
}

void lua_proc_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "wait", proc_wait },
		{ "wait_line", proc_wait_line },
		{ "wait_event", proc_wait_event },
		{ "kill", proc_kill },
		{ NULL, NULL },
	};

	luaL_newmetatable(L, PROC_MT);
	lua_pushcfunction(L, proc_index);
	lua_setfield(L, -2, "__index");
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "methods");
	lua_pop(L, 1);
}

/* Collects the command and its arguments from the array part of the option table. */
static int spawn_args(lua_State *L, const char *fn, const char **args, int max)
{
	int n = (int)lua_rawlen(L, 2);

	if (n < 1)
		luaL_error(L, "%s: the command is missing: host:spawn{ \"cmd\", \"arg\", ... }",
		           fn);
	if (n > max)
		luaL_error(L, "%s: at most %d arguments", fn, max);
	for (int i = 1; i <= n; i++) {
		if (lua_rawgeti(L, 2, i) != LUA_TSTRING && !lua_isnumber(L, -1))
			luaL_error(L, "%s: argument %d must be a string", fn, i);
		args[i - 1] = lua_tostring(L, -1);
		lua_pop(L, 1); /* the string stays anchored in the option table */
	}
	return n;
}

static void spawn_check_keys(lua_State *L, const char *fn)
{
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TNUMBER)
			continue;
		if (lua_type(L, -1) != LUA_TSTRING ||
		    (strcmp(lua_tostring(L, -1), "name") && strcmp(lua_tostring(L, -1), "env") &&
		     strcmp(lua_tostring(L, -1), "on_line") &&
		     strcmp(lua_tostring(L, -1), "json") &&
		     strcmp(lua_tostring(L, -1), "privileged")))
			luaL_error(L, "%s: unknown key \"%s\"", fn, luaL_tolstring(L, -1, NULL));
	}
}

/*
 * The environment: ours plus env = { K = "v" } from the scenario. Leaves the array (a
 * userdata) and a table anchoring its strings on the stack; both must stay until spawned.
 */
static char **spawn_env(lua_State *L, const char *fn)
{
	extern char **environ;
	int n = 0, k = 0, extra = 0;
	char **env;

	for (char **e = environ; *e; e++)
		n++;
	lua_getfield(L, 2, "env");
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TTABLE);
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
				luaL_error(L, "%s: env must map names to strings", fn);
			lua_pop(L, 1);
			extra++;
		}
	}
	env = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + extra + 1), 0);
	lua_createtable(L, extra, 0); /* anchors the "K=v" strings */
	for (char **e = environ; *e; e++)
		env[k++] = *e;
	if (!lua_isnil(L, -3)) {
		lua_pushnil(L);
		while (lua_next(L, -4)) {
			lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
			env[k++] = (char *)lua_tostring(L, -1);
			lua_rawseti(L, -4, k);
			lua_pop(L, 1);
		}
	}
	env[k] = NULL;
	return env;
}

/*
 * Finds the program as execvp in `natlab __enter` will (hosts share our file system), so
 * a missing one is an error naming it at the spawn's line, not an exit status of 127.
 * Returns 0, or -errno with why in buf.
 */
static int spawn_find_program(const char *prog, char **env, char *buf, size_t len)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	struct stat st;
	char full[4096];

	if (strchr(prog, '/')) {
		if (stat(prog, &st) < 0 || access(prog, X_OK) < 0) {
			snprintf(buf, len, "program \"%s\": %s", prog, strerror(errno));
			return -errno;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(buf, len, "program \"%s\" is not a file", prog);
			return -EACCES;
		}
		return 0;
	}
	for (char **e = env; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0) {
			path = *e + 5;
			break;
		}
	for (const char *dir = path; *dir;) {
		size_t n = strcspn(dir, ":");
		int w =
		    snprintf(full, sizeof(full), "%.*s/%s", (int)(n ? n : 1), n ? dir : ".", prog);

		if (w > 0 && (size_t)w < sizeof(full) && stat(full, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			return 0;
		dir += n + (dir[n] == ':');
	}
	snprintf(buf, len, "no program \"%s\" on PATH (%s)", prog, path);
	return -ENOENT;
}

static int open_log(struct scenario *s, const char *host, const char *name, char *path, size_t len)
{
	int n = snprintf(path, len, "%s/logs/%s-%s.log", s->out_dir, host, name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return outdir_open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
}

static void proc_close_all(struct runtime_child *c)
{
	struct lab_proc *p = container_of(c, struct lab_proc, child);

	runtime_child_remove(c);
	/*
	 * Teardown killed what runs in the lab's namespaces; a process spawned a moment
	 * before (natlab __enter between fork and setns) was in none of them yet, then
	 * entered its namespace after the namespace was gone. Every process dies at
	 * teardown: ours is still our unreaped child, so its pid is still its own. A kept
	 * lab's processes are the daemon's to keep (keep.c): they live on.
	 */
	if (!p->rt->kept && !p->box->exited && !uv_is_closing((uv_handle_t *)&p->proc))
		uv_process_kill(&p->proc, SIGKILL);
	close_handle(p, (uv_handle_t *)&p->proc);
	close_handle(p, (uv_handle_t *)&p->out);
	close_handle(p, (uv_handle_t *)&p->err);
	close_handle(p, (uv_handle_t *)&p->timer);
}

static void proc_init_handles(struct lab_proc *p)
{
	uv_pipe_init(&p->rt->loop, &p->out, 0);
	uv_pipe_init(&p->rt->loop, &p->err, 0);
	uv_timer_init(&p->rt->loop, &p->timer);
	p->out.data = p->err.data = p->timer.data = p->proc.data = p;
	p->open_handles = 4;
	p->child.close = proc_close_all;
	runtime_child_add(p->rt, &p->child);
}

/* The registry references a process holds; released when it is freed. */
struct proc_refs {
	struct proc_box *box;
	int box_ref, lines_ref, events_ref, on_line_ref, json;
};

/*
 * The Lua side of a process: the box (left on the stack), its lines and events tables and
 * the on_line callback, all taken before anything is spawned: a Lua error (a bad option,
 * out of memory) after uv_spawn would leave a running process behind.
 */
static void proc_refs_take(lua_State *L, const char *fn, struct proc_refs *r)
{
	r->json = lua_opts_boolean(L, 2, fn, "json", 0);
	if (lua_getfield(L, 2, "on_line") != LUA_TNIL && !lua_isfunction(L, -1))
		luaL_error(L, "%s: \"on_line\" must be a function, got a %s", fn,
		           luaL_typename(L, -1));
	r->on_line_ref =
	    lua_isnil(L, -1) ? (lua_pop(L, 1), LUA_NOREF) : luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newtable(L);
	r->lines_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newtable(L);
	r->events_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	r->box = lua_newuserdatauv(L, sizeof(*r->box), 2);
	memset(r->box, 0, sizeof(*r->box));
	luaL_setmetatable(L, PROC_MT);
	lua_pushvalue(L, -1);
	r->box_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void proc_refs_release(lua_State *L, const struct proc_refs *r)
{
	luaL_unref(L, LUA_REGISTRYINDEX, r->on_line_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, r->lines_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, r->events_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, r->box_ref);
}

int lua_proc_spawn(lua_State *L, int node)
{
	const char *fn = "host:spawn";
	struct scenario *s = scenario_from_lua(L);
	struct runtime *rt = runtime_from_lua(L);
	const char *args[PROC_ARGS_MAX + 7];
	const char *host = s->model.nodes[node].name, *name;
	char ns[128], logpath[4096], resolv[4096];
	uv_process_options_t opt = { 0 };
	uv_stdio_container_t stdio[3];
	struct proc_refs refs;
	struct lab_proc *p;
	int n, rc, privileged, has_resolv, off, k = 2;

	luaL_checktype(L, 2, LUA_TTABLE);
	spawn_check_keys(L, fn);
	/*
	 * natlab __enter [--privileged] [--resolv FILE] NETNS CMD...: the command starts at
	 * args[off]. A host behind a DNS64 resolver gets it as its resolv.conf (nat64.h).
	 */
	privileged = lua_opts_boolean(L, 2, fn, "privileged", 0);
	has_resolv = nat64_resolv_path(s, node, resolv, sizeof(resolv)) == 0;
	off = 3 + privileged + 2 * has_resolv;
	n = spawn_args(L, fn, args + off, PROC_ARGS_MAX);
	name = lua_opts_string(L, 2, fn, "name", args[off]);
	if (strchr(name, '/'))
		name = strrchr(name, '/') + 1;
	opt.env = spawn_env(L, fn);
	if (s->mode != SCENARIO_RUN || !rt || !s->model.built)
		return luaL_error(L, "%s: processes need `natlab run` and a lab that is up", fn);
	if (lab_netns_name(s->model.name, host, ns, sizeof(ns)) < 0)
		return luaL_error(L, "%s: host \"%s\": namespace name too long", fn, host);
	if (spawn_find_program(args[off], opt.env, logpath, sizeof(logpath)) < 0)
		return luaL_error(L, "%s: %s", fn, logpath);
	args[0] = "natlab";
	args[1] = "__enter";
	if (privileged)
		args[k++] = "--privileged";
	if (has_resolv) {
		args[k++] = "--resolv";
		args[k++] = resolv;
	}
	args[off - 1] = ns;
	args[n + off] = NULL;

	proc_refs_take(L, fn, &refs);
	p = calloc(1, sizeof(*p));
	if (!p) {
		proc_refs_release(L, &refs);
		return luaL_error(L, "%s: out of memory", fn);
	}
	p->box = refs.box;
	p->box_ref = refs.box_ref;
	p->lines_ref = refs.lines_ref;
	p->events_ref = refs.events_ref;
	p->on_line_ref = refs.on_line_ref;
	p->pattern_ref = LUA_NOREF;
	p->json = refs.json;
	p->rt = rt;
	snprintf(p->label, sizeof(p->label), "%s/%s", host, name);
	p->log_fd = open_log(s, host, name, logpath, sizeof(logpath));
	if (p->log_fd < 0) {
		rc = p->log_fd;
		proc_refs_release(L, &refs);
		free(p);
		return luaL_error(L, "%s: log %s: %s", fn, logpath, strerror(-rc));
	}
	proc_init_handles(p);
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&p->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&p->err;
	opt.file = s->self_exe;
	opt.args = (char **)args;
	opt.stdio = stdio;
	opt.stdio_count = 3;
	opt.exit_cb = exit_cb;
	rc = uv_spawn(&rt->loop, &p->proc, &opt);
	if (rc < 0) {
		/* The process handle is initialised even on failure and must be closed. */
		p->box = NULL;
		proc_close_all(&p->child);
		return luaL_error(L, "%s: %s: %s", fn, args[off], uv_strerror(rc));
	}
	uv_read_start((uv_stream_t *)&p->out, alloc_cb, read_cb);
	uv_read_start((uv_stream_t *)&p->err, alloc_cb, read_cb);
	p->box->p = p;
	p->box->pid = p->proc.pid;
	p->box->json = p->json;
	log_debug("spawned %s in %s (pid %d), log %s", args[off], host, p->box->pid, logpath);
	return 1;
}

int cmd_enter(int argc, char **argv)
{
	char err[256];
	const char *resolv = NULL;
	int fd, rc, privileged = 0;

	for (;;) {
		if (argc > 1 && strcmp(argv[1], "--privileged") == 0) {
			privileged = 1;
			argc--, argv++;
		} else if (argc > 2 && strcmp(argv[1], "--resolv") == 0) {
			resolv = argv[2];
			argc -= 2, argv += 2;
		} else {
			break;
		}
	}
	if (argc < 3) {
		fprintf(stderr, "natlab __enter: internal command: [--privileged] [--resolv FILE] "
		                "NETNS CMD [ARGS...]\n");
		return 2;
	}
	rc = lab_netns_open(argv[1], &fd);
	if (rc == 0)
		rc = lab_netns_enter(fd);
	if (rc < 0) {
		fprintf(stderr, "natlab: netns \"%s\": %s\n", argv[1], strerror(-rc));
		return 126;
	}
	close(fd);
	if (!privileged && lab_confine(err, sizeof(err)) < 0) {
		fprintf(stderr, "natlab: confining %s in \"%s\": %s\n", argv[2], argv[1], err);
		return 126;
	}
	if (resolv && lab_confine_resolv(resolv, privileged, err, sizeof(err)) < 0) {
		fprintf(stderr, "natlab: %s in \"%s\": %s\n", argv[2], argv[1], err);
		return 126;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "natlab: %s: %s\n", argv[2], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
