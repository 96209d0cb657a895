/* SPDX-License-Identifier: MIT */
/* natlab report merge DIR... [--out DIR]: one matrix report from the shards' reports. */
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/report_fold.h"
#include "natlab/report_matrix.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void report_usage(FILE *f)
{
	fprintf(f, "Usage: natlab report merge DIR... [--out DIR]\n\n"
		   "Joins the report.json of matrix runs split with --shard I/N (one DIR each)\n"
		   "into one report.json, junit.xml and report.html in --out (default: the\n"
		   "current directory). Cell directories stay where they are; links point\n"
		   "to them relative to --out only if the shards sit below it.\n");
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

		json_array_foreach(cells, k, d)
			if (json_equal(json_object_get(c, "name"), json_object_get(d, "name")))
				log_fatalx("natlab report merge: cell \"%s\" is in two shards (%s)",
					   json_string_value(json_object_get(c, "name")), dir);
		/* Cell directories are relative to their shard; make them relative to --out. */
		if (json_is_string(json_object_get(c, "dir")) && strcmp(out, ".") == 0) {
			snprintf(rel, sizeof(rel), "%s/%s", dir, json_string_value(json_object_get(c, "dir")));
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

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = ".";
	json_t *merged;
	int c, rc;

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
	if (mkdir(out, 0755) < 0 && errno != EEXIST)
		log_fatal("natlab report merge: %s", out);
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
