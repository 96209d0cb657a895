/* SPDX-License-Identifier: MIT */
/*
 * Out dirs and their files as root: planted symbolic links, hard links and FIFOs are
 * refused and what they point at is left alone; foreign-owned, group-writable and
 * linked out dirs are refused with a message saying what to do.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "natlab/outdir.h"
#include "natlab/report_matrix.h"
#include "tap.h"

#define VICTIM_TEXT "precious\n"

static char top[PATH_MAX];

static void pathf(char *buf, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", top, name) >= PATH_MAX)
		tap_skip_all("temporary directory path too long");
}

/* A file outside any out dir that a planted link points at. */
static void victim_make(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(VICTIM_TEXT, f);
		fclose(f);
	}
}

static int victim_intact(const char *path)
{
	char *s = tap_slurp(path);
	int ok = s && strcmp(s, VICTIM_TEXT) == 0;

	free(s);
	return ok;
}

static void test_dirs(void)
{
	char d[PATH_MAX], sub[PATH_MAX], err[PATH_MAX + 256];

	pathf(d, "new/deep/out");
	is_int(outdir_make(d, err, sizeof(err)), 0, "a new out dir is created with its parents");
	is_int(outdir_make(d, err, sizeof(err)), 0, "and accepted again once it exists");

	pathf(d, "foreign");
	mkdir(d, 0755);
	if (chown(d, 65534, 65534) < 0)
		tap_diag("chown: %s", strerror(errno));
	is_int(outdir_make(d, err, sizeof(err)), -EPERM,
	       "an existing out dir of another user is refused");
	ok(strstr(err, "belongs to uid 65534") && strstr(err, d),
	   "the message names it and its owner: %s", err);

	pathf(d, "groupw");
	mkdir(d, 0755);
	chmod(d, 0775);
	is_int(outdir_make(d, err, sizeof(err)), -EPERM, "a group-writable out dir is refused");
	ok(strstr(err, "chmod go-w") != NULL, "the message says what to do: %s", err);

	pathf(d, "link");
	pathf(sub, "new");
	if (symlink(sub, d) < 0)
		tap_diag("symlink: %s", strerror(errno));
	is_int(outdir_make(d, err, sizeof(err)), -ELOOP,
	       "an out dir that is a symbolic link is refused");
	ok(strstr(err, "symbolic link") != NULL, "the message says so: %s", err);

	pathf(d, "open");
	mkdir(d, 0755);
	chmod(d, 0777);
	pathf(sub, "open/out");
	is_int(outdir_make(sub, err, sizeof(err)), -EPERM,
	       "an out dir under a parent anyone can write (not sticky) is refused");
	ok(strstr(err, "parent") && strstr(err, d), "the message names the parent: %s", err);
	chmod(d, 01777);
	is_int(outdir_make(sub, err, sizeof(err)), 0,
	       "under a sticky parent (as /tmp) it is accepted");
}

static void test_files(void)
{
	char d[PATH_MAX], f[PATH_MAX], victim[PATH_MAX], err[PATH_MAX + 256];
	struct stat st;
	FILE *fp;
	int fd;

	pathf(victim, "victim");
	victim_make(victim);
	pathf(d, "files");
	outdir_make(d, err, sizeof(err));

	pathf(f, "files/sym.log");
	symlink(victim, f);
	is_int(outdir_open(f, O_WRONLY | O_CREAT | O_APPEND, 0644), -ELOOP,
	       "appending to a planted symbolic link is refused");
	is_int(outdir_open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644), -ELOOP,
	       "truncating through a planted symbolic link is refused");

	pathf(f, "files/hard.json");
	if (link(victim, f) < 0)
		tap_diag("link: %s", strerror(errno));
	is_int(outdir_open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644), -EMLINK,
	       "a planted hard link is refused");
	ok(victim_intact(victim), "the file the links point at is untouched");

	pathf(f, "files/fifo.pcap");
	mkfifo(f, 0644);
	is_int(outdir_open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644), -EINVAL,
	       "a planted FIFO is refused at once (no reader: it would block)");

	pathf(f, "files/theirs.xml");
	victim_make(f);
	chown(f, 65534, 65534);
	is_int(outdir_open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644), -EPERM,
	       "a file of another user is refused");
	ok(victim_intact(f), "and not truncated");

	pathf(f, "files/ours.log");
	victim_make(f);
	fp = outdir_fopen(f, "a");
	ok(fp != NULL, "a file of ours opens for appending");
	if (fp) {
		fputs("more\n", fp);
		fclose(fp);
	}
	stat(f, &st);
	is_int((long long)st.st_size, (long long)strlen(VICTIM_TEXT) + 5,
	       "appended, not truncated");
	fd = outdir_open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ok(fd >= 0, "and for truncating");
	if (fd >= 0) {
		is_int(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "the fd is blocking again");
		close(fd);
	}
	stat(f, &st);
	is_int((long long)st.st_size, 0, "truncated after the checks");
}

/* The matrix report's writers (report.json, junit.xml, report.html) with links planted. */
static void test_report(void)
{
	static const char *const names[] = { "report.json", "junit.xml", "report.html.tmp" };
	char d[PATH_MAX], f[PATH_MAX], victim[PATH_MAX], err[PATH_MAX + 256];
	json_t *report;
	int i, intact = 1;

	pathf(d, "report");
	outdir_make(d, err, sizeof(err));
	pathf(victim, "victim2");
	victim_make(victim);
	report = json_pack("{s:s, s:[]}", "scenario", "x.lua", "cells");
	/* One link at a time: each writer must refuse its own. */
	for (i = 0; i < 3; i++) {
		if (snprintf(f, sizeof(f), "%s/%s", d, names[i]) >= (int)sizeof(f))
			continue;
		symlink(victim, f);
		ok(report_matrix_write(report, d) < 0, "a link planted as %s makes the report fail",
		   names[i]);
		ok(victim_intact(victim), "and the file it points at is untouched");
		unlink(f);
	}
	is_int(report_matrix_write(report, d), 0, "without the links it is written");
	for (i = 0; i < 2; i++) {
		struct stat st;

		if (snprintf(f, sizeof(f), "%s/%s", d, names[i]) >= (int)sizeof(f))
			continue;
		intact &= lstat(f, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
	}
	ok(intact, "report.json and junit.xml are plain files with content");
	json_decref(report);
}

int main(void)
{
	char cmd[PATH_MAX + 16];
	int rc;

	if (geteuid() != 0)
		tap_skip_all("needs root (chown to another user)");
	snprintf(top, sizeof(top), "/tmp/t_outdir.XXXXXX");
	if (!mkdtemp(top))
		tap_skip_all("mkdtemp failed");
	test_dirs();
	test_files();
	test_report();
	rc = tap_done();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "t_outdir: could not remove %s\n", top);
	return rc;
}
