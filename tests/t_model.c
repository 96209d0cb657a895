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

int main(void)
{
	test_address_plan();
	test_errors();
	test_prefix();
	return tap_done();
}
