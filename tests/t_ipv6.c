/* SPDX-License-Identifier: MIT */
/*
 * IPv6 in the model and the NAT box: the address plan (model6.c), its refusals, RFC 6296
 * checksum-neutral mapping, and `table ip6 natlab` for each knob, compared with golden
 * files under tests/golden/nat6/ (regenerate with NATLAB_REGEN_GOLDEN=1
 * build/tests/t_ipv6) and, as root, loaded in a network namespace of the test's own.
 */
#include "natlab/model6.h"
#include "natlab/nat6.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[256];

static const char *a6(const struct in6_addr *a)
{
	static char s[4][INET6_ADDRSTRLEN];
	static int k;

	k = (k + 1) % 4;
	return inet_ntop(AF_INET6, a, s[k], sizeof(s[k]));
}

static int add(struct lab_model *m, const char *name, enum lab_node_kind kind, int parent,
               const char *profile, enum lab_ipv6 v6)
{
	int i = lab_model_add(m, name, kind, parent, err, sizeof(err));

	if (i < 0)
		return i;
	if (profile) {
		nat_profile_lookup(profile, &m->nodes[i].knobs);
		snprintf(m->nodes[i].profile, sizeof(m->nodes[i].profile), "%s", profile);
	}
	m->nodes[i].want_naddrs = 1;
	m->nodes[i].ipv6 = v6;
	if (lab_model_assign(m, i, err, sizeof(err)) < 0) {
		m->nnodes--;
		return -1;
	}
	return i;
}

static void test_plan(void)
{
	struct lab_model m;
	int inet, srv, old, home, alice, isp, cpe, bob, mob, phone, npt, hn;
	struct in6_addr g;

	lab_model_init(&m);
	ok(lab_internet6_set(&m, NULL, err, sizeof(err)) == 0, "IPv6 on, default prefix");
	inet = add(&m, "internet", LAB_NODE_INTERNET, -1, NULL, 0);
	srv = add(&m, "srv", LAB_NODE_HOST, inet, NULL, 0);
	old = add(&m, "old", LAB_NODE_HOST, inet, NULL, LAB_IPV6_OFF);
	home = add(&m, "home", LAB_NODE_NAT, inet, "home-router", 0);
	alice = add(&m, "alice", LAB_NODE_HOST, home, NULL, 0);
	isp = add(&m, "isp", LAB_NODE_NAT, inet, "cgnat", 0);
	cpe = add(&m, "cpe", LAB_NODE_NAT, isp, "home-router", 0);
	bob = add(&m, "bob", LAB_NODE_HOST, cpe, NULL, 0);
	mob = add(&m, "mob", LAB_NODE_NAT, inet, "symmetric", LAB_IPV6_ONLY);
	phone = add(&m, "phone", LAB_NODE_HOST, mob, NULL, 0);
	npt = add(&m, "npt", LAB_NODE_NAT, inet, "nptv6", 0);
	hn = add(&m, "hn", LAB_NODE_HOST, npt, NULL, 0);
	ok(hn > 0, "the lab is assigned: %s", err);
	if (hn < 0)
		return;
	is_str(a6(&m.nodes[srv].addrs6[0]), "2001:db8::2", "first attachment");
	is_int(m.nodes[old].naddrs6, 0, "an IPv4-only host has no IPv6 address");
	is_str(a6(&m.nodes[home].addrs6[0]), "2001:db8::3", "a NAT's WAN: the next attachment");
	is_str(a6(&m.nodes[home].prefix6), "2001:db8:0:2::", "the first LAN: subnet 2");
	is_str(a6(&m.nodes[alice].addrs6[0]), "2001:db8:0:2::2", "a host behind it");
	is_str(a6(&m.nodes[cpe].addrs6[0]), "2001:db8:0:3::2", "a CPE's WAN on its CGN's LAN");
	is_str(a6(&m.nodes[bob].addrs6[0]), "2001:db8:0:4::2", "behind the CPE");
	is_int(m.nodes[phone].naddrs, 0, "an IPv6-only LAN's host has no IPv4 address");
	is_int(m.nodes[phone].ipv6, LAB_IPV6_ONLY, "and inherits IPv6-only");
	is_int(m.nodes[mob].naddrs, 1, "its box has IPv4 on its WAN");
	is_str(a6(&m.nodes[npt].prefix6), "fd00:0:0:6::", "an NPTv6 LAN is a ULA");
	is_str(a6(&m.nodes[npt].pub6), "2001:db8:0:6::", "translated to its subnet");
	is_str(a6(&m.nodes[hn].addrs6[0]), "fd00:0:0:6::2", "its host has a ULA address");
	g = lab_hop6_addr(&m, 0);
	is_str(a6(&g), "2001:db8::1", "router 0 is the core");
	g = lab_hop6_addr(&m, 3);
	is_str(a6(&g), "2001:db8:0:1::3", "backbone router 3 in the hop block");
	is_int(lab_node_uplink6(&m, mob), 1, "an IPv6-only box's WAN has IPv6");
	lab_model_close(&m);
}

static void test_refusals(void)
{
	struct lab_model m;
	int inet, mob, home;

	lab_model_init(&m);
	ok(lab_internet6_set(&m, "fd00::/32", err, sizeof(err)) < 0 && strstr(err, "fc00::/7"),
	   "a ULA internet refused: %s", err);
	ok(lab_internet6_set(&m, "64:ff9b::/48", err, sizeof(err)) < 0 && strstr(err, "NAT64"),
	   "the NAT64 prefix refused: %s", err);
	ok(lab_internet6_set(&m, "2001:db8::/56", err, sizeof(err)) < 0 && strstr(err, "/48"),
	   "a /56 is too small: %s", err);
	ok(lab_internet6_set(&m, "2001:db8::1/32", err, sizeof(err)) < 0 &&
	       strstr(err, "network address"),
	   "host bits refused: %s", err);
	ok(!m.v6, "a refused prefix leaves IPv6 off");
	inet = add(&m, "internet", LAB_NODE_INTERNET, -1, NULL, 0);
	ok(add(&m, "h", LAB_NODE_HOST, inet, NULL, LAB_IPV6_DUAL) < 0 && strstr(err, "has none"),
	   "IPv6 on an IPv4 internet refused: %s", err);
	lab_model_close(&m);

	lab_model_init(&m);
	lab_internet6_set(&m, "2001:db8:100::/40", err, sizeof(err));
	inet = add(&m, "internet", LAB_NODE_INTERNET, -1, NULL, 0);
	mob = add(&m, "mob", LAB_NODE_NAT, inet, "symmetric", LAB_IPV6_ONLY);
	ok(add(&m, "h4", LAB_NODE_HOST, mob, NULL, LAB_IPV6_DUAL) < 0 && strstr(err, "IPv6-only"),
	   "IPv4 on an IPv6-only LAN refused: %s", err);
	ok(add(&m, "n", LAB_NODE_NAT, mob, "full-cone", 0) < 0 && strstr(err, "needs IPv4"),
	   "a NAT on an IPv6-only LAN refused: %s", err);
	ok(add(&m, "r", LAB_NODE_NAT, inet, "none", LAB_IPV6_ONLY) < 0 && strstr(err, "none"),
	   "an IPv6-only routed LAN refused: %s", err);
	home = lab_model_add(&m, "home", LAB_NODE_NAT, inet, err, sizeof(err));
	nat_profile_lookup("nptv6", &m.nodes[home].knobs);
	m.nodes[home].ipv6 = LAB_IPV6_OFF;
	ok(lab_model_assign(&m, home, err, sizeof(err)) < 0 && strstr(err, "nptv6"),
	   "nptv6 without an IPv6 LAN refused: %s", err);
	m.nnodes--;
	home = lab_model_add(&m, "home", LAB_NODE_NAT, inet, err, sizeof(err));
	nat_profile_lookup("home-router", &m.nodes[home].knobs);
	inet_pton(AF_INET6, "2001:db9::", &m.nodes[home].prefix6);
	m.nodes[home].prefix6_fixed = 1;
	ok(lab_model_assign(&m, home, err, sizeof(err)) < 0 && strstr(err, "internet's prefix"),
	   "a lan6 outside the internet refused: %s", err);
	m.nnodes--;
	home = lab_model_add(&m, "home", LAB_NODE_NAT, inet, err, sizeof(err));
	nat_profile_lookup("home-router", &m.nodes[home].knobs);
	inet_pton(AF_INET6, "2001:db8:100:2::", &m.nodes[home].prefix6);
	m.nodes[home].prefix6_fixed = 1;
	ok(lab_model_assign(&m, home, err, sizeof(err)) < 0 && strstr(err, "already"),
	   "a lan6 taken by another LAN refused: %s", err);
	lab_model_close(&m);
}

/* The one's complement sum of an address's eight words. */
static unsigned ocsum(const struct in6_addr *a)
{
	unsigned s = 0;

	for (int i = 0; i < 16; i += 2) {
		s += (unsigned)(a->s6_addr[i] << 8 | a->s6_addr[i + 1]);
		s = (s & 0xffff) + (s >> 16);
	}
	return s == 0xffff ? 0 : s;
}

static void test_nptv6(void)
{
	const char *ins[] = { "fd00:0:0:6::2", "fd00:0:0:6::3", "fd01:203:405:1::1234",
		              "fd00:0:0:6:ffff::9", "fd00:0:0:6:ffff:ffff:ffff:ffff" };
	struct in6_addr pub, in, out, prev = IN6ADDR_ANY_INIT;

	inet_pton(AF_INET6, "2001:db8:0:6::", &pub);
	for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		inet_pton(AF_INET6, ins[i], &in);
		out = nat_nptv6_map(&in, &pub);
		ok(!memcmp(out.s6_addr, pub.s6_addr, 8), "%s -> %s: on the external /64", ins[i],
		   a6(&out));
		is_int(ocsum(&out), ocsum(&in), "the address's one's complement sum is unchanged");
		ok(memcmp(&out, &prev, sizeof(out)) != 0, "distinct from the previous mapping");
		prev = out;
	}
	inet_pton(AF_INET6, "fd00:0:0:6::2", &in);
	out = nat_nptv6_map(&in, &pub);
	is_str(a6(&out), "2001:db8:0:6:cf47::2",
	       "the word adjusted is the first of the identifier");
	inet_pton(AF_INET6, "fd00:0:0:6:ffff::9", &in);
	out = nat_nptv6_map(&in, &pub);
	ok(out.s6_addr[8] == 0xff && out.s6_addr[9] == 0xff,
	   "a first word of 0xffff is skipped: %s", a6(&out));
}

struct case6 {
	const char *name;
	const char *profile;
	enum nat_filtering6 f;
	enum nat_block block;
};

static const struct case6 cases[] = {
	{ "v6-firewall", "v6-firewall", NAT_FILTER6_APDF, NAT_BLOCK_NONE },
	{ "address-dependent", "v6-firewall", NAT_FILTER6_ADF, NAT_BLOCK_NONE },
	{ "endpoint-independent", "v6-firewall", NAT_FILTER6_EIF, NAT_BLOCK_NONE },
	{ "v6-open", "v6-open", NAT_FILTER6_OPEN, NAT_BLOCK_NONE },
	{ "nptv6", "nptv6", NAT_FILTER6_APDF, NAT_BLOCK_NONE },
	{ "udp-blocked", "udp-blocked", NAT_FILTER6_APDF, NAT_BLOCK_WEB_ONLY },
};

static char *render(const struct nat_knobs *k)
{
	struct in6_addr hosts[2];
	struct nat6_box_addrs a = { .hosts = hosts, .nhosts = 2 };
	char *out = NULL;

	inet_pton(AF_INET6, k->nptv6 ? "fd00:0:0:2::" : "2001:db8:0:2::", &a.lan);
	inet_pton(AF_INET6, "2001:db8:0:2::", &a.pub);
	inet_pton(AF_INET6, k->nptv6 ? "fd00:0:0:2::2" : "2001:db8:0:2::2", &hosts[0]);
	inet_pton(AF_INET6, k->nptv6 ? "fd00:0:0:2::3" : "2001:db8:0:2::3", &hosts[1]);
	return nat6_ruleset_render(k, &a, &out) == 0 ? out : NULL;
}

static void test_rulesets(int regen, int load)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nat_knobs k;
		char path[512], e[1024];
		char *got, *want;

		nat_profile_lookup(cases[i].profile, &k);
		k.filtering6 = cases[i].f;
		k.block = cases[i].block;
		got = render(&k);
		snprintf(path, sizeof(path), "%s/tests/golden/nat6/%s.nft",
		         getenv("NATLAB_SRC") ? getenv("NATLAB_SRC") : ".", cases[i].name);
		if (regen && got) {
			FILE *f = fopen(path, "w");

			if (f) {
				fputs(got, f);
				fclose(f);
			}
		}
		want = tap_slurp(path);
		ok(got && want && strcmp(got, want) == 0, "%s: ruleset matches %s", cases[i].name,
		   path);
		if (load)
			ok(got && nat6_ruleset_apply(got, e, sizeof(e)) == 0,
			   "%s: the kernel accepts it", cases[i].name);
		free(got);
		free(want);
	}
	{
		struct nat_knobs k;
		char *none;

		nat_profile_lookup("none", &k);
		none = render(&k);
		is_str(none, "", "a router that does not translate has no IPv6 ruleset");
		free(none);
	}
}

/*
 * A CGN whose LAN is IPv6-only has no IPv4 subscriber: its IPv4 ruleset has no port block
 * to hand out, and must still load (an empty `snat ... map { }` does not parse).
 */
static void test_no_subscribers(int load)
{
	const char *profiles[] = { "cgnat", "mobile-cgn" };

	for (size_t i = 0; i < 2; i++) {
		struct nat_box_addrs a = { .lan_len = 24 };
		struct nat_knobs k;
		char e[1024], *r = NULL;

		nat_profile_lookup(profiles[i], &k);
		inet_pton(AF_INET, "198.18.0.4", &a.wan);
		inet_pton(AF_INET, "100.64.1.0", &a.lan_prefix);
		ok(nat_ruleset_render(&k, &a, &r) == 0 && r && !strstr(r, "map {  }"),
		   "%s without IPv4 subscribers renders no empty port-block map", profiles[i]);
		if (load)
			ok(r && nat_ruleset_apply(r, e, sizeof(e)) == 0,
			   "%s: the kernel accepts it%s%s", profiles[i], r ? ": " : "", r ? e : "");
		free(r);
	}
}

/* Every filtering6 x nptv6 x block is built, and the kernel takes it. */
static void test_combinations(int load)
{
	int built = 0, loaded = 0, n = 0;

	for (unsigned f = 0; f <= NAT_FILTER6_OPEN; f++)
		for (unsigned npt = 0; npt < 2; npt++)
			for (unsigned b = 0; b <= NAT_BLOCK_HTTPS_ONLY; b++) {
				struct nat_knobs k;
				char e[1024], *r;

				nat_profile_lookup("home-router", &k);
				k.filtering6 = f;
				k.nptv6 = npt;
				k.block = b;
				r = render(&k);
				n++;
				built += r != NULL;
				loaded += r && load && nat6_ruleset_apply(r, e, sizeof(e)) == 0;
				free(r);
			}
	is_int(built, n, "every filtering6 x nptv6 x block combination renders");
	if (load)
		is_int(loaded, n, "and loads");
}

int main(void)
{
	const char *regen = getenv("NATLAB_REGEN_GOLDEN");
	int load = geteuid() == 0 && unshare(CLONE_NEWNET) == 0;

	if (!load)
		tap_diag("not root: rulesets are compared, not loaded");
	test_plan();
	test_refusals();
	test_nptv6();
	test_rulesets(regen && *regen, load);
	test_combinations(load);
	test_no_subscribers(load);
	return tap_done();
}
