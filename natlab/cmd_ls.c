/* SPDX-License-Identifier: MIT */
/* natlab ls [NAME] [--json]: the labs, or one lab's nodes and addresses. */
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/nat_json.h"
#include "natlab/nat_state.h"
#include "natlab/netns.h"
#include "natlab/model.h"
#include "natlab/model6.h"
#include "natlab/state.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = { "internet", "nat", "host" };

static const char *lab_status(int owner)
{
	return owner > 0 ? "up" : "orphaned";
}

static int count_cb(const char *lab, void *arg)
{
	json_t *labs = arg;
	struct lab_model m;
	int owner = lab_state_owner(lab);

	lab_model_init(&m);
	lab_state_read_model(lab, &m);
	json_array_append_new(labs, json_pack("{s:s, s:s, s:i, s:i}", "name", lab, "status",
	                                      lab_status(owner), "owner_pid", owner > 0 ? owner : 0,
	                                      "nodes", m.nnodes));
	lab_model_close(&m);
	return 0;
}

static int ls_labs(int as_json)
{
	json_t *labs = json_array(), *l;
	size_t i;

	lab_state_foreach(count_cb, labs);
	if (as_json) {
		json_dumpf(labs, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (json_array_size(labs) == 0) {
		printf("no labs\n");
	} else {
		printf("%-24s %-9s %6s %8s\n", "NAME", "STATUS", "NODES", "OWNER");
		json_array_foreach(labs, i, l) printf(
		    "%-24s %-9s %6lld %8lld\n", json_string_value(json_object_get(l, "name")),
		    json_string_value(json_object_get(l, "status")),
		    json_integer_value(json_object_get(l, "nodes")),
		    json_integer_value(json_object_get(l, "owner_pid")));
	}
	json_decref(labs);
	return 0;
}

static void print_node(const struct lab_model *m, const struct lab_node *n)
{
	char addrs[LAB_ADDRS_MAX * (INET6_ADDRSTRLEN + 18)] = "", lan[80] = "-";
	char a[INET6_ADDRSTRLEN];

	for (int j = 0; j < n->naddrs; j++) {
		inet_ntop(AF_INET, &n->addrs[j], a, sizeof(a));
		snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s", j ? "," : "",
		         a);
	}
	/* IPv6 addresses follow the IPv4 ones; a LAN shows both prefixes. */
	for (int j = 0; j < n->naddrs6; j++) {
		inet_ntop(AF_INET6, &n->addrs6[j], a, sizeof(a));
		snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s",
		         j || n->naddrs ? "," : "", a);
	}
	/* An IPv6-only LAN shows its IPv6 prefix only (its IPv4 one is not configured). */
	if (n->kind != LAB_NODE_HOST && lab_node_has4(n)) {
		inet_ntop(AF_INET, &n->prefix, a, sizeof(a));
		snprintf(lan, sizeof(lan), "%s/%d", a, n->prefix_len);
	}
	if (n->kind != LAB_NODE_HOST && lab_node_has6(n)) {
		int v4 = lab_node_has4(n);

		inet_ntop(AF_INET6, &n->prefix6, a, sizeof(a));
		snprintf(lan + (v4 ? strlen(lan) : 0), sizeof(lan) - (v4 ? strlen(lan) : 0),
		         "%s%s/64", v4 ? "," : "", a);
	}
	printf("%-12s %-8s %-12s %-20s %-18s %s\n", n->name, kind_names[n->kind],
	       n->parent >= 0 ? m->nodes[n->parent].name : "-",
	       n->kind == LAB_NODE_NAT ? n->profile : "-", lan,
	       n->naddrs || n->naddrs6 ? addrs : "-");
}

/* The internet's prefix and the routers between two of its attachments, in path order. */
static void print_internet(const struct lab_model *m)
{
	char a[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET, &m->inet_prefix, a, sizeof(a));
	printf("internet %s/%d, %d router%s between attachments%s", a, m->inet_len, m->hops,
	       m->hops == 1 ? "" : "s", m->hops ? ":" : " (one flat bridge)");
	for (int k = 0; k < m->hops; k++) {
		struct in_addr h = lab_hop_addr(m, k);

		printf(" %s", inet_ntop(AF_INET, &h, a, sizeof(a)));
	}
	putchar('\n');
	if (!m->v6)
		return;
	inet_ntop(AF_INET6, &m->inet6_prefix, a6, sizeof(a6));
	printf("internet IPv6 %s/%d, routers:", a6, m->inet6_len);
	for (int k = 0; k < m->hops; k++) {
		struct in6_addr h = lab_hop6_addr(m, k);

		printf(" %s", inet_ntop(AF_INET6, &h, a6, sizeof(a6)));
	}
	putchar('\n');
}

/*
 * Every knob of every NAT as built: the profile's preset and what the scenario changed
 * (marked), so that nothing in force hides behind a profile name.
 */
static void print_knobs(const struct lab_model *m)
{
	char line[1024];
	int any = 0;

	for (int i = 0; i < m->nnodes; i++) {
		const struct lab_node *n = &m->nodes[i];

		if (n->kind != LAB_NODE_NAT)
			continue;
		if (!any++)
			printf(
			    "\nNAT knobs as built (* set by the scenario, not the profile's):\n");
		if (nat_knobs_format(n->profile, &n->knobs, line, sizeof(line)) < 0)
			log_fatalx("natlab ls: the knobs of \"%s\" do not fit in a line", n->name);
		printf("%-12s %s\n", n->name, line);
	}
}

static int ls_lab(const char *lab, int as_json)
{
	struct lab_model m;
	char path[256];
	json_t *root;
	int owner = lab_state_owner(lab);

	cmd_load_lab("natlab ls", lab, &m);
	if (as_json) {
		snprintf(path, sizeof(path), LAB_STATE_DIR "/%s/lab.json", lab);
		root = json_load_file(path, 0, NULL);
		if (!root)
			log_fatalx("natlab ls: cannot read %s", path);
		json_object_set_new(root, "status", json_string(lab_status(owner)));
		json_object_set_new(root, "owner_pid", json_integer(owner > 0 ? owner : 0));
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
	} else {
		printf("lab \"%s\": %s, %d nodes\n", lab, lab_status(owner), m.nnodes);
		print_internet(&m);
		printf("%-12s %-8s %-12s %-20s %-18s %s\n", "NODE", "KIND", "NET", "PROFILE", "LAN",
		       "ADDRS");
		for (int i = 0; i < m.nnodes; i++)
			print_node(&m, &m.nodes[i]);
		print_knobs(&m);
	}
	lab_model_close(&m);
	return 0;
}

/* natlab ls NAME NAT --mappings: what the box holds now. */
static int ls_mappings(const char *lab, const char *nat, int as_json)
{
	struct lab_model m;
	char err[256];
	json_t *st;
	int i;

	cmd_require_admin("natlab ls --mappings");
	if (lab_netns_init() < 0)
		log_fatal("natlab ls: cannot hold on to the current network namespace");
	cmd_load_lab("natlab ls", lab, &m);
	i = cmd_find_node("natlab ls", &m, nat);
	if (m.nodes[i].kind != LAB_NODE_NAT)
		log_fatalx("natlab ls: \"%s\" in lab \"%s\" is a %s, not a NAT; --mappings "
		           "reads a NAT box",
		           nat, lab, kind_names[m.nodes[i].kind]);
	st = nat_state_read_node(&m, i, err, sizeof(err));
	if (!st)
		log_fatalx("natlab ls: NAT \"%s\" of lab \"%s\": %s", nat, lab, err);
	if (as_json) {
		json_dumpf(st, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		nat_state_print(stdout, nat, st);
	}
	json_decref(st);
	lab_model_close(&m);
	return 0;
}

static void ls_usage(FILE *f)
{
	fprintf(f, "Usage: natlab ls [NAME] [--json]\n"
	           "       natlab ls NAME NAT --mappings [--json]\n\n"
	           "Without NAME: the labs on this machine, with their status (up, or orphaned\n"
	           "when the process keeping them died: `natlab cleanup` removes those).\n"
	           "With NAME: the internet's prefix and the routers on a path between two of\n"
	           "its attachments (the hops; in a dual-stack lab also its IPv6 prefix and\n"
	           "routers), then the lab's nodes, their networks, NAT profiles and addresses\n"
	           "(IPv4, then IPv6), and every knob of every NAT as built (those the\n"
	           "scenario set marked *; with --json, each NAT's knobs and their\n"
	           "\"overrides\").\n\n"
	           "With NAME NAT --mappings: what NAT holds now: its mapping table (conntrack:\n"
	           "original and reply tuples, the translated endpoint), each rule with the\n"
	           "packets it matched (drops included; \"policy drop\" counts what the chain's\n"
	           "policy dropped) and the sets and maps its rules learned.\n\n"
	           "  --json       machine-readable output\n"
	           "  --mappings   a NAT's state (needs root)\n");
}

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "mappings", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int as_json = 0, mappings = 0, c;

	while ((c = getopt_long(argc, argv, "jmh", opts, NULL)) != -1) {
		if (c == 'j')
			as_json = 1;
		else if (c == 'm')
			mappings = 1;
		else if (c == 'h') {
			ls_usage(stdout);
			return 0;
		} else {
			ls_usage(stderr);
			return 2;
		}
	}
	if (mappings != (argc - optind == 2) || argc - optind > 2) {
		ls_usage(stderr);
		return 2;
	}
	if (mappings)
		return ls_mappings(argv[optind], argv[optind + 1], as_json);
	return optind < argc ? ls_lab(argv[optind], as_json) : ls_labs(as_json);
}
