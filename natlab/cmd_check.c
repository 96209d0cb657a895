/* SPDX-License-Identifier: MIT */
/* natlab check FILE.lua: run the scenario's description without creating anything. */
#include "natlab/cmd.h"
#include "natlab/scenario.h"

#include <stdio.h>

static void check_usage(FILE *f)
{
	fprintf(f,
	        "Usage: natlab check FILE.lua\n\n"
	        "Runs the scenario's topology description and checks it (keys, values,\n"
	        "profiles, prefixes, names) without creating anything. Needs no privileges.\n"
	        "Exits 0 if the scenario is valid, 1 with file:line of the first error if not.\n");
}

int cmd_check(int argc, char **argv)
{
	struct scenario s;
	int counts[3] = { 0 };
	int rc;

	if (cmd_wants_help(argc, argv)) {
		check_usage(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		check_usage(stderr);
		return 2;
	}
	cmd_require_scenario_file("natlab check", argv[1]);
	scenario_init(&s, SCENARIO_CHECK, argv[1]);
	rc = scenario_run(&s);
	if (rc == 0) {
		for (int i = 0; i < s.model.nnodes; i++)
			counts[s.model.nodes[i].kind]++;
		printf("%s: ok: lab \"%s\", %d hosts, %d NATs\n", argv[1], s.model.name,
		       counts[LAB_NODE_HOST], counts[LAB_NODE_NAT]);
	}
	scenario_close(&s);
	return rc == 0 ? 0 : 1;
}
