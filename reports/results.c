/* SPDX-License-Identifier: MIT */
#include "natlab/results.h"
#include "natlab/log.h"
#include "natlab/outdir.h"
#include "natlab/report_html.h"
#include "natlab/report_junit.h"
#include "natlab/report_tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void results_init(struct results *r, FILE *tap)
{
	memset(r, 0, sizeof(*r));
	r->tap = tap;
	r->expectations = json_array();
	r->records = json_array();
	r->measured = json_object();
	r->marks = json_array();
}

void results_close(struct results *r)
{
	if (!r)
		return;
	json_decref(r->expectations);
	json_decref(r->records);
	json_decref(r->measured);
	json_decref(r->marks);
	r->expectations = r->records = r->measured = r->marks = NULL;
}

int results_expect(struct results *r, int ok, const char *name, const char *where, const char *diag)
{
	r->count++;
	if (!ok)
		r->failed++;
	if (r->tap)
		report_tap_line(r->tap, r->count, ok, name, where, diag);
	json_array_append_new(r->expectations, json_pack("{s:s, s:b, s:s?, s:s?}", "name", name,
	                                                 "ok", ok, "where", where, "diag", diag));
	return ok;
}

void results_record(struct results *r, json_t *obj)
{
	json_array_append_new(r->records, obj);
}

void results_mark(struct results *r, const char *name, double t_ms)
{
	json_array_append_new(r->marks, json_pack("{s:s, s:f}", "name", name, "t_ms", t_ms));
}

static int write_report(struct results *r, const struct run_info *info, const char *dir)
{
	char path[4096], err[512];
	json_t *root;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/report.html", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/report.json", dir);
	root = json_pack("{s:s, s:I, s:s, s:f, s:s?, s:o, s:o, s:o, s:[], s:{s:i, s:i, s:i}}",
	                 "scenario", info->scenario, "seed", (json_int_t)info->seed, "started",
	                 info->started, "duration_s", info->duration_s, "error", info->error,
	                 "nats", info->nats ? json_deep_copy(info->nats) : json_array(),
	                 "expectations", json_incref(r->expectations), "results",
	                 json_incref(r->records), "cells", "summary", "expectations", r->count,
	                 "passed", r->count - r->failed, "failed", r->failed);
	if (!root)
		return -ENOMEM;
	if (info->timeline)
		json_object_set_new(root, "timeline", json_deep_copy(info->timeline));
	json_object_set_new(root, "phases",
	                    json_pack("{s:f, s:O}", "clock_ms", r->clock_ms, "marks", r->marks));
	rc = outdir_write_json(root, path);
	/* The page is for people: a failure to write it must not cost junit.xml. */
	snprintf(path, sizeof(path), "%s/report.html", dir); /* fits: checked above */
	if (rc == 0 && report_html_write(root, path, err, sizeof(err)) < 0)
		log_warnx("%s", err);
	json_decref(root);
	return rc;
}

static int write_junit(struct results *r, const struct run_info *info, const char *dir)
{
	FILE *f = report_junit_open(dir, info->scenario, r->count, r->failed, info->duration_s);
	json_t *e;
	size_t i;

	if (!f)
		return -errno;
	json_array_foreach(r->expectations, i, e)
	{
		int ok = json_is_true(json_object_get(e, "ok"));

		report_junit_case(f, "natlab", json_string_value(json_object_get(e, "name")),
			       ok ? NULL : json_string_value(json_object_get(e, "where")) ?: "",
			       json_string_value(json_object_get(e, "diag")));
	}
	return report_junit_close(f);
}

int results_finish(struct results *r, const struct run_info *info, const char *dir)
{
	int rc;

	fprintf(r->tap, "1..%d\n", r->count);
	fflush(r->tap);
	rc = write_report(r, info, dir);
	if (rc == 0)
		rc = write_junit(r, info, dir);
	return rc;
}
