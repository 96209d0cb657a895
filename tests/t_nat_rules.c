/* SPDX-License-Identifier: MIT */
/*
 * NAT rulesets: each case is rendered and compared exactly with its golden file under
 * tests/golden/nat/. After an intended change, regenerate them with
 *   NATLAB_REGEN_GOLDEN=1 build/tests/t_nat_rules
 * and review the diff. As root, each ruleset is also loaded into a private network
 * namespace, so a golden file the kernel would refuse cannot pass.
 */
#include "natlab/nat.h"
#include "natlab/portmap.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
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

/* The corporate network: nothing but TCP to port 443 leaves it. */
static void https_only(struct nat_knobs *k)
{
	k->block = NAT_BLOCK_HTTPS_ONLY;
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

/* A home router answering UPnP-IGD and NAT-PMP, not PCP (PCP requests dropped). */
static void upnp_natpmp(struct nat_knobs *k)
{
	k->upnp = 1;
	k->natpmp = 1;
	k->portmap_lease = 600;
}

/* A carrier NAT answering PCP only. */
static void pcp_only(struct nat_knobs *k)
{
	k->pcp = 1;
}

/* A carrier's IPv6-only access whose translated hosts may only browse the web. */
static void nat64_web_only(struct nat_knobs *k)
{
	k->block = NAT_BLOCK_WEB_ONLY;
}

/* Hairpinning through a nat64 box: TAYGA's device is a LAN interface in every rule. */
static void nat64_on(struct nat_knobs *k)
{
	k->nat64 = 1;
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
	{ "symmetric-upnp-natpmp", "symmetric", upnp_natpmp },
	{ "cgnat-pcp", "cgnat", pcp_only },
	{ "port-restricted-https-only", "port-restricted-cone", https_only },
	{ "mobile-nat64", "mobile-nat64", NULL },
	{ "mobile-nat64-web-only", "mobile-nat64", nat64_web_only },
	{ "full-cone-nat64", "full-cone", nat64_on },
};

/*
 * A box on WAN wan with LAN prefix/24 whose n subscribers are .2, .3, ... of that LAN
 * (subs holds them, at least n long).
 */
static struct nat_box_addrs box_addrs(const char *wan, const char *prefix, struct in_addr *subs,
                                      unsigned n)
{
	struct nat_box_addrs a = { .lan_len = 24, .subscribers = subs, .nsubscribers = n };

	inet_pton(AF_INET, wan, &a.wan);
	inet_pton(AF_INET, prefix, &a.lan_prefix);
	for (unsigned i = 0; i < n; i++)
		subs[i].s_addr = htonl(ntohl(a.lan_prefix.s_addr) + 2 + i);
	return a;
}

static char *render(const struct rules_case *c)
{
	static struct in_addr subs[3];
	struct nat_box_addrs a = box_addrs("198.18.0.4", "10.1.0.0", subs, 3);
	struct nat_knobs k;
	char *out = NULL;

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
	nat_profile_lookup("none", &k);
	k.upnp = 1;
	ok(nat_knobs_validate(&k, 1, err, sizeof(err)) == -EINVAL && strstr(err, "\"none\""),
	   "port mapping on a box that does not translate rejected: %s", err);
}

/* Runs one nft command in the current namespace; 0 or -1. */
static int nft_cmd(const char *cmd)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, cmd);
	nft_ctx_free(ctx);
	return rc ? -1 : 0;
}

/* `nft list WHAT` as text (malloc'd), NULL when nft refuses (no such table). */
static char *nft_list(const char *what)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	char cmd[256], *out = NULL;

	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	snprintf(cmd, sizeof(cmd), "list %s", what);
	if (nft_run_cmd_from_buffer(ctx, cmd) == 0)
		out = strdup(nft_ctx_get_output_buffer(ctx));
	nft_ctx_free(ctx);
	return out;
}

/* Whether a listing holds a rule. */
static int rules_in(const char *list, const char *rule)
{
	return list && strstr(list, rule) != NULL;
}

/*
 * The port-mapping table as miniupnpd finds it: loading it again (a profile change)
 * keeps the daemon's rules, a flush (a router reboot) removes them, off removes it.
 */
static void test_portmap_table(void)
{
	char err[1024], *list = NULL;
	const char *dnat = "iif \"lo\" udp dport 6000 dnat ip to 10.1.0.2:6000";
	int rc;

	rc = nat_portmap_apply(1, err, sizeof(err));
	ok(rc == 0, "the port-mapping table loads%s%s", rc ? ": " : "", rc ? err : "");
	rc = nft_cmd("add rule inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_DNAT_CHAIN " "
	             "iif lo udp dport 6000 dnat ip to 10.1.0.2:6000");
	ok(rc == 0, "a mapping as miniupnpd writes it goes into its chain");
	nat_portmap_apply(1, err, sizeof(err));
	list = nft_list("table inet " NAT_PORTMAP_TABLE);
	ok(rules_in(list, dnat), "loading the table again keeps the mapping");
	free(list);
	nat_portmap_flush(err, sizeof(err));
	list = nft_list("table inet " NAT_PORTMAP_TABLE);
	ok(list && !rules_in(list, dnat) && strstr(list, "chain " NAT_PORTMAP_DNAT_CHAIN),
	   "a flush empties the daemon's chains and keeps them");
	free(list);
	nat_portmap_apply(0, err, sizeof(err));
	list = nft_list("table inet " NAT_PORTMAP_TABLE);
	ok(!list, "off removes the table");
	free(list);
}

/*
 * A NAT box's two tables in one transaction (nat_box_apply, what a build loads): both
 * there, the daemon's mappings kept by a reload with port mapping on, the port-mapping
 * table gone with it off and the natlab table kept; a bad ruleset loads neither.
 */
static void test_box_apply(void)
{
	const char *ruleset =
	    "add table ip natlab\n"
	    "add chain ip natlab post { type nat hook postrouting priority 100; }\n"
	    "add rule ip natlab post oif \"lo\" masquerade\n";
	const char *dnat = "iif \"lo\" udp dport 6001 dnat ip to 10.1.0.3:6001";
	char err[1024], *list, *pm;
	int rc;

	rc = nat_box_apply(ruleset, 1, err, sizeof(err));
	ok(rc == 0, "a box's tables load in one transaction%s%s", rc ? ": " : "", rc ? err : "");
	list = nft_list("table ip natlab");
	pm = nft_list("table inet " NAT_PORTMAP_TABLE);
	ok(list && strstr(list, "masquerade") && pm, "both tables are there");
	free(list);
	free(pm);
	nft_cmd("add rule inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_DNAT_CHAIN " "
	        "iif lo udp dport 6001 dnat ip to 10.1.0.3:6001");
	nat_box_apply(ruleset, 1, err, sizeof(err));
	pm = nft_list("table inet " NAT_PORTMAP_TABLE);
	ok(rules_in(pm, dnat), "a reload with port mapping on keeps the mappings");
	free(pm);
	rc = nat_box_apply("add rule ip natlab nowhere drop\n", 0, err, sizeof(err));
	pm = nft_list("table inet " NAT_PORTMAP_TABLE);
	ok(rc == -EINVAL && pm, "a bad ruleset is refused and the port-mapping table stays");
	free(pm);
	rc = nat_box_apply(ruleset, 0, err, sizeof(err));
	list = nft_list("table ip natlab");
	pm = nft_list("table inet " NAT_PORTMAP_TABLE);
	ok(rc == 0 && list && !pm, "port mapping off removes its table, not the natlab one");
	free(list);
	free(pm);
	nft_cmd("delete table ip natlab");
}

/*
 * With every descriptor below FD_SETSIZE taken, no libnftables context is made (its
 * select() would write past the set): a clear error instead, and loads work again once
 * one is free.
 */
static void test_low_fds_taken(void)
{
	struct rlimit r;
	int fds[FD_SETSIZE], n = 0, rc;
	char err[1024];

	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_max < FD_SETSIZE + 64) {
		ok(1, "# SKIP the hard open-files limit is below %d", FD_SETSIZE + 64);
		return;
	}
	r.rlim_cur = FD_SETSIZE + 64;
	setrlimit(RLIMIT_NOFILE, &r);
	while (n < FD_SETSIZE && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 &&
	       fds[n] < FD_SETSIZE)
		n++;
	rc = nat_portmap_apply(1, err, sizeof(err));
	ok(rc < 0 && strstr(err, "no descriptor below 1024"),
	   "with every number below 1024 taken, nftables is not called: %s",
	   rc < 0 ? err : "loaded");
	close(fds[0]);
	rc = nat_portmap_apply(0, err, sizeof(err));
	ok(rc == 0, "with one free, it is%s%s", rc ? ": " : "", rc ? err : "");
	for (int i = 1; i <= n && i < FD_SETSIZE; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * Every combination of the behaviour knobs is either refused with a sentence that names
 * it and what to use instead, or rendered to a ruleset the kernel loads. (That each one
 * built behaves as declared is lab_nat_combinations.sh's part.)
 */
static void test_combinations(int load)
{
	static struct in_addr subs[2];
	struct nat_box_addrs a = box_addrs("198.18.0.4", "10.1.0.0", subs, 2);
	unsigned built = 0, refused = 0, loaded = 0, bad = 0;
	char err[1024];

	for (unsigned i = 0; i < 2 * 3 * 3 * 2 * 2 * 3 * 2 * 3; i++) {
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
		k.tcp_unsolicited = (enum nat_tcp_unsolicited)(v % 2), v /= 2;
		k.natpmp = v % 3 == 1, k.pcp = v % 3 == 2; /* none, NAT-PMP only, PCP only */
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
	is_int(built + refused, 1296, "all 1296 combinations tried");
	is_int(refused, 216,
	       "216 refused (address-and-port-dependent mapping with ports preserve)");
	if (load)
		is_int(loaded, built, "the kernel loads every built combination");
}

/* miniupnpd's configuration: protocols, lease floor under the cap, who may map what. */
static void test_portmap_conf(void)
{
	static struct in_addr subs[2];
	struct nat_box_addrs a = box_addrs("20.0.0.4", "100.64.1.0", subs, 2);
	struct nat_knobs k;
	char *conf = NULL;

	nat_profile_lookup("cgnat", &k);
	k.port_block = 1024;
	k.pcp = 1;
	k.portmap_lease = 2;
	ok(portmap_conf_render(&k, &a, "cgn", 7, "/x/cgn.sock", &conf) == 0 && conf,
	   "a CGN's configuration renders");
	ok(conf && strstr(conf, "enable_upnp=no\n") && strstr(conf, "enable_natpmp=yes\n"),
	   "PCP only: UPnP off, the NAT-PMP/PCP listener on");
	ok(conf && strstr(conf, "min_lifetime=1\n") && strstr(conf, "max_lifetime=2\n"),
	   "a 2 s cap: floor 1 s (miniupnpd wants it below the cap)");
	ok(conf && strstr(conf, "allow 1024-2047 100.64.1.2/32 1-65535\n") &&
	       strstr(conf, "allow 2048-3071 100.64.1.3/32 1-65535\n"),
	   "each subscriber may map its own block only");
	ok(conf && strstr(conf, "\ndeny 0-65535 0.0.0.0/0 0-65535\n"), "everything else denied");
	ok(conf && strstr(conf, "upnp_nat_chain=" NAT_PORTMAP_DNAT_CHAIN "\n"),
	   "its mappings go to natlab's chain");
	free(conf);
	nat_profile_lookup("symmetric", &k);
	k.upnp = 1;
	inet_pton(AF_INET, "10.1.0.0", &a.lan_prefix);
	ok(portmap_conf_render(&k, &a, "gw", 7, "/x/gw.sock", &conf) == 0 && conf &&
	       strstr(conf, "allow 1024-65535 10.1.0.0/24 1-65535\n") &&
	       strstr(conf, "min_lifetime=120\nmax_lifetime=3600\n"),
	   "a home box: its LAN maps 1024-65535; leases 120 s - 1 h");
	free(conf);
	ok(portmap_addr_reserved(a.wan) == 0, "20.0.0.4 is public for miniupnpd");
	inet_pton(AF_INET, "198.19.255.1", &a.wan);
	ok(portmap_addr_reserved(a.wan), "198.18.0.0/15 (natlab's default internet) is reserved");
	inet_pton(AF_INET, "100.127.0.1", &a.wan);
	ok(portmap_addr_reserved(a.wan), "100.64.0.0/10 (a CGN's side) is reserved");
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
	test_portmap_conf();
	if (load)
		test_portmap_table();
	if (load)
		test_box_apply();
	if (load)
		test_low_fds_taken();
	test_combinations(load);
	return tap_done();
}
