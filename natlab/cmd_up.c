/* SPDX-License-Identifier: MIT */
/*
 * natlab up FILE.lua --name NAME: build the lab and leave it running. The lab is kept by
 * a small daemon (later also holding wires and captures) until `natlab down`; if that
 * daemon or a half-finished `up` dies, `natlab cleanup` finds the lab orphaned.
 */
#include "natlab/cmd.h"
#include "natlab/capture.h"
#include "natlab/log.h"
#include "natlab/runtime.h"
#include "natlab/scenario.h"
#include "natlab/state.h"
#include "natlab/topology.h"
#include "natlab/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <sys/stat.h>

static void up_usage(FILE *f)
{
	fprintf(f,
	        "Usage: natlab up FILE.lua --name NAME [--pcap DIR]\n\n"
	        "Builds the topology FILE describes (namespaces, links, NATs) as lab NAME and\n"
	        "leaves it running: `natlab ls NAME` shows it, `natlab exec NAME HOST -- CMD`\n"
	        "runs commands in it, `natlab down NAME` removes it.\n\n"
	        "  -n, --name NAME   lab name (letters, digits, '_', '-'; at most %d)\n"
	        "  -p, --pcap DIR    capture both sides of every NAT and every host into\n"
	        "                    DIR/<node>-<interface>.pcap until `natlab down`\n"
	        "  -h, --help        this text\n",
	        LAB_NAME_MAX);
}

static void keeper_stop_cb(uv_signal_t *sig, int signum)
{
	uv_stop(sig->loop);
}

/*
 * The daemon that keeps the lab: it owns it (and forwards its wires) until SIGTERM or
 * SIGINT, which `natlab down` sends. It never tears the lab down itself.
 */
static void keeper_run(const struct scenario *s, struct lab_wires *fds, const char *pcap_dir,
                       int ready_fd)
{
	struct capture_set captures = { 0 };
	struct wire **wires = calloc((size_t)s->model.nnodes, sizeof(*wires));
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	uv_signal_t term, intr;
	uv_loop_t loop;
	char err[256];

	setsid();
	if (chdir("/") < 0 || !wires || uv_loop_init(&loop) < 0)
		_exit(1);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	uv_signal_init(&loop, &term);
	uv_signal_init(&loop, &intr);
	uv_signal_start(&term, keeper_stop_cb, SIGTERM);
	uv_signal_start(&intr, keeper_stop_cb, SIGINT);
	if (lab_wires_start(&loop, &s->model, fds, wires, err, sizeof(err)) < 0)
		_exit(1);
	if (pcap_dir &&
	    capture_set_start(&loop, &s->model, pcap_dir, &captures, err, sizeof(err)) < 0)
		_exit(1);
	if (lab_state_set_owner(s->model.name, getpid()) < 0 || write(ready_fd, "k", 1) != 1)
		_exit(1);
	close(ready_fd);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Stopped by `natlab down`: what was captured reaches the files before we go. */
	capture_set_stop(&captures);
	uv_run(&loop, UV_RUN_NOWAIT);
	_exit(0);
}

static int keeper_start(struct scenario *s, const char *pcap_dir)
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
		keeper_run(s, &s->wire_fds, pcap_dir, fds[1]);
	}
	close(fds[1]);
	/* The keeper has its own copies of the TAP fds; ours go. */
	lab_wires_close(&s->wire_fds);
	if (read(fds[0], &c, 1) != 1) {
		close(fds[0]);
		return -ECHILD;
	}
	close(fds[0]);
	return pid;
}

static int up_run(const char *path, const char *name, const char *pcap_dir)
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
	keeper = keeper_start(&s, pcap_dir);
	if (keeper < 0) {
		log_warn_code(keeper, "lab \"%s\": cannot start the daemon that keeps it",
		              s.model.name);
		cmd_lab_remove(s.model.name);
		scenario_close(&s);
		return 1;
	}
	fprintf(stderr,
	        "natlab: lab \"%s\" is up: %d nodes (daemon pid %d). "
	        "`natlab ls %s` shows it, `natlab down %s` removes it.\n",
	        s.model.name, s.model.nnodes, keeper, s.model.name, s.model.name);
	scenario_close(&s);
	return 0;
}

int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "pcap", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	char pcap_dir[PATH_MAX], *pcap = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "n:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pcap = optarg;
			break;
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
		        !name ? "--name NAME is required"
		              : "exactly one scenario FILE is required");
		up_usage(stderr);
		return 2;
	}
	cmd_require_scenario_file("natlab up", argv[optind]);
	cmd_require_admin("natlab up");
	/* The daemon works from /: it needs the directory's absolute path. */
	if (pcap && ((mkdir(pcap, 0755) < 0 && errno != EEXIST) || !realpath(pcap, pcap_dir)))
		log_fatal("natlab up: --pcap %s", pcap);
	return up_run(argv[optind], name, pcap ? pcap_dir : NULL);
}
