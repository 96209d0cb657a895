/* SPDX-License-Identifier: MIT */
/* Socket addresses as text and compared (include/natlab/addr.h). */
#include "natlab/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The address bytes of an IPv4 or IPv6 sockaddr and their length; NULL for others. */
static const void *addr_bytes(const struct sockaddr *sa, size_t *len)
{
	if (sa->sa_family == AF_INET) {
		*len = sizeof(struct in_addr);
		return &((const struct sockaddr_in *)sa)->sin_addr;
	}
	if (sa->sa_family == AF_INET6) {
		*len = sizeof(struct in6_addr);
		return &((const struct sockaddr_in6 *)sa)->sin6_addr;
	}
	return NULL;
}

/* The port in network byte order; the caller checked the family. */
static in_port_t addr_port_get(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
	                                : ((const struct sockaddr_in6 *)sa)->sin6_port;
}

static int addr_port_parse(const char *text, in_port_t *nport)
{
	unsigned long v;
	char *end;

	/* strtoul alone would take leading blanks, a sign and an empty string. */
	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*nport = htons((uint16_t)v);
	return 0;
}

int addr_parse(const char *text, struct sockaddr_storage *out, enum addr_port port)
{
	char host[INET6_ADDRSTRLEN];
	const char *host_end, *port_text;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
	struct sockaddr_in *in = (struct sockaddr_in *)out;
	in_port_t nport = 0;
	size_t n;
	void *dst;

	memset(out, 0, sizeof(*out));
	if (*text == '[') {
		host_end = strchr(++text, ']');
		if (!host_end || (host_end[1] && host_end[1] != ':'))
			return -EINVAL;
		port_text = host_end[1] ? host_end + 2 : NULL;
		out->ss_family = AF_INET6;
		dst = &in6->sin6_addr;
	} else {
		port_text = strchr(text, ':');
		host_end = port_text ? port_text++ : text + strlen(text);
		out->ss_family = AF_INET;
		dst = &in->sin_addr;
	}
	n = (size_t)(host_end - text);
	if (n >= sizeof(host))
		return -EINVAL;
	if (port_text ? addr_port_parse(port_text, &nport) < 0 : port != ADDR_PORT_OPTIONAL)
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	if (inet_pton(out->ss_family, host, dst) != 1)
		return -EINVAL;
	if (out->ss_family == AF_INET)
		in->sin_port = nport;
	else
		in6->sin6_port = nport;
	return 0;
}

int addr_format(const struct sockaddr *sa, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	const void *bytes;
	size_t len;
	int n;

	if (!(bytes = addr_bytes(sa, &len)))
		return -EAFNOSUPPORT;
	if (!inet_ntop(sa->sa_family, bytes, host, sizeof(host)))
		return -errno;
	n = snprintf(buf, cap, sa->sa_family == AF_INET ? "%s:%u" : "[%s]:%u", host,
	             (unsigned)ntohs(addr_port_get(sa)));
	return (n < 0 || (size_t)n >= cap) ? -ENOSPC : 0;
}

bool addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	const void *x, *y;
	size_t n, m;

	if (a->sa_family != b->sa_family || !(x = addr_bytes(a, &n)) || !(y = addr_bytes(b, &m)))
		return false;
	return addr_port_get(a) == addr_port_get(b) && memcmp(x, y, n) == 0;
}
