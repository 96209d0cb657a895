/* SPDX-License-Identifier: MIT */
/* TAP lines on stdout: a run's expectations and a matrix's cells (tap.c). */
#ifndef NATLAB_REPORT_TAP_H
#define NATLAB_REPORT_TAP_H

#include <jansson.h>
#include <stdio.h>

/*
 * "ok N - name" or "not ok N - name" (newlines in name become spaces, '#' becomes '_', so
 * a name can neither break the line nor start a directive); under a failure, where and
 * diag (either may be NULL) as "#   " comment lines, one per line of diag. Flushes f.
 */
void report_tap_line(FILE *f, int n, int ok, const char *name, const char *where, const char *diag);

/* One TAP line per cell of a matrix report's cells[], in order, then the plan. Flushes f. */
void report_tap_cells(FILE *f, const json_t *cells);

#endif
