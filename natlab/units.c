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
		if ((ignore_case ? strcasecmp(end, units[i].suffix)
		                 : strcmp(end, units[i].suffix)) == 0) {
			/* "1e308h" is finite until scaled: check what the caller gets. */
			v *= units[i].scale;
			if (!isfinite(v))
				return -EINVAL;
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

int lab_integer_parse(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	/* strtoll skips blanks and takes a sign: require a digit or a minus first. */
	if (!(*s >= '0' && *s <= '9') && !(*s == '-' && s[1] >= '0' && s[1] <= '9'))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int lab_duration_parse(const char *s, double *seconds)
{
	return lab_scaled_parse(s, duration_units,
	                        sizeof(duration_units) / sizeof(duration_units[0]), 0, seconds);
}
