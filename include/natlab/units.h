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
 * when ignore_case), scaled: the parser every unit-bearing value shares. -EINVAL otherwise,
 * also when the scaled value is not finite. Callers check the range of what it returns.
 */
int lab_scaled_parse(const char *s, const struct lab_unit *units, size_t n, int ignore_case,
                     double *out);

/*
 * A decimal integer in [min, max], the whole string, range-checked before anyone narrows
 * it: -EINVAL for anything else (blanks, a plus sign, overflow included).
 */
int lab_integer_parse(const char *s, long long min, long long max, long long *out);

/*
 * The longest wait or timeout a scenario or command may ask for, in seconds (a year):
 * anything longer is a typo, and it keeps milliseconds well inside a uint64_t.
 */
#define LAB_DURATION_MAX (366.0 * 86400)

/* "250ms", "5s", "2m", "1h" or a bare number of seconds -> seconds. -EINVAL otherwise. */
int lab_duration_parse(const char *s, double *seconds);

#endif
