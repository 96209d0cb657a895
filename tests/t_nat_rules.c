/* SPDX-License-Identifier: MIT */
/*
 * NAT rulesets: each case is rendered and compared exactly with its golden file under
 * tests/golden/nat/. After an intended change, regenerate them with
 *   NATLAB_REGEN_GOLDEN=1 build/tests/t_nat_rules
 * and review the diff. As root, each ruleset is also loaded into a private network
 * namespace, so a golden file the kernel would refuse cannot pass.
 */
#include "natlab/nat.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rules_case {
	const char *name;
	const char *profile;
	void (*tweak)(struct nat_knobs *k);
};

static void ports_random(struct nat_knobs *k)
{
	k->ports = NAT_PORTS_RANDOM;
}

static void apdm_sequential(struct nat_knobs *k)
{
	k->ports = NAT_PORTS_SEQUENTIAL;
}

static void block_udp_no_hairpin(struct nat_knobs *k)
{
	k->block = NAT_BLOCK_UDP;
	k->hairpin = 0;
	k->udp_timeout = 30;
}

/* A symmetric CGN: a random port of the subscriber's block per destination. */
static void cgn_symmetric(struct nat_knobs *k)
{
	k->mapping = NAT_MAPPING_APDM;
	k->ports = NAT_PORTS_RANDOM;
	k->port_block = 16;
}

static void cgn_sequential(struct nat_knobs *k)
{
	k->ports = NAT_PORTS_SEQUENTIAL;
	k->port_block = 16;
}

static void tcp_icmp(struct nat_knobs *k)
{
	k->tcp_unsolicited = NAT_TCP_ICMP;
	k->tcp_timeout = 600;
	k->tcp_transitory_timeout = 60;
}

static const struct rules_case cases[] = {
	{ "none", "none", NULL },
	{ "full-cone", "full-cone", NULL },
	{ "restricted-cone", "restricted-cone", NULL },
	{ "port-restricted-cone", "port-restricted-cone", NULL },
	{ "symmetric", "symmetric", NULL },
	{ "cgnat", "cgnat", NULL },
	{ "udp-blocked", "udp-blocked", NULL },
	{ "full-cone-random-ports", "full-cone", ports_random },
	{ "symmetric-sequential", "symmetric", apdm_sequential },
	{ "port-restricted-block-udp", "port-restricted-cone", block_udp_no_hairpin },
	{ "cgnat-symmetric", "cgnat", cgn_symmetric },
	{ "cgnat-sequential", "cgnat", cgn_sequential },
	{ "port-restricted-tcp-icmp", "port-restricted-cone", tcp_icmp },
};

static char *render(const struct rules_case *c)
{
	static struct in_addr subs[3];
	struct nat_box_addrs a = { .lan_len = 24, .subscribers = subs, .nsubscribers = 3 };
	struct nat_knobs k;
	char *out = NULL;

	inet_pton(AF_INET, "198.18.0.4", &a.wan);
	inet_pton(AF_INET, "10.1.0.0", &a.lan_prefix);
	inet_pton(AF_INET, "10.1.0.2", &subs[0]);
	inet_pton(AF_INET, "10.1.0.3", &subs[1]);
	inet_pton(AF_INET, "10.1.0.4", &subs[2]);
	if (nat_profile_lookup(c->profile, &k) < 0)
		return NULL;
	if (c->tweak)
		c->tweak(&k);
	return nat_ruleset_render(&k, &a, &out) == 0 ? out : NULL;
}

static void check_case(const struct rules_case *c, int regen, int load)
{
	char path[512], err[1024];
	char *got = render(c), *want;

	snprintf(path, sizeof(path), "%s/tests/golden/nat/%s.nft",
	         getenv("NATLAB_SRC") ? getenv("NATLAB_SRC") : ".", c->name);
	if (regen && got) {
		FILE *f = fopen(path, "w");

		if (f) {
			fputs(got, f);
			fclose(f);
		}
	}
	want = tap_slurp(path);
	ok(got && want && strcmp(got, want) == 0, "%s: ruleset matches %s", c->name, path);
	if (load) {
		int rc = got ? nat_ruleset_apply(got, err, sizeof(err)) : -EINVAL;

		ok(rc == 0, "%s: the kernel accepts it%s%s", c->name, rc ? ": " : "",
		   rc ? err : "");
	}
	free(got);
	free(want);
}

static void test_validation(void)
{
	struct nat_knobs k;
	char err[256];

	nat_profile_lookup("symmetric", &k);
	k.ports = NAT_PORTS_PRESERVE;
	ok(nat_knobs_validate(&k, 1, err, sizeof(err)) == -EINVAL && strstr(err, "random"),
	   "APDM with preserved ports rejected: %s", err);
	nat_profile_lookup("cgnat", &k);
	ok(nat_knobs_validate(&k, 40, err, sizeof(err)) == -EINVAL,
	   "40 subscribers of 2048 ports do not fit: %s", err);
	ok(nat_knobs_validate(&k, 31, err, sizeof(err)) == 0, "31 subscribers of 2048 ports fit");
	is_int(nat_profile_lookup("fullcone", &k), -ENOENT, "unknown profile");
	nat_profile_lookup("full-cone", &k);
	k.tcp_timeout = 100;
	ok(nat_knobs_validate(&k, 1, err, sizeof(err)) == -EINVAL &&
	       strstr(err, "tcp_transitory_timeout"),
	   "tcp_timeout under tcp_transitory_timeout rejected: %s", err);
	k.tcp_timeout = NAT_TCP_TIMEOUT_DEFAULT;
	k.ports = 7;
	ok(nat_knobs_validate(&k, 1, err, sizeof(err)) == -EINVAL && strstr(err, "ports = 7"),
	   "a value outside the knob's words rejected: %s", err);
}

/*
 * Every combination of the behaviour knobs is either refused with a sentence that names
 * it and what to use instead, or rendered to a ruleset the kernel loads. (That each one
 * built behaves as declared is lab_nat_combinations.sh's part.)
 */
static void test_combinations(int load)
{
	static struct in_addr subs[2];
	struct nat_box_addrs a = { .lan_len = 24, .subscribers = subs, .nsubscribers = 2 };
	unsigned built = 0, refused = 0, loaded = 0, bad = 0;
	char err[1024];

	inet_pton(AF_INET, "198.18.0.4", &a.wan);
	inet_pton(AF_INET, "10.1.0.0", &a.lan_prefix);
	inet_pton(AF_INET, "10.1.0.2", &subs[0]);
	inet_pton(AF_INET, "10.1.0.3", &subs[1]);
	for (unsigned i = 0; i < 2 * 3 * 3 * 2 * 2 * 3 * 2; i++) {
		struct nat_knobs k;
		unsigned v = i;
		char *rules = NULL;

		nat_profile_lookup("full-cone", &k);
		k.mapping = (enum nat_mapping)(v % 2), v /= 2;
		k.filtering = (enum nat_filtering)(v % 3), v /= 3;
		k.ports = (enum nat_ports)(v % 3), v /= 3;
		k.hairpin = v % 2, v /= 2;
		k.port_block = v % 2 ? 64 : 0, v /= 2;
		k.block = (enum nat_block)(v % 3), v /= 3;
		k.tcp_unsolicited = (enum nat_tcp_unsolicited)(v % 2);
		err[0] = '\0';
		if (nat_knobs_validate(&k, 2, err, sizeof(err)) < 0) {
			refused++;
			/* The only refusal: APDM keeping ports; the message says what to use. */
			if (!(k.mapping == NAT_MAPPING_APDM && k.ports == NAT_PORTS_PRESERVE) ||
			    !strstr(err, "address-and-port-dependent") ||
			    !strstr(err, "preserve") || !strstr(err, "use ports = \"random\"")) {
				bad++;
				tap_diag("combination %u refused: %s", i, err);
			}
			continue;
		}
		built++;
		if (nat_ruleset_render(&k, &a, &rules) < 0 || !rules || !*rules) {
			bad++;
			tap_diag("combination %u: no ruleset", i);
		} else if (load && nat_ruleset_apply(rules, err, sizeof(err)) < 0) {
			bad++;
			tap_diag("combination %u: the kernel refuses it: %s", i, err);
		} else {
			loaded += load;
		}
		free(rules);
	}
	is_int(bad, 0, "every combination is refused with what to use instead, or rendered");
	is_int(built + refused, 432, "all 432 combinations tried");
	is_int(refused, 72, "72 refused (address-and-port-dependent mapping with ports preserve)");
	if (load)
		is_int(loaded, built, "the kernel loads every built combination");
}

int main(void)
{
	const char *regen = getenv("NATLAB_REGEN_GOLDEN");
	int load = geteuid() == 0 && unshare(CLONE_NEWNET) == 0;

	if (!load)
		tap_diag("not root: rulesets are compared, not loaded");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i], regen && *regen, load);
	test_validation();
	test_combinations(load);
	return tap_done();
}
