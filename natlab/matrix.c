/* SPDX-License-Identifier: MIT */
#include "natlab/matrix.h"
#include "natlab/log.h"
#include "natlab/outdir.h"
#include "natlab/path.h"
#include "natlab/report_fold.h"
#include "natlab/report_matrix.h"
#include "natlab/report_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One run of one cell. */
struct matrix_job {
	json_t *cell;   /* borrowed from the plan */
	int run;        /* 1..repeat */
	char rel[1024]; /* its out dir, relative to the matrix's */
	char dir[4096];
	pid_t pid;
	int status;
	double t0, secs;
	json_t *report; /* its report.json, read once when it ends; NULL if it left none */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * "full-cone/symmetric" -> "full-cone_symmetric": safe as a directory name. -ENAMETOOLONG
 * rather than a cut name that two cells could share.
 */
static int cell_dirname(const char *name, char *out, size_t len)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < len; i++)
		out[i] = (name[i] == '/' || name[i] == ' ') ? '_' : name[i];
	out[i] = '\0';
	return name[i] ? -ENAMETOOLONG : 0;
}

/* Opens dir/name for the job's output; -1 with a warning naming it. */
static int job_open(const struct matrix_job *j, const char *name)
{
	char path[sizeof(j->dir) + 16];
	int fd = -ENAMETOOLONG;

	if (lab_pathf(path, sizeof(path), "%s/%s", j->dir, name) == 0)
		fd = outdir_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		log_warn_code(fd, "natlab run: cell %s: %s/%s",
		              json_string_value(json_object_get(j->cell, "name")), j->dir, name);
		return -1;
	}
	return fd;
}

static pid_t job_start(const struct matrix_opts *o, struct matrix_job *j)
{
	char timeout[32], seed[32], msg[sizeof(j->dir) + 256];
	const char *argv[24 + 2 * MATRIX_PARAMS_MAX];
	int n = 0, out = -1, err = -1, rc;
	pid_t pid = -1;

	rc = outdir_make(j->dir, msg, sizeof(msg));
	if (rc < 0) {
		log_warnx("natlab run: cell %s: %s",
		          json_string_value(json_object_get(j->cell, "name")), msg);
		return -1;
	}
	/* Both fit: the timeout is at most LAB_DURATION_MAX, the seed 20 digits. */
	snprintf(timeout, sizeof(timeout), "%.3f", o->timeout_s);
	snprintf(seed, sizeof(seed), "%llu", o->seed + (unsigned long long)j->run - 1);
	argv[n++] = "natlab";
	argv[n++] = "run";
	argv[n++] = o->scenario;
	argv[n++] = "--cell";
	argv[n++] = json_string_value(json_object_get(j->cell, "name"));
	argv[n++] = "--out";
	argv[n++] = j->dir;
	argv[n++] = "--pcap";
	argv[n++] = o->pcap;
	argv[n++] = "--timeout";
	argv[n++] = timeout;
	if (o->seed_set || o->repeat > 1) {
		argv[n++] = "--seed";
		argv[n++] = seed;
	}
	for (int k = 0; k < o->nparams; k++) {
		argv[n++] = "--param";
		argv[n++] = o->params[k];
	}
	argv[n] = NULL;
	out = job_open(j, "run.tap");
	err = out < 0 ? -1 : job_open(j, "run.log");
	if (err < 0)
		goto out;
	/* Before the fork: the cell's own clock must not start before its spawn. */
	j->t0 = now_s();
	pid = fork();
	if (pid == 0) {
		/* Without its own stdout and stderr the cell would write into ours. */
		if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(127);
		execv(o->self_exe, (char **)argv);
		_exit(127);
	}
	if (pid < 0)
		log_warn("natlab run: cell %s: fork",
		         json_string_value(json_object_get(j->cell, "name")));
out:
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	return pid;
}

/*
 * The seed the report states: --seed when given (runs then use it, plus the run index
 * with --repeat); otherwise the one the cells' labs declared, read from the first run's
 * report (the plan runs before the scenario names its lab).
 */
static json_int_t jobs_seed(const struct matrix_opts *o, const struct matrix_job *jobs, int njobs)
{
	json_t *seed;

	if (o->seed_set || o->repeat > 1 || njobs == 0)
		return (json_int_t)o->seed;
	seed = json_object_get(jobs[0].report, "seed");
	return json_is_integer(seed) ? json_integer_value(seed) : (json_int_t)o->seed;
}

/* The measured NATs of every run. */
static json_t *jobs_nats(const struct matrix_job *jobs, int njobs)
{
	json_t *nats = json_array();

	for (int k = 0; k < njobs; k++)
		report_nats_add(nats, json_object_get(jobs[k].report, "nats"));
	return nats;
}

/* Folds the runs of one cell, in run order, into its entry of cells[]. */
static json_t *cell_fold(const json_t *cell, const struct matrix_job *jobs, int njobs,
                         struct report_run *runs)
{
	size_t n = 0;

	for (int k = 0; k < njobs; k++)
		if (jobs[k].cell == cell)
			runs[n++] = (struct report_run){
				.report = jobs[k].report,
				.status = jobs[k].status,
				.secs = jobs[k].secs,
				.dir = jobs[k].rel,
				.spawned_ms = jobs[k].t0 * 1e3,
				.reaped_ms = (jobs[k].t0 + jobs[k].secs) * 1e3,
			};
	return report_cell_fold(cell, runs, n);
}

/* Appends " 'word'" (quoted for a POSIX shell) at buf + *off. */
static int sh_quote(char *buf, size_t len, size_t *off, const char *word)
{
	size_t o = *off;

	if (o + 4 > len)
		return -ENAMETOOLONG;
	buf[o++] = ' ';
	buf[o++] = '\'';
	for (const char *p = word; *p; p++) {
		size_t n = *p == '\'' ? 4 : 1;

		if (o + n + 2 > len)
			return -ENAMETOOLONG;
		memcpy(buf + o, *p == '\'' ? "'\\''" : p, n);
		o += n;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	*off = o;
	return 0;
}

/*
 * The command that reruns the cell's run the report points at (its first failed run,
 * else its first), with the seed that run really had: a CI user pastes it to reproduce.
 */
static void cell_reproduce(const struct matrix_opts *o, json_t *folded)
{
	const json_t *seed = json_object_get(folded, "seed");
	const char *name = json_string_value(json_object_get(folded, "name"));
	char buf[4096], num[32];
	size_t off = 0;
	int rc;

	if (!name || !json_is_integer(seed))
		return;
	snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(seed));
	rc = snprintf(buf, sizeof(buf), "natlab run");
	off = rc > 0 ? (size_t)rc : 0;
	rc = sh_quote(buf, sizeof(buf), &off, o->scenario);
	if (rc == 0)
		rc = sh_quote(buf, sizeof(buf), &off, "--filter");
	/* A cell name with glob characters is matched by itself through brackets. */
	if (rc == 0 && strpbrk(name, "*?[") == NULL)
		rc = sh_quote(buf, sizeof(buf), &off, name);
	else if (rc == 0)
		rc = -EINVAL;
	if (rc == 0)
		rc = sh_quote(buf, sizeof(buf), &off, "--seed");
	if (rc == 0)
		rc = sh_quote(buf, sizeof(buf), &off, num);
	for (int k = 0; rc == 0 && k < o->nparams; k++) {
		rc = sh_quote(buf, sizeof(buf), &off, "--param");
		if (rc == 0)
			rc = sh_quote(buf, sizeof(buf), &off, o->params[k]);
	}
	json_object_set_new(folded, "reproduce", rc == 0 ? json_string(buf) : json_null());
}

/* The cells this run takes: --filter, then --shard over what is left, in plan order. */
static json_t *cells_selected(const struct matrix_opts *o, json_t *cells)
{
	json_t *out = json_array(), *c;
	size_t i;
	int k = 0;

	json_array_foreach(cells, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));

		if (o->filter && fnmatch(o->filter, name, 0) != 0)
			continue;
		if (k++ % o->shards == o->shard)
			json_array_append(out, c);
	}
	return out;
}

/* The jobs for the selected cells; NULL if out of memory or a path does not fit (said). */
static struct matrix_job *jobs_plan(const struct matrix_opts *o, json_t *cells, int *n)
{
	struct matrix_job *jobs =
	    calloc(json_array_size(cells) * (size_t)o->repeat + 1, sizeof(*jobs));
	char base[900];
	size_t i;
	json_t *c;

	*n = 0;
	if (!jobs)
		return NULL;
	json_array_foreach(cells, i, c)
	{
		int rc =
		    cell_dirname(json_string_value(json_object_get(c, "name")), base, sizeof(base));

		for (int r = 1; r <= o->repeat; r++) {
			struct matrix_job *j = &jobs[(*n)++];

			j->cell = c;
			j->run = r;
			if (rc < 0 ||
			    (o->repeat > 1
			         ? lab_pathf(j->rel, sizeof(j->rel), "cells/%s-%d", base, r)
			         : lab_pathf(j->rel, sizeof(j->rel), "cells/%s", base)) < 0 ||
			    lab_pathf(j->dir, sizeof(j->dir), "%s/%s", o->out_dir, j->rel) < 0) {
				log_warnx(
				    "natlab run: cell \"%s\": path too long under the out dir "
				    "(%zu characters); pick a shorter --out",
				    json_string_value(json_object_get(c, "name")),
				    strlen(o->out_dir));
				free(jobs);
				return NULL;
			}
		}
	}
	return jobs;
}

static void job_done(struct matrix_job *j, int status, int done, int total)
{
	j->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	j->secs = now_s() - j->t0;
	j->report = report_run_load(j->dir);
	fprintf(stderr, "natlab: [%d/%d] %s%s: %s (%.1f s)\n", done, total,
	        json_string_value(json_object_get(j->cell, "name")), j->run > 1 ? " (again)" : "",
	        json_string_value(json_object_get(report_run_result(j->report), "outcome"))
	            ?: "no outcome",
	        j->secs);
}

/* A cell's `cost` (a number, default 1): its expected time, relative to the others. */
static double job_cost(const struct matrix_job *j)
{
	json_t *c = json_object_get(j->cell, "cost");

	return json_is_number(c) ? json_number_value(c) : 1;
}

/* The jobs' indices, the costliest first, then as listed (a stable insertion sort). */
static int *jobs_by_cost(const struct matrix_job *jobs, int n)
{
	int *ord = malloc(((size_t)n + 1) * sizeof(*ord));

	for (int k = 0; ord && k < n; k++) {
		int i = k;

		for (; i > 0 && job_cost(&jobs[ord[i - 1]]) < job_cost(&jobs[k]); i--)
			ord[i] = ord[i - 1];
		ord[i] = k;
	}
	return ord;
}

/* Runs the jobs, at most o->jobs at a time, the costliest first (as the workers do). */
static void jobs_run(const struct matrix_opts *o, struct matrix_job *jobs, int n)
{
	int next = 0, running = 0, done = 0;
	int *ord = jobs_by_cost(jobs, n);

	while (done < n) {
		while (running < o->jobs && next < n) {
			struct matrix_job *j = &jobs[ord ? ord[next] : next];

			j->pid = job_start(o, j);
			if (j->pid < 0) {
				j->status = 127;
				done++;
			} else {
				running++;
			}
			next++;
		}
		if (running == 0)
			continue;
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		for (int k = 0; k < n; k++)
			if (jobs[k].pid == pid) {
				running--;
				job_done(&jobs[k], status, ++done, n);
				jobs[k].pid = 0;
			}
	}
	free(ord);
}

/*
 * A worker (natlab run --worker, matrix_worker()): runs the cells written on its jobs
 * pipe one after another in one process, reusing a lab between cells of one shape.
 */
struct matrix_worker {
	pid_t pid;
	int jobs_fd, done_fd;
	int job;           /* the job it runs, or -1 */
	const char *shape; /* the shape of its last cell, or NULL */
	char buf[64];
	size_t len;
};

static void worker_close(struct matrix_worker *w)
{
	if (w->jobs_fd >= 0)
		close(w->jobs_fd);
	if (w->done_fd >= 0)
		close(w->done_fd);
	w->jobs_fd = w->done_fd = -1;
}

static int worker_start(const struct matrix_opts *o, struct matrix_worker *w)
{
	char timeout[32];
	const char *argv[16 + 2 * MATRIX_PARAMS_MAX];
	int jobs[2], done[2], n = 0, null;

	snprintf(timeout, sizeof(timeout), "%.3f", o->timeout_s);
	argv[n++] = "natlab";
	argv[n++] = "run";
	argv[n++] = o->scenario;
	argv[n++] = "--worker";
	argv[n++] = "--pcap";
	argv[n++] = o->pcap;
	argv[n++] = "--timeout";
	argv[n++] = timeout;
	for (int k = 0; k < o->nparams; k++) {
		argv[n++] = "--param";
		argv[n++] = o->params[k];
	}
	argv[n] = NULL;
	if (pipe2(jobs, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(done, O_CLOEXEC) < 0) {
		close(jobs[0]);
		close(jobs[1]);
		return -errno;
	}
	w->pid = fork();
	if (w->pid == 0) {
		/* Its first cell gives it a stdout and stderr: ours are not for it. */
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		/* Out of the way of 3 and 4 first: a pipe end may be one of them already. */
		jobs[0] = fcntl(jobs[0], F_DUPFD_CLOEXEC, 10);
		done[1] = fcntl(done[1], F_DUPFD_CLOEXEC, 10);
		if (null < 0 || jobs[0] < 0 || done[1] < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0 || dup2(jobs[0], 3) < 0 || dup2(done[1], 4) < 0)
			_exit(127);
		execv(o->self_exe, (char **)argv);
		_exit(127);
	}
	close(jobs[0]);
	close(done[1]);
	w->jobs_fd = jobs[1];
	w->done_fd = done[0];
	w->len = 0;
	w->job = -1;
	if (w->pid < 0) {
		worker_close(w);
		w->pid = 0;
		return -errno;
	}
	return 0;
}

static const char *job_shape(const struct matrix_job *j)
{
	return json_string_value(json_object_get(j->cell, "shape"));
}

/* Whether job k is a better pick than job best (-1: none yet): costlier, else earlier. */
static int job_better(const struct matrix_job *jobs, int k, int best)
{
	return best < 0 || job_cost(&jobs[k]) > job_cost(&jobs[best]);
}

/*
 * The next job for worker w: a waiting one of its last cell's shape (its lab is kept for
 * it), else one of a shape no other worker is on, else any; among those, the costliest
 * (the longest cells early leave short ones to fill the workers' ends), then the first
 * listed.
 */
static int job_pick(struct matrix_job *jobs, int n, const int *started,
                    const struct matrix_worker *ws, int nws, const struct matrix_worker *w)
{
	int any = -1, same = -1, free_shape = -1;

	for (int k = 0; k < n; k++) {
		const char *sh = job_shape(&jobs[k]);
		int taken = 0;

		if (started[k])
			continue;
		if (job_better(jobs, k, any))
			any = k;
		if (sh && w->shape && strcmp(sh, w->shape) == 0 && job_better(jobs, k, same))
			same = k;
		for (int i = 0; sh && i < nws; i++)
			taken |= &ws[i] != w && ws[i].shape && strcmp(ws[i].shape, sh) == 0;
		if (!taken && job_better(jobs, k, free_shape))
			free_shape = k;
	}
	return same >= 0 ? same : free_shape >= 0 ? free_shape : any;
}

static int job_send(struct matrix_worker *w, const struct matrix_opts *o, struct matrix_job *j)
{
	char seed[32] = "-";

	if (o->seed_set || o->repeat > 1)
		snprintf(seed, sizeof(seed), "%llu", o->seed + (unsigned long long)j->run - 1);
	j->t0 = now_s();
	return dprintf(w->jobs_fd, "%s\n%s\n%s\n",
	               json_string_value(json_object_get(j->cell, "name")), j->dir, seed) < 0
	           ? -errno
	           : 0;
}

/* Closes w's pipes and waits for it (it died, or ends on EOF); its wait status. */
static int worker_reap(struct matrix_worker *w)
{
	int status = 0;

	worker_close(w);
	while (w->pid > 0 && waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
	w->shape = NULL;
	return status;
}

/* Reads what w wrote: a status line ends its job; EOF means it died (its status then). */
static void worker_read(struct matrix_worker *w, struct matrix_job *jobs, int *done, int n)
{
	ssize_t r = read(w->done_fd, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
	char *nl;
	int status;

	if (r < 0 && errno == EINTR)
		return;
	if (r > 0) {
		w->len += (size_t)r;
		w->buf[w->len] = '\0';
		nl = strchr(w->buf, '\n');
		if (!nl || w->job < 0)
			return;
		job_done(&jobs[w->job], atoi(w->buf) << 8, ++*done, n);
		w->len = 0;
		w->job = -1;
		return;
	}
	/* Died (or closed its end): its job, if any, gets its exit status. */
	status = worker_reap(w);
	if (w->job >= 0)
		job_done(&jobs[w->job], status, ++*done, n);
	w->job = -1;
}

/* Runs the jobs in o->jobs workers; each worker keeps its lab for a cell of its shape. */
static void jobs_run_workers(const struct matrix_opts *o, struct matrix_job *jobs, int n)
{
	struct matrix_worker *ws = calloc((size_t)o->jobs, sizeof(*ws));
	struct pollfd *pfd = calloc((size_t)o->jobs, sizeof(*pfd));
	int *started = calloc((size_t)n + 1, sizeof(*started));
	struct sigaction ignore = { .sa_handler = SIG_IGN }, pipe_was;
	int done = 0, nstarted = 0;

	/* A worker that died must not take the pool with it: EPIPE instead of SIGPIPE. */
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGPIPE, &ignore, &pipe_was);
	if (!ws || !pfd || !started) {
		log_warnx("natlab run: out of memory for the job pool");
		goto out;
	}
	for (int i = 0; i < o->jobs; i++) {
		ws[i].jobs_fd = ws[i].done_fd = -1;
		ws[i].job = -1;
	}
	while (done < n) {
		int busy = 0;

		for (int i = 0; i < o->jobs && nstarted < n; i++) {
			struct matrix_worker *w = &ws[i];
			int k, rc;

			if (w->job >= 0)
				continue;
			k = job_pick(jobs, n, started, ws, o->jobs, w);
			/* The worker makes the cell's out dir, as a cell's own run does. */
			rc = w->pid ? 0 : worker_start(o, w);
			started[k] = 1;
			nstarted++;
			/* EPIPE: it died between cells (killed, out of memory): a new one takes it.
			 */
			if (rc == 0 && (rc = job_send(w, o, &jobs[k])) == -EPIPE) {
				worker_reap(w);
				if ((rc = worker_start(o, w)) == 0)
					rc = job_send(w, o, &jobs[k]);
			}
			if (rc == 0) {
				w->job = k;
				w->shape = job_shape(&jobs[k]);
				continue;
			}
			log_warn_code(rc, "natlab run: cell %s: handing it to a worker",
			              json_string_value(json_object_get(jobs[k].cell, "name")));
			jobs[k].status = 127;
			done++;
		}
		for (int i = 0; i < o->jobs; i++)
			if (ws[i].job >= 0)
				pfd[busy++] =
				    (struct pollfd){ .fd = ws[i].done_fd, .events = POLLIN };
		if (busy == 0)
			continue;
		if (poll(pfd, (nfds_t)busy, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0, p = 0; i < o->jobs; i++) {
			if (ws[i].job < 0)
				continue;
			if (pfd[p++].revents)
				worker_read(&ws[i], jobs, &done, n);
		}
	}
out:
	/* EOF on its jobs pipe: a worker tears its kept lab down and exits. */
	for (int i = 0; ws && i < o->jobs; i++)
		worker_reap(&ws[i]);
	sigaction(SIGPIPE, &pipe_was, NULL);
	free(ws);
	free(pfd);
	free(started);
}

int matrix_run(const struct matrix_opts *o, json_t *plan)
{
	json_t *cells = cells_selected(o, plan), *folded = json_array(), *report, *c;
	char started[32];
	time_t t = time(NULL);
	double t0 = now_s();
	struct matrix_job *jobs;
	struct report_run *runs;
	int n, rc;
	size_t i;

	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	jobs = jobs_plan(o, cells, &n);
	/* The fold's view of one cell's runs: at most all of them. */
	runs = jobs ? calloc((size_t)n + 1, sizeof(*runs)) : NULL;
	if (!runs) {
		free(jobs);
		json_decref(cells);
		json_decref(folded);
		return -ENOMEM;
	}
	fprintf(stderr, "natlab: %zu cells x %d runs, %d at a time\n", json_array_size(cells),
	        o->repeat, o->jobs);
	if (o->reuse)
		jobs_run_workers(o, jobs, n);
	else
		jobs_run(o, jobs, n);
	json_array_foreach(cells, i, c)
	{
		json_t *f = cell_fold(c, jobs, n, runs);

		cell_reproduce(o, f);
		json_array_append_new(folded, f);
	}
	report_tap_cells(stdout, folded);
	report = json_pack("{s:s, s:I, s:s, s:f, s:o, s:o, s:o}", "scenario", o->scenario, "seed",
	                   jobs_seed(o, jobs, n), "started", started, "duration_s", now_s() - t0,
	                   "shard", json_sprintf("%d/%d", o->shard + 1, o->shards), "nats",
	                   jobs_nats(jobs, n), "cells", folded);
	rc = report_matrix_write(report, o->out_dir);
	if (rc == 0)
		rc = (int)json_integer_value(
		    json_object_get(json_object_get(report, "summary"), "failed"));
	fprintf(stderr, "natlab: %s; report: %s/report.json, %s/report.html\n",
	        rc > 0    ? "some cells failed"
	        : rc == 0 ? "every cell as expected"
	                  : "writing failed",
	        o->out_dir, o->out_dir);
	json_decref(report);
	json_decref(cells);
	for (int k = 0; k < n; k++)
		json_decref(jobs[k].report);
	free(jobs);
	free(runs);
	return rc;
}
