/* SPDX-License-Identifier: MIT */
/*
 * What a run found: expectations (each a TAP line on stdout as it happens) and recorded
 * figures, written at the end as report.json, junit.xml and report.html in the out dir
 * (results.c).
 */
#ifndef NATLAB_RESULTS_H
#define NATLAB_RESULTS_H

#include <jansson.h>
#include <stdio.h>

struct results {
	FILE *tap;            /* where TAP lines go (stdout; NULL: nowhere) */
	json_t *expectations; /* [{name, ok, where, diag}] */
	json_t *records;      /* [{...}] from result{} */
	json_t *measured;     /* {nat: what natlab probe measured through it}: the harness
	                       * reads it into run_info's nats[] */
	int count;
	int failed;
	/*
	 * Where the run's time went: [{name, t_ms}] in the order marked, t_ms since the run
	 * started; clock_ms is that start on CLOCK_MONOTONIC (ms), the clock natlab-peer's
	 * events and the matrix's job pool share.
	 */
	json_t *marks;
	double clock_ms;
};

void results_init(struct results *r, FILE *tap);
void results_close(struct results *r);

/*
 * Records one expectation and prints its TAP line now. where is "file:line" (or NULL);
 * diag, if not NULL, is printed as a TAP comment under a failure. Returns ok.
 */
int results_expect(struct results *r, int ok, const char *name, const char *where,
                   const char *diag);
/* Records a figure set; takes ownership of obj. */
void results_record(struct results *r, json_t *obj);
/* Records that the phase name ended t_ms after the run started (report.json's phases). */
void results_mark(struct results *r, const char *name, double t_ms);

struct run_info {
	const char *scenario;
	unsigned long long seed;
	const char *started; /* ISO 8601, UTC */
	double duration_s;
	const json_t *nats;     /* report.json's nats[] (borrowed), or NULL for none */
	const char *error;      /* why the scenario stopped early, or NULL */
	const json_t *timeline; /* report.json's timeline (borrowed), or NULL */
};

/*
 * Prints the TAP plan, and writes report.json, report.html and junit.xml into dir.
 * Returns 0 or -errno; a report.html that cannot be written is only warned about.
 */
int results_finish(struct results *r, const struct run_info *info, const char *dir);

#endif
