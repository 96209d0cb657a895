/* SPDX-License-Identifier: MIT */
/* The texts TAYGA and unbound are configured with (nat64.h): pure rendering, unit-tested. */
#include "natlab/nat64.h"
#include "natlab/memstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The IPv4 networks TAYGA 0.9.2 will not put behind 64:ff9b::/96 (its is_private_ip4_addr). */
static const struct {
	uint32_t net;
	int len;
} tayga_private[] = {
	{ 0x0a000000, 8 },  /* 10.0.0.0/8 */
	{ 0xac100000, 12 }, /* 172.16.0.0/12 */
	{ 0xc0000200, 24 }, /* 192.0.2.0/24 */
	{ 0xc0a80000, 16 }, /* 192.168.0.0/16 */
	{ 0xc6120000, 15 }, /* 198.18.0.0/15 */
	{ 0xc6336400, 24 }, /* 198.51.100.0/24 */
	{ 0xcb007100, 24 }, /* 203.0.113.0/24 */
};

int nat64_well_known_refused(struct in_addr net, int len)
{
	uint32_t a = ntohl(net.s_addr);

	for (size_t i = 0; i < sizeof(tayga_private) / sizeof(tayga_private[0]); i++) {
		/* Two networks overlap when the shorter prefix contains the other's address. */
		int l = len < tayga_private[i].len ? len : tayga_private[i].len;
		uint32_t mask = l ? ~0u << (32 - l) : 0;

		if ((a & mask) == (tayga_private[i].net & mask))
			return 1;
	}
	return 0;
}

int nat64_tayga_conf_render(const struct nat64_tayga *t, char **out)
{
	char prefix[INET6_ADDRSTRLEN], a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	char pool[INET_ADDRSTRLEN], m4[INET_ADDRSTRLEN], m6[INET6_ADDRSTRLEN];
	size_t len;
	FILE *f;

	*out = NULL;
	f = open_memstream(out, &len);
	if (!f)
		return -errno;
	inet_ntop(AF_INET6, &t->prefix, prefix, sizeof(prefix));
	inet_ntop(AF_INET, &t->addr4, a4, sizeof(a4));
	inet_ntop(AF_INET6, &t->addr6, a6, sizeof(a6));
	fprintf(f,
	        "# Written by natlab (nat64.c) for this run.\n"
	        "tun-device %s\n"
	        "ipv4-addr %s\n"
	        "ipv6-addr %s\n"
	        "prefix %s/%d\n",
	        t->tun, a4, a6, prefix, NAT64_PREFIX_LEN);
	if (t->pool_len) {
		inet_ntop(AF_INET, &t->pool, pool, sizeof(pool));
		fprintf(f, "dynamic-pool %s/%d\n", pool, t->pool_len);
	}
	if (t->map4.s_addr) {
		inet_ntop(AF_INET, &t->map4, m4, sizeof(m4));
		inet_ntop(AF_INET6, &t->map6, m6, sizeof(m6));
		fprintf(f, "map %s %s\n", m4, m6);
	}
	return memstream_done(f, out);
}

int nat64_zone_render(const struct nat64_record *r, size_t n, char **out)
{
	char a[INET6_ADDRSTRLEN];
	size_t len;
	FILE *f;

	*out = NULL;
	f = open_memstream(out, &len);
	if (!f)
		return -errno;
	/* Short TTLs: a scenario that changes the lab sees new answers soon. */
	fprintf(f, "; Written by natlab (nat64.c) for this run: the lab's names and RFC 7050's.\n"
	           "$TTL 30\n"
	           ". IN SOA ns." NAT64_ZONE ". hostmaster." NAT64_ZONE ". 1 3600 600 86400 30\n"
	           ". IN NS ns." NAT64_ZONE ".\n"
	           "ipv4only.arpa. IN A " NAT64_IPV4ONLY_A1 "\n"
	           "ipv4only.arpa. IN A " NAT64_IPV4ONLY_A2 "\n");
	for (size_t i = 0; i < n; i++) {
		inet_ntop(r[i].family, &r[i].addr, a, sizeof(a));
		fprintf(f, "%s%s" NAT64_ZONE ". IN %s %s\n", r[i].name, *r[i].name ? "." : "",
		        r[i].family == AF_INET ? "A" : "AAAA", a);
	}
	return memstream_done(f, out);
}

int nat64_unbound_conf_render(const struct in6_addr *listen, const struct in6_addr *prefix,
                              const char *zone, const char *dir, char **out)
{
	char l[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN];
	size_t len;
	FILE *f;

	*out = NULL;
	f = open_memstream(out, &len);
	if (!f)
		return -errno;
	inet_ntop(AF_INET6, listen, l, sizeof(l));
	inet_ntop(AF_INET6, prefix, p, sizeof(p));
	/*
	 * The zone is an auth-zone for upstream only: the iterator takes its answers from it
	 * and the dns64 module above sees them as it would a remote server's (local-data
	 * would be answered before any module runs, and never synthesised).
	 */
	fprintf(f,
	        "# Written by natlab (nat64.c) for this run.\n"
	        "server:\n"
	        "\tinterface: %s\n"
	        "\tport: 53\n"
	        "\tdo-daemonize: no\n"
	        "\tusername: \"\"\n"
	        "\tchroot: \"\"\n"
	        "\tdirectory: \"%s\"\n"
	        "\tpidfile: \"\"\n"
	        "\tlogfile: \"\"\n"
	        "\tuse-syslog: no\n"
	        "\tlog-queries: yes\n"
	        "\tverbosity: 1\n"
	        "\tnum-threads: 1\n"
	        "\toutgoing-range: 32\n"
	        "\tso-reuseport: no\n"
	        "\taccess-control: ::/0 allow\n"
	        "\taccess-control: 0.0.0.0/0 allow\n"
	        "\tmodule-config: \"dns64 iterator\"\n"
	        "\tdns64-prefix: %s/%d\n"
	        "\tqname-minimisation: no\n"
	        /* unbound answers .test itself (RFC 6761) unless told not to. */
	        "\tlocal-zone: \"" NAT64_ZONE ".\" nodefault\n"
	        "remote-control:\n"
	        "\tcontrol-enable: no\n"
	        "auth-zone:\n"
	        "\tname: \".\"\n"
	        "\tzonefile: \"%s\"\n"
	        "\tfor-downstream: no\n"
	        "\tfor-upstream: yes\n"
	        "\tfallback-enabled: no\n",
	        l, dir, p, NAT64_PREFIX_LEN, zone);
	return memstream_done(f, out);
}
