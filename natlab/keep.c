/* SPDX-License-Identifier: MIT */
#include "natlab/keep.h"
#include "natlab/capture.h"
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/state.h"
#include "natlab/wire_thread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
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

/* The lab being kept, for ack_cb (the daemon keeps one). */
static const char *keeper_lab;

static void ack_close_cb(uv_handle_t *h)
{
	close((int)(intptr_t)h->data);
}

/*
 * The run's acknowledgement (keep_ack()), or its end without one: the run was killed
 * between handing the lab over and telling its user, who then saw a failure and knows
 * of no lab to take down. The lab goes with it.
 */
static void ack_cb(uv_poll_t *h, int status, int events)
{
	char c;
	ssize_t n = read((int)(intptr_t)h->data, &c, 1);

	(void)status;
	(void)events;
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == 1) {
		uv_close((uv_handle_t *)h, ack_close_cb);
		return;
	}
	cmd_lab_remove(keeper_lab);
	_exit(1);
}

/* The daemon: the run's loop goes on until `natlab down` sends SIGTERM. Never returns. */
static void keeper_run(struct scenario *s, struct runtime *rt, int ready_fd, int ack_fd)
{
	static uv_poll_t ack;
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
	/* Only the forking thread came with us: the wires get a thread of their own again. */
	if (wire_thread_resume(1) < 0)
		_exit(1);
	/* The scenario's time limit was the scenario's; a kept lab lives until down. */
	uv_timer_stop(&rt->deadline);
	/* Something must hold the loop open when no wire, capture or process does. */
	uv_ref((uv_handle_t *)&rt->wake);
	keeper_lab = s->model.name;
	ack.data = (void *)(intptr_t)ack_fd;
	if (uv_poll_init(&rt->loop, &ack, ack_fd) < 0 ||
	    uv_poll_start(&ack, UV_READABLE | UV_DISCONNECT, ack_cb) < 0)
		_exit(1);
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
	int fds[2], ack[2];
	char c;
	pid_t pid;

	/* Nothing buffered may be written twice, by us at exit and by the daemon. */
	capture_set_flush(&s->captures);
	fflush(NULL);
	/* Not mid-frame at the fork; the daemon resumes it, ours stays held until freed. */
	wire_thread_hold();
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ack, O_CLOEXEC) < 0) {
		pid = -errno;
		close(fds[0]);
		close(fds[1]);
		return pid;
	}
	pid = fork();
	if (pid < 0)
		pid = -errno;
	if (pid == 0) {
		close(fds[0]);
		close(ack[1]);
		keeper_run(s, rt, fds[1], ack[0]);
	}
	/* Only the daemon may hold these ends: our death must read as EOF there. */
	close(fds[1]);
	close(ack[0]);
	if (pid > 0 && read(fds[0], &c, 1) != 1)
		pid = -ECHILD;
	close(fds[0]);
	if (pid < 0) {
		close(ack[1]);
		return pid;
	}
	s->keeper = pid;
	s->keep_ack_fd = ack[1];
	return pid;
}

void keep_ack(struct scenario *s)
{
	if (s->keep_ack_fd < 0)
		return;
	if (write(s->keep_ack_fd, "a", 1) != 1)
		log_warn("natlab: telling the lab's daemon (pid %d) it was reported", s->keeper);
	close(s->keep_ack_fd);
	s->keep_ack_fd = -1;
}
