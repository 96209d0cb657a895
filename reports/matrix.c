/* SPDX-License-Identifier: MIT */
#include "natlab/report_matrix.h"
#include "natlab/log.h"
#include "natlab/outdir.h"
#include "natlab/report_fold.h"
#include "natlab/report_html.h"
#include "natlab/report_junit.h"
#include "natlab/report_tap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

json_t *report_run_load(const char *dir)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/report.json", dir) >= sizeof(path))
		return NULL;
	return json_load_file(path, 0, NULL);
}

static int junit_write(const json_t *report, const char *dir)
{
	const json_t *cells = json_object_get(report, "cells"), *c, *flag;
	const json_t *sum = json_object_get(report, "summary");
	char message[384], text[8600], flags[128];
	size_t i;
	FILE *f;

	f = report_junit_open(dir, json_string_value(json_object_get(report, "scenario")),
	                      json_integer_value(json_object_get(sum, "cells")),
	                      json_integer_value(json_object_get(sum, "failed")),
	                      json_number_value(json_object_get(report, "duration_s")));
	if (!f)
		return -errno;
	json_array_foreach(cells, i, c)
	{
		int pass = json_is_true(json_object_get(c, "pass"));
		/* flaky and wire_disagrees, and room for a few more words. */
		const char *words[8];
		size_t nwords = 0, k;

		const char *repro = json_string_value(json_object_get(c, "reproduce"));

		report_cell_flags(flags, sizeof(flags), c);
		/* Cut short, a message still says what failed; report.json has the rest. */
		snprintf(message, sizeof(message),
		         "expected %s, got direct %lld relay %lld failed %lld of %lld%s",
		         json_string_value(json_object_get(c, "expected")) ?: "?",
		         json_integer_value(json_object_get(c, "direct")),
		         json_integer_value(json_object_get(c, "relay")),
		         json_integer_value(json_object_get(c, "failed")),
		         json_integer_value(json_object_get(c, "runs")), flags);
		snprintf(text, sizeof(text), "reached: %s; logs and pcaps in %s%s%s",
		         json_string_value(json_object_get(c, "reached")) ?: "?",
		         json_string_value(json_object_get(c, "dir")) ?: "",
		         repro ? "\nreproduce: " : "", repro ? repro : "");
		json_array_foreach(json_object_get(c, "flags"), k, flag)
		{
			if (json_is_string(flag) && nwords < sizeof(words) / sizeof(words[0]) - 1)
				words[nwords++] = json_string_value(flag);
		}
		words[nwords] = NULL;
		report_junit_case_flags(f, "natlab.matrix",
		                        json_string_value(json_object_get(c, "name")),
		                        pass ? NULL : message, text, words);
	}
	return report_junit_close(f);
}

int report_matrix_write(json_t *report, const char *dir)
{
	char json[PATH_MAX], html[PATH_MAX], err[PATH_MAX + 64];
	int rc;

	if ((size_t)snprintf(json, sizeof(json), "%s/report.json", dir) >= sizeof(json) ||
	    (size_t)snprintf(html, sizeof(html), "%s/report.html", dir) >= sizeof(html))
		return -ENAMETOOLONG;
	json_object_set_new(report, "summary", report_summary(json_object_get(report, "cells")));
	rc = outdir_write_json(report, json);
	if (rc < 0)
		return rc;
	rc = junit_write(report, dir);
	/* junit.xml is written first: a page that fails does not cost CI its test results. */
	if (rc == 0 && (rc = report_html_write(report, html, err, sizeof(err))) < 0)
		log_warnx("report.html: %s", err);
	return rc;
}
