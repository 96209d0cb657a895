/* SPDX-License-Identifier: MIT */
/*
 * What a probed path declares, from lab models built here (no lab): stacked NATs,
 * firewalls and the TCP ports, port blocks of a CGN per subscriber, port preservation;
 * and how a measurement is compared with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/nat.h"
#include "natlab/probe_path.h"
#include "tap.h"

/* The lab of these tests, in declaration order (the order subscribers are numbered in). */
static const struct {
	const char *name, *parent, *profile;
	enum lab_node_kind kind;
} lab[] = {
	{ "internet", NULL, NULL, LAB_NODE_INTERNET },
	{ "home", "internet", "port-restricted-cone", LAB_NODE_NAT },
	{ "isp", "internet", "cgnat", LAB_NODE_NAT },
	{ "cpe1", "isp", "full-cone", LAB_NODE_NAT },
	{ "cpe2", "isp", "restricted-cone", LAB_NODE_NAT },
	{ "direct", "isp", NULL, LAB_NODE_HOST },
	{ "fw", "internet", "udp-blocked", LAB_NODE_NAT },
	{ "full", "internet", "full-cone", LAB_NODE_NAT },
	{ "sym", "full", "symmetric", LAB_NODE_NAT },
	{ "alice", "home", NULL, LAB_NODE_HOST },
	{ "bob", "cpe2", NULL, LAB_NODE_HOST },
	{ "carol", "fw", NULL, LAB_NODE_HOST },
	{ "dave", "sym", NULL, LAB_NODE_HOST },
	{ "eve", "cpe1", NULL, LAB_NODE_HOST },
};

/* Builds the lab into m; returns how many nodes were accepted, with err for the first not. */
static size_t lab_build(struct lab_model *m, char *err, size_t errlen)
{
	size_t n = 0;

	lab_model_init(m);
	for (; n < sizeof(lab) / sizeof(lab[0]); n++) {
		int parent = lab[n].parent ? lab_model_find(m, lab[n].parent) : -1;
		int i = lab_model_add(m, lab[n].name, lab[n].kind, parent, err, errlen);

		if (i < 0)
			break;
		if (lab[n].profile) {
			nat_profile_lookup(lab[n].profile, &m->nodes[i].knobs);
			snprintf(m->nodes[i].profile, sizeof(m->nodes[i].profile), "%s",
			         lab[n].profile);
		}
		m->nodes[i].want_naddrs = lab[n].kind == LAB_NODE_HOST;
		if (lab_model_assign(m, i, err, errlen) < 0)
			break;
	}
	return n;
}

/* The declaration of the path from host, as compact JSON text (static buffer). */
static const char *declared(const struct lab_model *m, int host, uint16_t p1, uint16_t p2,
                            unsigned udp_local, unsigned tcp_local, json_t **out)
{
	static char text[2048];
	uint16_t ports[2] = { p1, p2 };
	struct probe_path path;
	json_t *d;
	char *s;

	probe_path_walk(m, host, ports, &path);
	d = probe_path_declared(&path, udp_local, tcp_local);
	probe_path_close(&path);
	json_object_del(d, "nats");
	s = json_dumps(d, JSON_COMPACT);
	snprintf(text, sizeof(text), "%s", s ? s : "(null)");
	free(s);
	if (out)
		*out = d;
	else
		json_decref(d);
	return text;
}

static void test_declared(void)
{
	struct lab_model m;
	char err[256] = "";
	uint16_t web[2] = { 443, 80 };
	struct probe_path path;
	int alice, bob, carol, dave, eve, direct;

	is_int((long long)lab_build(&m, err, sizeof(err)),
	       (long long)(sizeof(lab) / sizeof(lab[0])), "the lab is accepted");
	if (err[0])
		tap_diag("%s", err);
	alice = lab_model_find(&m, "alice");
	bob = lab_model_find(&m, "bob");
	carol = lab_model_find(&m, "carol");
	dave = lab_model_find(&m, "dave");
	eve = lab_model_find(&m, "eve");
	direct = lab_model_find(&m, "direct");

	is_str(declared(&m, alice, 443, 80, 40000, 40001, NULL),
	       "{\"nat\":true,\"udp\":\"ok\",\"mapping\":\"endpoint-independent\","
	       "\"filtering\":\"address-and-port-dependent\",\"hairpin\":true,"
	       "\"port_preserved\":true,\"port_in_block\":null,\"port_block\":null,"
	       "\"tcp\":{\"status\":\"ok\",\"nat\":true,\"mapping\":\"endpoint-independent\","
	       "\"filtering\":\"address-and-port-dependent\",\"port_preserved\":true,"
	       "\"port_in_block\":null}}",
	       "one home NAT: its knobs, hairpin predicted, ports kept");

	/* isp's subscribers in model order: cpe1 (0), cpe2 (1), direct (2). */
	is_str(declared(&m, bob, 443, 80, 40000, 4000, NULL),
	       "{\"nat\":true,\"udp\":\"ok\",\"mapping\":\"endpoint-independent\","
	       "\"filtering\":\"address-and-port-dependent\",\"hairpin\":null,"
	       "\"port_preserved\":false,\"port_in_block\":true,\"port_block\":[3072,5119],"
	       "\"tcp\":{\"status\":\"ok\",\"nat\":true,\"mapping\":\"endpoint-independent\","
	       "\"filtering\":\"address-and-port-dependent\",\"port_preserved\":true,"
	       "\"port_in_block\":true}}",
	       "under a CGN: the stricter filtering, cpe2's block; a local port inside the block "
	       "is kept, one outside is not; hairpin not predicted through two NATs");
	probe_path_walk(&m, direct, web, &path);
	ok(path.block_lo == 5120 && path.block_hi == 7167 && path.translating == 1,
	   "the CGN's third subscriber: ports 5120-7167 (%u-%u)", path.block_lo, path.block_hi);
	is_int((int)json_array_size(path.nats), 1, "one NAT on its path");
	probe_path_close(&path);
	probe_path_walk(&m, eve, web, &path);
	is_str(json_string_value(json_object_get(json_array_get(path.nats, 1), "name")), "isp",
	       "the path names its NATs nearest first");
	probe_path_close(&path);

	is_str(declared(&m, carol, 443, 80, 40000, 40001, NULL),
	       "{\"nat\":true,\"udp\":\"blocked\",\"mapping\":null,\"filtering\":null,"
	       "\"hairpin\":null,\"port_preserved\":null,\"port_in_block\":null,"
	       "\"port_block\":null,\"tcp\":{\"status\":\"ok\",\"nat\":true,"
	       "\"mapping\":\"endpoint-independent\",\"filtering\":\"address-and-port-dependent\","
	       "\"port_preserved\":true,\"port_in_block\":null}}",
	       "web-only firewall, TCP on web ports: UDP blocked, TCP measured");
	ok(strstr(declared(&m, carol, 3478, 3479, 1, 1, NULL),
	          "\"tcp\":{\"status\":\"blocked\",\"nat\":true,\"mapping\":null,"
	          "\"filtering\":null,\"port_preserved\":null") != NULL,
	   "web-only firewall, other TCP ports: TCP blocked");
	ok(strstr(declared(&m, carol, 443, 8443, 1, 1, NULL), "\"status\":\"blocked\"") != NULL,
	   "one web port is not enough (the mapping test needs both)");
	m.nodes[lab_model_find(&m, "fw")].knobs.block = NAT_BLOCK_HTTPS_ONLY;
	ok(strstr(declared(&m, carol, 443, 80, 40000, 40001, NULL), "\"udp\":\"blocked\"") !=
	           NULL &&
	       strstr(declared(&m, carol, 443, 80, 40000, 40001, NULL),
	              "\"tcp\":{\"status\":\"blocked\"") != NULL,
	   "https-only firewall: UDP blocked, TCP blocked even on 443 and 80 (two ports needed)");
	m.nodes[lab_model_find(&m, "fw")].knobs.block = NAT_BLOCK_WEB_ONLY;
	ok(strstr(declared(&m, dave, 443, 80, 40000, 40001, NULL),
	          "\"mapping\":\"address-and-port-dependent\",\"filtering\":"
	          "\"address-and-port-dependent\",\"hairpin\":null,\"port_preserved\":false") !=
	       NULL,
	   "symmetric under full-cone: the stricter of both, ports not kept");
	lab_model_close(&m);
}

static void test_matches(void)
{
	json_t *d = json_loads("{\"udp\": \"ok\", \"nat\": true, \"mapping\": \"m\","
	                       " \"filtering\": \"f\", \"hairpin\": null, \"port_preserved\": true,"
	                       " \"port_in_block\": true, \"tcp\": {\"status\": \"blocked\","
	                       " \"nat\": true, \"mapping\": null}}",
	                       0, NULL);
	json_t *ms =
	    json_loads("{\"udp\": \"ok\", \"nat\": true, \"mapping\": \"m\","
	               " \"filtering\": \"f\", \"hairpin\": false, \"port_preserved\": true,"
	               " \"port_in_block\": true, \"tcp\": {\"status\": \"blocked\","
	               " \"nat\": false, \"mapping\": null}}",
	               0, NULL);

	ok(probe_path_matches(d, ms, false), "equal fields match; a null declaration is skipped");
	ok(probe_path_matches(json_object_get(d, "tcp"), json_object_get(ms, "tcp"), true),
	   "blocked and blocked: nothing else compared");
	json_object_set_new(ms, "port_in_block", json_false());
	ok(!probe_path_matches(d, ms, false), "a mapped port outside the block does not match");
	json_object_set_new(ms, "port_in_block", json_true());
	json_object_set_new(ms, "filtering", json_string("g"));
	ok(!probe_path_matches(d, ms, false), "another filtering does not match");
	json_object_set_new(json_object_get(ms, "tcp"), "status", json_string("ok"));
	ok(!probe_path_matches(json_object_get(d, "tcp"), json_object_get(ms, "tcp"), true),
	   "TCP measured through where it should be blocked does not match");
	json_decref(d);
	json_decref(ms);
}

int main(void)
{
	test_declared();
	test_matches();
	return tap_done();
}
