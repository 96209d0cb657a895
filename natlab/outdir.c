/* SPDX-License-Identifier: MIT */
#include "natlab/outdir.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <sys/stat.h>

int lab_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	int n = snprintf(buf, sizeof(buf), "%s", path);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

void lab_xml_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

FILE *lab_junit_open(const char *dir, const char *suite, long long tests, long long failures,
		     double secs)
{
	char path[PATH_MAX];
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/junit.xml", dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"");
	lab_xml_escape(f, suite);
	fprintf(f, "\" tests=\"%lld\" failures=\"%lld\" time=\"%.3f\">\n", tests, failures, secs);
	return f;
}

void lab_junit_case(FILE *f, const char *classname, const char *name, const char *message,
		    const char *text)
{
	fprintf(f, "  <testcase classname=\"");
	lab_xml_escape(f, classname);
	fprintf(f, "\" name=\"");
	lab_xml_escape(f, name);
	if (!message) {
		fprintf(f, "\"/>\n");
		return;
	}
	fprintf(f, "\">\n    <failure message=\"");
	lab_xml_escape(f, message);
	fprintf(f, "\">");
	lab_xml_escape(f, text);
	fprintf(f, "</failure>\n  </testcase>\n");
}

int lab_junit_close(FILE *f)
{
	fprintf(f, "</testsuite>\n");
	return fclose(f) == 0 ? 0 : -errno;
}
