/* SPDX-License-Identifier: MIT */
/*
 * report diff (report_diff.h): two matrix reports with one changed cell of each kind;
 * each change found once, regressions told from improvements, thresholds respected.
 */
#include <string.h>

#include <jansson.h>

#include "natlab/report_diff.h"
#include "tap.h"

static json_t *cell(const char *name, const char *outcome, int pass, double rate, double ttd)
{
	json_t *c = json_pack("{s:s, s:s, s:b, s:f}", "name", name, "outcome", outcome, "pass",
	                      pass, "direct_rate", rate);

	json_object_set_new(c, "time_to_direct_ms",
	                    ttd > 0 ? json_pack("{s:f}", "p50", ttd) : json_null());
	return c;
}

/* The change of cell `name`, kind `what`, or NULL. */
static const json_t *find(const json_t *d, const char *name, const char *what)
{
	const json_t *c;
	size_t i;

	json_array_foreach(
	    d, i, c) if (strcmp(json_string_value(json_object_get(c, "cell")), name) == 0 &&
	                 strcmp(json_string_value(json_object_get(c, "what")), what) == 0) return c;
	return NULL;
}

static int regression(const json_t *d, const char *name, const char *what)
{
	return json_is_true(json_object_get(find(d, name, what), "regression"));
}

int main(void)
{
	struct report_diff_opts o = { .rate = 0.2, .time = 0.5, .time_min_ms = 50 };
	json_t *old =
	    json_pack("{s:[o, o, o, o, o, o]}", "cells", cell("same", "direct", 1, 1, 40),
	              cell("worse", "direct", 1, 1, 40), cell("better", "relay", 0, 0, 0),
	              cell("slower", "direct", 1, 1, 40), cell("noisy", "direct", 1, 0.9, 40),
	              cell("gone", "relay", 1, 0, 0));
	json_t *new =
	    json_pack("{s:[o, o, o, o, o, o]}", "cells", cell("same", "direct", 1, 1, 41),
	              cell("worse", "relay", 0, 0, 0), cell("better", "direct", 1, 1, 30),
	              cell("slower", "direct", 1, 1, 400), cell("noisy", "direct", 1, 0.8, 70),
	              cell("new", "direct", 1, 1, 40));
	json_t *d = report_diff(old, new, &o);

	ok(find(d, "same", "outcome") == NULL && find(d, "same", "time_to_direct_ms") == NULL,
	   "an unchanged cell (40 -> 41 ms) is not listed");
	ok(regression(d, "worse", "outcome"), "direct -> relay is a regression");
	ok(regression(d, "worse", "pass"), "pass -> fail is a regression");
	ok(regression(d, "worse", "direct_rate"), "direct rate 1 -> 0 is a regression");
	ok(find(d, "better", "outcome") && !regression(d, "better", "outcome"),
	   "relay -> direct is listed, not a regression");
	ok(regression(d, "slower", "time_to_direct_ms"),
	   "time to direct 40 -> 400 ms is a regression");
	ok(find(d, "noisy", "direct_rate") == NULL, "a rate change of 0.1 is under the threshold");
	ok(find(d, "noisy", "time_to_direct_ms") == NULL, "40 -> 70 ms is under 50 ms: noise");
	ok(find(d, "new", "added") && !regression(d, "new", "added"),
	   "an added cell is no regression");
	ok(regression(d, "gone", "removed"),
	   "a removed cell is a regression (it may hide a failure)");
	is_int((int)json_array_size(d), 9, "nine changes in all (better: pass, outcome, rate)");
	json_decref(d);
	o.rate = 0.05;
	d = report_diff(old, new, &o);
	ok(regression(d, "noisy", "direct_rate"), "with --rate 0.05 the 0.1 drop counts");
	json_decref(d);
	json_decref(old);
	json_decref(new);
	return tap_done();
}
