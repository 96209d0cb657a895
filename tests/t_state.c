/* SPDX-License-Identifier: MIT */
/*
 * Lab state under /run/natlab: a lab being built is never taken for a dead one (issue 20:
 * `natlab cleanup` removed a lab being built, whose directory existed a moment before
 * its owner file), and half-made directories of dead creators are found again. Needs
 * root (/run/natlab is root's); touches only labs named after this test's pid.
 */
#include "natlab/state.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 300

static char lab[32];

/* What `natlab cleanup` would do: count the times it saw our lab with a dead owner. */
static int watch_cb(const char *name, void *arg)
{
	if (strcmp(name, lab) == 0 && lab_state_owner(name) == 0)
		(*(int *)arg)++;
	return 0;
}

static void test_never_ownerless(void)
{
	char done[128];
	int dead = 0, created = 0, status;
	pid_t watcher;

	snprintf(done, sizeof(done), "/tmp/t_state_done.%d", (int)getpid());
	unlink(done);
	watcher = fork();
	if (watcher == 0) {
		/* Look as often as possible until the parent says it is done. */
		while (access(done, F_OK) < 0 && dead == 0)
			lab_state_foreach(watch_cb, &dead);
		_exit(dead ? 1 : 0);
	}
	for (int i = 0; i < ROUNDS; i++) {
		if (lab_state_create(lab, getpid()) == 0)
			created++;
		lab_state_remove(lab);
	}
	close(open(done, O_WRONLY | O_CREAT, 0600));
	waitpid(watcher, &status, 0);
	unlink(done);
	is_int(created, ROUNDS, "every create succeeds");
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
	       "cleanup's view never shows the lab being built with a dead owner");
}

static void test_create(void)
{
	is_int(lab_state_create(lab, getpid()), 0, "create");
	is_int(lab_state_owner(lab), getpid(), "the owner is known as soon as the lab exists");
	is_int(lab_state_create(lab, getpid()), -EEXIST, "a second lab of that name is refused");
	is_int(lab_state_owner(lab), getpid(), "and the first keeps its owner");
	is_int(lab_state_remove(lab), 0, "remove");
	is_int(lab_state_owner(lab), -ENOENT, "the lab is gone");
}

/* A creator killed before renaming leaves a hidden directory; cleanup's sweep finds it. */
static void test_unfinished(void)
{
	char dead[128], live[128];
	pid_t child = fork();
	FILE *f;

	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	snprintf(dead, sizeof(dead), LAB_STATE_DIR "/" LAB_STATE_NEW "%sd.%d", lab, (int)child);
	snprintf(live, sizeof(live), LAB_STATE_DIR "/" LAB_STATE_NEW "%sl.%d", lab, (int)getpid());
	mkdir(dead, 0755);
	mkdir(live, 0755);
	snprintf(live + strlen(live), sizeof(live) - strlen(live), "/owner");
	f = fopen(live, "w");
	if (f) {
		fprintf(f, "%d %llu\n", (int)getpid(), lab_proc_starttime(getpid()));
		fclose(f);
	}
	ok(lab_state_remove_unfinished(NULL) >= 1, "the sweep removes what it finds");
	ok(access(dead, F_OK) < 0, "an ownerless half-made directory is removed");
	ok(access(live, F_OK) == 0, "one whose creator lives is kept");
	unlink(live);
	*strrchr(live, '/') = '\0';
	rmdir(live);
}

int main(void)
{
	tap_require_root();
	snprintf(lab, sizeof(lab), "tstate%d", (int)getpid());
	test_create();
	test_unfinished();
	test_never_ownerless();
	return tap_done();
}
