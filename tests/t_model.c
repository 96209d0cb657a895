/* SPDX-License-Identifier: MIT */
/* The lab model: names, address plan, prefix checks. No privileges needed. */
#include "natlab/model.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static char err[256];

static const char *addr(struct in_addr a)
{
	static char s[4][INET_ADDRSTRLEN];
	static int k;

	k = (k + 1) % 4;
	return inet_ntop(AF_INET, &a, s[k], sizeof(s[k]));
}

static int add(struct lab_model *m, const char *name, enum lab_node_kind kind, int parent,
               const char *profile, int naddrs)
{
	int i = lab_model_add(m, name, kind, parent, err, sizeof(err));

	if (i < 0)
		return i;
	if (profile) {
		nat_profile_lookup(profile, &m->nodes[i].knobs);
		snprintf(m->nodes[i].profile, sizeof(m->nodes[i].profile), "%s", profile);
	}
	m->nodes[i].want_naddrs = naddrs;
	return lab_model_assign(m, i, err, sizeof(err)) < 0 ? -1 : i;
}

static void test_address_plan(void)
{
	struct lab_model m;
	int inet, srv, home, isp, cpe, alice, bob, pub;

	lab_model_init(&m);
	inet = add(&m, "internet", LAB_NODE_INTERNET, -1, NULL, 0);
	srv = add(&m, "srv", LAB_NODE_HOST, inet, NULL, 2);
	home = add(&m, "home", LAB_NODE_NAT, inet, "port-restricted-cone", 0);
	isp = add(&m, "isp", LAB_NODE_NAT, inet, "cgnat", 0);
	cpe = add(&m, "cpe", LAB_NODE_NAT, isp, "full-cone", 0);
	alice = add(&m, "alice", LAB_NODE_HOST, home, NULL, 1);
	bob = add(&m, "bob", LAB_NODE_HOST, cpe, NULL, 1);
	pub = add(&m, "dmz", LAB_NODE_NAT, inet, "none", 0);
	ok(inet >= 0 && srv >= 0 && home >= 0 && isp >= 0 && cpe >= 0 && alice >= 0 && bob >= 0 &&
	       pub >= 0,
	   "example topology is accepted (%s)", err);
	is_str(addr(lab_node_gateway(&m.nodes[inet])), "198.18.0.1", "core router is .1");
	is_str(addr(m.nodes[srv].addrs[0]), "198.18.0.2", "srv first address");
	is_str(addr(m.nodes[srv].addrs[1]), "198.18.0.3", "srv second address");
	is_str(addr(m.nodes[home].addrs[0]), "198.18.0.4", "home WAN on the internet");
	is_str(addr(m.nodes[home].prefix), "10.1.0.0", "home LAN is 10.1.0.0/24");
	is_str(addr(m.nodes[isp].prefix), "100.64.1.0", "CGNAT LAN in shared space");
	is_str(addr(m.nodes[cpe].addrs[0]), "100.64.1.2", "CPE WAN on the CGNAT LAN");
	is_str(addr(m.nodes[alice].addrs[0]), "10.1.0.2", "alice on home LAN");
	is_str(addr(m.nodes[bob].addrs[0]), "10.2.0.2", "bob on the CPE LAN, a new /24");
	is_str(addr(m.nodes[pub].prefix), "198.19.1.0", "routed LAN of profile none is public");
	lab_model_close(&m);
}

static void test_errors(void)
{
	struct lab_model m;
	int inet, a, rc;

	lab_model_init(&m);
	inet = add(&m, "internet", LAB_NODE_INTERNET, -1, NULL, 0);
	ok(lab_model_add(&m, "internet", LAB_NODE_HOST, inet, err, sizeof(err)) < 0 &&
	       strstr(err, "already exists"),
	   "duplicate name rejected: %s", err);
	ok(lab_model_add(&m, "averyveryverylongname", LAB_NODE_HOST, inet, err, sizeof(err)) < 0 &&
	       strstr(err, "1 to 12"),
	   "long name rejected: %s", err);
	ok(lab_model_add(&m, "bad/name", LAB_NODE_HOST, inet, err, sizeof(err)) < 0,
	   "bad character rejected: %s", err);

	a = lab_model_add(&m, "home", LAB_NODE_NAT, inet, err, sizeof(err));
	nat_profile_lookup("full-cone", &m.nodes[a].knobs);
	lab_prefix_parse("198.18.5.0/24", &m.nodes[a].prefix, &m.nodes[a].prefix_len);
	m.nodes[a].prefix_fixed = 1;
	rc = lab_model_assign(&m, a, err, sizeof(err));
	ok(rc < 0 && strstr(err, "overlaps"), "LAN inside the internet rejected: %s", err);
	m.nnodes--;

	a = add(&m, "isp", LAB_NODE_NAT, inet, "cgnat", 0);
	rc = lab_model_add(&m, "cpe", LAB_NODE_NAT, a, err, sizeof(err));
	nat_profile_lookup("full-cone", &m.nodes[rc].knobs);
	m.nodes[rc].prefix = m.nodes[a].prefix;
	m.nodes[rc].prefix_len = 25;
	m.nodes[rc].prefix_fixed = 1;
	ok(lab_model_assign(&m, rc, err, sizeof(err)) < 0 && strstr(err, "on its way"),
	   "LAN overlapping its upstream NAT rejected: %s", err);
	m.nnodes--;

	rc = lab_model_add(&m, "h", LAB_NODE_HOST, inet, err, sizeof(err));
	inet_pton(AF_INET, "198.18.0.1", &m.nodes[rc].want_addr);
	m.nodes[rc].want_naddrs = 1;
	ok(lab_model_assign(&m, rc, err, sizeof(err)) < 0 && strstr(err, "taken"),
	   "fixed address of the router rejected: %s", err);
	m.nnodes--;
	lab_model_close(&m);
}

static void test_prefix(void)
{
	struct in_addr a, b;
	int la, lb;

	is_int(lab_prefix_parse("10.0.0.0/8", &a, &la), 0, "10.0.0.0/8 parses");
	is_int(lab_prefix_parse("10.0.0.1/24", &a, &la), -EINVAL, "host bits set rejected");
	is_int(lab_prefix_parse("10.0.0.0/33", &a, &la), -EINVAL, "length 33 rejected");
	is_int(lab_prefix_parse("10.0.0.0", &a, &la), -EINVAL, "missing length rejected");
	lab_prefix_parse("10.1.0.0/16", &a, &la);
	lab_prefix_parse("10.1.2.0/24", &b, &lb);
	ok(lab_prefix_overlap(a, la, b, lb), "nested prefixes overlap");
	lab_prefix_parse("10.2.0.0/24", &b, &lb);
	ok(!lab_prefix_overlap(a, la, b, lb), "disjoint prefixes do not");
}

static void test_hops_default(void)
{
	struct lab_model m;

	lab_model_init(&m);
	is_int(m.hops, LAB_HOPS_DEFAULT, "default hop count");
	is_str(addr(m.inet_prefix), "198.18.0.0", "default internet 198.18.0.0/15");
	is_int(m.inet_len, 15, "default internet length");
	is_str(addr(lab_hop_addr(&m, 0)), "198.18.0.1", "router 0 is the core, the gateway");
	is_str(addr(lab_hop_addr(&m, 1)), "198.19.0.1", "backbone router 1 in the hop block");
	is_str(addr(lab_hop_addr(&m, 7)), "198.19.0.7", "backbone router 7");
	add(&m, "inet", LAB_NODE_INTERNET, -1, NULL, 0);
	is_int(lab_hop_find(&m, "inet.hop1"), 1, "inet.hop1 is backbone router 1");
	is_int(lab_hop_find(&m, "inet.hop7"), 7, "inet.hop7 is the last");
	is_int(lab_hop_find(&m, "inet.hop8"), -ENOENT, "there is no router 8 with 8 hops");
	is_int(lab_hop_find(&m, "inet.hop0"), -ENOENT, "router 0 is the core, not a hop");
	is_int(lab_hop_find(&m, "inet.hop01"), -ENOENT, "no leading zeros");
	is_int(lab_hop_find(&m, "internet.hop1"), -ENOENT, "another internet's name");
	is_int(lab_hop_find(&m, "inet"), -ENOENT, "a node name");
	lab_model_close(&m);
}

/* An internet of 203.0.113.0/24: /25 attachments, /28 blocks in the second half. */
static void test_internet_prefix(void)
{
	struct lab_model m;
	struct in_addr net;
	int inet, srv, nat, pub, pub2, len;

	lab_model_init(&m);
	ok(lab_internet_set(&m, "203.0.113.0/24", 3, err, sizeof(err)) == 0,
	   "203.0.113.0/24 with 3 hops is accepted (%s)", err);
	inet = add(&m, "internet", LAB_NODE_INTERNET, -1, NULL, 0);
	srv = add(&m, "srv", LAB_NODE_HOST, inet, NULL, 2);
	nat = add(&m, "home", LAB_NODE_NAT, inet, "full-cone", 0);
	pub = add(&m, "dmz", LAB_NODE_NAT, inet, "none", 0);
	pub2 = add(&m, "dmz2", LAB_NODE_NAT, inet, "none", 0);
	ok(inet >= 0 && srv >= 0 && nat >= 0 && pub >= 0 && pub2 >= 0, "topology accepted (%s)",
	   err);
	is_str(addr(m.nodes[inet].prefix), "203.0.113.0", "attachment network: the first half");
	is_int(m.nodes[inet].prefix_len, 25, "a /25");
	is_str(addr(lab_node_gateway(&m.nodes[inet])), "203.0.113.1", "core at .1");
	is_str(addr(m.nodes[srv].addrs[1]), "203.0.113.3", "srv's second address");
	is_str(addr(m.nodes[nat].addrs[0]), "203.0.113.4", "NAT WAN");
	lab_hop_block(&m, &net, &len);
	is_str(addr(net), "203.0.113.128", "hop block: first block of the second half");
	is_int(len, 28, "a /28 (1/8 of the half)");
	is_str(addr(lab_hop_addr(&m, 2)), "203.0.113.130", "backbone router 2");
	is_str(addr(m.nodes[pub].prefix), "203.0.113.144", "routed LAN: the next block");
	is_int(m.nodes[pub].prefix_len, 28, "routed LANs are blocks too");
	is_str(addr(m.nodes[pub2].prefix), "203.0.113.160", "and the one after");
	lab_model_close(&m);

	/* A routed LAN may not take the hop block, a NAT LAN not the internet. */
	lab_model_init(&m);
	inet = add(&m, "internet", LAB_NODE_INTERNET, -1, NULL, 0);
	pub = lab_model_add(&m, "dmz", LAB_NODE_NAT, inet, err, sizeof(err));
	nat_profile_lookup("none", &m.nodes[pub].knobs);
	lab_prefix_parse("198.19.0.0/24", &m.nodes[pub].prefix, &m.nodes[pub].prefix_len);
	m.nodes[pub].prefix_fixed = 1;
	ok(lab_model_assign(&m, pub, err, sizeof(err)) < 0 && strstr(err, "outside its hop block"),
	   "routed LAN on the hop block rejected: %s", err);
	lab_prefix_parse("198.19.2.0/24", &m.nodes[pub].prefix, &m.nodes[pub].prefix_len);
	ok(lab_model_assign(&m, pub, err, sizeof(err)) == 0, "a routed LAN beside it is fine (%s)",
	   err);
	lab_model_close(&m);

	/* Too small for the lab: a /26 has 30 attachment addresses, the core takes one. */
	lab_model_init(&m);
	ok(lab_internet_set(&m, "192.0.2.0/26", 3, err, sizeof(err)) == 0, "a /26 is accepted (%s)",
	   err);
	inet = add(&m, "internet", LAB_NODE_INTERNET, -1, NULL, 0);
	for (int k = 0; k < 29; k++) {
		char name[8];

		snprintf(name, sizeof(name), "h%d", k);
		srv = add(&m, name, LAB_NODE_HOST, inet, NULL, 1);
	}
	ok(srv >= 0, "29 hosts fit (%s)", err);
	ok(add(&m, "h29", LAB_NODE_HOST, inet, NULL, 1) < 0 &&
	       strstr(err, "internet 192.0.2.0/26 is too small for this lab") &&
	       strstr(err, "\"h29\""),
	   "the 30th is refused: %s", err);
	lab_model_close(&m);
}

static void test_internet_errors(void)
{
	static const struct {
		const char *prefix;
		int hops;
		const char *want;
	} bad[] = {
		{ "203.0.113.1/24", 8,
		  "not a network address (host bits set; did you mean 203.0.113.0/24?)" },
		{ "203.0.113.0", 8, "not an IPv4 prefix" },
		{ "203.0.113.0/x", 8, "not an IPv4 prefix" },
		{ "192.0.2.0/27", 1, "too small for a lab" },
		{ "12.0.0.0/7", 8, "too large" },
		{ "10.0.0.0/16", 8, "overlaps private LAN space 10.0.0.0/8" },
		{ "192.168.0.0/15", 8, "overlaps private LAN space 192.168.0.0/16" },
		{ "100.64.0.0/16", 8, "overlaps the CGNAT shared space" },
		{ "100.0.0.0/8", 8, "overlaps the CGNAT shared space" },
		{ "127.0.0.0/16", 8, "loopback" },
		{ "224.0.0.0/8", 8, "multicast" },
		{ "198.18.0.0/15", 33, "hops = 33 is out of range (0 to 32)" },
		{ "198.18.0.0/15", -1, "out of range" },
		{ "192.0.2.0/26", 4,
		  "hops = 4 needs 3 backbone router addresses but internet 192.0.2.0/26 has room for 2" },
	};
	struct lab_model m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lab_model_init(&m);
		err[0] = '\0';
		ok(lab_internet_set(&m, bad[i].prefix, bad[i].hops, err, sizeof(err)) == -EINVAL &&
		       strstr(err, bad[i].want) && m.hops == LAB_HOPS_DEFAULT && m.inet_len == 15,
		   "prefix %s, hops %d refused, nothing changed: %s", bad[i].prefix, bad[i].hops,
		   err);
		lab_model_close(&m);
	}
	lab_model_init(&m);
	ok(lab_internet_set(&m, NULL, 0, err, sizeof(err)) == 0 && m.hops == 0 && m.inet_len == 15,
	   "hops = 0 (flat) at the default prefix");
	ok(lab_internet_set(&m, "198.51.100.0/24", 15, err, sizeof(err)) == 0,
	   "15 hops fit a /24 (%s)", err);
	lab_model_close(&m);
}

int main(void)
{
	test_address_plan();
	test_errors();
	test_prefix();
	test_hops_default();
	test_internet_prefix();
	test_internet_errors();
	return tap_done();
}
