/* SPDX-License-Identifier: MIT */
/*
 * The fold keeps no pointer past its call: what it reads from a run's report (such as the
 * "reached" string) lives as long as the caller's report, and what it returns is copied
 * or referenced in the new JSON.
 */
#include "natlab/report_fold.h"
#include "natlab/report_phases.h"
#include "natlab/report_stats.h"

#include <stdio.h>
#include <string.h>

json_t *report_run_result(const json_t *report)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(report, "results"), i,
	                   r) if (json_is_string(json_object_get(r, "outcome"))) return r;
	return NULL;
}

/* What the runs of a cell add up to, while folding them. */
struct cell_acc {
	json_t *ttd, *rtt_d, *rtt_r, *secs; /* samples */
	json_t *phases;                     /* {phase: [ms]} over the runs */
	int runs, direct, relay, failed, pass;
	json_int_t bytes_d, bytes_r;
	const char *reached, *dir;
	const json_t *timeline; /* of the run `dir` names */
	json_t *seeds, *seed;   /* every run's seed; the seed of the run `dir` names */
	/* The wire's verdicts (runs that counted it), and runs whose claim differed. */
	int wire_runs, wire_direct, wire_relayed, wire_none, disagree;
	json_t *switch_ms;
	json_int_t wire_bytes_d, wire_bytes_r;
	char disagree_note[160];
	const char *relay_via; /* the last relayed run's relay and transport ("turn/tls") */
	const char *family;    /* the last direct run's address family ("ipv6") */
	/* expected_rate of a probabilistic cell (0: none): relay runs do not fail it. */
	double rate;
	char rate_note[160];
};

/* A run's `wire` (scenarios/lib/wire.lua's verdict) into the cell's wire figures. */
static void wire_add(struct cell_acc *a, const json_t *w)
{
	const char *verdict = json_string_value(json_object_get(w, "verdict"));

	if (!verdict)
		return;
	a->wire_runs++;
	a->wire_direct += strcmp(verdict, "direct") == 0;
	a->wire_relayed += strcmp(verdict, "relayed") == 0;
	a->wire_none += strcmp(verdict, "direct") && strcmp(verdict, "relayed");
	report_numbers_append(a->switch_ms, json_object_get(w, "switch_ms"));
	a->wire_bytes_d += json_integer_value(json_object_get(w, "bytes_direct"));
	a->wire_bytes_r += json_integer_value(json_object_get(w, "bytes_relay"));
	if (json_is_false(json_object_get(w, "agree"))) {
		if (!a->disagree++)
			snprintf(a->disagree_note, sizeof(a->disagree_note), "claimed %s, wire %s",
			         json_string_value(json_object_get(w, "claim")) ?: "nothing",
			         verdict);
	}
}

static void cell_add(struct cell_acc *a, const char *expected, const struct report_run *run)
{
	json_t *r = report_run_result(run->report);
	const char *outcome = json_string_value(json_object_get(r, "outcome"));
	json_t *phases = report_run_phases(run->report, run->spawned_ms, run->reaped_ms);

	if (!outcome)
		outcome = "fail";
	a->runs++;
	json_array_append_new(a->secs, json_real(run->secs));
	report_phases_add(a->phases, phases);
	json_decref(phases);
	a->direct += strcmp(outcome, "direct") == 0;
	a->relay += strcmp(outcome, "relay") == 0;
	a->failed += strcmp(outcome, "direct") && strcmp(outcome, "relay");
	json_array_append(a->seeds, json_object_get(run->report, "seed") ?: json_null());
	wire_add(a, json_object_get(r, "wire"));
	/* A claim the wire contradicts fails the run, whatever the stack said about it. A
	 * probabilistic cell's relay run is judged with the others, by the rate. */
	if (!expected ||
	    (strcmp(outcome, expected) != 0 && !(a->rate > 0 && strcmp(outcome, "relay") == 0)) ||
	    run->status != 0 ||
	    json_is_false(json_object_get(json_object_get(r, "wire"), "agree"))) {
		a->pass = 0;
		if (!a->dir) {
			a->dir = run->dir;
			a->seed = json_object_get(run->report, "seed");
			a->timeline = json_object_get(run->report, "timeline");
		}
	}
	report_numbers_append(a->ttd, json_object_get(r, "time_to_direct_ms"));
	report_numbers_append(a->rtt_d, json_object_get(r, "rtt_direct_ms"));
	report_numbers_append(a->rtt_r, json_object_get(r, "rtt_relay_ms"));
	a->bytes_d += json_integer_value(json_object_get(r, "bytes_direct"));
	a->bytes_r += json_integer_value(json_object_get(r, "bytes_relay"));
	if (json_is_string(json_object_get(r, "reached")))
		a->reached = json_string_value(json_object_get(r, "reached"));
	if (json_is_string(json_object_get(r, "relay_via")))
		a->relay_via = json_string_value(json_object_get(r, "relay_via"));
	if (json_is_string(json_object_get(r, "family")))
		a->family = json_string_value(json_object_get(r, "family"));
}

static const char *majority(const struct cell_acc *a)
{
	if (a->direct >= a->relay && a->direct >= a->failed)
		return "direct";
	return a->relay >= a->failed ? "relay" : "fail";
}

json_t *report_cell_fold(const json_t *cell, const struct report_run *runs, size_t nruns)
{
	const char *expected = json_string_value(json_object_get(cell, "expected"));
	struct cell_acc a = {
		.ttd = json_array(),
		.rtt_d = json_array(),
		.rtt_r = json_array(),
		.secs = json_array(),
		.phases = json_object(),
		.seeds = json_array(),
		.switch_ms = json_array(),
		.pass = 1,
		.rate = json_number_value(json_object_get(cell, "expected_rate")),
	};
	json_t *flags = json_array();
	double lo, hi;
	json_t *out;

	for (size_t k = 0; k < nruns; k++)
		cell_add(&a, expected, &runs[k]);
	report_wilson(a.direct, a.runs, &lo, &hi);
	/*
	 * Probabilistic (expected_rate): the direct rate must not be significantly below the
	 * expectation, i.e. the upper bound of its 95% Wilson interval reaches it.
	 */
	if (a.rate > 0 && a.pass && (a.runs == 0 || hi < a.rate)) {
		a.pass = 0;
		snprintf(
		    a.rate_note, sizeof(a.rate_note),
		    "direct %d of %d: Wilson 95%% [%.3f, %.3f] is below the expected rate %.3f",
		    a.direct, a.runs, lo, hi, a.rate);
		a.reached = a.rate_note;
	}
	if (!a.dir && nruns > 0) {
		a.dir = runs[0].dir;
		a.seed = json_object_get(runs[0].report, "seed");
		a.timeline = json_object_get(runs[0].report, "timeline");
	}
	out = json_pack("{s:s, s:O, s:O, s:s?, s:i, s:i, s:i, s:i, s:f, s:[f,f], s:o, s:o, s:o,"
	                " s:I, s:I, s:b, s:s, s:s?, s:s?, s:o}",
	                "name", json_string_value(json_object_get(cell, "name")), "a",
	                json_object_get(cell, "a") ?: json_null(), "b",
	                json_object_get(cell, "b") ?: json_null(), "expected", expected, "runs",
	                a.runs, "direct", a.direct, "relay", a.relay, "failed", a.failed,
	                "direct_rate", a.runs ? (double)a.direct / a.runs : 0.0, "direct_rate_ci95",
	                lo, hi, "time_to_direct_ms", report_percentiles(a.ttd), "rtt_direct_ms",
	                report_percentiles(a.rtt_d), "rtt_relay_ms", report_percentiles(a.rtt_r),
	                "bytes_direct", a.bytes_d, "bytes_relay", a.bytes_r, "pass", a.pass,
	                "outcome", majority(&a), "reached", a.pass ? NULL : a.reached, "dir", a.dir,
	                /* How long each run of the cell took, lab up to teardown. */
	                "seconds", report_percentiles(a.secs));
	/* Neither always nor never direct over repeats: the cell's result is a coin toss. */
	if (a.direct > 0 && a.direct < a.runs)
		json_array_append_new(flags, json_string("flaky"));
	if (a.disagree)
		json_array_append_new(flags, json_string("wire_disagrees"));
	json_object_set_new(out, "flaky", json_boolean(a.direct > 0 && a.direct < a.runs));
	if (a.rate > 0)
		json_object_set_new(out, "expected_rate", json_real(a.rate));
	json_object_set_new(out, "flags", flags);
	if (a.relay_via)
		json_object_set_new(out, "relay_via", json_string(a.relay_via));
	if (a.family)
		json_object_set_new(out, "family", json_string(a.family));
	/* Where each run's time went, phase by phase (docs/reports.md). */
	json_object_set_new(out, "phases_ms", report_phases_fold(a.phases));
	json_object_set_new(out, "seeds", a.seeds);
	json_object_set(out, "seed", a.seed ?: json_null());
	/* The run `dir` names (the first that failed, else the first), on one time axis. */
	if (a.timeline)
		json_object_set(out, "timeline", (json_t *)a.timeline);
	json_object_set_new(
	    out, "wire",
	    a.wire_runs ? json_pack("{s:i, s:i, s:i, s:i, s:i, s:s?, s:o, s:I, s:I}", "runs",
	                            a.wire_runs, "direct", a.wire_direct, "relayed", a.wire_relayed,
	                            "none", a.wire_none, "disagree", a.disagree, "disagree_note",
	                            a.disagree ? a.disagree_note : NULL, "switch_ms",
	                            report_percentiles(a.switch_ms), "bytes_direct", a.wire_bytes_d,
	                            "bytes_relay", a.wire_bytes_r)
	                : json_null());
	/* The stack's own last word is beside the point when the wire contradicts it. */
	if (a.disagree) {
		char why[256];

		snprintf(why, sizeof(why),
		         "the wire disagrees with the stack in %d of %d runs (%s)", a.disagree,
		         a.runs, a.disagree_note);
		json_object_set_new(out, "reached", json_string(why));
	}
	json_decref(a.ttd);
	json_decref(a.rtt_d);
	json_decref(a.rtt_r);
	json_decref(a.secs);
	json_decref(a.phases);
	json_decref(a.switch_ms);
	return out;
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

	json_array_foreach(nats, i, e) if (json_is_string(json_object_get(e, "profile")) &&
	                                   strcmp(json_string_value(json_object_get(e, "profile")),
	                                          profile) == 0) return e;
	return NULL;
}

static void count_add(json_t *e, const char *key, json_int_t n)
{
	json_object_set_new(e, key, json_integer(json_integer_value(json_object_get(e, key)) + n));
}

void report_nats_add(json_t *nats, const json_t *report_nats)
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
			    nats,
			    json_pack("{s:s, s:s, s:O, s:O, s:I, s:I}", "name", profile, "profile",
			              profile, "declared",
			              json_object_get(m, "declared") ?: json_null(), "measured", m,
			              "measurements", count, "as_declared", matched));
			continue;
		}
		count_add(e, "measurements", count);
		count_add(e, "as_declared", matched);
	}
}

json_t *report_summary(const json_t *cells)
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
