/* SPDX-License-Identifier: MIT */
/* Relay addresses (relay://HOST:PORT/PEERKEY): round trip, and each bad part refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "natlab/relay_addr.h"
#include "tap.h"

static const char key_hex[] = "14eb0cd2a6e2a1d4c1b3c2e0f5a7b9d8c6e4f2a0b1c3d5e7f9a2b4c6d8e0c774";

static void test_round_trip(void)
{
	char hp[RELAY_ADDR_HOSTPORT_MAX], text[RELAY_ADDR_TEXT_MAX], want[200];
	uint8_t key[32], key2[32];
	const char *why = NULL;

	snprintf(want, sizeof(want), "relay://198.18.0.5:3340/%s", key_hex);
	is_int(relay_addr_parse(want, hp, sizeof(hp), key, &why), 0, "parse an IPv4 relay address");
	is_str(hp, "198.18.0.5:3340", "the relay's HOST:PORT");
	is_int(relay_addr_format(hp, key, text, sizeof(text)), 0, "format it");
	is_str(text, want, "formatting gives the same text back");
	snprintf(want, sizeof(want), "relay://[2001:db8::5]:443/%s", key_hex);
	is_int(relay_addr_parse(want, hp, sizeof(hp), key2, NULL), 0,
	       "parse an IPv6 relay address");
	is_str(hp, "[2001:db8::5]:443", "IPv6 HOST:PORT in brackets");
	ok(memcmp(key, key2, 32) == 0, "the same peer key");
	snprintf(want, sizeof(want), "relay://relay.example:3340/%s", key_hex);
	is_int(relay_addr_parse(want, hp, sizeof(hp), key2, NULL), 0,
	       "a host name is kept as given");
	is_str(hp, "relay.example:3340", "host name");
	is_int(relay_addr_format(hp, key, text, 20), -ENOSPC,
	       "format into a short buffer: -ENOSPC");
	ok(relay_addr_is("relay://x") && !relay_addr_is(key_hex),
	   "relay_addr_is tells the forms apart");
}

static void bad(const char *text, const char *part)
{
	char hp[RELAY_ADDR_HOSTPORT_MAX];
	uint8_t key[32];
	const char *why = NULL;

	is_int(relay_addr_parse(text, hp, sizeof(hp), key, &why), -EINVAL, text);
	ok(why && strstr(why, part), "%s: the error names \"%s\" (%s)", text, part,
	   why ? why : "no reason");
}

static void test_bad(void)
{
	char t[300];

	bad(key_hex, "relay://");
	bad("relay://198.18.0.5:3340", "/PEERKEY");
	snprintf(t, sizeof(t), "relay:///%s", key_hex);
	bad(t, "HOST:PORT");
	snprintf(t, sizeof(t), "relay://198.18.0.5/%s", key_hex);
	bad(t, "port");
	snprintf(t, sizeof(t), "relay://198.18.0.5:0/%s", key_hex);
	bad(t, "port");
	snprintf(t, sizeof(t), "relay://198.18.0.5:65536/%s", key_hex);
	bad(t, "port");
	snprintf(t, sizeof(t), "relay://198.18.0.5:33x/%s", key_hex);
	bad(t, "port");
	snprintf(t, sizeof(t), "relay://[2001:db8::5/%s", key_hex);
	bad(t, "port");
	snprintf(t, sizeof(t), "relay://a/b:1/%s", key_hex);
	bad(t, "HOST:PORT");
	bad("relay://198.18.0.5:3340/abcd", "64 hex");
	snprintf(t, sizeof(t), "relay://198.18.0.5:3340/%.63sz", key_hex);
	bad(t, "64 hex");
	snprintf(t, sizeof(t), "relay://%0100d:1/%s", 0, key_hex);
	bad(t, "too long");
}

int main(void)
{
	test_round_trip();
	test_bad();
	return tap_done();
}
