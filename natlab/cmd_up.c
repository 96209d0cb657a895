/* SPDX-License-Identifier: MIT */
/*
 * natlab up FILE.lua --name NAME: build the lab and leave it running. The lab is kept by
 * a small daemon (later also holding wires and captures) until `natlab down`; if that
 * daemon or a half-finished `up` dies, `natlab cleanup` finds the lab orphaned.
 */
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/runtime.h"
#include "natlab/scenario.h"
#include "natlab/state.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void up_usage(FILE *f)
{
	fprintf(f, "Usage: natlab up FILE.lua --name NAME\n\n"
		   "Builds the topology FILE describes (namespaces, links, NATs) as lab NAME and\n"
		   "leaves it running: `natlab ls NAME` shows it, `natlab exec NAME HOST -- CMD`\n"
		   "runs commands in it, `natlab down NAME` removes it.\n\n"
		   "  -n, --name NAME   lab name (letters, digits, '_', '-'; at most %d)\n"
		   "  -h, --help        this text\n",
		   LAB_NAME_MAX);
}

/* The daemon that keeps the lab: it owns it until SIGTERM (sent by `natlab down`). */
static void keeper_run(const char *lab, int ready_fd)
{
	sigset_t all, none;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	setsid();
	if (chdir("/") < 0)
		_exit(1);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (lab_state_set_owner(lab, getpid()) < 0)
		_exit(1);
	if (write(ready_fd, "k", 1) != 1)
		_exit(1);
	close(ready_fd);
	sigfillset(&none);
	sigdelset(&none, SIGTERM);
	sigdelset(&none, SIGINT);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	for (;;)
		sigsuspend(&none);
}

static int keeper_start(const char *lab)
{
	int fds[2];
	char c;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(fds[0]);
		keeper_run(lab, fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) {
		close(fds[0]);
		return -ECHILD;
	}
	close(fds[0]);
	return pid;
}

static int up_run(const char *path, const char *name)
{
	struct scenario s;
	int rc, keeper, interrupted;

	scenario_init(&s, SCENARIO_UP, path);
	s.lab_name = name;
	rc = scenario_run(&s);
	interrupted = *runtime_stop_flag();
	if ((rc < 0 || interrupted) && s.lab_up) {
		cmd_lab_remove(s.model.name);
		log_info("lab \"%s\" torn down", s.model.name);
	}
	if (rc < 0 || interrupted) {
		scenario_close(&s);
		return interrupted ? 128 + interrupted : 1;
	}
	keeper = keeper_start(s.model.name);
	if (keeper < 0) {
		log_warn_code(keeper, "lab \"%s\": cannot start the daemon that keeps it",
			      s.model.name);
		cmd_lab_remove(s.model.name);
		scenario_close(&s);
		return 1;
	}
	fprintf(stderr, "natlab: lab \"%s\" is up: %d nodes (daemon pid %d). "
			"`natlab ls %s` shows it, `natlab down %s` removes it.\n",
		s.model.name, s.model.nnodes, keeper, s.model.name, s.model.name);
	scenario_close(&s);
	return 0;
}

int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'h':
			up_usage(stdout);
			return 0;
		default:
			up_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || !name) {
		fprintf(stderr, "natlab up: %s\n\n",
			!name ? "--name NAME is required" : "exactly one scenario FILE is required");
		up_usage(stderr);
		return 2;
	}
	cmd_require_admin("natlab up");
	return up_run(argv[optind], name);
}
