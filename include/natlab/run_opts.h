/* SPDX-License-Identifier: MIT */
/* natlab run's command line: what it asks for, checked, before anything is built. */
#ifndef NATLAB_RUN_OPTS_H
#define NATLAB_RUN_OPTS_H

#include "natlab/matrix.h"
#include "natlab/scenario.h"

#include <stdio.h>

struct run_opts {
	const char *scenario;
	char *out;        /* malloc'd; --out or out/<scenario's base name> */
	const char *name; /* --name, or NULL: the scenario's lab name, made unique */
	double timeout_s;
	unsigned long long seed;
	int seed_set;
	enum scenario_pcap pcap;
	const char *pcap_word; /* as given, passed on to a matrix's cells */
	enum scenario_keep keep;
	const char *filter, *cell;
	const char *params[MATRIX_PARAMS_MAX];
	int nparams;
	int jobs, repeat, shard, shards;
	int no_reuse; /* --no-reuse: every matrix cell in a lab of its own, built and torn down */
	int worker;   /* --worker (internal): a matrix worker, its cells given on fd 3 */
};

/*
 * Parses argv (from "run" on) into o. Returns 0 to run, 1 if --help was printed (exit 0),
 * 2 after a usage message on stderr; a bad value exits with a message naming it.
 */
int run_opts_parse(int argc, char **argv, struct run_opts *o);
void run_opts_free(struct run_opts *o);
void run_usage(FILE *f);

#endif
