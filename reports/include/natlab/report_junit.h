/* SPDX-License-Identifier: MIT */
/* junit.xml: a <testsuite> of <testcase>s, for CI test-report widgets (junit.c). */
#ifndef NATLAB_REPORT_JUNIT_H
#define NATLAB_REPORT_JUNIT_H

#include <stdio.h>

/* dir/junit.xml, opened with its <testsuite> element; NULL (errno set) if it cannot be. */
FILE *report_junit_open(const char *dir, const char *suite, long long tests, long long failures,
                        double secs);
/* One <testcase>: passed when message is NULL, else failed with message and text. */
void report_junit_case(FILE *f, const char *classname, const char *name, const char *message,
                       const char *text);
/* The same, with flags (a NULL-terminated list of words, or NULL) as <properties> of the
 * testcase, each <property name="WORD" value="true"/>, passed or failed. */
void report_junit_case_flags(FILE *f, const char *classname, const char *name, const char *message,
                             const char *text, const char *const *flags);
/* Ends the suite and closes f. 0 or -errno. */
int report_junit_close(FILE *f);

#endif
