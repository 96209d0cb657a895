/* SPDX-License-Identifier: MIT */
/*
 * natlab up FILE.lua --name NAME: run the scenario and keep its lab. Whatever the
 * scenario left running (processes, wires, captures) stays, held by a small daemon, until
 * `natlab down`; if that daemon or a half-finished `up` dies, `natlab cleanup` finds the
 * lab orphaned. An `up` killed after the daemon took over but before it reported the lab
 * takes the lab with it (keep_ack()): a lab stays up only if `up` printed that it is (a
 * kill between the acknowledgement and the exit is a window no process can close).
 */
#include "natlab/cmd.h"
#include "natlab/keep.h"
#include "natlab/log.h"
#include "natlab/model.h"
#include "natlab/outdir.h"
#include "natlab/runtime.h"
#include "natlab/scenario.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void up_usage(FILE *f)
{
	fprintf(f,
	        "Usage: natlab up FILE.lua --name NAME [--out DIR] [--pcap DIR]\n\n"
	        "Runs the scenario FILE as lab NAME and leaves the lab running, with whatever\n"
	        "the scenario left running in it (processes, impaired links): `natlab ls NAME`\n"
	        "shows it, `natlab exec NAME HOST -- CMD` and `natlab shell NAME HOST` enter\n"
	        "it, `natlab down NAME` removes it. Expectations are TAP lines on stdout; a\n"
	        "scenario that fails with an error is torn down. Exits 0 if the lab is up and\n"
	        "every expectation held.\n\n"
	        "  -n, --name NAME   lab name (letters, digits, '_', '-'; at most %d)\n"
	        "  -o, --out DIR     report, junit.xml and logs/<host>-<proc>.log of the\n"
	        "                    scenario's processes (default: out/NAME)\n"
	        "  -p, --pcap DIR    capture both sides of every NAT and every host into\n"
	        "                    DIR/<node>-<interface>.pcap, and the whole lab into\n"
	        "                    DIR/lab.pcapng, until `natlab down`\n"
	        "  -h, --help        this text\n",
	        LAB_NAME_MAX);
}

static int up_run(const char *path, const char *name, const char *out, const char *pcap_dir)
{
	struct scenario s;
	int rc, interrupted;

	scenario_init(&s, SCENARIO_RUN, path);
	s.out_dir = out;
	s.keep = KEEP_COMPLETED;
	s.pcap = pcap_dir ? PCAP_ALL : PCAP_NONE;
	s.pcap_dir = pcap_dir;
	rc = cmd_run_scenario(&s, name);
	interrupted = *runtime_stop_flag();
	if (s.keeper > 0)
		fprintf(stderr,
		        "natlab: lab \"%s\" is up: %d nodes (daemon pid %d). "
		        "`natlab ls %s` shows it, `natlab down %s` removes it.\n",
		        s.model.name, s.model.nnodes, s.keeper, s.model.name, s.model.name);
	else if (s.lab_up || s.model.built)
		log_info("lab \"%s\" torn down", s.model.name);
	if (s.keeper <= 0)
		rc = interrupted ? 128 + interrupted : 1;
	/* Told: the lab is the user's now. */
	keep_ack(&s);
	scenario_close(&s);
	return rc;
}

int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "out", required_argument, NULL, 'o' },
		{ "pcap", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *out = NULL;
	char pcap_dir[PATH_MAX], *pcap = NULL, *out_default = NULL, err[PATH_MAX + 256];
	int c, rc;

	while ((c = getopt_long(argc, argv, "n:o:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pcap = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'o':
			out = optarg;
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
	if (lab_name_check(name, LAB_NAME_MAX, err, sizeof(err)) < 0)
		log_fatalx("natlab up: --name: %s", err);
	cmd_require_scenario_file("natlab up", argv[optind]);
	cmd_require_admin("natlab up");
	/* The daemon works from /: it needs the directory's absolute path. */
	if (pcap && outdir_make(pcap, err, sizeof(err)) < 0)
		log_fatalx("natlab up: --pcap: %s", err);
	if (pcap && !realpath(pcap, pcap_dir))
		log_fatal("natlab up: --pcap %s", pcap);
	if (!out && asprintf(&out_default, "out/%s", name) < 0)
		log_fatalx("natlab up: out of memory");
	rc = up_run(argv[optind], name, out ? out : out_default, pcap ? pcap_dir : NULL);
	free(out_default);
	return rc;
}
