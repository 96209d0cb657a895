/* SPDX-License-Identifier: MIT */
/* Relay addresses, relay://HOST:PORT/PEERKEY: parsed and formatted (relay_addr.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/identity.h"
#include "natlab/relay_addr.h"

int relay_addr_is(const char *text)
{
	return strncmp(text, RELAY_ADDR_SCHEME, sizeof(RELAY_ADDR_SCHEME) - 1) == 0;
}

static int fail(const char **why, const char *text)
{
	if (why)
		*why = text;
	return -EINVAL;
}

/* The port after the last ':' of hostport: decimal, 1..65535, nothing else. */
static int port_ok(const char *hostport, size_t len)
{
	const char *colon = memrchr(hostport, ':', len);
	size_t i, n;
	unsigned long v = 0;

	if (!colon || colon == hostport)
		return 0;
	n = len - (size_t)(colon + 1 - hostport);
	if (n == 0 || n > 5)
		return 0;
	for (i = 0; i < n; i++) {
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(colon[1 + i] - '0');
	}
	/* A bracketed IPv6 host must close right before the port. */
	if (hostport[0] == '[' && colon[-1] != ']')
		return 0;
	return v >= 1 && v <= 65535;
}

int relay_addr_parse(const char *text, char *hostport, size_t cap, uint8_t key[32],
                     const char **why)
{
	const char *hp, *slash;
	size_t len;

	if (!relay_addr_is(text))
		return fail(why, "a relay address starts with relay://");
	hp = text + sizeof(RELAY_ADDR_SCHEME) - 1;
	slash = strrchr(hp, '/');
	if (!slash)
		return fail(why, "expected relay://HOST:PORT/PEERKEY (no /PEERKEY)");
	len = (size_t)(slash - hp);
	if (len == 0 || memchr(hp, '/', len))
		return fail(why, "expected relay://HOST:PORT/PEERKEY (no HOST:PORT)");
	if (!port_ok(hp, len))
		return fail(why, "the relay's HOST:PORT needs a port 1..65535 (IPv6 in brackets)");
	if (len >= cap)
		return fail(why, "the relay's HOST:PORT is too long");
	if (identity_pub_parse(key, slash + 1) < 0)
		return fail(why, "the peer key after the relay must be 64 hex characters");
	memcpy(hostport, hp, len);
	hostport[len] = '\0';
	return 0;
}

int relay_addr_format(const char *hostport, const uint8_t key[32], char *out, size_t cap)
{
	char hex[IDENTITY_PUB_TEXT_LEN + 1];
	int n;

	identity_pub_format(key, hex);
	n = snprintf(out, cap, "%s%s/%s", RELAY_ADDR_SCHEME, hostport, hex);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}
