/* SPDX-License-Identifier: MIT */
#include "natlab/run_opts.h"
#include "natlab/log.h"
#include "natlab/model.h"
#include "natlab/units.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
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

void run_usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: natlab run FILE.lua [--out DIR] [--name NAME] [--keep | --keep-on-failure]\n"
	    "                  [--seed N] [--timeout DURATION]\n"
	    "                  [--pcap all|failed|none] [--filter PATTERN]\n"
	    "                  [--jobs N] [--repeat N] [--shard I/N] [--param KEY=VALUE]...\n\n"
	    "Builds the lab FILE describes, runs the scenario to its end and tears the lab\n"
	    "down, also on errors, time-outs and signals. Expectations are TAP lines on\n"
	    "stdout; the out dir gets report.json, report.html, junit.xml and\n"
	    "logs/<host>-<proc>.log.\n"
	    "Exits 0 only if every expectation held and the scenario ran to its end.\n\n"
	    "  --out DIR       where results go (default: out/<scenario name>)\n"
	    "  --name NAME     the lab's name (default: the scenario's natlab.lab{ name = },\n"
	    "                  with -2, -3... added if a lab of that name is up)\n"
	    "  --keep          leave the lab and the processes still running up after the\n"
	    "                  end: `natlab exec/shell/ls NAME` enter it, `natlab down NAME`\n"
	    "                  removes it\n"
	    "  --keep-on-failure  the same, only if an expectation or the scenario failed\n"
	    "  --seed N        seed for the lab, overriding natlab.lab{ seed = }\n"
	    "  --timeout D     time limit for the whole scenario (default %.0fs)\n"
	    "  --pcap WHICH    captures on both sides of every NAT and on every host, in\n"
	    "                  <out>/pcap/<node>-<interface>.pcap, and of the whole lab\n"
	    "                  with events as comments in <out>/pcap/lab.pcapng: kept for\n"
	    "                  all runs, only failed ones (default), or none taken\n"
	    "  --filter GLOB   run only the parts the scenario marks with names matching\n"
	    "                  GLOB (natlab.selected(name) in Lua), e.g. \"*symmetric*\";\n"
	    "                  for a matrix (natlab.cells{...}), only the matching cells\n"
	    "  --param K=V     a string the scenario reads as natlab.params.K (repeatable;\n"
	    "                  e.g. adapter=socat for scenarios/matrix.lua)\n"
	    "Matrix scenarios run every cell (in a lab a worker reset for it, or built) and\n"
	    "fold the results into one\n"
	    "report (report.json, report.html, junit.xml, TAP line per cell):\n"
	    "  --jobs N        cells in parallel (default: the number of cores)\n"
	    "  --repeat N      runs per cell; rates get a 95%% Wilson interval\n"
	    "  --shard I/N     this runner's share of the cells (natlab report merge joins)\n"
	    "  --no-reuse      build every cell's lab anew (default: a worker keeps a lab that\n"
	    "                  passed for its next cell of the same shape, NATs reset)\n",
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

int run_opts_parse(int argc, char **argv, struct run_opts *o)
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
		{ "name", required_argument, NULL, 'n' },
		{ "keep", no_argument, NULL, 'k' },
		{ "keep-on-failure", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-reuse", no_argument, NULL, 'N' },
		{ "worker", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	char *end, err[256];
	long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout_s = RUN_TIMEOUT_DEFAULT;
	o->pcap = PCAP_FAILED;
	o->pcap_word = "failed";
	o->jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
	o->repeat = 1;
	o->shards = 1;
	while ((c = getopt_long(argc, argv, "o:s:t:p:f:j:r:S:C:P:n:kKhNW", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->filter = optarg;
			break;
		case 'j':
			if (lab_integer_parse(optarg, 1, 256, &v) < 0)
				log_fatalx("natlab run: --jobs must be 1-256, got \"%s\"", optarg);
			o->jobs = (int)v;
			break;
		case 'r':
			if (lab_integer_parse(optarg, 1, 10000, &v) < 0)
				log_fatalx("natlab run: --repeat must be 1-10000, got \"%s\"",
				           optarg);
			o->repeat = (int)v;
			break;
		case 'S':
			if (shard_parse(optarg, &o->shard, &o->shards) < 0)
				log_fatalx(
				    "natlab run: --shard must be I/N with 1 <= I <= N <= %d, got "
				    "\"%s\"",
				    SHARDS_MAX, optarg);
			break;
		case 'C':
			o->cell = optarg;
			break;
		case 'P':
			if (!strchr(optarg, '=') || optarg[0] == '=' ||
			    o->nparams == MATRIX_PARAMS_MAX)
				log_fatalx(
				    "natlab run: --param must be KEY=VALUE (at most %d), got \"%s\"",
				    MATRIX_PARAMS_MAX, optarg);
			o->params[o->nparams++] = optarg;
			break;
		case 'p':
			o->pcap_word = optarg;
			if (strcmp(optarg, "all") == 0)
				o->pcap = PCAP_ALL;
			else if (strcmp(optarg, "failed") == 0)
				o->pcap = PCAP_FAILED;
			else if (strcmp(optarg, "none") == 0)
				o->pcap = PCAP_NONE;
			else
				log_fatalx(
				    "natlab run: --pcap must be all, failed or none, got \"%s\"",
				    optarg);
			break;
		case 'o':
			free(o->out);
			o->out = strdup(optarg);
			break;
		case 's':
			errno = 0;
			o->seed = strtoull(optarg, &end, 10);
			/* strtoull takes "-1" as 2^64-1: a seed is digits only. */
			if (errno || *end || !(*optarg >= '0' && *optarg <= '9'))
				log_fatalx("natlab run: --seed must be a number, got \"%s\"",
				           optarg);
			o->seed_set = 1;
			break;
		case 't':
			if (lab_duration_parse(optarg, &o->timeout_s) < 0 ||
			    o->timeout_s > LAB_DURATION_MAX)
				log_fatalx(
				    "natlab run: --timeout must be a duration like 90s or 5m "
				    "(at most %.0f s), got \"%s\"",
				    LAB_DURATION_MAX, optarg);
			break;
		case 'n':
			if (lab_name_check(optarg, LAB_NAME_MAX, err, sizeof(err)) < 0)
				log_fatalx("natlab run: --name: %s", err);
			o->name = optarg;
			break;
		case 'k':
			o->keep = KEEP_ALWAYS;
			break;
		case 'N':
			o->no_reuse = 1;
			break;
		case 'W':
			o->worker = 1;
			break;
		case 'K':
			o->keep = KEEP_ON_FAILURE;
			break;
		case 'h':
			run_usage(stdout);
			return 1;
		default:
			run_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		run_usage(stderr);
		return 2;
	}
	o->scenario = argv[optind];
	if (!o->out)
		o->out = default_out(o->scenario);
	if (!o->out)
		log_fatalx("natlab run: out of memory");
	return 0;
}

void run_opts_free(struct run_opts *o)
{
	free(o->out);
	o->out = NULL;
}
