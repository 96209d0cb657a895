/* SPDX-License-Identifier: MIT */
/* The statistics a report states: Wilson intervals and percentiles (stats.c). */
#ifndef NATLAB_REPORT_STATS_H
#define NATLAB_REPORT_STATS_H

#include <jansson.h>

/* Wilson score interval (95%) for k successes in n trials; [0, 1] when n is 0. */
void report_wilson(int k, int n, double *lo, double *hi);

/*
 * {p50, p95, samples} of the numbers in samples (nearest rank; samples is referenced, not
 * copied), or JSON null when there are none. Returns a new reference.
 */
json_t *report_percentiles(json_t *samples);

/* Appends to dst the number src, or the numbers in the array src; anything else is skipped. */
void report_numbers_append(json_t *dst, json_t *src);

#endif
