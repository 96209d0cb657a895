/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the parsers of durations, integers and unit-bearing numbers that scenarios,
 * command lines and NAT profiles go through (natlab/units.c). Properties: what parses
 * is finite and non-negative (callers check their own range on that double, before any
 * cast), and an integer is in the range asked for (refused past it, never wrapped).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "natlab/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct lab_unit rate[] = { { "kbit", 1e3 }, { "mbit", 1e6 }, { "", 1 } };
	char text[256];
	double v;
	long long i;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (lab_duration_parse(text, &v) == 0 && (!isfinite(v) || v < 0))
		__builtin_trap();
	if (lab_scaled_parse(text, rate, 3, 1, &v) == 0 && (!isfinite(v) || v < 0))
		__builtin_trap();
	if (lab_integer_parse(text, -5, 70000, &i) == 0 && (i < -5 || i > 70000))
		__builtin_trap();
	return 0;
}
