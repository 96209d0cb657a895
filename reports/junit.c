/* SPDX-License-Identifier: MIT */
#include "natlab/report_junit.h"
#include "natlab/outdir.h"
#include "natlab/report_xml.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

FILE *report_junit_open(const char *dir, const char *suite, long long tests, long long failures,
                        double secs)
{
	char path[PATH_MAX];
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/junit.xml", dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	f = outdir_fopen(path, "w");
	if (!f)
		return NULL;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"");
	report_xml_escape(f, suite);
	fprintf(f, "\" tests=\"%lld\" failures=\"%lld\" time=\"%.3f\">\n", tests, failures, secs);
	return f;
}

void report_junit_case_flags(FILE *f, const char *classname, const char *name, const char *message,
                             const char *text, const char *const *flags)
{
	fprintf(f, "  <testcase classname=\"");
	report_xml_escape(f, classname);
	fprintf(f, "\" name=\"");
	report_xml_escape(f, name);
	if (!message && !(flags && *flags)) {
		fprintf(f, "\"/>\n");
		return;
	}
	fprintf(f, "\">\n");
	/* Per-testcase properties, as pytest's record_property writes them: widgets that
	 * read them can list flaky cells without parsing the failure message. */
	if (flags && *flags) {
		fprintf(f, "    <properties>\n");
		for (; *flags; flags++) {
			fprintf(f, "      <property name=\"");
			report_xml_escape(f, *flags);
			fprintf(f, "\" value=\"true\"/>\n");
		}
		fprintf(f, "    </properties>\n");
	}
	if (message) {
		fprintf(f, "    <failure message=\"");
		report_xml_escape(f, message);
		fprintf(f, "\">");
		report_xml_escape(f, text);
		fprintf(f, "</failure>\n");
	}
	fprintf(f, "  </testcase>\n");
}

void report_junit_case(FILE *f, const char *classname, const char *name, const char *message,
                       const char *text)
{
	report_junit_case_flags(f, classname, name, message, text, NULL);
}

int report_junit_close(FILE *f)
{
	fprintf(f, "</testsuite>\n");
	return fclose(f) == 0 ? 0 : -errno;
}
