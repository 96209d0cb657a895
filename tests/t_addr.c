/* SPDX-License-Identifier: MIT */
/* proto/addr.c: address text both ways, the port rule, comparison. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "natlab/addr.h"
#include "tap.h"

#define SA(x) ((const struct sockaddr *)(x))

static const char *fmt(const struct sockaddr *sa)
{
	static char bufs[4][ADDR_TEXT_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	if (addr_format(sa, b, ADDR_TEXT_MAX) < 0)
		snprintf(b, ADDR_TEXT_MAX, "(error)");
	return b;
}

static void test_round_trip(void)
{
	static const char *good[] = { "192.0.2.1:32853",
		                      "[2001:db8::1]:3478",
		                      "10.0.0.1:0",
		                      "0.0.0.0:65535",
		                      "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		                      "[::ffff:192.0.2.1]:1" };
	struct sockaddr_storage ss;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = addr_parse(good[i], &ss, ADDR_PORT_REQUIRED);

		ok(rc == 0 && !strcmp(fmt(SA(&ss)), good[i]), "round trip: %s (rc %d, back %s)",
		   good[i], rc, fmt(SA(&ss)));
	}
	is_int(addr_parse("198.51.100.7:80", &ss, ADDR_PORT_REQUIRED), 0, "parse IPv4");
	is_int(ss.ss_family, AF_INET, "IPv4 family");
	is_int(ntohs(((struct sockaddr_in *)&ss)->sin_port), 80, "port in network order");
	is_int(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0xc6336407, "IPv4 bytes");
}

static void test_port_rule(void)
{
	struct sockaddr_storage ss;

	is_int(addr_parse("127.0.0.2", &ss, ADDR_PORT_REQUIRED), -EINVAL,
	       "no port where one is required");
	is_int(addr_parse("[::1]", &ss, ADDR_PORT_REQUIRED), -EINVAL,
	       "no port where one is required (IPv6)");
	ok(addr_parse("127.0.0.2", &ss, ADDR_PORT_OPTIONAL) == 0 &&
	       !strcmp(fmt(SA(&ss)), "127.0.0.2:0"),
	   "optional port: 0 (%s)", fmt(SA(&ss)));
	ok(addr_parse("[::1]", &ss, ADDR_PORT_OPTIONAL) == 0 && !strcmp(fmt(SA(&ss)), "[::1]:0"),
	   "optional port, IPv6: 0 (%s)", fmt(SA(&ss)));
}

static void test_rejects(void)
{
	static const char *bad[] = { "",
		                     "1.2.3.4:",
		                     "1.2.3.4:70000",
		                     "1.2.3.4:-1",
		                     "1.2.3:5",
		                     "[::1",
		                     "[::1]x",
		                     "::1",
		                     "::1:80",
		                     "1.2.3.4:5x",
		                     "1.2.3.4: 5",
		                     "1.2.3.4:+5",
		                     ":80",
		                     "[]:80",
		                     "[1.2.3.4]:80",
		                     "host.example:80",
		                     "1.2.3.4:99999999999999999999" };
	struct sockaddr_storage ss;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(addr_parse(bad[i], &ss, ADDR_PORT_OPTIONAL), -EINVAL, bad[i]);
}

static void test_format_errors(void)
{
	struct sockaddr_storage ss;
	struct sockaddr un = { .sa_family = AF_UNIX };
	char small[8];

	addr_parse("192.0.2.1:32853", &ss, ADDR_PORT_REQUIRED);
	is_int(addr_format(SA(&ss), small, sizeof(small)), -ENOSPC, "short buffer: -ENOSPC");
	is_int(addr_format(&un, small, sizeof(small)), -EAFNOSUPPORT, "AF_UNIX: -EAFNOSUPPORT");
}

static void test_equal(void)
{
	/* Candidates live in packed arrays of sockaddr_in: 4-byte aligned, not 8. */
	struct {
		uint32_t pad;
		struct sockaddr_in a[2];
	} packed;
	struct sockaddr_storage x, y;
	struct sockaddr un = { .sa_family = AF_UNIX };

	addr_parse("192.0.2.1:5", &x, ADDR_PORT_REQUIRED);
	memcpy(&packed.a[0], &x, sizeof(packed.a[0]));
	memcpy(&packed.a[1], &x, sizeof(packed.a[1]));
	ok(addr_equal(SA(&packed.a[0]), SA(&packed.a[1])), "equal IPv4 in a packed array");
	packed.a[1].sin_port = htons(6);
	ok(!addr_equal(SA(&packed.a[0]), SA(&packed.a[1])), "other port: not equal");
	packed.a[1].sin_port = htons(5);
	packed.a[1].sin_addr.s_addr = htonl(0xc0000202);
	ok(!addr_equal(SA(&packed.a[0]), SA(&packed.a[1])), "other address: not equal");
	addr_parse("[2001:db8::1]:5", &y, ADDR_PORT_REQUIRED);
	ok(!addr_equal(SA(&x), SA(&y)), "other family: not equal");
	addr_parse("[2001:db8::1]:5", &x, ADDR_PORT_REQUIRED);
	ok(addr_equal(SA(&x), SA(&y)), "equal IPv6");
	ok(!addr_equal(&un, &un), "AF_UNIX never equal");
}

int main(void)
{
	test_round_trip();
	test_port_rule();
	test_rejects();
	test_format_errors();
	test_equal();
	return tap_done();
}
