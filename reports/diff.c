/* SPDX-License-Identifier: MIT */
#include "natlab/report_diff.h"

#include <math.h>
#include <string.h>

static const json_t *cell_find(const json_t *report, const char *name)
{
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(report, "cells"), i, c)
	{
		const char *n = json_string_value(json_object_get(c, "name"));

		if (n && strcmp(n, name) == 0)
			return c;
	}
	return NULL;
}

/* direct beats relay beats anything else. */
static int outcome_rank(const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s)
		return 0;
	return strcmp(s, "direct") == 0 ? 2 : strcmp(s, "relay") == 0 ? 1 : 0;
}

static void change(json_t *out, const char *cell, const char *what, const json_t *old,
                   const json_t *new, int regression)
{
	json_array_append_new(out, json_pack("{s:s, s:s, s:O, s:O, s:b}", "cell", cell, "what",
	                                     what, "old", old ? old : json_null(), "new",
	                                     new ? new : json_null(), "regression", regression));
}

static void cell_diff(json_t *out, const char *name, const json_t *a, const json_t *b,
                      const struct report_diff_opts *o)
{
	const json_t *ta = json_object_get(json_object_get(a, "time_to_direct_ms"), "p50");
	const json_t *tb = json_object_get(json_object_get(b, "time_to_direct_ms"), "p50");
	const json_t *ra = json_object_get(a, "direct_rate"),
	             *rb = json_object_get(b, "direct_rate");
	const json_t *oa = json_object_get(a, "outcome"), *ob = json_object_get(b, "outcome");

	if (!json_equal(json_object_get(a, "pass"), json_object_get(b, "pass")))
		change(out, name, "pass", json_object_get(a, "pass"), json_object_get(b, "pass"),
		       json_is_true(json_object_get(a, "pass")));
	if (!json_equal(oa, ob))
		change(out, name, "outcome", oa, ob, outcome_rank(ob) < outcome_rank(oa));
	if (json_is_number(ra) && json_is_number(rb) &&
	    fabs(json_number_value(rb) - json_number_value(ra)) > o->rate)
		change(out, name, "direct_rate", ra, rb,
		       json_number_value(rb) < json_number_value(ra));
	if (json_is_number(ta) && json_is_number(tb)) {
		double x = json_number_value(ta), y = json_number_value(tb);

		if (fabs(y - x) > o->time_min_ms && fabs(y - x) > o->time * x)
			change(out, name, "time_to_direct_ms", ta, tb, y > x);
	}
}

json_t *report_diff(const json_t *old, const json_t *new, const struct report_diff_opts *o)
{
	json_t *out = json_array();
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(new, "cells"), i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		const json_t *was;

		if (!name)
			continue;
		was = cell_find(old, name);
		if (!was)
			change(out, name, "added", NULL, json_object_get(c, "outcome"), 0);
		else
			cell_diff(out, name, was, c, o);
	}
	json_array_foreach(json_object_get(old, "cells"), i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));

		/* A cell that vanished may hide a failure: the gate must not pass silently. */
		if (name && !cell_find(new, name))
			change(out, name, "removed", json_object_get(c, "outcome"), NULL, 1);
	}
	return out;
}
