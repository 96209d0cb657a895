/* SPDX-License-Identifier: MIT */
#include "natlab/daemon.h"
#include "natlab/lua_proc.h"
#include "natlab/outdir.h"
#include "natlab/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STOP_WAIT_MS 2000
#define POLL_MS      10

/* lua_call()ed with (node index, spawn table): host:spawn{} for any node. */
static int spawn_in_node(lua_State *L)
{
	return lua_proc_spawn(L, (int)lua_tointeger(L, 1));
}

pid_t lab_daemon_spawn(lua_State *L, int node, const char *const *argv, const char *name,
                       int privileged)
{
	pid_t pid;
	int n = 0;

	lua_pushcfunction(L, spawn_in_node);
	lua_pushinteger(L, node);
	lua_newtable(L);
	for (; argv[n]; n++) {
		lua_pushstring(L, argv[n]);
		lua_rawseti(L, -2, n + 1);
	}
	lua_pushstring(L, name);
	lua_setfield(L, -2, "name");
	lua_pushboolean(L, privileged);
	lua_setfield(L, -2, "privileged");
	lua_call(L, 2, 1);
	lua_getfield(L, -1, "pid");
	pid = (pid_t)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return pid;
}

void lab_daemon_pause(lua_State *L, int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	uv_run(&runtime_from_lua(L)->loop, UV_RUN_NOWAIT);
	nanosleep(&ts, NULL);
	uv_run(&runtime_from_lua(L)->loop, UV_RUN_NOWAIT);
}

int lab_daemon_running(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int alive = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		alive = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return alive;
}

int lab_daemon_listening(pid_t pid, const char *file, unsigned port, const char *st)
{
	char path[64], line[256], want[16], local[64], state[8];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, file);
	snprintf(want, sizeof(want), ":%04X", port);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %63s %*s %7s", local, state) == 2 &&
		        strstr(local, want) && strcmp(state, st) == 0;
	fclose(f);
	return found;
}

/* Sends sig to pid and waits up to STOP_WAIT_MS for it to end; whether it still runs. */
static int signal_and_wait(lua_State *L, pid_t pid, int sig)
{
	kill(pid, sig);
	for (int waited = 0; lab_daemon_running(pid) && waited < STOP_WAIT_MS; waited += POLL_MS)
		lab_daemon_pause(L, POLL_MS);
	return lab_daemon_running(pid);
}

void lab_daemon_stop(lua_State *L, pid_t pid)
{
	if (pid <= 0 || !lab_daemon_running(pid))
		return;
	/* After a SIGKILL too, it is gone before the caller starts its successor: its sockets
	 * and pid file with it (a busy machine can take longer than 2 s for a SIGTERM). */
	if (signal_and_wait(L, pid, SIGTERM))
		signal_and_wait(L, pid, SIGKILL);
}

int lab_daemon_conf_write(const char *path, const char *text)
{
	/* In the out dir: no planted link is followed or truncated (outdir.h). */
	int fd = outdir_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t len = strlen(text);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = write(fd, text, len);
	if (close(fd) < 0 || n < 0)
		return n < 0 ? -errno : -EIO;
	return (size_t)n == len ? 0 : -EIO;
}
