/* SPDX-License-Identifier: MIT */
/*
 * Folding runs into a matrix report (fold.c): the runs of a cell into its cells[] entry,
 * measured NATs into nats[], cells into the summary. Pure: JSON in, JSON out, no files.
 */
#ifndef NATLAB_REPORT_FOLD_H
#define NATLAB_REPORT_FOLD_H

#include <jansson.h>
#include <stddef.h>

/* One run of a cell, as the fold sees it. Everything is borrowed for the fold's call. */
struct report_run {
	const json_t *report; /* the run's report.json, or NULL if it left none */
	int status;           /* its exit status (0: every expectation held) */
	double secs;          /* how long it took, lab up to teardown */
	const char *dir;      /* its out dir, relative to the matrix report */
	/* When the job pool started it and saw it end, CLOCK_MONOTONIC ms (0: unknown). */
	double spawned_ms, reaped_ms;
};

/* The first result{} of a run's report with an outcome (borrowed from report), or NULL. */
json_t *report_run_result(const json_t *report);

/*
 * The cells[] entry of cell (a plan entry: name, a, b, expected) from its runs, in run
 * order: counts, direct rate with its Wilson interval, p50/p95 of the times, bytes, pass,
 * the majority outcome, what a failed cell reached (the last run that said) and the dir
 * of its first failed run (else of its first run). A run without a result counts as
 * failed. Returns a new reference.
 */
json_t *report_cell_fold(const json_t *cell, const struct report_run *runs, size_t nruns);

/*
 * Adds the measured NATs of a report (nats[] entries with a measurement: a cell run's,
 * or a folded matrix report's) into nats, the matrix's nats[]: one entry per profile
 * (a run's entry is named by the profiles on its measured path, nearest first) with
 * declared, the first measurement, `measurements` (how many) and `as_declared` (how
 * many matched their declaration).
 */
void report_nats_add(json_t *nats, const json_t *report_nats);

/* {cells, passed, failed, direct_rate} of a matrix report's cells[]. New reference. */
json_t *report_summary(const json_t *cells);

#endif
