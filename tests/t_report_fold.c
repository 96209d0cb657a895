/* SPDX-License-Identifier: MIT */
/*
 * The pure fold of reports/ (report_fold.h, report_stats.h): Wilson intervals against
 * published values, nearest-rank percentiles, a cell's runs folded into its cells[] entry
 * (counts, pass, majority, reached, dir, samples, bytes, the wire's verdicts, flaky,
 * seeds), measured NATs folded by the
 * profiles on their path, and the summary. Links natlab_reports only: the fold needs no lab.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "natlab/report_fold.h"
#include "natlab/report_phases.h"
#include "natlab/report_stats.h"
#include "tap.h"

#define near(got, want, name)                                                                      \
	ok(fabs((got) - (want)) < 5e-4, "%s (got %f, want %f)", name, (double)(got), (double)(want))

static double jnum(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static long long jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void test_wilson(void)
{
	double lo, hi;

	report_wilson(0, 0, &lo, &hi);
	ok(lo == 0 && hi == 1, "no runs: [0, 1]");
	report_wilson(2, 2, &lo, &hi);
	near(lo, 0.3424, "2 of 2: lower bound");
	ok(hi == 1, "2 of 2: upper bound 1");
	report_wilson(5, 10, &lo, &hi);
	near(lo, 0.2366, "5 of 10: lower bound");
	near(hi, 0.7634, "5 of 10: upper bound");
	report_wilson(0, 5, &lo, &hi);
	ok(lo == 0, "0 of 5: lower bound 0");
	near(hi, 0.4345, "0 of 5: upper bound z^2/(n+z^2)");
}

static void test_percentiles(void)
{
	json_t *empty = json_array(), *one = json_pack("[f]", 7.5), *many = json_array(), *p;

	p = report_percentiles(empty);
	ok(json_is_null(p), "no samples: null");
	json_decref(p);
	p = report_percentiles(one);
	ok(jnum(p, "p50") == 7.5 && jnum(p, "p95") == 7.5, "one sample is p50 and p95");
	json_decref(p);
	/* 20 .. 1, out of order: nearest rank gives the 10th and the 19th smallest. */
	for (int k = 20; k >= 1; k--)
		json_array_append_new(many, json_integer(k));
	p = report_percentiles(many);
	ok(jnum(p, "p50") == 10 && jnum(p, "p95") == 19, "1..20: p50 10, p95 19 (got %g, %g)",
	   jnum(p, "p50"), jnum(p, "p95"));
	ok(json_object_get(p, "samples") == many, "samples kept in their order, not copied");
	json_decref(p);
	json_decref(empty);
	json_decref(one);
	json_decref(many);
}

static void test_numbers(void)
{
	json_t *dst = json_array(), *num = json_real(1.5),
	       *mixed = json_pack("[i, s, f, n]", 2, "x", 3.5);
	json_t *str = json_string("4");

	report_numbers_append(dst, num);
	report_numbers_append(dst, mixed);
	report_numbers_append(dst, str);
	report_numbers_append(dst, NULL);
	is_int(json_array_size(dst), 3, "a number and the numbers of an array; nothing else");
	ok(json_number_value(json_array_get(dst, 2)) == 3.5, "in order");
	json_decref(dst);
	json_decref(num);
	json_decref(mixed);
	json_decref(str);
}

/* A run's report.json with one result{} (after one without an outcome, which is skipped). */
static json_t *run_report(const char *outcome, const char *reached, double ttd, json_int_t bytes)
{
	json_t *r = json_pack("{s:s}", "note", "no outcome here"), *res = json_object();

	if (outcome)
		json_object_set_new(res, "outcome", json_string(outcome));
	if (reached)
		json_object_set_new(res, "reached", json_string(reached));
	if (ttd > 0)
		json_object_set_new(res, "time_to_direct_ms", json_real(ttd));
	json_object_set_new(res, "rtt_direct_ms", json_pack("[f, f]", 20.0, 21.0));
	json_object_set_new(res, "bytes_direct", json_integer(bytes));
	return json_pack("{s:[o, o]}", "results", r, res);
}

static void test_run_result(void)
{
	json_t *rep = run_report("relay", NULL, 0, 0);

	is_str(jstr(report_run_result(rep), "outcome"), "relay",
	       "the first result with an outcome");
	ok(report_run_result(NULL) == NULL, "no report, no result");
	json_decref(rep);
}

static json_t *cell_new(const char *expected)
{
	return json_pack("{s:s, s:s, s:s, s:s?}", "name", "full-cone/symmetric", "a", "full-cone",
	                 "b", "symmetric", "expected", expected);
}

/*
 * The case that read freed memory in matrix.c: run 1 fails and says what it reached, run 2
 * leaves no report. The folded cell must keep run 1's "reached", also after the runs'
 * reports are gone (the fold copies what it keeps).
 */
static void test_fold_missing_run(void)
{
	json_t *cell = cell_new("direct"), *r1 = run_report("fail", "punch", 0, 0), *out;
	struct report_run runs[] = {
		{ .report = r1, .status = 1, .secs = 3, .dir = "cells/x-1" },
		{ .report = NULL, .status = 134, .secs = 1, .dir = "cells/x-2" },
	};

	out = report_cell_fold(cell, runs, 2);
	json_decref(r1);
	is_int(jint(out, "runs"), 2, "two runs");
	is_int(jint(out, "failed"), 2, "a run without a report counts as failed");
	ok(json_is_false(json_object_get(out, "pass")), "the cell fails");
	is_str(jstr(out, "reached"), "punch",
	       "reached: what run 1 said, after its report is freed");
	is_str(jstr(out, "dir"), "cells/x-1", "dir: the first failed run");
	is_str(jstr(out, "outcome"), "fail", "outcome: the majority");
	ok(jnum(json_object_get(out, "seconds"), "p95") == 3, "seconds of every run");
	json_decref(out);
	json_decref(cell);
}

static void test_fold_counts(void)
{
	json_t *cell = cell_new("direct"), *out;
	json_t *r[3] = { run_report("direct", NULL, 40, 100), run_report("direct", "x", 60, 200),
		         run_report("relay", "punch", 0, 0) };
	struct report_run runs[3] = {
		{ .report = r[0], .dir = "cells/c-1" },
		{ .report = r[1], .status = 1, .dir = "cells/c-2" },
		{ .report = r[2], .dir = "cells/c-3" },
	};

	out = report_cell_fold(cell, runs, 3);
	is_int(jint(out, "direct"), 2, "two direct");
	is_int(jint(out, "relay"), 1, "one relay");
	is_str(jstr(out, "outcome"), "direct", "majority direct");
	near(jnum(out, "direct_rate"), 2.0 / 3, "direct rate 2/3");
	near(json_number_value(json_array_get(json_object_get(out, "direct_rate_ci95"), 0)), 0.2077,
	     "Wilson lower bound of 2 of 3");
	ok(json_is_false(json_object_get(out, "pass")),
	   "a direct run that exited 1 fails the cell");
	is_str(jstr(out, "dir"), "cells/c-2", "dir: that run");
	is_str(jstr(out, "reached"), "punch", "reached: the last run that said");
	ok(jnum(json_object_get(out, "time_to_direct_ms"), "p50") == 40 &&
	       jnum(json_object_get(out, "time_to_direct_ms"), "p95") == 60,
	   "time to direct over the runs that had one");
	is_int(json_array_size(json_object_get(json_object_get(out, "rtt_direct_ms"), "samples")),
	       6, "rtt samples of all runs");
	ok(json_is_null(json_object_get(out, "rtt_relay_ms")), "no relay rtt samples: null");
	is_int(jint(out, "bytes_direct"), 300, "bytes summed");
	json_decref(out);

	runs[1].status = 0;
	out = report_cell_fold(cell, runs, 2);
	ok(json_is_true(json_object_get(out, "pass")), "two direct runs that exited 0 pass");
	ok(json_is_null(json_object_get(out, "reached")), "a passing cell's reached is null");
	is_str(jstr(out, "dir"), "cells/c-1", "a passing cell's dir is its first run");
	json_decref(out);
	for (int k = 0; k < 3; k++)
		json_decref(r[k]);
	json_decref(cell);
}

static void test_fold_edges(void)
{
	json_t *cell = cell_new(NULL), *rep = run_report("relay", NULL, 0, 0), *out;
	struct report_run run = { .report = rep, .dir = "cells/n" };

	out = report_cell_fold(cell, &run, 1);
	ok(json_is_false(json_object_get(out, "pass")), "a cell without expected cannot pass");
	ok(json_is_null(json_object_get(out, "expected")), "and says so: expected null");
	json_decref(out);
	out = report_cell_fold(cell, NULL, 0);
	is_int(jint(out, "runs"), 0, "no runs");
	ok(json_is_null(json_object_get(out, "dir")), "no runs, no dir");
	ok(jnum(out, "direct_rate") == 0, "no runs: direct rate 0");
	json_decref(out);
	json_decref(rep);
	json_decref(cell);
}

/*
 * A probabilistic cell (expected "direct" with expected_rate): it passes while the upper
 * bound of its direct rate's Wilson interval reaches the rate; relay runs are allowed,
 * failed runs are not.
 */
static void test_fold_expected_rate(void)
{
	json_t *cell = cell_new("direct"), *d = run_report("direct", NULL, 40, 1),
	       *r = run_report("relay", "hard_nat", 0, 0), *f = run_report("fail", "x", 0, 0), *out;
	struct report_run runs[20];
	int k;

	json_object_set_new(cell, "expected_rate", json_real(0.95));
	for (k = 0; k < 20; k++)
		runs[k] = (struct report_run){ .report = k < 18 ? d : r, .dir = "cells/c" };
	out = report_cell_fold(cell, runs, 20);
	ok(json_is_true(json_object_get(out, "pass")),
	   "18 of 20 direct, rate 0.95: Wilson [0.699, 0.972] reaches it, the cell passes");
	near(jnum(out, "expected_rate"), 0.95, "the report states the expected rate");
	ok(json_is_null(json_object_get(out, "reached")), "a passing cell's reached is null");
	json_decref(out);
	runs[17].report = r;
	out = report_cell_fold(cell, runs, 20);
	ok(json_is_false(json_object_get(out, "pass")),
	   "17 of 20: Wilson [0.640, 0.948] falls short of 0.95, the cell fails");
	ok(jstr(out, "reached") && strstr(jstr(out, "reached"), "below the expected rate"),
	   "and says why: %s", jstr(out, "reached") ? jstr(out, "reached") : "(null)");
	json_decref(out);
	runs[17].report = d;
	runs[0].report = f;
	out = report_cell_fold(cell, runs, 20);
	ok(json_is_false(json_object_get(out, "pass")), "a failed run fails it, rate or not");
	json_decref(out);
	out = report_cell_fold(cell, runs + 18, 1);
	ok(json_is_false(json_object_get(out, "pass")),
	   "one relay run alone: [0, 0.793] is below 0.95, the cell fails");
	json_decref(out);
	out = report_cell_fold(cell, runs + 1, 1);
	ok(json_is_true(json_object_get(out, "pass")), "one direct run alone passes");
	json_decref(out);
	json_decref(cell);
	json_decref(d);
	json_decref(r);
	json_decref(f);
}

/* A run's report with a seed and the wire's verdict beside the stack's claim. */
static json_t *wire_run(const char *outcome, json_int_t seed, const char *verdict, int agree,
                        double switch_ms)
{
	json_t *rep = run_report(outcome, "ping_done", 0, 10);
	json_t *res = json_array_get(json_object_get(rep, "results"), 1);

	json_object_set_new(rep, "seed", json_integer(seed));
	json_object_set_new(res, "wire",
	                    json_pack("{s:s, s:s, s:b, s:I, s:I}", "verdict", verdict, "claim",
	                              outcome, "agree", agree, "bytes_direct", (json_int_t)100,
	                              "bytes_relay", (json_int_t)50));
	if (switch_ms >= 0)
		json_object_set_new(json_object_get(res, "wire"), "switch_ms",
		                    json_real(switch_ms));
	return rep;
}

static void test_fold_wire(void)
{
	json_t *cell = cell_new("direct"), *out, *w;
	json_t *r[3] = { wire_run("direct", 7, "direct", 1, 60),
		         wire_run("direct", 8, "relayed", 0, -1),
		         wire_run("relay", 9, "relayed", 1, -1) };
	struct report_run runs[3] = {
		{ .report = r[0], .dir = "cells/w-1" },
		{ .report = r[1], .dir = "cells/w-2" },
		{ .report = r[2], .dir = "cells/w-3" },
	};

	out = report_cell_fold(cell, runs, 1);
	w = json_object_get(out, "wire");
	ok(json_is_true(json_object_get(out, "pass")), "claim and wire agree: the cell passes");
	is_int(jint(w, "direct"), 1, "wire: one direct run");
	is_int(jint(w, "disagree"), 0, "wire: no disagreement");
	ok(jnum(json_object_get(w, "switch_ms"), "p50") == 60, "wire: switch time p50");
	ok(json_is_false(json_object_get(out, "flaky")), "one direct run of one: not flaky");
	is_int(json_array_size(json_object_get(out, "flags")), 0, "no flags");
	is_int(jint(out, "seed"), 7, "seed: the run's own");
	json_decref(out);

	out = report_cell_fold(cell, runs, 3);
	w = json_object_get(out, "wire");
	ok(json_is_false(json_object_get(out, "pass")),
	   "a claim the wire contradicts fails the cell");
	is_int(jint(w, "disagree"), 1, "wire: one run disagrees");
	is_int(jint(w, "relayed"), 2, "wire: two relayed");
	is_str(jstr(w, "disagree_note"), "claimed direct, wire relayed", "wire: what disagreed");
	is_str(jstr(out, "reached"),
	       "the wire disagrees with the stack in 1 of 3 runs (claimed direct, wire relayed)",
	       "reached: the disagreement");
	is_str(jstr(out, "dir"), "cells/w-2", "dir: the run that disagreed");
	is_int(jint(out, "seed"), 8, "seed: of that run");
	is_int(json_array_size(json_object_get(out, "seeds")), 3, "every run's seed");
	is_int(jint(w, "bytes_direct"), 300, "wire bytes summed");
	ok(json_is_true(json_object_get(out, "flaky")), "direct in 2 of 3 runs: flaky");
	is_str(json_string_value(json_array_get(json_object_get(out, "flags"), 0)), "flaky",
	       "flags: flaky");
	is_str(json_string_value(json_array_get(json_object_get(out, "flags"), 1)),
	       "wire_disagrees", "flags: wire_disagrees");
	json_decref(out);
	for (int k = 0; k < 3; k++)
		json_decref(r[k]);
	json_decref(cell);
}

static json_t *run_nat(const char *profile, const char *outer, int match)
{
	json_t *path = json_pack("[{s:s}]", "profile", profile);

	if (outer)
		json_array_append_new(path, json_pack("{s:s}", "profile", outer));
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:b, s:o}}", "name", "nat-a", "profile",
	                 profile, "declared", "mapping", "endpoint-independent", "measured",
	                 "mapping", "endpoint-independent", "match", match, "path", path);
}

static void test_nats(void)
{
	json_t *nats = json_array(), *run1, *run2, *folded;
	json_t *e;

	run1 = json_pack("[o, o, {s:s, s:n}]", run_nat("full-cone", NULL, 1),
	                 run_nat("port-restricted-cone", "cgnat", 0), "name", "unmeasured",
	                 "measured");
	run2 = json_pack("[o]", run_nat("port-restricted-cone", "cgnat", 1));
	report_nats_add(nats, run1);
	report_nats_add(nats, run2);
	is_int(json_array_size(nats), 2, "two measured paths; the unmeasured NAT is left out");
	e = json_array_get(nats, 1);
	is_str(jstr(e, "profile"), "port-restricted-cone under cgnat",
	       "named by the profiles on the path, nearest first");
	is_int(jint(e, "measurements"), 2, "measured twice");
	is_int(jint(e, "as_declared"), 1, "once as declared");
	/* A merge adds folded entries: their counts add up. */
	folded = json_deep_copy(nats);
	report_nats_add(nats, folded);
	is_int(jint(json_array_get(nats, 1), "measurements"), 4, "folded counts add");
	is_int(jint(json_array_get(nats, 0), "as_declared"), 2, "as_declared adds");
	json_decref(folded);
	json_decref(run1);
	json_decref(run2);
	json_decref(nats);
}

static void test_summary(void)
{
	json_t *cells = json_pack("[{s:b, s:i, s:i}, {s:b, s:i, s:i}, {s:b, s:i, s:i}]", "pass", 1,
	                          "runs", 5, "direct", 5, "pass", 0, "runs", 5, "direct", 1, "pass",
	                          1, "runs", 10, "direct", 0);
	json_t *s = report_summary(cells);

	is_int(jint(s, "cells"), 3, "summary: cells");
	is_int(jint(s, "passed"), 2, "summary: passed");
	is_int(jint(s, "failed"), 1, "summary: failed");
	near(jnum(s, "direct_rate"), 6.0 / 20, "summary: direct rate over all runs");
	json_decref(s);
	json_decref(cells);
}

/*
 * Phases: a run's marks and the job pool's start and end become durations that sum to
 * the run's span; a repeated mark adds up; a run without phases adds none; the cell's
 * phases_ms keeps every run's samples in the order the first run had them.
 */
static void test_phases(void)
{
	json_t *r1 = json_loads(
	    "{\"phases\": {\"clock_ms\": 1000, \"marks\": [{\"name\": \"lab_up\", \"t_ms\": 100},"
	    " {\"name\": \"relay_ready\", \"t_ms\": 130}, {\"name\": \"relay_ready\", \"t_ms\": 150},"
	    " {\"name\": \"teardown\", \"t_ms\": 400}]}, \"results\": [{\"outcome\": \"relay\"}]}",
	    0, NULL);
	json_t *r2 = json_loads(
	    "{\"phases\": {\"clock_ms\": 5000, \"marks\": [{\"name\": \"lab_up\", \"t_ms\": 300},"
	    " {\"name\": \"teardown\", \"t_ms\": 500}]}, \"results\": [{\"outcome\": \"relay\"}]}",
	    0, NULL);
	json_t *cell = json_pack("{s:s, s:s}", "name", "x/y", "expected", "relay");
	json_t *p = report_run_phases(r1, 990, 1420), *out, *ph;
	struct report_run runs[] = {
		{ .report = r1, .secs = 0.43, .dir = "a", .spawned_ms = 990, .reaped_ms = 1420 },
		{ .report = r2, .secs = 0.52, .dir = "b", .spawned_ms = 4980, .reaped_ms = 5500 },
		{ .report = NULL, .secs = 1, .dir = "c" },
	};
	const char *names[] = { "start", "lab_up", "relay_ready", "teardown", "exit" };
	double sum = 0;
	const char *k;
	json_t *v;
	int i = 0, order = 1;

	ok(p && json_object_size(p) == 5, "a run: start, its three phases, exit");
	json_object_foreach(p, k, v)
	{
		order &= i < 5 && strcmp(k, names[i++]) == 0;
		sum += json_number_value(v);
	}
	ok(order, "phases in the order they happened");
	near(jnum(p, "start"), 10, "start: spawn to the run's clock");
	near(jnum(p, "relay_ready"), 50, "a phase marked twice: both stretches");
	near(jnum(p, "teardown"), 250, "teardown: from the mark before it");
	near(jnum(p, "exit"), 20, "exit: the last mark to the reap");
	near(sum, 430, "the phases sum to the run's span");
	json_decref(p);
	v = json_object();
	ok(report_run_phases(v, 1, 2) == NULL, "no phases: NULL");
	json_decref(v);
	p = report_run_phases(r2, 0, 0);
	ok(p && !json_object_get(p, "start") && !json_object_get(p, "exit"),
	   "the pool's times unknown: no start, no exit");
	json_decref(p);
	out = report_cell_fold(cell, runs, 3);
	ph = json_object_get(out, "phases_ms");
	ok(json_array_size(json_object_get(json_object_get(ph, "lab_up"), "samples")) == 2,
	   "phases_ms: one sample per run that had phases");
	near(jnum(json_object_get(ph, "lab_up"), "p95"), 300, "phases_ms: p95 over the runs");
	ok(json_array_size(json_object_get(json_object_get(ph, "relay_ready"), "samples")) == 1,
	   "a phase one run lacks: that run's sample is missing");
	near(jnum(json_object_get(ph, "teardown"), "p50"), 200, "phases_ms: p50 (nearest rank)");
	json_decref(out);
	json_decref(cell);
	json_decref(r1);
	json_decref(r2);
}

int main(void)
{
	test_phases();
	test_wilson();
	test_fold_expected_rate();
	test_percentiles();
	test_numbers();
	test_run_result();
	test_fold_missing_run();
	test_fold_counts();
	test_fold_edges();
	test_fold_wire();
	test_nats();
	test_summary();
	return tap_done();
}
