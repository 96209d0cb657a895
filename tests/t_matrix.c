/* SPDX-License-Identifier: MIT */
/*
 * The matrix harness end to end without a lab: matrix_run starts this program as each
 * cell's `natlab run` (self_exe), and the program, called as "run ... --cell NAME --out DIR
 * --seed S", writes the report.json that the cell's run S would have written. Three cells,
 * --repeat 2:
 *   full-cone/symmetric  direct twice (expected direct): passes;
 *   symmetric/symmetric  relay twice (expected relay) with a measured NAT each run;
 *   cgnat/udp-blocked    run 1 fails having reached "relay\x01connect", run 2 dies before
 *                        writing any report: the cell fails and says what run 1 reached
 *                        (this read freed memory before cell_fold kept each run's report).
 * Checks the folded report.json, the TAP lines, junit.xml (no raw control bytes) and that
 * report.html is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "natlab/matrix.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_matrix.XXXXXX";

static const char *arg_after(int argc, char **argv, const char *flag)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return argv[i + 1];
	return NULL;
}

static json_t *nat_measured(int match)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:b}, s:{s:s, s:s, s:b, s:[{s:s}]}}", "name",
	                 "nat-a", "profile", "symmetric", "declared", "mapping",
	                 "address-and-port-dependent", "filtering", "address-and-port-dependent",
	                 "ports", "random", "hairpin", 0, "measured", "mapping",
	                 "address-and-port-dependent", "filtering", "address-and-port-dependent",
	                 "match", match, "path", "profile", "symmetric");
}

/* One cell run as `natlab run` would report it; exits with the run's status. */
static int fake_run(int argc, char **argv)
{
	const char *cell = arg_after(argc, argv, "--cell"), *out = arg_after(argc, argv, "--out");
	const char *seed_s = arg_after(argc, argv, "--seed");
	int run = seed_s ? atoi(seed_s) - 40 : 0; /* the test passes --seed 41 */
	json_t *result = NULL, *nats = json_array(), *report;
	char path[4200];
	int status = 0;

	if (!cell || !out)
		return 2;
	if (strcmp(cell, "full-cone/symmetric") == 0) {
		result = json_pack("{s:s, s:f, s:[f,f], s:I, s:I}", "outcome", "direct",
		                   "time_to_direct_ms", run == 1 ? 40.0 : 60.0, "rtt_direct_ms",
		                   20.0 + run, 22.0 + run, "bytes_direct", (json_int_t)1000 * run,
		                   "bytes_relay", (json_int_t)10);
	} else if (strcmp(cell, "symmetric/symmetric") == 0) {
		result = json_pack("{s:s, s:s, s:[f]}", "outcome", "relay", "reached", "punch",
		                   "rtt_relay_ms", 40.0 * run);
		json_array_append_new(nats, nat_measured(run == 1));
	} else if (strcmp(cell, "cgnat/udp-blocked") == 0) {
		if (run == 2) {
			json_decref(nats);
			return 3; /* died before writing its report */
		}
		result = json_pack("{s:s, s:s}", "outcome", "fail", "reached",
		                   "relay\x01"
		                   "connect");
		status = 1;
	}
	report = json_pack("{s:s, s:i, s:o, s:[o*]}", "scenario", "fake.lua", "seed", 41 + run,
	                   "nats", nats, "results", result);
	snprintf(path, sizeof(path), "%s/report.json", out);
	if (!report || json_dump_file(report, path, JSON_INDENT(2)) < 0)
		status = 2;
	json_decref(report);
	return status;
}

static json_t *plan_new(void)
{
	return json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]",
	                 "name", "full-cone/symmetric", "a", "full-cone", "b", "symmetric",
	                 "expected", "direct", "name", "symmetric/symmetric", "a", "symmetric", "b",
	                 "symmetric", "expected", "relay", "name", "cgnat/udp-blocked", "a",
	                 "cgnat", "b", "udp-blocked", "expected", "relay");
}

/* matrix_run with its TAP lines (stdout) caught in tmpdir/tap. */
static int run_matrix(json_t *plan, const char *self)
{
	struct matrix_opts o = {
		.scenario = "fake.lua",
		.self_exe = self,
		.out_dir = tmpdir,
		.jobs = 2,
		.repeat = 2,
		.shards = 1,
		.seed = 41,
		.seed_set = 1,
		.pcap = "failed",
		.timeout_s = 10,
	};
	char path[512];
	int fd, saved, rc;

	snprintf(path, sizeof(path), "%s/tap", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	close(fd);
	rc = matrix_run(&o, plan);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	return rc;
}

static double num_at(const json_t *o, const char *key, size_t i)
{
	return json_number_value(json_array_get(json_object_get(o, key), i));
}

static void check_cells(const json_t *cells)
{
	const json_t *fs = json_array_get(cells, 0), *ss = json_array_get(cells, 1);
	const json_t *cu = json_array_get(cells, 2);

	is_int(json_array_size(cells), 3, "three cells");
	is_int(json_integer_value(json_object_get(fs, "runs")), 2, "full-cone/symmetric ran twice");
	is_int(json_integer_value(json_object_get(fs, "direct")), 2, "both runs direct");
	ok(json_is_true(json_object_get(fs, "pass")), "full-cone/symmetric passes");
	ok(fabs(num_at(fs, "direct_rate_ci95", 0) - 0.342) < 0.001 &&
	       num_at(fs, "direct_rate_ci95", 1) == 1.0,
	   "2 of 2 direct: Wilson interval [0.342, 1] (got [%f, %f])",
	   num_at(fs, "direct_rate_ci95", 0), num_at(fs, "direct_rate_ci95", 1));
	ok(json_number_value(json_object_get(json_object_get(fs, "time_to_direct_ms"), "p50")) ==
	           40.0 &&
	       json_number_value(
	           json_object_get(json_object_get(fs, "time_to_direct_ms"), "p95")) == 60.0,
	   "time to direct p50 40, p95 60 over both runs");
	is_int(json_array_size(json_object_get(json_object_get(fs, "rtt_direct_ms"), "samples")), 4,
	       "rtt samples of both runs");
	is_int(json_integer_value(json_object_get(fs, "bytes_direct")), 3000, "bytes summed");
	ok(json_is_null(json_object_get(fs, "reached")), "a passing cell's reached is null");
	is_int(json_integer_value(json_object_get(ss, "relay")), 2,
	       "symmetric/symmetric relayed twice");
	ok(json_is_true(json_object_get(ss, "pass")), "symmetric/symmetric passes");
	ok(json_is_false(json_object_get(cu, "pass")), "cgnat/udp-blocked fails");
	is_int(json_integer_value(json_object_get(cu, "failed")), 2, "both of its runs failed");
	is_str(json_string_value(json_object_get(cu, "reached")),
	       "relay\x01"
	       "connect",
	       "the failed cell says what run 1 reached although run 2 left no report");
	is_str(json_string_value(json_object_get(cu, "dir")), "cells/cgnat_udp-blocked-1",
	       "and points at the first failed run");
}

static void check_report(void)
{
	char path[512];
	json_t *r, *nats, *sum;

	snprintf(path, sizeof(path), "%s/report.json", tmpdir);
	r = json_load_file(path, 0, NULL);
	ok(r != NULL, "report.json parses");
	check_cells(json_object_get(r, "cells"));
	sum = json_object_get(r, "summary");
	is_int(json_integer_value(json_object_get(sum, "passed")), 2, "summary: 2 passed");
	is_int(json_integer_value(json_object_get(sum, "failed")), 1, "summary: 1 failed");
	is_int(json_integer_value(json_object_get(r, "seed")), 41, "seed is --seed");
	nats = json_object_get(r, "nats");
	is_int(json_array_size(nats), 1, "one measured NAT profile");
	is_str(json_string_value(json_object_get(json_array_get(nats, 0), "profile")), "symmetric",
	       "folded by its path's profiles");
	is_int(json_integer_value(json_object_get(json_array_get(nats, 0), "measurements")), 2,
	       "two measurements");
	is_int(json_integer_value(json_object_get(json_array_get(nats, 0), "as_declared")), 1,
	       "one as declared");
	json_decref(r);
}

static void check_files(void)
{
	char path[512], *tap, *junit;
	struct stat st;

	snprintf(path, sizeof(path), "%s/tap", tmpdir);
	tap = tap_slurp(path);
	ok(tap &&
	       strstr(
	           tap,
	           "ok 1 - full-cone/symmetric: expected direct, direct 2/2 (relay 0, failed 0)\n"),
	   "TAP line of cell 1");
	ok(tap && strstr(tap, "not ok 3 - cgnat/udp-blocked: expected relay, direct 0/2 (relay 0, "
	                      "failed 2)\n"),
	   "TAP line of cell 3");
	ok(tap && strstr(tap, "\n1..3\n"), "TAP plan after the cells");
	snprintf(path, sizeof(path), "%s/junit.xml", tmpdir);
	junit = tap_slurp(path);
	ok(junit && strstr(junit, "tests=\"3\" failures=\"1\""), "junit.xml counts");
	ok(junit &&
	       strstr(junit,
	              "<failure message=\"expected relay, got direct 0 relay 0 failed 2 of 2\">"),
	   "junit.xml failure message");
	ok(junit && !strchr(junit, '\x01'), "junit.xml has no raw control byte (XML forbids it)");
	ok(junit && strstr(junit, "reached: relay?connect;"), "the control byte is replaced");
	snprintf(path, sizeof(path), "%s/report.html", tmpdir);
	ok(stat(path, &st) == 0 && st.st_size > 1000, "report.html written");
	free(tap);
	free(junit);
}

int main(int argc, char **argv)
{
	char self[4096];
	ssize_t n;
	json_t *plan;
	int rc;

	if (argc > 1 && strcmp(argv[1], "run") == 0)
		return fake_run(argc, argv);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || !mkdtemp(tmpdir))
		tap_skip_all("no /proc/self/exe or temp dir");
	self[n] = '\0';
	plan = plan_new();
	rc = run_matrix(plan, self);
	is_int(rc, 1, "matrix_run returns the number of failed cells");
	check_report();
	check_files();
	json_decref(plan);
	if (!getenv("T_MATRIX_KEEP")) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", tmpdir);
	} else {
		tap_diag("kept %s", tmpdir);
	}
	return tap_done();
}
