/* SPDX-License-Identifier: MIT */
/* Durations, rates and shares as scenarios write them: "250ms", "5s", "10mbit", "1%". */
#ifndef NATLAB_UNITS_H
#define NATLAB_UNITS_H

#include <stddef.h>

/* A unit suffix and what it multiplies by; "" is the bare number. */
struct lab_unit {
	const char *suffix;
	double scale;
};

/*
 * A non-negative number followed by one of the units' suffixes (compared ignoring case
 * when ignore_case), scaled: the parser every unit-bearing value shares. -EINVAL otherwise.
 */
int lab_scaled_parse(const char *s, const struct lab_unit *units, size_t n, int ignore_case,
		     double *out);

/* "250ms", "5s", "2m", "1h" or a bare number of seconds -> seconds. -EINVAL otherwise. */
int lab_duration_parse(const char *s, double *seconds);

#endif
