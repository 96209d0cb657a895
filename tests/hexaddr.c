/* SPDX-License-Identifier: MIT */
/* Helpers of the STUN and TURN codec tests (hexaddr.h). */
#include "hexaddr.h"

#include <stdio.h>
#include <string.h>

#include "natlab/addr.h"

size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;
	int used;

	while (n < cap && sscanf(s, " %2x%n", &v, &used) == 1) {
		out[n++] = (uint8_t)v;
		s += used;
	}
	return n;
}

struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;

	addr_parse(text, &ss, ADDR_PORT_OPTIONAL);
	return ss;
}

const char *fmt(const struct sockaddr_storage *ss)
{
	static char bufs[4][64];
	static int i;
	char *b = bufs[i++ % 4];

	if (addr_format((const struct sockaddr *)ss, b, 64) < 0)
		strcpy(b, "(none)");
	return b;
}
