/* SPDX-License-Identifier: MIT */
/*
 * The one XML/HTML escaper and junit.xml: the five specials become references, C0 control
 * bytes (which XML 1.0 forbids even as references) become '?', tab, newline and UTF-8 pass,
 * and a junit.xml with such text in every field is well-formed (xmllint, when installed);
 * a testcase's flags are its properties, passed or failed.
 * junit.xml used to let control bytes through while report.html replaced them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "natlab/report_junit.h"
#include "natlab/report_xml.h"
#include "tap.h"

static char tmpdir[] = "/tmp/t_report_xml.XXXXXX";

/* s escaped, in a string the caller frees. */
static char *escaped(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	report_xml_escape(f, s);
	fclose(f);
	return buf;
}

static void check(const char *in, const char *want, const char *name)
{
	char *got = escaped(in);

	is_str(got, want, name);
	free(got);
}

static void test_junit(void)
{
	char path[512], cmd[700], *xml;
	FILE *f = report_junit_open(tmpdir, "suite <\x02>", 3, 1, 1.5);
	const char *flags[] = { "flaky", "odd\"<", NULL };

	ok(f != NULL, "junit.xml opens in %s", tmpdir);
	if (!f)
		return;
	report_junit_case(f, "natlab", "passes \"quoted\"", NULL, NULL);
	report_junit_case(f, "natlab", "fails\x1b[31m", "at x.lua:3 & \x07", "got:\x01\nwant: 'b'");
	report_junit_case_flags(f, "natlab", "passes, flagged", NULL, NULL, flags);
	is_int(report_junit_close(f), 0, "junit.xml closes");
	snprintf(path, sizeof(path), "%s/junit.xml", tmpdir);
	xml = tap_slurp(path);
	ok(xml && !strpbrk(xml, "\x01\x02\x07\x1b"), "no control byte in junit.xml");
	ok(xml && strstr(xml, "<testsuite name=\"suite &lt;?&gt;\" tests=\"3\" failures=\"1\" "
	                      "time=\"1.500\">"),
	   "suite element");
	ok(xml &&
	       strstr(xml, "<testcase classname=\"natlab\" name=\"passes &quot;quoted&quot;\"/>"),
	   "passed case");
	ok(xml && strstr(xml, "name=\"fails?[31m\">\n    <failure message=\"at x.lua:3 &amp; ?\">"
	                      "got:?\nwant: &#39;b&#39;</failure>"),
	   "failed case with message and text");
	ok(xml && strstr(xml, "<testcase classname=\"natlab\" name=\"passes, flagged\">\n"
	                      "    <properties>\n"
	                      "      <property name=\"flaky\" value=\"true\"/>\n"
	                      "      <property name=\"odd&quot;&lt;\" value=\"true\"/>\n"
	                      "    </properties>\n  </testcase>\n"),
	   "a passed case keeps its flags as properties, escaped");
	if (system("command -v xmllint >/dev/null 2>&1") == 0) {
		snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
		is_int(system(cmd), 0, "xmllint: junit.xml is well-formed");
	} else {
		ok(1, "# SKIP xmllint not installed");
	}
	free(xml);
	unlink(path);
	ok(report_junit_open("/nonexistent/dir", "s", 0, 0, 0) == NULL,
	   "a missing dir fails to open");
}

int main(void)
{
	check("a<b>&\"c\"'d'", "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;", "the five specials");
	check("tab\there\nnext", "tab\there\nnext", "tab and newline pass");
	check("\x01\x08\x0b\x0c\r\x1f|", "??????|", "other C0 controls become '?'");
	check("\xc3\xa9 \xe2\x89\xa0 \x7f", "\xc3\xa9 \xe2\x89\xa0 \x7f", "UTF-8 and DEL pass");
	check(NULL, "", "NULL writes nothing");
	if (!mkdtemp(tmpdir))
		tap_skip_all("no temp dir");
	test_junit();
	rmdir(tmpdir);
	return tap_done();
}
