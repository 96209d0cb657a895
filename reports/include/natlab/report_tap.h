/* SPDX-License-Identifier: MIT */
/* TAP lines on stdout: a run's expectations and a matrix's cells (tap.c). */
#ifndef NATLAB_REPORT_TAP_H
#define NATLAB_REPORT_TAP_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/*
 * "ok N - name" or "not ok N - name" (newlines in name become spaces, '#' becomes '_', so
 * a name can neither break the line nor start a directive); under a failure, where and
 * diag (either may be NULL) as "#   " comment lines, one per line of diag. Flushes f.
 */
void report_tap_line(FILE *f, int n, int ok, const char *name, const char *where, const char *diag);

/*
 * A cell's flags as words for a line of text: " [flaky] [wire disagrees]", or "" when it
 * has none (cut short to fit len). TAP, junit.xml and report.html say them the same way.
 */
void report_cell_flags(char *buf, size_t len, const json_t *cell);

/*
 * One TAP line per cell of a matrix report's cells[], in order, with its flags, then the
 * plan; under a failed cell what it reached, its dir and the command that reproduces it.
 * Flushes f.
 */
void report_tap_cells(FILE *f, const json_t *cells);

#endif
