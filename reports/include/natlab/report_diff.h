/* SPDX-License-Identifier: MIT */
/*
 * Two matrix reports compared cell by cell (diff.c), for a CI gate: what changed beyond
 * the thresholds, and whether it is a regression. Pure: JSON in, JSON out.
 */
#ifndef NATLAB_REPORT_DIFF_H
#define NATLAB_REPORT_DIFF_H

#include <jansson.h>

struct report_diff_opts {
	double rate;        /* a direct rate change larger than this counts (0.2: 20 points) */
	double time;        /* a time-to-direct p50 change larger than this share counts (0.5) */
	double time_min_ms; /* ... and larger than this many ms (50), so noise does not */
};

/*
 * The changes from old to new (both matrix report.json documents), in new's cell order
 * then cells only old has: an array of { cell, what (outcome, pass, direct_rate,
 * time_to_direct_ms, added, removed), old, new, regression (bool) }. A regression: a
 * cell that passed and fails, an outcome that got worse (direct > relay > fail), a
 * direct rate that fell, a time to direct that grew, or a cell that is gone. Returns a
 * new reference.
 */
json_t *report_diff(const json_t *old, const json_t *new, const struct report_diff_opts *o);

#endif
