/* SPDX-License-Identifier: MIT */
/* Writing results: directories for out dirs and XML text for junit.xml (outdir.c). */
#ifndef NATLAB_OUTDIR_H
#define NATLAB_OUTDIR_H

#include <stdio.h>

/* mkdir -p: creates path and its missing parents (mode 0755). Returns 0 or -errno. */
int lab_mkdir_p(const char *path);

/* Writes s (NULL writes nothing) with <, >, & and " escaped for XML text and attributes. */
void lab_xml_escape(FILE *f, const char *s);

/* dir/junit.xml, opened with its <testsuite> element; NULL (errno set) if it cannot be. */
FILE *lab_junit_open(const char *dir, const char *suite, long long tests, long long failures,
		     double secs);
/* One <testcase>: passed when message is NULL, else failed with message and text. */
void lab_junit_case(FILE *f, const char *classname, const char *name, const char *message,
		    const char *text);
/* Ends the suite and closes f. 0 or -errno. */
int lab_junit_close(FILE *f);

#endif
