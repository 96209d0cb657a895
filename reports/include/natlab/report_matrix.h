/* SPDX-License-Identifier: MIT */
/*
 * A matrix's report files (matrix.c): reading each run's report.json once, and writing
 * the folded report as report.json, junit.xml (a testcase per cell) and report.html.
 */
#ifndef NATLAB_REPORT_MATRIX_H
#define NATLAB_REPORT_MATRIX_H

#include <jansson.h>

/* dir/report.json, parsed; NULL when the run left none (or an unreadable one). New ref. */
json_t *report_run_load(const char *dir);

/*
 * Adds the summary to report (scenario, seed, started, duration_s, nats[] and cells[])
 * and writes report.json, junit.xml and report.html, in that order, into dir. Returns 0
 * or -errno (of the first file that could not be written; a report.html error is also
 * logged).
 */
int report_matrix_write(json_t *report, const char *dir);

#endif
