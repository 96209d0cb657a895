/* SPDX-License-Identifier: MIT */
/*
 * NAT64 and DNS64 configuration texts (natlab/nat64_conf.c): TAYGA's for a box and for a
 * host's CLAT, the lab's zone, unbound's; and which internets TAYGA refuses behind the
 * well-known prefix. Where unbound-checkconf is installed it checks unbound's text too.
 */
#include "natlab/nat64.h"
#include "natlab/nat.h"
#include "natlab/nat6.h"
#include "tap.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int refused(const char *net, int len)
{
	struct in_addr a;

	inet_pton(AF_INET, net, &a);
	return nat64_well_known_refused(a, len);
}

static void test_well_known(void)
{
	is_int(refused("198.18.0.0", 15), 1, "the default internet 198.18.0.0/15 is refused");
	is_int(refused("198.19.4.0", 24), 1, "a network inside it too");
	is_int(refused("20.0.0.0", 16), 0, "a global internet is not");
	is_int(refused("192.0.0.0", 16), 1, "one holding 192.0.2.0/24 is");
	is_int(refused("203.0.113.64", 26), 1, "TEST-NET-3");
	is_int(refused("100.64.0.0", 10), 0, "shared space: TAYGA 0.9.2 lets it through");
	is_int(refused("0.0.0.0", 0), 1, "the whole space holds private networks");
}

static void test_tayga(void)
{
	struct nat64_tayga t = { .tun = "nat64", .pool_len = 24 };
	char *out = NULL;

	inet_pton(AF_INET6, "64:ff9b::", &t.prefix);
	inet_pton(AF_INET, "10.1.0.1", &t.addr4);
	inet_pton(AF_INET6, "2001:db8:0:2::6464:6464", &t.addr6);
	inet_pton(AF_INET, "10.1.0.0", &t.pool);
	is_int(nat64_tayga_conf_render(&t, &out), 0, "a box's TAYGA renders");
	is_str(out,
	       "# Written by natlab (nat64.c) for this run.\n"
	       "tun-device nat64\n"
	       "ipv4-addr 10.1.0.1\n"
	       "ipv6-addr 2001:db8:0:2::6464:6464\n"
	       "prefix 64:ff9b::/96\n"
	       "dynamic-pool 10.1.0.0/24\n",
	       "box: the LAN's IPv4 prefix is the pool");
	free(out);

	t = (struct nat64_tayga){ .tun = NAT64_CLAT_IF };
	inet_pton(AF_INET6, "2001:db8:ffff::", &t.prefix);
	inet_pton(AF_INET, NAT64_CLAT_TAYGA, &t.addr4);
	inet_pton(AF_INET6, "2001:db8:0:2::465:5", &t.addr6);
	inet_pton(AF_INET, NAT64_CLAT_HOST, &t.map4);
	inet_pton(AF_INET6, "2001:db8:0:2::464:5", &t.map6);
	is_int(nat64_tayga_conf_render(&t, &out), 0, "a CLAT renders");
	is_str(out,
	       "# Written by natlab (nat64.c) for this run.\n"
	       "tun-device clat\n"
	       "ipv4-addr 192.0.0.2\n"
	       "ipv6-addr 2001:db8:0:2::465:5\n"
	       "prefix 2001:db8:ffff::/96\n"
	       "map 192.0.0.1 2001:db8:0:2::464:5\n",
	       "CLAT: no pool, the host's IPv4 address mapped to its own IPv6 one");
	free(out);
}

static void test_zone(void)
{
	struct nat64_record r[3] = { { .name = "server", .family = AF_INET },
		                     { .name = "phone", .family = AF_INET6 },
		                     { .name = "server", .family = AF_INET6 } };
	char *out = NULL;

	inet_pton(AF_INET, "198.18.0.2", &r[0].addr.v4);
	inet_pton(AF_INET6, "2001:db8:0:2::2", &r[1].addr.v6);
	inet_pton(AF_INET6, "2001:db8::2", &r[2].addr.v6);
	is_int(nat64_zone_render(r, 3, &out), 0, "the zone renders");
	ok(out && strstr(out, "\nserver.test. IN A 198.18.0.2\n"), "an A record per IPv4 address");
	ok(out && strstr(out, "\nphone.test. IN AAAA 2001:db8:0:2::2\n"), "AAAA per IPv6 address");
	ok(out && strstr(out, "\nserver.test. IN AAAA 2001:db8::2\n"), "both for dual stack");
	ok(out && strstr(out, "\nipv4only.arpa. IN A 192.0.0.170\n") &&
	       strstr(out, "\nipv4only.arpa. IN A 192.0.0.171\n"),
	   "RFC 7050's ipv4only.arpa");
	ok(out && strstr(out, "\n. IN SOA ns.test. "), "the root zone: nothing outside it exists");
	free(out);
}

static void test_unbound(void)
{
	struct in6_addr listen, prefix;
	char *out = NULL, path[] = "/tmp/t_nat64_conf.XXXXXX", zone[64], cmd[256];
	FILE *f;
	int fd;

	inet_pton(AF_INET6, "2001:db8:0:2::1", &listen);
	inet_pton(AF_INET6, "64:ff9b::", &prefix);
	is_int(nat64_unbound_conf_render(&listen, &prefix, "/out/logs/carrier-zone", "/out/logs",
	                                 &out),
	       0, "unbound's configuration renders");
	ok(out && strstr(out, "\tinterface: 2001:db8:0:2::1\n"), "listens on the LAN's ::1");
	ok(out && strstr(out, "\tmodule-config: \"dns64 iterator\"\n") &&
	       strstr(out, "\tdns64-prefix: 64:ff9b::/96\n"),
	   "DNS64 with the box's prefix");
	ok(out && strstr(out, "\tzonefile: \"/out/logs/carrier-zone\"\n\tfor-downstream: no\n"
	                      "\tfor-upstream: yes\n"),
	   "the zone feeds the iterator, so DNS64 sees its answers");
	ok(out && strstr(out, "\tlocal-zone: \"test.\" nodefault\n"),
	   "unbound's own answer for .test is off");
	if (access("/usr/sbin/unbound-checkconf", X_OK) != 0) {
		tap_diag("unbound-checkconf not installed: not run");
		free(out);
		return;
	}
	/* Checked as it will run: with its zone file and working directory there. */
	free(out);
	fd = mkstemp(path);
	snprintf(zone, sizeof(zone), "%s.zone", path);
	f = fopen(zone, "w");
	ok(fd >= 0 && f && fputs(". IN SOA ns.test. h.test. 1 3600 600 86400 30\n", f) >= 0 &&
	       fclose(f) == 0,
	   "a zone file %s", zone);
	nat64_unbound_conf_render(&listen, &prefix, zone, "/tmp", &out);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	ok(f && out && fputs(out, f) >= 0 && fclose(f) == 0, "written to %s", path);
	snprintf(cmd, sizeof(cmd), "/usr/sbin/unbound-checkconf %s >/dev/null", path);
	is_int(system(cmd), 0, "unbound-checkconf accepts it");
	unlink(path);
	unlink(zone);
	free(out);
}

static void test_knobs(void)
{
	struct nat_knobs k;
	char err[512];

	is_int(nat_profile_lookup("mobile-nat64", &k), 0, "preset mobile-nat64 exists");
	is_int(k.nat64, 1, "it turns NAT64 on");
	is_int(k.mapping, NAT_MAPPING_APDM, "with mobile-cgn's IPv4 side");
	is_int(nat_knobs_validate(&k, 0, err, sizeof(err)), 0, "and can be built");
	k.port_block = 2048;
	is_int(nat_knobs_validate(&k, 4, err, sizeof(err)), -22, "port blocks are refused");
	ok(strstr(err, "port_block") && strstr(err, "turn port_block off"), "saying so: %s", err);
	k.port_block = 0;
	k.pcp = 1;
	is_int(nat_knobs_validate(&k, 0, err, sizeof(err)), -22, "so is port mapping");
	ok(strstr(err, "upnp, natpmp and pcp"), "saying so: %s", err);
}

/* Both tables of a nat64 box let TAYGA's device stand for the LAN. */
static void test_rulesets(void)
{
	struct nat6_box_addrs a6 = { .nhosts = 0 };
	struct nat_box_addrs a4 = { .lan_len = 24 };
	struct nat_knobs k;
	char *out = NULL;

	nat_profile_lookup("mobile-nat64", &k);
	inet_pton(AF_INET6, "2001:db8:0:2::", &a6.lan);
	a6.pub = a6.lan;
	is_int(nat6_ruleset_render(&k, &a6, &out), 0, "the IPv6 table renders");
	ok(out && strstr(out, "\t\tiifname \"lan\" oifname \"nat64\" accept\n") &&
	       strstr(out, "\t\tiifname \"nat64\" oifname \"lan\" accept\n"),
	   "IPv6 between the LAN and TAYGA passes: the IPv4 side filters translated traffic");
	free(out);
	out = NULL;
	inet_pton(AF_INET, "198.18.0.3", &a4.wan);
	inet_pton(AF_INET, "10.1.0.0", &a4.lan_prefix);
	is_int(nat_ruleset_render(&k, &a4, &out), 0, "the IPv4 table renders");
	ok(out && strstr(out, "\t\tiifname { \"lan\", \"nat64\" } oifname \"wan\" accept\n"),
	   "IPv4 from TAYGA leaves as the LAN's does");
	free(out);
	k.nat64 = 0;
	is_int(nat6_ruleset_render(&k, &a6, &out), 0, "without nat64");
	ok(out && !strstr(out, "nat64"), "no rule names the device");
	free(out);
}

int main(void)
{
	test_rulesets();
	test_well_known();
	test_tayga();
	test_zone();
	test_unbound();
	test_knobs();
	return tap_done();
}
