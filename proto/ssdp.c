/* SPDX-License-Identifier: MIT */
/* SSDP's M-SEARCH and the LOCATION of its answers: ssdp.h. */
#include "natlab/ssdp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int ssdp_search_encode(char *out, size_t cap)
{
	int n = snprintf(out, cap,
	                 "M-SEARCH * HTTP/1.1\r\n"
	                 "HOST: " SSDP_MULTICAST ":1900\r\n"
	                 "ST: " SSDP_IGD_TYPE "\r\n"
	                 "MAN: \"ssdp:discover\"\r\n"
	                 "MX: 1\r\n"
	                 "\r\n");

	return n < 0 || (size_t)n >= cap ? -ENOBUFS : n;
}

/* The next line of [*p, end) without its CR LF: its start and length, *p past it. */
static const char *next_line(const char **p, const char *end, size_t *n)
{
	const char *s = *p, *e = s;

	while (e < end && *e != '\n')
		e++;
	*p = e < end ? e + 1 : end;
	*n = (size_t)(e - s);
	if (*n && s[*n - 1] == '\r')
		(*n)--;
	return s;
}

int ssdp_location_parse(const char *buf, size_t len, char *out, size_t cap)
{
	const char *p = buf, *end = buf + len, *line;
	size_t n;

	line = next_line(&p, end, &n);
	if (n < 12 || strncmp(line, "HTTP/1.1 200", 12) != 0)
		return -EBADMSG;
	while (p < end) {
		line = next_line(&p, end, &n);
		if (n == 0)
			break; /* the end of the headers */
		if (n < 9 || strncasecmp(line, "LOCATION:", 9) != 0)
			continue;
		line += 9, n -= 9;
		while (n && (*line == ' ' || *line == '\t'))
			line++, n--;
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		if (n < 8 || strncasecmp(line, "http://", 7) != 0 || memchr(line, '\0', n))
			return -EBADMSG;
		if (n >= cap)
			return -ENOBUFS;
		memcpy(out, line, n);
		out[n] = '\0';
		return (int)n;
	}
	return -EBADMSG;
}
