/* SPDX-License-Identifier: MIT */
/*
 * Numbers as users write them: every value is range-checked as parsed, so no huge or
 * non-finite value is narrowed or cast into something that looks valid (issue 20:
 * "1e308h" parsed to +inf, and natlab.sleep returned at once).
 */
#include "natlab/units.h"
#include "tap.h"

#include <errno.h>
#include <limits.h>

static void test_duration(void)
{
	double s = -1;

	is_int(lab_duration_parse("250ms", &s), 0, "250ms parses");
	ok(s == 0.25, "250ms is 0.25 s (%g)", s);
	is_int(lab_duration_parse("2m", &s), 0, "2m parses");
	ok(s == 120, "2m is 120 s (%g)", s);
	/* Valid as a duration; the callers' ranges refuse it (udp_timeout: 86400 s at most). */
	is_int(lab_duration_parse("71582790m", &s), 0, "71582790m parses");
	ok(s == 71582790.0 * 60, "to its full value, 4294967400 s, not 104 s (%.0f)", s);
	s = 7;
	is_int(lab_duration_parse("1e308h", &s), -EINVAL, "1e308h (+inf once scaled) is refused");
	ok(s == 7, "and leaves the output alone (%g)", s);
	is_int(lab_duration_parse("1e308", &s), 0, "1e308 seconds is finite");
	is_int(lab_duration_parse("inf", &s), -EINVAL, "inf is refused");
	is_int(lab_duration_parse("nan", &s), -EINVAL, "nan is refused");
	is_int(lab_duration_parse("-1s", &s), -EINVAL, "a negative duration is refused");
	is_int(lab_duration_parse("5 s", &s), -EINVAL, "a blank before the unit is refused");
	is_int(lab_duration_parse("", &s), -EINVAL, "an empty string is refused");
}

static void test_integer(void)
{
	long long v = -1;

	is_int(lab_integer_parse("4", 1, 256, &v), 0, "4 in 1-256");
	is_int(v, 4, "is 4");
	is_int(lab_integer_parse("256", 1, 256, &v), 0, "the maximum is allowed");
	is_int(lab_integer_parse("257", 1, 256, &v), -EINVAL, "above the maximum is refused");
	is_int(lab_integer_parse("0", 1, 256, &v), -EINVAL, "below the minimum is refused");
	/* (int)4294967297 is 1: the old --jobs check ran after that cast. */
	is_int(lab_integer_parse("4294967297", 1, 256, &v), -EINVAL,
	       "2^32+1 is refused, not narrowed to 1");
	is_int(lab_integer_parse("99999999999999999999", 0, LLONG_MAX, &v), -EINVAL,
	       "overflow is refused");
	is_int(lab_integer_parse("", 0, 10, &v), -EINVAL, "an empty string is refused");
	is_int(lab_integer_parse(" 5", 0, 10, &v), -EINVAL, "a leading blank is refused");
	is_int(lab_integer_parse("+5", 0, 10, &v), -EINVAL, "a plus sign is refused");
	is_int(lab_integer_parse("5x", 0, 10, &v), -EINVAL, "trailing text is refused");
	is_int(lab_integer_parse("-3", -5, 10, &v), 0, "a negative number within range");
	is_int(v, -3, "is -3");
	is_int(lab_integer_parse("-", -5, 10, &v), -EINVAL, "a lone minus is refused");
}

int main(void)
{
	test_duration();
	test_integer();
	return tap_done();
}
