/* SPDX-License-Identifier: MIT */
#include "natlab/keep.h"
#include "natlab/capture.h"
#include "natlab/log.h"
#include "natlab/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int keep_wanted(const struct scenario *s, int rc)
{
	/* A signal asked for the lab to go: it goes, whatever was asked for at the start. */
	if (s->mode != SCENARIO_RUN || !s->lab_up || (s->stop && *s->stop))
		return 0;
	switch (s->keep) {
	case KEEP_ALWAYS:
		return 1;
	case KEEP_ON_FAILURE:
		return rc < 0 || s->results.failed > 0;
	case KEEP_COMPLETED:
		return rc == 0;
	case KEEP_NEVER:
		break;
	}
	return 0;
}

/* The daemon: the run's loop goes on until `natlab down` sends SIGTERM. Never returns. */
static void keeper_run(struct scenario *s, struct runtime *rt, int ready_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	setsid();
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	if (chdir("/") < 0 || uv_loop_fork(&rt->loop) < 0)
		_exit(1);
	/* The scenario's time limit was the scenario's; a kept lab lives until down. */
	uv_timer_stop(&rt->deadline);
	/* Something must hold the loop open when no wire, capture or process does. */
	uv_ref((uv_handle_t *)&rt->wake);
	if (lab_state_set_owner(s->model.name, getpid()) < 0 || write(ready_fd, "k", 1) != 1)
		_exit(1);
	close(ready_fd);
	/* The signal handlers of the run stay: SIGTERM or SIGINT wakes the loop and stops it. */
	while (!*runtime_stop_flag())
		uv_run(&rt->loop, UV_RUN_DEFAULT);
	capture_set_stop(&s->captures);
	_exit(0);
}

int keep_start(struct scenario *s, struct runtime *rt)
{
	int fds[2];
	char c;
	pid_t pid;

	/* Nothing buffered may be written twice, by us at exit and by the daemon. */
	capture_set_flush(&s->captures);
	fflush(NULL);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		close(fds[0]);
		keeper_run(s, rt, fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) {
		close(fds[0]);
		return -ECHILD;
	}
	close(fds[0]);
	s->keeper = pid;
	return pid;
}
