/* SPDX-License-Identifier: MIT */
#include "natlab/units.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct lab_unit duration_units[] = {
	{ "us", 1e-6 }, { "ms", 1e-3 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "", 1 },
};

int lab_scaled_parse(const char *s, const struct lab_unit *units, size_t n, int ignore_case,
		     double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if ((ignore_case ? strcasecmp(end, units[i].suffix) : strcmp(end, units[i].suffix)) == 0) {
			*out = v * units[i].scale;
			return 0;
		}
	}
	return -EINVAL;
}

int lab_duration_parse(const char *s, double *seconds)
{
	return lab_scaled_parse(s, duration_units, sizeof(duration_units) / sizeof(duration_units[0]),
				0, seconds);
}
