/* SPDX-License-Identifier: MIT */
/*
 * natlab run FILE.lua: build the lab, run the scenario to its end (TAP on stdout,
 * progress on stderr), tear the lab down, and write report.json, report.html, junit.xml
 * and logs/ into the out dir. Exits 0 only if every expectation held.
 */
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/nat_json.h"
#include "natlab/matrix.h"
#include "natlab/nat.h"
#include "natlab/outdir.h"
#include "natlab/path.h"
#include "natlab/scenario.h"
#include "natlab/units.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUN_TIMEOUT_DEFAULT 600.0
#define SHARDS_MAX          100000

/* "I/N" with 1 <= I <= N: shard (0-based) and shards; -EINVAL otherwise. */
static int shard_parse(const char *s, int *shard, int *shards)
{
	const char *slash = strchr(s, '/');
	char first[16];
	long long i, n;

	if (!slash || (size_t)(slash - s) >= sizeof(first))
		return -EINVAL;
	memcpy(first, s, (size_t)(slash - s));
	first[slash - s] = '\0';
	if (lab_integer_parse(first, 1, SHARDS_MAX, &i) < 0 ||
	    lab_integer_parse(slash + 1, 1, SHARDS_MAX, &n) < 0 || i > n)
		return -EINVAL;
	*shard = (int)i - 1;
	*shards = (int)n;
	return 0;
}

static void run_usage(FILE *f)
{
	fprintf(f,
	        "Usage: natlab run FILE.lua [--out DIR] [--seed N] [--timeout DURATION]\n"
	        "                  [--pcap all|failed|none] [--filter PATTERN]\n"
	        "                  [--jobs N] [--repeat N] [--shard I/N] [--param KEY=VALUE]...\n\n"
	        "Builds the lab FILE describes, runs the scenario to its end and tears the lab\n"
	        "down, also on errors, time-outs and signals. Expectations are TAP lines on\n"
	        "stdout; the out dir gets report.json, report.html, junit.xml and\n"
	        "logs/<host>-<proc>.log.\n"
	        "Exits 0 only if every expectation held and the scenario ran to its end.\n\n"
	        "  --out DIR       where results go (default: out/<scenario name>)\n"
	        "  --seed N        seed for the lab, overriding natlab.lab{ seed = }\n"
	        "  --timeout D     time limit for the whole scenario (default %.0fs)\n"
	        "  --pcap WHICH    captures on both sides of every NAT and on every host, in\n"
	        "                  <out>/pcap/<node>-<interface>.pcap: kept for all runs, only\n"
	        "                  failed ones (default), or none taken\n"
	        "  --filter GLOB   run only the parts the scenario marks with names matching\n"
	        "                  GLOB (natlab.selected(name) in Lua), e.g. \"*symmetric*\";\n"
	        "                  for a matrix (natlab.cells{...}), only the matching cells\n"
	        "  --param K=V     a string the scenario reads as natlab.params.K (repeatable;\n"
	        "                  e.g. adapter=socat for scenarios/matrix.lua)\n"
	        "Matrix scenarios run every cell in its own lab and fold the results into one\n"
	        "report (report.json, report.html, junit.xml, TAP line per cell):\n"
	        "  --jobs N        cells in parallel (default: the number of cores)\n"
	        "  --repeat N      runs per cell; rates get a 95%% Wilson interval\n"
	        "  --shard I/N     this runner's share of the cells (natlab report merge joins)\n",
	        RUN_TIMEOUT_DEFAULT);
}

static char *default_out(const char *path)
{
	char *copy = strdup(path), *base, *dot, *out = NULL;

	if (!copy)
		return NULL;
	base = basename(copy);
	dot = strrchr(base, '.');
	if (dot)
		*dot = '\0';
	if (asprintf(&out, "out/%s", base) < 0)
		out = NULL;
	free(copy);
	return out;
}

static void iso_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * report.json's nats[]: each NAT as declared (every knob as built, with the scenario's
 * overrides of its profile), and what natlab probe measured through it.
 */
static json_t *nats_of(const struct lab_model *m, const json_t *measured)
{
	json_t *nats = json_array();

	for (int i = 0; i < m->nnodes; i++) {
		const struct lab_node *n = &m->nodes[i];

		if (n->kind != LAB_NODE_NAT)
			continue;
		json_array_append_new(
		    nats, json_pack("{s:s, s:s, s:o?, s:o?}", "name", n->name, "profile",
		                    n->profile, "declared", nat_knobs_json(n->profile, &n->knobs),
		                    "measured", json_incref(json_object_get(measured, n->name))));
	}
	return nats;
}

static int run_scenario(struct scenario *s)
{
	char logs[PATH_MAX], started[32], lab[32];
	struct timespec t0, t1;
	struct run_info info;
	json_t *nats;
	int rc;

	if (lab_pathf(logs, sizeof(logs), "%s/logs", s->out_dir) < 0)
		log_fatalx("natlab run: path too long under the out dir (%zu characters); pick a "
		           "shorter --out",
		           strlen(s->out_dir));
	rc = lab_mkdir_p(logs);
	if (rc < 0)
		log_fatalx("natlab run: out dir %s: %s", logs, strerror(-rc));
	/* Runs are labs of their own, named after the process, so several run side by side. */
	snprintf(lab, sizeof(lab), "run%d", (int)getpid());
	s->lab_name = lab;
	iso_now(started, sizeof(started));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = scenario_run(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0)
		results_expect(&s->results, 0, "the scenario runs to its end", s->path, s->error);
	info = (struct run_info){
		.scenario = s->path,
		.seed = s->model.seed,
		.started = started,
		.duration_s =
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		.nats = nats = nats_of(&s->model, s->results.measured),
		.error = s->error,
	};
	if (results_finish(&s->results, &info, s->out_dir) < 0)
		log_warn("natlab run: writing the report into %s", s->out_dir);
	json_decref(nats);
	fprintf(stderr, "natlab: %d expectations, %d failed, %.1f s; report: %s/report.json\n",
	        s->results.count, s->results.failed, info.duration_s, s->out_dir);
	return rc == 0 && s->results.failed == 0 ? 0 : 1;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pcap", required_argument, NULL, 'p' },
		{ "filter", required_argument, NULL, 'f' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "shard", required_argument, NULL, 'S' },
		{ "cell", required_argument, NULL, 'C' },
		{ "param", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct scenario s;
	char *out = NULL, *end;
	double timeout = RUN_TIMEOUT_DEFAULT;
	unsigned long long seed = 0;
	long long v;
	int c, seed_set = 0, rc;
	enum scenario_pcap pcap = PCAP_FAILED;
	const char *filter = NULL, *cell = NULL, *pcap_word = "failed";
	const char *params[MATRIX_PARAMS_MAX];
	int nparams = 0;
	int jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), repeat = 1, shard = 0, shards = 1;
	while ((c = getopt_long(argc, argv, "o:s:t:p:f:j:r:S:C:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			filter = optarg;
			break;
		case 'j':
			if (lab_integer_parse(optarg, 1, 256, &v) < 0)
				log_fatalx("natlab run: --jobs must be 1-256, got \"%s\"", optarg);
			jobs = (int)v;
			break;
		case 'r':
			if (lab_integer_parse(optarg, 1, 10000, &v) < 0)
				log_fatalx("natlab run: --repeat must be 1-10000, got \"%s\"",
				           optarg);
			repeat = (int)v;
			break;
		case 'S':
			if (shard_parse(optarg, &shard, &shards) < 0)
				log_fatalx(
				    "natlab run: --shard must be I/N with 1 <= I <= N <= %d, got "
				    "\"%s\"",
				    SHARDS_MAX, optarg);
			break;
		case 'C':
			cell = optarg;
			break;
		case 'P':
			if (!strchr(optarg, '=') || optarg[0] == '=' ||
			    nparams == MATRIX_PARAMS_MAX)
				log_fatalx(
				    "natlab run: --param must be KEY=VALUE (at most %d), got \"%s\"",
				    MATRIX_PARAMS_MAX, optarg);
			params[nparams++] = optarg;
			break;
		case 'p':
			pcap_word = optarg;
			if (strcmp(optarg, "all") == 0)
				pcap = PCAP_ALL;
			else if (strcmp(optarg, "failed") == 0)
				pcap = PCAP_FAILED;
			else if (strcmp(optarg, "none") == 0)
				pcap = PCAP_NONE;
			else
				log_fatalx(
				    "natlab run: --pcap must be all, failed or none, got \"%s\"",
				    optarg);
			break;
		case 'o':
			free(out);
			out = strdup(optarg);
			break;
		case 's':
			errno = 0;
			seed = strtoull(optarg, &end, 10);
			/* strtoull takes "-1" as 2^64-1: a seed is digits only. */
			if (errno || *end || !(*optarg >= '0' && *optarg <= '9'))
				log_fatalx("natlab run: --seed must be a number, got \"%s\"",
				           optarg);
			seed_set = 1;
			break;
		case 't':
			if (lab_duration_parse(optarg, &timeout) < 0 || timeout > LAB_DURATION_MAX)
				log_fatalx(
				    "natlab run: --timeout must be a duration like 90s or 5m "
				    "(at most %.0f s), got \"%s\"",
				    LAB_DURATION_MAX, optarg);
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		run_usage(stderr);
		return 2;
	}
	cmd_require_scenario_file("natlab run", argv[optind]);
	cmd_require_admin("natlab run");
	if (!out)
		out = default_out(argv[optind]);
	if (!cell) {
		/* Plan first: a matrix scenario declares its cells before building anything. */
		scenario_init(&s, SCENARIO_PLAN, argv[optind]);
		s.params = params;
		s.nparams = nparams;
		rc = scenario_run(&s);
		if (rc == 0 && s.cells) {
			struct matrix_opts mo = {
				.scenario = argv[optind],
				.self_exe = s.self_exe,
				.out_dir = out,
				.filter = filter,
				.params = params,
				.nparams = nparams,
				.jobs = jobs,
				.repeat = repeat,
				.shard = shard,
				.shards = shards,
				.seed = seed_set ? seed : s.model.seed,
				.seed_set = seed_set,
				.pcap = pcap_word,
				.timeout_s = timeout,
			};

			rc = lab_mkdir_p(out);
			if (rc < 0)
				log_warn_code(rc, "natlab run: out dir \"%s\"", out);
			else
				rc = matrix_run(&mo, s.cells);
			scenario_close(&s);
			free(out);
			return rc == 0 ? 0 : 1;
		}
		scenario_close(&s);
	}
	scenario_init(&s, SCENARIO_RUN, argv[optind]);
	s.out_dir = out;
	s.timeout_s = timeout;
	s.seed_set = seed_set;
	s.seed = seed;
	s.pcap = pcap;
	s.filter = filter;
	s.cell = cell;
	s.params = params;
	s.nparams = nparams;
	rc = run_scenario(&s);
	scenario_close(&s);
	free(out);
	return rc;
}
