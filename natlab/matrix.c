/* SPDX-License-Identifier: MIT */
#include "natlab/matrix.h"
#include "natlab/log.h"
#include "natlab/outdir.h"
#include "natlab/report_html.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One run of one cell. */
struct matrix_job {
	json_t *cell; /* borrowed from the plan */
	int run;      /* 1..repeat */
	char rel[1024];	/* its out dir, relative to the matrix's */
	char dir[4096];
	pid_t pid;
	int status;
	double t0, secs;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void matrix_wilson(int k, int n, double *lo, double *hi)
{
	const double z = 1.959964;
	double p, denom, center, half;

	if (n <= 0) {
		*lo = 0;
		*hi = 1;
		return;
	}
	p = (double)k / n;
	denom = 1 + z * z / n;
	center = (p + z * z / (2.0 * n)) / denom;
	half = z * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / denom;
	*lo = center - half < 0 ? 0 : center - half;
	*hi = center + half > 1 ? 1 : center + half;
}

/* "full-cone/symmetric" -> "full-cone_symmetric": safe as a directory name. */
static void cell_dirname(const char *name, char *out, size_t len)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < len; i++)
		out[i] = (name[i] == '/' || name[i] == ' ') ? '_' : name[i];
	out[i] = '\0';
}

static pid_t job_start(const struct matrix_opts *o, struct matrix_job *j)
{
	char timeout[32], seed[32], path[4200];
	const char *argv[20];
	int n = 0, out, err;
	pid_t pid;

	if (lab_mkdir_p(j->dir) < 0)
		return -1;
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
	argv[n] = NULL;
	snprintf(path, sizeof(path), "%s/run.tap", j->dir);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	snprintf(path, sizeof(path), "%s/run.log", j->dir);
	err = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	pid = fork();
	if (pid == 0) {
		dup2(out, 1);
		dup2(err, 2);
		execv(o->self_exe, (char **)argv);
		_exit(127);
	}
	close(out);
	close(err);
	j->t0 = now_s();
	return pid;
}

/* What one run found: the first result{} with an outcome, from its report.json. */
static json_t *job_result(const struct matrix_job *j)
{
	char path[4200];
	json_t *report, *r, *out = NULL;
	size_t i;

	snprintf(path, sizeof(path), "%s/report.json", j->dir);
	report = json_load_file(path, 0, NULL);
	json_array_foreach(json_object_get(report, "results"), i, r)
	{
		if (json_is_string(json_object_get(r, "outcome"))) {
			out = json_incref(r);
			break;
		}
	}
	json_decref(report);
	return out;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* {p50, p95, samples} of the numbers in arr (nearest rank), or null without any. */
static json_t *percentiles(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	double *v;
	json_t *x, *out;

	if (n == 0)
		return json_null();
	v = calloc(n, sizeof(*v));
	if (!v)
		return json_null();
	json_array_foreach(arr, i, x)
		v[i] = json_number_value(x);
	qsort(v, n, sizeof(*v), cmp_double);
	out = json_pack("{s:f, s:f, s:O}", "p50", v[(size_t)ceil(0.50 * (double)n) - 1], "p95",
			v[(size_t)ceil(0.95 * (double)n) - 1], "samples", arr);
	free(v);
	return out;
}

static void append_numbers(json_t *dst, json_t *src)
{
	size_t i;
	json_t *x;

	if (json_is_number(src))
		json_array_append(dst, src);
	json_array_foreach(src, i, x)
		if (json_is_number(x))
			json_array_append(dst, x);
}

/* "port-restricted-cone under cgnat": the profiles on a measured path, nearest first. */
static void path_profiles(const json_t *n, const json_t *m, char *out, size_t len)
{
	const json_t *path = json_object_get(m, "path"), *hop;
	size_t i, off = 0;

	snprintf(out, len, "%s", json_string_value(json_object_get(n, "profile")) ?: "?");
	json_array_foreach(path, i, hop)
	{
		const char *p = json_string_value(json_object_get(hop, "profile"));
		int k = snprintf(out + off, len - off, "%s%s", i ? " under " : "", p ? p : "?");

		if (k < 0 || (size_t)k >= len - off)
			break;
		off += (size_t)k;
	}
}

static json_t *nats_find(json_t *nats, const char *profile)
{
	json_t *e;
	size_t i;

	json_array_foreach(nats, i, e)
		if (json_is_string(json_object_get(e, "profile")) &&
		    strcmp(json_string_value(json_object_get(e, "profile")), profile) == 0)
			return e;
	return NULL;
}

void matrix_nats_add(json_t *nats, const json_t *report_nats)
{
	const json_t *n, *m;
	json_t *e;
	size_t i;

	json_array_foreach(report_nats, i, n)
	{
		char profile[256];
		json_int_t count = 1, matched;

		m = json_object_get(n, "measured");
		if (!json_is_object(m))
			continue;
		/* A folded entry counts its measurements; a run's entry is one, of its path. */
		if (json_is_integer(json_object_get(n, "measurements"))) {
			snprintf(profile, sizeof(profile), "%s",
				 json_string_value(json_object_get(n, "profile")) ?: "?");
			count = json_integer_value(json_object_get(n, "measurements"));
			matched = json_integer_value(json_object_get(n, "as_declared"));
		} else {
			path_profiles(n, m, profile, sizeof(profile));
			matched = json_is_true(json_object_get(m, "match"));
		}
		e = nats_find(nats, profile);
		if (!e) {
			json_array_append_new(
				nats, json_pack("{s:s, s:s, s:O, s:O, s:I, s:I}", "name", profile,
						"profile", profile, "declared",
						json_object_get(m, "declared") ?: json_null(),
						"measured", m, "measurements", count, "as_declared",
						matched));
			continue;
		}
		json_object_set_new(e, "measurements",
				    json_integer(json_integer_value(json_object_get(e, "measurements")) + count));
		json_object_set_new(e, "as_declared",
				    json_integer(json_integer_value(json_object_get(e, "as_declared")) + matched));
	}
}

/*
 * The seed the report states: --seed when given (runs then use it, plus the run index
 * with --repeat); otherwise the one the cells' labs declared, read from the first run's
 * report (the plan runs before the scenario names its lab).
 */
static json_int_t jobs_seed(const struct matrix_opts *o, const struct matrix_job *jobs, int njobs)
{
	json_t *report, *seed;
	char path[4200];
	json_int_t out = (json_int_t)o->seed;

	if (o->seed_set || o->repeat > 1 || njobs == 0)
		return out;
	snprintf(path, sizeof(path), "%s/report.json", jobs[0].dir);
	report = json_load_file(path, 0, NULL);
	seed = json_object_get(report, "seed");
	if (json_is_integer(seed))
		out = json_integer_value(seed);
	json_decref(report);
	return out;
}

/* The measured NATs of every run, from their report.json. */
static json_t *jobs_nats(const struct matrix_job *jobs, int njobs)
{
	json_t *nats = json_array(), *report;
	char path[4200];

	for (int k = 0; k < njobs; k++) {
		snprintf(path, sizeof(path), "%s/report.json", jobs[k].dir);
		report = json_load_file(path, 0, NULL);
		matrix_nats_add(nats, json_object_get(report, "nats"));
		json_decref(report);
	}
	return nats;
}

/* Folds the runs of one cell into its entry of cells[]. */
static json_t *cell_fold(json_t *cell, struct matrix_job *jobs, int njobs)
{
	const char *name = json_string_value(json_object_get(cell, "name"));
	const char *expected = json_string_value(json_object_get(cell, "expected"));
	json_t *ttd = json_array(), *rtt_d = json_array(), *rtt_r = json_array();
	json_t *secs = json_array();
	int runs = 0, direct = 0, relay = 0, failed = 0, pass = 1;
	json_int_t bytes_d = 0, bytes_r = 0;
	const char *reached = NULL, *dir = NULL;
	json_t *last = NULL;
	double lo, hi;

	for (int k = 0; k < njobs; k++) {
		struct matrix_job *j = &jobs[k];
		json_t *r;
		const char *outcome;

		if (j->cell != cell)
			continue;
		runs++;
		json_array_append_new(secs, json_real(j->secs));
		r = job_result(j);
		outcome = json_string_value(json_object_get(r, "outcome"));
		if (!outcome)
			outcome = "fail";
		direct += strcmp(outcome, "direct") == 0;
		relay += strcmp(outcome, "relay") == 0;
		failed += strcmp(outcome, "direct") && strcmp(outcome, "relay");
		if (!expected || strcmp(outcome, expected) != 0 || j->status != 0) {
			pass = 0;
			if (!dir)
				dir = j->rel;
		}
		append_numbers(ttd, json_object_get(r, "time_to_direct_ms"));
		append_numbers(rtt_d, json_object_get(r, "rtt_direct_ms"));
		append_numbers(rtt_r, json_object_get(r, "rtt_relay_ms"));
		bytes_d += json_integer_value(json_object_get(r, "bytes_direct"));
		bytes_r += json_integer_value(json_object_get(r, "bytes_relay"));
		if (json_is_string(json_object_get(r, "reached")))
			reached = json_string_value(json_object_get(r, "reached"));

		json_decref(last);
		last = r;
	}
	for (int k = 0; !dir && k < njobs; k++)
		if (jobs[k].cell == cell)
			dir = jobs[k].rel;
	matrix_wilson(direct, runs, &lo, &hi);
	{
		json_t *out = json_pack(
			"{s:s, s:O, s:O, s:s?, s:i, s:i, s:i, s:i, s:f, s:[f,f], s:o, s:o, s:o, s:I, s:I,"
			" s:b, s:s, s:s?, s:s?}",
			"name", name, "a", json_object_get(cell, "a") ?: json_null(), "b",
			json_object_get(cell, "b") ?: json_null(), "expected", expected, "runs", runs,
			"direct", direct, "relay", relay, "failed", failed, "direct_rate",
			runs ? (double)direct / runs : 0.0, "direct_rate_ci95", lo, hi,
			"time_to_direct_ms", percentiles(ttd), "rtt_direct_ms", percentiles(rtt_d),
			"rtt_relay_ms", percentiles(rtt_r), "bytes_direct", bytes_d, "bytes_relay",
			bytes_r, "pass", pass, "outcome",
			direct >= relay && direct >= failed ? "direct" : relay >= failed ? "relay" : "fail",
			"reached", pass ? NULL : reached, "dir", dir);

		/* How long each run of the cell took, lab up to teardown. */
		json_object_set_new(out, "seconds", percentiles(secs));
		json_decref(ttd);
		json_decref(rtt_d);
		json_decref(rtt_r);
		json_decref(secs);
		json_decref(last);
		return out;
	}
}

static json_t *summary_of(json_t *cells)
{
	int passed = 0, runs = 0, direct = 0;
	size_t i;
	json_t *c;

	json_array_foreach(cells, i, c)
	{
		passed += json_is_true(json_object_get(c, "pass"));
		runs += (int)json_integer_value(json_object_get(c, "runs"));
		direct += (int)json_integer_value(json_object_get(c, "direct"));
	}
	return json_pack("{s:i, s:i, s:i, s:f}", "cells", (int)json_array_size(cells), "passed",
			 passed, "failed", (int)json_array_size(cells) - passed, "direct_rate",
			 runs ? (double)direct / runs : 0.0);
}

static int junit_write(json_t *report, const char *dir)
{
	json_t *cells = json_object_get(report, "cells"), *c;
	json_t *sum = json_object_get(report, "summary");
	char message[256], text[4400];
	size_t i;
	FILE *f;

	f = lab_junit_open(dir, json_string_value(json_object_get(report, "scenario")),
			   json_integer_value(json_object_get(sum, "cells")),
			   json_integer_value(json_object_get(sum, "failed")),
			   json_number_value(json_object_get(report, "duration_s")));
	if (!f)
		return -errno;
	json_array_foreach(cells, i, c)
	{
		int pass = json_is_true(json_object_get(c, "pass"));

		snprintf(message, sizeof(message), "expected %s, got direct %lld relay %lld failed "
			 "%lld of %lld",
			 json_string_value(json_object_get(c, "expected")) ?: "?",
			 json_integer_value(json_object_get(c, "direct")),
			 json_integer_value(json_object_get(c, "relay")),
			 json_integer_value(json_object_get(c, "failed")),
			 json_integer_value(json_object_get(c, "runs")));
		snprintf(text, sizeof(text), "reached: %s; logs and pcaps in %s",
			 json_string_value(json_object_get(c, "reached")) ?: "?",
			 json_string_value(json_object_get(c, "dir")) ?: "");
		lab_junit_case(f, "natlab.matrix", json_string_value(json_object_get(c, "name")),
			       pass ? NULL : message, text);
	}
	return lab_junit_close(f);
}

int matrix_report_write(json_t *report, const char *dir)
{
	char path[4200], err[256];
	int rc;

	json_object_set_new(report, "summary", summary_of(json_object_get(report, "cells")));
	snprintf(path, sizeof(path), "%s/report.json", dir);
	if (json_dump_file(report, path, JSON_INDENT(2)) < 0)
		return -EIO;
	rc = junit_write(report, dir);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	if (rc == 0 && (rc = report_html_write(report, path, err, sizeof(err))) < 0)
		log_warnx("report.html: %s", err);
	return rc;
}

/* TAP, one line per cell, in plan order. */
static void tap_cells(json_t *cells)
{
	size_t i;
	json_t *c;

	json_array_foreach(cells, i, c)
	{
		int pass = json_is_true(json_object_get(c, "pass"));

		printf("%s %zu - %s: expected %s, direct %lld/%lld (relay %lld, failed %lld)\n",
		       pass ? "ok" : "not ok", i + 1, json_string_value(json_object_get(c, "name")),
		       json_string_value(json_object_get(c, "expected")) ?: "?",
		       json_integer_value(json_object_get(c, "direct")),
		       json_integer_value(json_object_get(c, "runs")),
		       json_integer_value(json_object_get(c, "relay")),
		       json_integer_value(json_object_get(c, "failed")));
		if (!pass)
			printf("#   reached \"%s\"; see %s\n",
			       json_string_value(json_object_get(c, "reached")) ?: "?",
			       json_string_value(json_object_get(c, "dir")) ?: "?");
	}
	printf("1..%zu\n", json_array_size(cells));
	fflush(stdout);
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

static struct matrix_job *jobs_plan(const struct matrix_opts *o, json_t *cells, int *n)
{
	struct matrix_job *jobs = calloc(json_array_size(cells) * (size_t)o->repeat + 1, sizeof(*jobs));
	char base[900];
	size_t i;
	json_t *c;

	*n = 0;
	if (!jobs)
		return NULL;
	json_array_foreach(cells, i, c)
	{
		cell_dirname(json_string_value(json_object_get(c, "name")), base, sizeof(base));
		for (int r = 1; r <= o->repeat; r++) {
			struct matrix_job *j = &jobs[(*n)++];

			j->cell = c;
			j->run = r;
			if (o->repeat > 1)
				snprintf(j->rel, sizeof(j->rel), "cells/%s-%d", base, r);
			else
				snprintf(j->rel, sizeof(j->rel), "cells/%s", base);
			snprintf(j->dir, sizeof(j->dir), "%s/%s", o->out_dir, j->rel);
		}
	}
	return jobs;
}

static void job_done(struct matrix_job *j, int status, int done, int total)
{
	json_t *r;

	j->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	j->secs = now_s() - j->t0;
	r = job_result(j);
	fprintf(stderr, "natlab: [%d/%d] %s%s: %s (%.1f s)\n", done, total,
		json_string_value(json_object_get(j->cell, "name")), j->run > 1 ? " (again)" : "",
		json_string_value(json_object_get(r, "outcome")) ?: "no outcome", j->secs);
	json_decref(r);
}

/* Runs the jobs, at most o->jobs at a time. */
static void jobs_run(const struct matrix_opts *o, struct matrix_job *jobs, int n)
{
	int next = 0, running = 0, done = 0;

	while (done < n) {
		while (running < o->jobs && next < n) {
			jobs[next].pid = job_start(o, &jobs[next]);
			if (jobs[next].pid < 0) {
				jobs[next].status = 127;
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
}

int matrix_run(const struct matrix_opts *o, json_t *plan)
{
	json_t *cells = cells_selected(o, plan), *folded = json_array(), *report, *c;
	char started[32];
	time_t t = time(NULL);
	double t0 = now_s();
	struct matrix_job *jobs;
	int n, rc;
	size_t i;

	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	jobs = jobs_plan(o, cells, &n);
	if (!jobs) {
		json_decref(cells);
		json_decref(folded);
		return -ENOMEM;
	}
	fprintf(stderr, "natlab: %zu cells x %d runs, %d at a time\n", json_array_size(cells),
		o->repeat, o->jobs);
	jobs_run(o, jobs, n);
	json_array_foreach(cells, i, c)
		json_array_append_new(folded, cell_fold(c, jobs, n));
	tap_cells(folded);
	report = json_pack("{s:s, s:I, s:s, s:f, s:o, s:o, s:o}", "scenario", o->scenario,
			   "seed", jobs_seed(o, jobs, n), "started", started, "duration_s",
			   now_s() - t0, "shard", json_sprintf("%d/%d", o->shard + 1, o->shards),
			   "nats", jobs_nats(jobs, n), "cells", folded);
	rc = matrix_report_write(report, o->out_dir);
	if (rc == 0)
		rc = (int)json_integer_value(json_object_get(json_object_get(report, "summary"), "failed"));
	fprintf(stderr, "natlab: %s; report: %s/report.json, %s/report.html\n",
		rc > 0 ? "some cells failed" : rc == 0 ? "every cell as expected" : "writing failed",
		o->out_dir, o->out_dir);
	json_decref(report);
	json_decref(cells);
	free(jobs);
	return rc;
}
