/* SPDX-License-Identifier: MIT */
/*
 * natlab run --worker: one of a matrix's --jobs processes, running the cells the pool
 * (matrix.c) hands it one after another in one process, so that a cell can take the lab
 * the last one left (lab_reuse.h) instead of building its own.
 */
#include "natlab/cmd.h"
#include "natlab/lab_reuse.h"
#include "natlab/log.h"
#include "natlab/matrix.h"
#include "natlab/outdir.h"
#include "natlab/path.h"
#include "natlab/run_opts.h"
#include "natlab/runtime.h"
#include "natlab/scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKER_JOBS_FD 3
#define WORKER_DONE_FD 4

/* One line of the job stream, without its newline; 0 at EOF or on a line too long. */
static int line_read(FILE *in, char *buf, size_t len)
{
	size_t n;

	if (!fgets(buf, (int)len, in))
		return 0;
	n = strlen(buf);
	if (n == 0 || buf[n - 1] != '\n')
		return 0;
	buf[n - 1] = '\0';
	return 1;
}

/* Makes dir/name (created, truncated) the fd target; -errno. */
static int redirect(const char *dir, const char *name, int target)
{
	char path[4200];
	int fd, rc = lab_pathf(path, sizeof(path), "%s/%s", dir, name);

	if (rc < 0)
		return rc;
	fd = outdir_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fd;
	rc = dup2(fd, target) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* Runs one cell as `natlab run --cell NAME --out DIR [--seed SEED]` would; its status. */
static int cell_run(const struct run_opts *o, const char *name, const char *dir, const char *seed)
{
	struct scenario s;
	int rc;

	scenario_init(&s, SCENARIO_RUN, o->scenario);
	s.out_dir = dir;
	s.timeout_s = o->timeout_s;
	s.seed_set = strcmp(seed, "-") != 0;
	s.seed = s.seed_set ? strtoull(seed, NULL, 10) : 0;
	s.pcap = o->pcap;
	s.cell = name;
	s.params = o->params;
	s.nparams = o->nparams;
	s.reuse = 1;
	rc = cmd_run_scenario(&s, NULL);
	scenario_close(&s);
	return rc;
}

/*
 * Waits (up to 2 s) until every process the cell started is reaped. They were killed as
 * its loop closed, but a closed libuv process handle reaps no one, and a killed process
 * leaves its namespace before its sockets close (they close as it exits, before it can
 * be reaped): the next cell's relay, on the same host of a reused lab, could find port
 * 443 still bound, and its peers their UDP ports.
 */
static void children_reap(void)
{
	for (int ms = 0; ms < 2000;) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			return; /* ECHILD: none left */
		if (pid == 0) {
			nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
			ms++;
		}
	}
	log_warnx("natlab run: a cell's process still runs 2 s after its cell ended");
}

/* Points stdout and stderr back at fd, the worker's own stderr (a cell's files are done). */
static void quiet_stdio(int fd)
{
	fflush(stdout);
	fflush(stderr);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
}

int matrix_worker(const struct run_opts *o)
{
	char name[1024], dir[4096 + 2], seed[32], msg[sizeof(dir) + 256];
	FILE *in;
	int rc = 0, quiet;

	/* The pool's pipes are ours alone: no process of a cell inherits them. */
	if (fcntl(WORKER_JOBS_FD, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(WORKER_DONE_FD, F_SETFD, FD_CLOEXEC) < 0 || !(in = fdopen(WORKER_JOBS_FD, "r")))
		log_fatalx("natlab run --worker: internal option of the matrix's job pool "
		           "(it reads its cells on fd 3 and answers on fd 4)");
	/* A pool that died must not kill us before the kept lab is torn down; nor a signal
	 * between cells (a run sets its own handlers and gives back the default after it). */
	signal(SIGPIPE, SIG_IGN);
	runtime_signals_catch();
	/* What is said between cells goes where the pool sent ours, not into a cell's log. */
	quiet = fcntl(2, F_DUPFD_CLOEXEC, 10);
	while (!*runtime_stop_flag() && line_read(in, name, sizeof(name)) &&
	       line_read(in, dir, sizeof(dir)) && line_read(in, seed, sizeof(seed))) {
		int status = 127;

		quiet_stdio(quiet);
		if (outdir_make(dir, msg, sizeof(msg)) < 0)
			log_warnx("natlab run: cell %s: %s", name, msg);
		else if ((rc = redirect(dir, "run.tap", 1)) < 0 ||
		         (rc = redirect(dir, "run.log", 2)) < 0)
			log_warn_code(rc, "natlab run: cell %s: %s/run.tap and run.log", name, dir);
		else
			status = cell_run(o, name, dir, seed);
		runtime_signals_catch();
		children_reap();

		fflush(stdout);
		fflush(stderr);
		if (dprintf(WORKER_DONE_FD, "%d\n", status) < 0)
			break;
	}
	fclose(in);
	quiet_stdio(quiet);
	lab_reuse_drop();
	return 0;
}
