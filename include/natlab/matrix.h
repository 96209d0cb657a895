/* SPDX-License-Identifier: MIT */
/*
 * Matrix scenarios (natlab.cells{...}): every cell runs --repeat times, --jobs in
 * parallel, in --jobs worker processes that reuse a lab between cells of one shape
 * (lab_reuse.h), or with --no-reuse each in its own lab and `natlab run --cell NAME`
 * process. This is
 * the job pool; reports/ folds the runs' reports into one report.json (DESIGN.md
 * contract), junit.xml (a testcase per cell), report.html and TAP lines (one per cell).
 */
#ifndef NATLAB_MATRIX_H
#define NATLAB_MATRIX_H

#include <jansson.h>

/* How many --param KEY=VALUE a run takes. */
#define MATRIX_PARAMS_MAX 16

struct matrix_opts {
	const char *scenario; /* the scenario file */
	const char *self_exe; /* natlab, to run each cell */
	const char *out_dir;
	const char *filter;        /* glob on cell names, or NULL */
	const char *const *params; /* --param KEY=VALUE words, passed to every cell */
	int nparams;               /* at most MATRIX_PARAMS_MAX */
	int jobs;
	int repeat;
	int shard, shards; /* run cells whose index % shards == shard (0-based) */
	unsigned long long seed;
	int seed_set;
	const char *pcap; /* all | failed | none, passed to the cells */
	double timeout_s; /* per cell run */
	int reuse;        /* cells run in --jobs workers that reuse labs (lab_reuse.h) */
};

/*
 * natlab run --worker: runs the cells the pool writes on fd 3 (name, out dir, seed or
 * "-": a line each), one after another, each with its run.tap and run.log as stdout and
 * stderr, a lab of the same shape reused; writes each cell's exit status on fd 4. At EOF
 * the kept lab is torn down. Returns the exit status.
 */
struct run_opts;
int matrix_worker(const struct run_opts *o);

/*
 * Runs the cells (a JSON array from planning) and writes the reports. Returns the number
 * of cells that did not pass, or -errno.
 */
int matrix_run(const struct matrix_opts *o, json_t *cells);

#endif
