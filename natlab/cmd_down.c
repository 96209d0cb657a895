/* SPDX-License-Identifier: MIT */
/* natlab down NAME and natlab cleanup: removing labs, and leftovers of dead ones. */
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/model.h"
#include "natlab/netns.h"
#include "natlab/state.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Asks the process keeping the lab to go, and waits up to two seconds for it. */
static void owner_stop(const char *lab)
{
	int pid = lab_state_owner(lab);

	if (pid <= 0 || kill(pid, SIGTERM) < 0)
		return;
	for (int i = 0; i < 200 && lab_state_owner(lab) == pid; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	if (lab_state_owner(lab) == pid) {
		log_warnx("lab \"%s\": owner pid %d ignored SIGTERM; killing it", lab, pid);
		kill(pid, SIGKILL);
	}
}

static int netns_count_cb(const char *name, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int lab_netns_count(const char *lab)
{
	char prefix[128];
	int n = 0;

	snprintf(prefix, sizeof(prefix), LAB_NETNS_PREFIX "%s.", lab);
	lab_netns_foreach(prefix, netns_count_cb, &n);
	return n;
}

static void down_usage(FILE *f)
{
	fprintf(f, "Usage: natlab down NAME\n\n"
	           "Tears lab NAME down: stops its daemon, kills every process inside its\n"
	           "namespaces, removes the namespaces (with their links and NAT rules) and its\n"
	           "state under " LAB_STATE_DIR ".\n");
}

int cmd_down(int argc, char **argv)
{
	const char *lab;
	char err[256];
	int rc, unfinished;

	if (cmd_wants_help(argc, argv)) {
		down_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		down_usage(stderr);
		return 2;
	}
	lab = argv[1];
	if (lab_name_check(lab, LAB_NAME_MAX, err, sizeof(err)) < 0)
		log_fatalx("natlab down: %s", err);
	cmd_require_admin("natlab down");
	/* An `up` killed while making the state directory leaves it hidden: ours to remove. */
	unfinished = lab_state_remove_unfinished(lab);
	if (lab_state_owner(lab) == -ENOENT && lab_netns_count(lab) == 0) {
		if (unfinished > 0) {
			fprintf(stderr, "natlab: removed what a dead process left of lab \"%s\"\n",
			        lab);
			return 0;
		}
		log_fatalx("natlab down: no lab named \"%s\"; `natlab ls` lists the labs", lab);
	}
	owner_stop(lab);
	rc = cmd_lab_remove(lab);
	if (rc < 0)
		log_fatalx("natlab down: lab \"%s\": %s; `natlab cleanup` retries", lab,
		           strerror(-rc));
	fprintf(stderr, "natlab: lab \"%s\" is down (%d namespaces removed)\n", lab, rc);
	return 0;
}

struct cleanup {
	int labs;
	int strays;
	int failed;
};

static int cleanup_lab_cb(const char *lab, void *arg)
{
	struct cleanup *c = arg;
	int rc;

	if (lab_state_owner(lab) != 0)
		return 0;
	rc = cmd_lab_remove(lab);
	if (rc < 0) {
		log_warn_code(rc, "lab \"%s\"", lab);
		c->failed++;
		return 0;
	}
	fprintf(stderr, "natlab: removed lab \"%s\" (owner gone, %d namespaces)\n", lab, rc);
	c->labs++;
	return 0;
}

/* Namespaces of labs with no state at all (their state was removed by hand). */
static int cleanup_stray_cb(const char *ns, void *arg)
{
	struct cleanup *c = arg;
	char lab[LAB_NAME_MAX + 1];
	const char *dot = strchr(ns + strlen(LAB_NETNS_PREFIX), '.');
	size_t len;

	if (!dot)
		return 0;
	len = (size_t)(dot - ns) - strlen(LAB_NETNS_PREFIX);
	if (len == 0 || len > LAB_NAME_MAX)
		return 0;
	memcpy(lab, ns + strlen(LAB_NETNS_PREFIX), len);
	lab[len] = '\0';
	if (lab_state_owner(lab) != -ENOENT)
		return 0;
	lab_netns_kill_procs(ns, 2000);
	if (lab_netns_delete(ns) < 0) {
		c->failed++;
		return 0;
	}
	fprintf(stderr, "natlab: removed stray namespace \"%s\"\n", ns);
	c->strays++;
	return 0;
}

static void cleanup_usage(FILE *f)
{
	fprintf(f, "Usage: natlab cleanup\n\n"
	           "Removes what is left of labs whose owner died (a killed `natlab up` or run,\n"
	           "or a killed lab daemon): their processes, namespaces and state. Labs whose\n"
	           "owner is alive are left alone. Exits 1 if something could not be removed.\n");
}

int cmd_cleanup(int argc, char **argv)
{
	struct cleanup c = { 0 };
	int rc;

	if (cmd_wants_help(argc, argv)) {
		cleanup_usage(stdout);
		return 0;
	}
	if (argc != 1) {
		cleanup_usage(stderr);
		return 2;
	}
	cmd_require_admin("natlab cleanup");
	lab_netns_init();
	rc = lab_state_remove_unfinished(NULL);
	if (rc > 0)
		fprintf(stderr, "natlab: removed %d unfinished state director%s\n", rc,
		        rc == 1 ? "y" : "ies");
	c.labs += rc > 0 ? rc : 0;
	lab_state_foreach(cleanup_lab_cb, &c);
	lab_netns_foreach(LAB_NETNS_PREFIX, cleanup_stray_cb, &c);
	if (c.labs + c.strays == 0 && c.failed == 0)
		fprintf(stderr, "natlab: nothing to clean up\n");
	return c.failed ? 1 : 0;
}
