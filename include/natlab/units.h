/* SPDX-License-Identifier: MIT */
/* Durations, rates and shares as scenarios write them: "250ms", "5s", "10mbit", "1%". */
#ifndef NATLAB_UNITS_H
#define NATLAB_UNITS_H

/* "250ms", "5s", "2m", "1h" or a bare number of seconds -> seconds. -EINVAL otherwise. */
int lab_duration_parse(const char *s, double *seconds);

#endif
