/* SPDX-License-Identifier: MIT */
/*
 * The files reports/ writes, without a lab: a run's report.json, junit.xml and report.html
 * from its results (TAP lines as they happen, the plan at the end), and a matrix's from
 * folded cells (with the summary added), read back with report_run_load. Links
 * natlab_reports only: a report needs no lab.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "natlab/report_matrix.h"
#include "natlab/results.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_report_files.XXXXXX";

static char *slurp(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return tap_slurp(path);
}

static void test_run(void)
{
	char *tap = NULL, *junit;
	size_t len = 0;
	FILE *f = open_memstream(&tap, &len);
	json_t *nats = json_pack("[{s:s, s:s}]", "name", "home", "profile", "full-cone"), *rep;
	struct results r;
	struct run_info info = {
		.scenario = "s.lua",
		.seed = 7,
		.started = "2026-12-01T07:00:00Z",
		.duration_s = 2.5,
		.nats = nats,
	};

	results_init(&r, f);
	results_expect(&r, 1, "first", "s.lua:1", NULL);
	results_expect(&r, 0, "second", "s.lua:2", "got: 1\nwant: 2");
	results_record(&r, json_pack("{s:s}", "outcome", "direct"));
	is_int(results_finish(&r, &info, tmpdir), 0, "a run's files are written");
	fclose(f);
	is_str(tap,
	       "ok 1 - first\nnot ok 2 - second\n#   at s.lua:2\n#   got: 1\n#   want: 2\n1..2\n",
	       "TAP lines and the plan");
	rep = report_run_load(tmpdir);
	ok(rep != NULL, "report_run_load reads report.json back");
	is_int(json_integer_value(json_object_get(rep, "seed")), 7, "seed");
	is_int(json_integer_value(json_object_get(json_object_get(rep, "summary"), "failed")), 1,
	       "summary: 1 failed");
	is_str(json_string_value(
	           json_object_get(json_array_get(json_object_get(rep, "nats"), 0), "name")),
	       "home", "nats[] as given");
	is_str(json_string_value(
	           json_object_get(json_array_get(json_object_get(rep, "results"), 0), "outcome")),
	       "direct", "results[] as recorded");
	ok(json_is_array(json_object_get(rep, "cells")) &&
	       json_array_size(json_object_get(rep, "cells")) == 0,
	   "a run has an empty cells[]");
	junit = slurp(tmpdir, "junit.xml");
	ok(junit && strstr(junit, "tests=\"2\" failures=\"1\""), "junit.xml counts");
	ok(junit && strstr(junit, "<failure message=\"s.lua:2\">got: 1\nwant: 2</failure>"),
	   "junit.xml failure: where and diag");
	free(junit);
	junit = slurp(tmpdir, "report.html");
	ok(junit && strstr(junit, "<h1>Run: s.lua</h1>"), "report.html is the run page");
	free(junit);
	json_decref(rep);
	json_decref(nats);
	results_close(&r);
	free(tap);
}

static void test_matrix(void)
{
	json_t *report = json_pack(
	    "{s:s, s:i, s:s, s:f, s:[], s:[{s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:s, s:s, s:[s]},"
	    " {s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:n, s:s}]}",
	    "scenario", "m.lua", "seed", 3, "started", "2026-12-01T07:00:00Z", "duration_s", 9.0,
	    "nats", "cells", "name", "a/b", "expected", "direct", "pass", 0, "runs", 2, "direct", 1,
	    "relay", 1, "failed", 0, "reached", "punch", "dir", "cells/a_b", "flags", "flaky",
	    "name", "c/d", "expected", "relay", "pass", 1, "runs", 2, "direct", 0, "relay", 2,
	    "failed", 0, "reached", "dir", "cells/c_d");
	json_t *back;
	char *junit;

	is_int(report_matrix_write(report, tmpdir), 0, "a matrix's files are written");
	back = report_run_load(tmpdir);
	is_int(json_integer_value(json_object_get(json_object_get(back, "summary"), "passed")), 1,
	       "summary added: 1 passed");
	ok(json_real_value(json_object_get(json_object_get(back, "summary"), "direct_rate")) ==
	       0.25,
	   "summary: direct rate 1 of 4 runs");
	junit = slurp(tmpdir, "junit.xml");
	ok(junit && strstr(junit, "<testcase classname=\"natlab.matrix\" name=\"a/b\">\n"
	                          "    <properties>\n"
	                          "      <property name=\"flaky\" value=\"true\"/>\n"
	                          "    </properties>\n    <failure "
	                          "message=\"expected direct, got direct 1 relay 1 failed 0 of 2 "
	                          "[flaky]\">"
	                          "reached: punch; logs and pcaps in cells/a_b</failure>"),
	   "junit.xml: a failed cell, flaky: a property and its message say so");
	ok(junit && strstr(junit, "<testcase classname=\"natlab.matrix\" name=\"c/d\"/>"),
	   "junit.xml: a passed cell");
	free(junit);
	junit = slurp(tmpdir, "report.html");
	ok(junit && strstr(junit, "<h1>NAT matrix: m.lua</h1>"), "report.html is the matrix page");
	free(junit);
	json_decref(back);
	json_decref(report);
	ok(report_run_load("/nonexistent") == NULL, "no report.json: NULL");
	is_int(report_matrix_write(report = json_pack("{s:[]}", "cells"), "/nonexistent/x"), -2,
	       "an out dir that does not exist: -ENOENT (open's error, passed on)");
	json_decref(report);
}

int main(void)
{
	char cmd[600];

	if (!mkdtemp(tmpdir))
		tap_skip_all("no temp dir");
	test_run();
	test_matrix();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmpdir);
	return tap_done();
}
