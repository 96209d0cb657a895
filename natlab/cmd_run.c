/* SPDX-License-Identifier: MIT */
/*
 * natlab run FILE.lua: build the lab, run the scenario to its end (TAP on stdout,
 * progress on stderr), tear the lab down, and write report.json, report.html, junit.xml
 * and logs/ into the out dir. Exits 0 only if every expectation held.
 */
#include "natlab/cmd.h"
#include "natlab/keep.h"
#include "natlab/log.h"
#include "natlab/nat_json.h"
#include "natlab/matrix.h"
#include "natlab/nat.h"
#include "natlab/outdir.h"
#include "natlab/path.h"
#include "natlab/run_opts.h"
#include "natlab/scenario.h"
#include "natlab/units.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void iso_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * report.json's nats[]: each NAT as declared (every knob as built, with the scenario's
 * overrides of its profile), and what natlab probe measured through it.
 */
static json_t *nats_of(const struct lab_model *m, const json_t *measured)
{
	json_t *nats = json_array();

	for (int i = 0; i < m->nnodes; i++) {
		const struct lab_node *n = &m->nodes[i];

		if (n->kind != LAB_NODE_NAT)
			continue;
		json_array_append_new(
		    nats, json_pack("{s:s, s:s, s:o?, s:o?}", "name", n->name, "profile",
		                    n->profile, "declared", nat_knobs_json(n->profile, &n->knobs),
		                    "measured", json_incref(json_object_get(measured, n->name))));
	}
	return nats;
}

int cmd_run_scenario(struct scenario *s, const char *name)
{
	char logs[PATH_MAX], started[32], lab[32], err[PATH_MAX + 256];
	struct timespec t0, t1;
	struct run_info info;
	json_t *nats;
	int rc;

	if (lab_pathf(logs, sizeof(logs), "%s/logs", s->out_dir) < 0)
		log_fatalx("natlab run: path too long under the out dir (%zu characters); pick a "
		           "shorter --out",
		           strlen(s->out_dir));
	if (outdir_make(s->out_dir, err, sizeof(err)) < 0 ||
	    outdir_make(logs, err, sizeof(err)) < 0)
		log_fatalx("natlab run: %s", err);
	/*
	 * A matrix's cells are labs named after their process, so that many run side by
	 * side; other runs take --name, or the scenario's name made unique.
	 */
	if (s->cell) {
		snprintf(lab, sizeof(lab), "run%d", (int)getpid());
		s->lab_name = lab;
	} else {
		s->lab_name = name;
		s->lab_name_unique = !name;
	}
	iso_now(started, sizeof(started));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = scenario_run(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0)
		results_expect(&s->results, 0, "the scenario runs to its end", s->path, s->error);
	info = (struct run_info){
		.scenario = s->path,
		.seed = s->model.seed,
		.started = started,
		.duration_s =
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		.nats = nats = nats_of(&s->model, s->results.measured),
		.error = s->error,
		.timeline = s->timeline.items,
	};
	if (results_finish(&s->results, &info, s->out_dir) < 0)
		log_warn("natlab run: writing the report into %s", s->out_dir);
	json_decref(nats);
	fprintf(stderr, "natlab: %d expectations, %d failed, %.1f s; report: %s/report.json\n",
	        s->results.count, s->results.failed, info.duration_s, s->out_dir);
	if (s->keeper > 0 && s->keep != KEEP_COMPLETED)
		fprintf(stderr,
		        "natlab: lab \"%s\" kept (daemon pid %d): `natlab ls %s`, "
		        "`natlab shell %s HOST` enter it, `natlab down %s` removes it\n",
		        s->model.name, s->keeper, s->model.name, s->model.name, s->model.name);
	return rc == 0 && s->results.failed == 0 ? 0 : 1;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	struct scenario s;
	int rc = run_opts_parse(argc, argv, &o);

	if (rc != 0) {
		run_opts_free(&o);
		return rc == 1 ? 0 : rc;
	}
	cmd_require_scenario_file("natlab run", o.scenario);
	cmd_require_admin("natlab run");
	if (o.worker) {
		rc = matrix_worker(&o);
		run_opts_free(&o);
		return rc;
	}
	if (!o.cell) {
		/* Plan first: a matrix scenario declares its cells before building anything. */
		scenario_init(&s, SCENARIO_PLAN, o.scenario);
		s.params = o.params;
		s.nparams = o.nparams;
		rc = scenario_run(&s);
		if (rc == 0 && s.cells) {
			struct matrix_opts mo = {
				.scenario = o.scenario,
				.self_exe = s.self_exe,
				.out_dir = o.out,
				.filter = o.filter,
				.params = o.params,
				.nparams = o.nparams,
				.jobs = o.jobs,
				.repeat = o.repeat,
				.shard = o.shard,
				.shards = o.shards,
				.seed = o.seed_set ? o.seed : s.model.seed,
				.seed_set = o.seed_set,
				.pcap = o.pcap_word,
				.timeout_s = o.timeout_s,
				.reuse = !o.no_reuse,
			};
			char err[PATH_MAX + 256];

			if (o.name || o.keep != KEEP_NEVER)
				log_fatalx(
				    "natlab run: --name, --keep and --keep-on-failure are for "
				    "one lab; a matrix runs a lab per cell (reproduce one cell "
				    "with the command its report gives, and add them there)");
			rc = outdir_make(o.out, err, sizeof(err));
			if (rc < 0)
				log_warnx("natlab run: %s", err);
			else
				rc = matrix_run(&mo, s.cells);
			scenario_close(&s);
			run_opts_free(&o);
			return rc == 0 ? 0 : 1;
		}
		scenario_close(&s);
	}
	scenario_init(&s, SCENARIO_RUN, o.scenario);
	s.out_dir = o.out;
	s.timeout_s = o.timeout_s;
	s.seed_set = o.seed_set;
	s.seed = o.seed;
	s.pcap = o.pcap;
	s.filter = o.filter;
	s.cell = o.cell;
	s.params = o.params;
	s.nparams = o.nparams;
	s.keep = o.keep;
	rc = cmd_run_scenario(&s, o.name);
	/* Told (cmd_run_scenario()): a kept lab is the user's now. */
	keep_ack(&s);
	scenario_close(&s);
	run_opts_free(&o);
	return rc;
}
