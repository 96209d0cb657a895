/* SPDX-License-Identifier: MIT */
#include "natlab/scenario.h"
#include "natlab/portmap.h"
#include "natlab/nat64.h"
#include "natlab/capture.h"
#include "natlab/fd_close.h"
#include "natlab/keep.h"
#include "natlab/lab_reuse.h"
#include "natlab/log.h"
#include "natlab/nat_state.h"
#include "natlab/netns.h"
#include "natlab/outdir.h"
#include "natlab/path.h"
#include "natlab/lua_json.h"
#include "natlab/lua_proc.h"
#include "natlab/lua_results.h"
#include "natlab/runtime.h"
#include "natlab/state.h"
#include "natlab/topology.h"
#include "natlab/wire.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <dirent.h>
#include <sys/stat.h>

#define HOOK_EVERY        10000
#define DEFAULT_MAX_INSNS 2000000000LL
static const char scenario_key = 'S';
/* Raised by lab:up() in check mode: the description is complete, nothing more to run. */
#define CHECK_DONE "\x01natlab: check done"

void scenario_init(struct scenario *s, enum scenario_mode mode, const char *path)
{
	ssize_t n;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->keep_ack_fd = -1;
	s->path = path;
	s->max_instructions = DEFAULT_MAX_INSNS;
	/* Lets tests hit the limit without spinning for seconds. */
	if (getenv("NATLAB_LUA_MAX_INSNS"))
		s->max_instructions = atoll(getenv("NATLAB_LUA_MAX_INSNS"));
	lab_model_init(&s->model);
	timeline_init(&s->timeline);
	/* The plan pass may run a whole scenario that never calls lab:up(): no TAP from it. */
	results_init(&s->results, mode == SCENARIO_PLAN ? NULL : stdout);
	n = readlink("/proc/self/exe", s->self_exe, sizeof(s->self_exe) - 1);
	s->self_exe[n > 0 ? n : 0] = '\0';
}

void scenario_close(struct scenario *s)
{
	lab_model_close(&s->model);
	timeline_close(&s->timeline);
	lab_wires_close(&s->wire_fds);
	free(s->wires);
	s->wires = NULL;
	results_close(&s->results);
	free(s->error);
	s->error = NULL;
	json_decref(s->cells);
	s->cells = NULL;
}

struct scenario *scenario_from_lua(lua_State *L)
{
	struct scenario *s;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &scenario_key);
	s = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return s;
}

/* Stops runaway scripts and lets a signal interrupt a busy scenario. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
	struct scenario *s = scenario_from_lua(L);

	s->instructions += HOOK_EVERY;
	if (s->stop && *s->stop)
		luaL_error(L, "interrupted by a signal");
	if (s->instructions > s->max_instructions)
		luaL_error(L,
		           "scenario ran more than %I Lua instructions; is there an endless "
		           "loop?",
		           (LUAI_UACINT)s->max_instructions);
}

/* print() writes TAP comment lines, so it never breaks the TAP stream on stdout. */
static int sandbox_print(lua_State *L)
{
	int n = lua_gettop(L);

	fputs("# ", stdout);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			fputc('\t', stdout);
		fputs(luaL_tolstring(L, i, NULL), stdout);
		lua_pop(L, 1);
	}
	fputc('\n', stdout);
	fflush(stdout);
	return 0;
}

/* load() only takes text: precompiled chunks can crash the VM. */
static int sandbox_load(lua_State *L)
{
	size_t len;
	const char *chunk = luaL_checklstring(L, 1, &len);
	const char *name = luaL_optstring(L, 2, "=(load)");
	int env = !lua_isnone(L, 4);

	if (luaL_loadbufferx(L, chunk, len, name, "t") != LUA_OK) {
		luaL_pushfail(L);
		lua_insert(L, -2);
		return 2;
	}
	if (env) {
		lua_pushvalue(L, 4);
		if (!lua_setupvalue(L, -2, 1))
			lua_pop(L, 1);
	}
	return 1;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	struct stat st;

	if (!f)
		return NULL;
	/* A directory opens, and its size reads as 2^63: refuse it by name, not by ENOMEM. */
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf)
			*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* NATLAB_LIB_FROM_BIN: an install's share/natlab/lib, or the build tree's link to scenarios/lib. */
int scenario_lib_dir(const struct scenario *s, char *buf, size_t len)
{
	const char *slash = strrchr(s->self_exe, '/');

	if (getenv("NATLAB_LIB"))
		return lab_pathf(buf, len, "%s", getenv("NATLAB_LIB"));
	if (!slash)
		return -ENOENT;
	return lab_pathf(buf, len, "%.*s/%s", (int)(slash - s->self_exe), s->self_exe,
	                 NATLAB_LIB_FROM_BIN);
}

/*
 * require("name"): loads <library>/<name>.lua (dots are directories) as text, once;
 * nothing outside the library can be loaded.
 */
static int sandbox_require(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	char dir[4096], path[4096];
	size_t len = 0;
	char *src;

	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
		      *c == '.'))
			return luaL_error(L, "require: \"%s\" is not a library name", name);
	lua_getfield(L, LUA_REGISTRYINDEX, "natlab.loaded");
	if (lua_getfield(L, -1, name) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	if (scenario_lib_dir(scenario_from_lua(L), dir, sizeof(dir)) < 0)
		return luaL_error(L,
		                  "require: cannot tell where the Lua library is (set NATLAB_LIB)");
	if (lab_pathf(path, sizeof(path), "%s/%s.lua", dir, name) < 0)
		return luaL_error(L, "require: library \"%s\" under %s: path too long", name, dir);
	for (char *c = path + strlen(dir) + 1; *c; c++)
		if (*c == '.' && strcmp(c, ".lua") != 0)
			*c = '/';
	src = read_file(path, &len);
	if (!src)
		return luaL_error(L, "require: no library \"%s\" (%s)", name, path);
	lua_pushfstring(L, "@%s", path);
	if (luaL_loadbufferx(L, src, len, lua_tostring(L, -1), "t") != LUA_OK) {
		free(src);
		return lua_error(L);
	}
	free(src);
	lua_call(L, 0, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, -4, name);
	return 1;
}

static void sandbox_open(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base },
		{ LUA_TABLIBNAME, luaopen_table },
		{ LUA_STRLIBNAME, luaopen_string },
		{ LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },
		{ LUA_COLIBNAME, luaopen_coroutine },
		{ NULL, NULL },
	};

	for (const luaL_Reg *l = libs; l->name; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	lua_setglobal(L, "dofile");
	lua_pushnil(L);
	lua_setglobal(L, "loadfile");
	lua_pushcfunction(L, sandbox_load);
	lua_setglobal(L, "load");
	lua_pushcfunction(L, sandbox_print);
	lua_setglobal(L, "print");
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "natlab.loaded");
	lua_pushcfunction(L, sandbox_require);
	lua_setglobal(L, "require");
}

/* Prints the first line of a Lua error as the message and the rest as a traceback. */
static void report_error(const struct scenario *s, const char *msg)
{
	const char *nl = strchr(msg, '\n');

	/* The plan pass is silent: the run that follows it says the same, once. */
	if (s->mode == SCENARIO_PLAN)
		return;

	if (!nl) {
		log_warnx("%s", msg);
		return;
	}
	log_warnx("%.*s", (int)(nl - msg), msg);
	log_debug("%s", nl + 1);
}

/* Loads the file as the function the runtime will run; reports a syntax error. */
static int load_chunk(lua_State *L, struct scenario *s)
{
	char *chunkname = NULL, *src;
	size_t len = 0;
	int rc = -1;

	src = read_file(s->path, &len);
	if (!src) {
		/* The plan pass is silent: the run that follows it says the same, once. */
		if (s->mode != SCENARIO_PLAN)
			log_warn("scenario \"%s\"", s->path);
		s->error = strdup("cannot read the scenario file");
		return -1;
	}
	if (asprintf(&chunkname, "@%s", s->path) < 0)
		chunkname = NULL;
	else if (luaL_loadbufferx(L, src, len, chunkname, "t") != LUA_OK) {
		report_error(s, lua_tostring(L, -1));
		s->error = strdup(lua_tostring(L, -1));
		lua_pop(L, 1);
	} else
		rc = 0;
	free(chunkname);
	free(src);
	return rc;
}

static void open_modules(lua_State *L, struct scenario *s, struct runtime *rt)
{
	sandbox_open(L);
	lua_pushlightuserdata(L, s);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &scenario_key);
	lua_lab_open(L);
	lua_proc_open(L);
	lua_results_open(L);
	runtime_lua_open(L, rt);
	scenario_lua_cells_open(L);
	lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

/* Captures on both sides of every NAT and on every host: <out>/pcap/<node>-<if>.pcap. */
static int captures_start(lua_State *L, struct scenario *s, char *err, size_t errlen)
{
	struct runtime *rt = runtime_from_lua(L);
	char dir[4096];
	int rc;

	if (s->pcap_dir && lab_pathf(dir, sizeof(dir), "%s", s->pcap_dir) < 0)
		return -ENAMETOOLONG;
	if (!s->pcap_dir && lab_pathf(dir, sizeof(dir), "%s/pcap", s->out_dir) < 0) {
		snprintf(err, errlen,
		         "path too long under the out dir (%zu characters); pick a "
		         "shorter --out",
		         strlen(s->out_dir));
		return -ENAMETOOLONG;
	}
	s->captures.on_packet = timeline_packet_cb;
	s->captures.on_packet_arg = &s->timeline;
	rc = capture_set_start(&rt->loop, &s->model, dir, &s->captures, err, errlen);
	for (int i = 0; i < s->captures.n; i++)
		capture_attach(s->captures.v[i], rt);
	return rc;
}

static int remove_dir(const char *dir)
{
	char path[4200];
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' &&
		    lab_pathf(path, sizeof(path), "%s/%s", dir, e->d_name) == 0)
			unlink(path);
	closedir(d);
	return rmdir(dir) < 0 ? -errno : 0;
}

/* Flushes the captures, and keeps them only as --pcap asks. */
static void captures_stop(struct scenario *s, int failed)
{
	char dir[4096];

	capture_set_stop(&s->captures);
	/* A dir too long for the buffer was refused by captures_start: nothing to remove. */
	if (!s->pcap_dir && lab_pathf(dir, sizeof(dir), "%s/pcap", s->out_dir) == 0 &&
	    (s->pcap == PCAP_NONE || (s->pcap == PCAP_FAILED && !failed)))
		remove_dir(dir);
}

/*
 * Under natlab run the wires forward on a thread of their own (wire_thread.h), each with
 * its own seed derived from the lab's, so the same seed replays the same drops.
 */
static int wires_start(lua_State *L, struct scenario *s, char *err, size_t errlen)
{
	(void)L;
	s->wires = calloc((size_t)s->model.nnodes, sizeof(*s->wires));
	if (!s->wires)
		return -ENOMEM;
	return lab_wires_start(&s->model, &s->wire_fds, s->wires, err, errlen);
}

static void wires_stop(struct scenario *s)
{
	lab_wires_free(s->wires, s->model.nnodes);
	free(s->wires);
	s->wires = NULL;
}

void scenario_nat_snapshot(struct scenario *s, const char *name, const char *reason)
{
	struct runtime *rt = s->rt;
	char dir[4096], err[4096 + 256];
	int rc;

	if (s->mode != SCENARIO_RUN || !s->lab_up || !s->out_dir)
		return;
	rc = lab_pathf(dir, sizeof(dir), "%s/nat", s->out_dir);
	if (rc == 0 && (rc = outdir_make(dir, err, sizeof(err))) < 0) {
		log_warnx("NAT state \"%s\": %s", name, err);
		return;
	}
	if (rc == 0)
		rc = nat_state_snapshot(&s->model, dir, name, reason, rt ? runtime_now_ms(rt) : 0);
	if (rc < 0)
		log_warn_code(rc, "NAT state \"%s\" into %s/nat", name, s->out_dir);
}

/*
 * A run ends with the lab gone (processes first, so their handles can close), or kept
 * for the matrix worker's next cell: 1 if kept.
 */
static int run_teardown(struct scenario *s, int failed)
{
	if (s->mode != SCENARIO_RUN || !s->lab_up)
		return 0;
	captures_stop(s, failed || s->results.failed);
	wires_stop(s);
	/* A matrix worker's cell that passed leaves its lab to the next cell (lab_reuse.h). */
	if (s->reuse && !failed && !s->results.failed && !(s->stop && *s->stop) &&
	    lab_reuse_keep(s) == 0) {
		json_object_update_new(s->results.measured, lab_state_read_measured(s->model.name));
		s->lab_up = 0;
		return 1;
	}
	if (s->reuse)
		lab_reuse_forget();
	lab_topology_down(s->model.name);
	/* What was measured on the lab goes into the report, which outlives the lab. */
	json_object_update_new(s->results.measured, lab_state_read_measured(s->model.name));
	lab_state_remove(s->model.name);
	s->lab_up = 0;
	return 0;
}

static int finish(struct scenario *s, struct runtime *rt, int rc)
{
	const char *err = rt->error ? rt->error : rt->stopped;

	if (err) {
		report_error(s, err);
		if (!s->error) {
			const char *nl = strchr(err, '\n');

			s->error = strndup(err, nl ? (size_t)(nl - err) : strlen(err));
		}
		return -1;
	}
	if (rc == 0 && s->mode == SCENARIO_PLAN)
		return 0; /* cells recorded, or none: then the run pass finds what is missing */
	if (rc == 0 && (!s->have_lab || !s->model.built)) {
		log_warnx("%s: the scenario never called %s", s->path,
		          s->have_lab ? "lab:up()" : "natlab.lab{...} and lab:up()");
		s->error = strdup("the scenario never called lab:up()");
		return -1;
	}
	return 0;
}

int scenario_run(struct scenario *s)
{
	lua_State *L = luaL_newstate();
	struct runtime rt;
	int rc, kept;

	if (!L) {
		log_warnx("cannot create a Lua state: out of memory");
		return -1;
	}
	rc = runtime_init(&rt, L, s->timeout_s);
	if (rc < 0) {
		log_warnx("event loop: %s", uv_strerror(rc));
		lua_close(L);
		return -1;
	}
	if (!s->stop)
		s->stop = runtime_stop_flag();
	s->rt = &rt;
	s->results.clock_ms = (double)rt.t0_ms;
	timeline_start(&s->timeline, &s->model, &rt);
	open_modules(L, s, &rt);
	rc = load_chunk(L, s);
	if (rc == 0) {
		rc = runtime_run(&rt);
		if (rt.error && strncmp(rt.error, CHECK_DONE, strlen(CHECK_DONE)) == 0) {
			free(rt.error);
			rt.error = NULL;
			rc = 0;
		}
		rc = finish(s, &rt, rc);
	}
	if (s->mode == SCENARIO_RUN)
		results_mark(&s->results, "scenario", runtime_now_ms(&rt));
	/*
	 * A matrix cell's run that passed keeps no end snapshot: reading every NAT box's
	 * state took 100-250 ms of a 1.3 s cell, for a file only a failure is read for.
	 */
	if (!s->cell || rc < 0 || s->results.failed)
		scenario_nat_snapshot(s, "end",
		                      rc < 0 || s->results.failed ? "the end of the run (failed)"
		                                                  : "the end of the run");
	s->rt = NULL;
	if (keep_wanted(s, rc)) {
		int keeper = keep_start(s, &rt);

		if (keeper > 0) {
			json_object_update_new(s->results.measured,
			                       lab_state_read_measured(s->model.name));
			/*
			 * The lab, its captures and wires are the keeper's now: ours are let go
			 * without a last read (which would take packets from the keeper) and
			 * without tearing anything down.
			 */
			capture_set_release(&s->captures);
			wires_stop(s);
			s->lab_up = 0;
			rt.kept = 1;
			runtime_close(&rt);
			lua_close(L);
			return rc;
		}
		log_warn_code(keeper, "lab \"%s\": cannot start the daemon that keeps it",
		              s->model.name);
	}
	kept = run_teardown(s, rc < 0);
	runtime_close(&rt);
	/*
	 * The wires' TAP fds close side by side (fd_close.h): the lab is down once they are.
	 * A lab kept for the next cell stays up: what this cell closes (its captures' packet
	 * sockets: 13-21 ms of RCU waits; its copies of the TAP fds only drop a reference)
	 * finishes while the next one starts; the worker waits before it drops the lab
	 * (lab_reuse_drop).
	 */
	if (!kept)
		lab_fd_close_wait();
	if (s->mode == SCENARIO_RUN)
		results_mark(&s->results, "teardown", runtime_now_ms(&rt));
	lua_close(L);
	return rc;
}

static int check_port_blocks(lua_State *L, struct scenario *s)
{
	char err[256];

	for (int i = 0; i < s->model.nnodes; i++) {
		const struct lab_node *n = &s->model.nodes[i];
		unsigned subs = 0;

		if (n->kind != LAB_NODE_NAT)
			continue;
		for (int j = 0; j < s->model.nnodes; j++)
			subs +=
			    s->model.nodes[j].parent == i ? (unsigned)s->model.nodes[j].naddrs : 0;
		if (nat_knobs_validate(&n->knobs, subs, err, sizeof(err)) < 0)
			return luaL_error(L, "lab:up: NAT \"%s\" (line %d): %s", n->name, n->line,
			                  err);
	}
	return 0;
}

static int build(struct scenario *s, char *err, size_t errlen)
{
	const char *lab = s->model.name;
	char wish[LAB_NAME_MAX + 1];
	struct timespec t0, t1;
	int rc;

	rc = lab_state_create(lab, getpid());
	/* A name that was only a wish (run without --name) takes the first free -N. */
	snprintf(wish, sizeof(wish), "%s", lab);
	for (int k = 2; rc == -EEXIST && s->lab_name_unique && k < 1000; k++) {
		char suffix[8];
		int n = snprintf(suffix, sizeof(suffix), "-%d", k);
		int keep =
		    (int)strlen(wish) + n > LAB_NAME_MAX ? LAB_NAME_MAX - n : (int)strlen(wish);

		snprintf(s->model.name, sizeof(s->model.name), "%.*s%s", keep, wish, suffix);
		rc = lab_state_create(lab, getpid());
	}
	if (rc == -EEXIST) {
		snprintf(err, errlen,
		         "a lab named \"%s\" exists already: `natlab down %s` "
		         "removes it, or pick another --name",
		         lab, lab);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot record lab \"%s\" under " LAB_STATE_DIR ": %s", lab,
		         strerror(-rc));
		return rc;
	}
	rc = lab_state_write_model(lab, &s->model);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write the state of lab \"%s\": %s", lab,
		         strerror(-rc));
		lab_state_remove(lab);
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = lab_topology_up(&s->model, s->stop, &s->wire_fds, err, errlen);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 0)
		log_info("lab \"%s\" is up: %d nodes, %d wires, built in %.0f ms", lab,
		         s->model.nnodes, s->wire_fds.n,
		         (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		             (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (rc < 0) {
		lab_wires_close(&s->wire_fds);
		lab_topology_down(lab);
		lab_state_remove(lab);
	}
	return rc;
}

/*
 * natlab.cells{ { name = "a/b", ... }, ... }: the scenario is a matrix. Planning records
 * the list and stops; a cell's own run gets its table back and builds that cell's lab.
 */
static int natlab_cells(lua_State *L)
{
	struct scenario *s = scenario_from_lua(L);
	json_t *cells;
	size_t i;

	luaL_checktype(L, 1, LUA_TTABLE);
	cells = lua_json_from(L, 1, "natlab.cells");
	if (!json_is_array(cells) || json_array_size(cells) == 0) {
		json_decref(cells);
		return luaL_error(
		    L, "natlab.cells: give a list of cells, each { name = \"...\", ... }");
	}
	for (i = 0; i < json_array_size(cells); i++) {
		json_t *cell = json_array_get(cells, i);
		const char *name = json_string_value(json_object_get(cell, "name"));
		json_t *cost = json_object_get(cell, "cost");

		if (!name || strchr(name, '\n')) {
			json_decref(cells);
			return luaL_error(L, "natlab.cells: cell %d has no name", (int)i + 1);
		}
		/* The pool orders cells by it (natlab/matrix.c): a number, 0 or more. */
		if (cost && (!json_is_number(cost) || json_number_value(cost) < 0)) {
			luaL_where(L, 1);
			lua_pushfstring(
			    L,
			    "natlab.cells: cell \"%s\": cost must be a number, 0 or more "
			    "(its time relative to the others; default 1)",
			    name);
			lua_concat(L, 2);
			json_decref(cells);
			return lua_error(L);
		}
	}
	if (s->mode == SCENARIO_PLAN) {
		json_decref(s->cells);
		s->cells = cells;
		return lua_pushliteral(L, CHECK_DONE), lua_error(L);
	}
	json_decref(cells);
	/* check validates the description with the first cell. */
	if (s->mode == SCENARIO_CHECK && !s->cell) {
		lua_rawgeti(L, 1, 1);
		return 1;
	}
	if (!s->cell)
		return luaL_error(L,
		                  "natlab.cells: a matrix scenario runs under `natlab run`, which "
		                  "runs each cell in its own lab");
	for (lua_Integer k = 1; lua_rawgeti(L, 1, k) == LUA_TTABLE; k++) {
		lua_getfield(L, -1, "name");
		if (lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), s->cell) == 0) {
			lua_pop(L, 1);
			return 1;
		}
		lua_pop(L, 2);
	}
	return luaL_error(L, "natlab.cells: no cell named \"%s\"", s->cell);
}

void scenario_lua_cells_open(lua_State *L)
{
	lua_getglobal(L, "natlab");
	lua_pushcfunction(L, natlab_cells);
	lua_setfield(L, -2, "cells");
	lua_pop(L, 1);
}

int scenario_lab_up(lua_State *L, struct scenario *s)
{
	char err[1024];
	int inet = -1;

	for (int i = 0; i < s->model.nnodes && inet < 0; i++)
		if (s->model.nodes[i].kind == LAB_NODE_INTERNET)
			inet = i;
	if (inet < 0)
		return luaL_error(L, "lab:up: the lab has no lab:internet{}");
	check_port_blocks(L, s);
	if (s->seed_set)
		s->model.seed = s->seed;
	if (s->mode == SCENARIO_RUN && s->reuse) {
		int rc = lab_reuse_take(s, err, sizeof(err));

		if (rc < 0)
			return luaL_error(L, "lab:up: %s", err);
		s->lab_reused = rc;
	}
	if (s->mode != SCENARIO_CHECK && s->mode != SCENARIO_PLAN && !s->lab_reused) {
		if (build(s, err, sizeof(err)) < 0)
			return luaL_error(L, "lab:up: %s", err);
		/* Without copies of its TAP fds the lab cannot outlive this cell: not kept. */
		if (s->reuse && lab_reuse_remember(s) < 0)
			log_warnx("lab \"%s\": cannot keep it for the next cell", s->model.name);
	}
	s->model.built = 1;
	s->lab_up = s->mode != SCENARIO_CHECK && s->mode != SCENARIO_PLAN;
	if (s->mode == SCENARIO_RUN && wires_start(L, s, err, sizeof(err)) < 0)
		return luaL_error(L, "lab:up: %s", err);
	if (s->mode == SCENARIO_RUN && s->pcap != PCAP_NONE &&
	    captures_start(L, s, err, sizeof(err)) < 0)
		return luaL_error(L, "lab:up: capture: %s", err);
	if (s->mode == SCENARIO_CHECK || s->mode == SCENARIO_PLAN)
		return lua_pushliteral(L, CHECK_DONE), lua_error(L);
	if (s->mode == SCENARIO_RUN) {
		portmap_start_all(L, s);
		nat64_start_all(L, s);
		results_mark(&s->results, "lab_up", runtime_now_ms(s->rt));
	}
	return 0;
}
