/* SPDX-License-Identifier: MIT */
#include "natlab/report_stats.h"

#include <math.h>
#include <stdlib.h>

void report_wilson(int k, int n, double *lo, double *hi)
{
	const double z = 1.959964;
	double p, denom, center, half;

	if (n <= 0) {
		*lo = 0;
		*hi = 1;
		return;
	}
	p = (double)k / n;
	denom = 1 + z * z / n;
	center = (p + z * z / (2.0 * n)) / denom;
	half = z * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / denom;
	*lo = center - half < 0 ? 0 : center - half;
	*hi = center + half > 1 ? 1 : center + half;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

json_t *report_percentiles(json_t *samples)
{
	size_t n = json_array_size(samples), i;
	double *v;
	json_t *x, *out;

	if (n == 0)
		return json_null();
	v = calloc(n, sizeof(*v));
	if (!v)
		return json_null();
	json_array_foreach(samples, i, x) v[i] = json_number_value(x);
	qsort(v, n, sizeof(*v), cmp_double);
	out = json_pack("{s:f, s:f, s:O}", "p50", v[(size_t)ceil(0.50 * (double)n) - 1], "p95",
	                v[(size_t)ceil(0.95 * (double)n) - 1], "samples", samples);
	free(v);
	return out;
}

void report_numbers_append(json_t *dst, json_t *src)
{
	size_t i;
	json_t *x;

	if (json_is_number(src))
		json_array_append(dst, src);
	json_array_foreach(src, i, x) if (json_is_number(x)) json_array_append(dst, x);
}
