/* SPDX-License-Identifier: MIT */
/* natlab: NAT-traversal test lab. Subcommands dispatch from one table. */
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/lua_proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "run", cmd_run, "run a scenario: build its lab, run it, report, tear down" },
	{ "up", cmd_up, "build the topology of a scenario and leave it running" },
	{ "ls", cmd_ls, "list labs, or one lab's hosts, NATs and addresses" },
	{ "exec", cmd_exec, "run a command inside a host of a lab" },
	{ "shell", cmd_shell, "open an interactive shell inside a host of a lab" },
	{ "probe", cmd_probe, "classify the NAT path of a host (RFC 5780) and compare" },
	{ "down", cmd_down, "tear one lab down" },
	{ "cleanup", cmd_cleanup, "remove leftovers of labs whose owner died" },
	{ "check", cmd_check, "validate a scenario without running it" },
	{ "report", cmd_report, "merge the reports of sharded matrix runs" },
	{ "turn-cred", cmd_turn_cred, "mint TURN REST credentials for coturn's auth secret" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: natlab [-v] COMMAND [ARGS...]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(f,
	        "\n  -v, --verbose  debug messages, each with a monotonic timestamp (seconds\n"
	        "                 since boot, as in captures); also NATLAB_DEBUG=1\n"
	        "\n`natlab COMMAND --help` tells more. natlab %s\n",
	        NATLAB_VERSION);
}

int main(int argc, char **argv)
{
	const char *debug = getenv("NATLAB_DEBUG");
	int verbose = debug && *debug;

	if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--verbose") == 0)) {
		/* Through the environment, so the cells a matrix spawns are verbose too. */
		setenv("NATLAB_DEBUG", "1", 1);
		verbose = 1;
		argc--;
		argv++;
	}
	log_init("natlab", verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	/* A person reads these messages: timestamps only when debugging. */
	log_set_stamps(verbose);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("natlab %s\n", NATLAB_VERSION);
		return 0;
	}
	/* Not listed: how spawned processes enter their host's namespace. */
	if (strcmp(argv[1], "__enter") == 0)
		return cmd_enter(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "natlab: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
