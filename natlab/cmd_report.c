/* SPDX-License-Identifier: MIT */
/*
 * natlab report merge DIR... [--out DIR]: one matrix report from the shards' reports.
 * natlab report diff OLD NEW: what changed between two matrix reports, for a CI gate.
 */
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/outdir.h"
#include "natlab/report_diff.h"
#include "natlab/report_fold.h"
#include "natlab/report_matrix.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void report_usage(FILE *f)
{
	fprintf(f, "Usage: natlab report merge DIR... [--out DIR]\n"
	           "       natlab report diff OLD NEW [--rate R] [--time SHARE] [--time-min MS]\n\n"
	           "Joins the report.json of matrix runs split with --shard I/N (one DIR each)\n"
	           "into one report.json, junit.xml and report.html in --out (default: the\n"
	           "current directory). Cell directories stay where they are; links point\n"
	           "to them relative to --out only if the shards sit below it.\n\n"
	           "diff compares two matrix reports (a report.json or its directory) cell by\n"
	           "cell and prints what changed: outcome, pass, direct rate (by more than R,\n"
	           "default 0.2), time-to-direct p50 (by more than SHARE of the old, default\n"
	           "0.5, and more than MS, default 50), cells added or removed. Exits 1 if any\n"
	           "change is a regression, 0 if none, 2 on bad input.\n");
}

/* Adds the cells of one shard; a cell in two shards is an error (shards are disjoint). */
static int merge_one(json_t *merged, const char *dir, const char *out)
{
	char path[4200], rel[4200];
	json_error_t jerr;
	json_t *report, *c, *cells = json_object_get(merged, "cells");
	size_t i, k;

	snprintf(path, sizeof(path), "%s/report.json", dir);
	report = json_load_file(path, 0, &jerr);
	if (!report)
		log_fatalx("natlab report merge: %s: %s", path, jerr.text);
	if (!json_object_get(merged, "scenario"))
		json_object_update_missing(merged, report);
	json_array_foreach(json_object_get(report, "cells"), i, c)
	{
		json_t *d;

		json_array_foreach(cells, k, d) if (json_equal(json_object_get(c, "name"),
		                                               json_object_get(d, "name")))
		    log_fatalx("natlab report merge: cell \"%s\" is in two shards (%s)",
		               json_string_value(json_object_get(c, "name")), dir);
		/* Cell directories are relative to their shard; make them relative to --out. */
		if (json_is_string(json_object_get(c, "dir")) && strcmp(out, ".") == 0) {
			snprintf(rel, sizeof(rel), "%s/%s", dir,
			         json_string_value(json_object_get(c, "dir")));
			json_object_set_new(c, "dir", json_string(rel));
		}
		json_array_append(cells, c);
	}
	report_nats_add(json_object_get(merged, "nats"), json_object_get(report, "nats"));
	json_object_set_new(merged, "duration_s",
	                    json_real(json_number_value(json_object_get(merged, "duration_s")) +
	                              json_number_value(json_object_get(report, "duration_s"))));
	json_decref(report);
	return 0;
}

static json_t *report_load(const char *path)
{
	char buf[4200];
	struct stat st;
	json_error_t jerr;
	json_t *r;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		if ((size_t)snprintf(buf, sizeof(buf), "%s/report.json", path) >= sizeof(buf))
			log_fatalx("natlab report diff: %s: path too long", path);
		path = buf;
	}
	r = json_load_file(path, 0, &jerr);
	if (!r || !json_is_array(json_object_get(r, "cells"))) {
		fprintf(stderr, "natlab report diff: %s: %s\n", path,
		        r ? "not a matrix report (no cells[])" : jerr.text);
		json_decref(r);
		return NULL;
	}
	return r;
}

static void value_print(const json_t *v)
{
	if (json_is_number(v))
		printf("%.4g", json_number_value(v));
	else if (json_is_string(v))
		printf("%s", json_string_value(v));
	else if (json_is_boolean(v))
		printf("%s", json_is_true(v) ? "true" : "false");
	else
		printf("-");
}

static int diff_number(const char *flag, const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	if (*end || end == s || *out < 0) {
		fprintf(stderr, "natlab report diff: %s must be a number >= 0, got \"%s\"\n", flag,
		        s);
		return -EINVAL;
	}
	return 0;
}

static int report_diff_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "time", required_argument, NULL, 't' },
		{ "time-min", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct report_diff_opts o = { .rate = 0.2, .time = 0.5, .time_min_ms = 50 };
	json_t *a = NULL, *b = NULL, *d = NULL, *ch;
	int c, rc = 2, regressions = 0;
	size_t i;

	while ((c = getopt_long(argc, argv, "r:t:m:h", opts, NULL)) != -1) {
		if (c == 'h') {
			report_usage(stdout);
			return 0;
		}
		if ((c == 'r' && diff_number("--rate", optarg, &o.rate) < 0) ||
		    (c == 't' && diff_number("--time", optarg, &o.time) < 0) ||
		    (c == 'm' && diff_number("--time-min", optarg, &o.time_min_ms) < 0))
			return 2;
		if (c != 'r' && c != 't' && c != 'm') {
			report_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		report_usage(stderr);
		return 2;
	}
	a = report_load(argv[optind]);
	b = a ? report_load(argv[optind + 1]) : NULL;
	if (!b)
		goto out;
	d = report_diff(a, b, &o);
	json_array_foreach(d, i, ch)
	{
		int reg = json_is_true(json_object_get(ch, "regression"));

		regressions += reg;
		printf("%s %s: %s ", reg ? "REGRESSION" : "changed",
		       json_string_value(json_object_get(ch, "cell")),
		       json_string_value(json_object_get(ch, "what")));
		value_print(json_object_get(ch, "old"));
		printf(" -> ");
		value_print(json_object_get(ch, "new"));
		printf("\n");
	}
	printf("natlab report diff: %zu changes, %d regressions\n", json_array_size(d),
	       regressions);
	rc = regressions ? 1 : 0;
out:
	json_decref(a);
	json_decref(b);
	json_decref(d);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = ".";
	char msg[4096 + 256];
	json_t *merged;
	int c, rc;

	if (argc >= 2 && strcmp(argv[1], "diff") == 0)
		return report_diff_cmd(argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "merge") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			report_usage(stdout);
			return 0;
		}
		report_usage(stderr);
		return 2;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'h') {
			report_usage(stdout);
			return 0;
		} else {
			report_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		report_usage(stderr);
		return 2;
	}
	if (outdir_make(out, msg, sizeof(msg)) < 0)
		log_fatalx("natlab report merge: %s", msg);
	merged = json_pack("{s:[], s:[], s:f}", "cells", "nats", "duration_s", 0.0);
	for (int i = optind; i < argc; i++)
		merge_one(merged, argv[i], out);
	json_object_del(merged, "shard");
	rc = report_matrix_write(merged, out);
	if (rc < 0)
		log_fatalx("natlab report merge: writing into %s: %s", out, strerror(-rc));
	fprintf(stderr, "natlab: merged %d shards, %zu cells; report: %s/report.json\n",
	        argc - optind, json_array_size(json_object_get(merged, "cells")), out);
	rc = (int)json_integer_value(json_object_get(json_object_get(merged, "summary"), "failed"));
	json_decref(merged);
	return rc ? 1 : 0;
}
