/* SPDX-License-Identifier: MIT */
#include "natlab/path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int lab_pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
