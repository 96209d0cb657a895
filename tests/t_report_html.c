/* SPDX-License-Identifier: MIT */
/*
 * report.html from a synthetic report: 27 profile pairs, the two special cells and one
 * cell with markup in its name, including a failure, a surprise direct, a cell not run
 * and a pair with no cell. Checks the page has no script, links every cell once from the
 * heatmap, colours match and mismatch apart, escapes text and URLs, lists the cell's files,
 * survives missing fields, and is well-formed XML (xmllint, when installed).
 * Set T_REPORT_HTML_KEEP=1 to keep the page (its path is printed) for a look in a browser.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natlab/report_html.h"
#include "tap.h"

#define GREEN      "#1b5e20" /* direct as expected, in at most 100 ms */
#define SLOW_GREEN "#b9e4bb" /* direct as expected, after more than a second */
#define BLUE       "#3366b8"
#define AMBER      "#e39b1b"
#define RED        "#c62828"

static const char *profiles[] = {
	"none",      "full-cone", "restricted-cone", "port-restricted-cone",
	"symmetric", "cgnat",     "udp-blocked"
};
#define NPROF 7

static char tmpdir[] = "/tmp/t_report_html.XXXXXX";

/* DESIGN.md's expected outcome per pair. */
static const char *expected_of(int i, int j)
{
	if (j == 6)
		return "relay";
	if (j == 4)
		return i <= 2 ? "direct" : "relay";
	return "direct";
}

static json_t *stat_of(double base, int n, int with_samples)
{
	json_t *s = json_array();

	for (int k = 0; k < n; k++)
		json_array_append_new(s, json_real(base + k * 1.5));
	return with_samples
	           ? json_pack("{s:f, s:f, s:o}", "p50", base + n * 0.7, "p95", base + n * 1.4,
	                       "samples", s)
	           : (json_decref(s), json_pack("{s:f, s:f}", "p50", base, "p95", base * 1.3));
}

static json_t *cell_new(const char *name, const char *a, const char *b, const char *exp, int direct,
                        int relay, int failed)
{
	int runs = direct + relay + failed, pass;
	const char *got = direct >= relay && direct >= failed ? "direct"
	                  : relay >= failed                   ? "relay"
	                                                      : "fail";
	char dir[256];

	pass = runs > 0 && strcmp(got, exp) == 0 &&
	       (strcmp(got, "direct") ? direct == 0 : direct == runs);
	snprintf(dir, sizeof(dir), "cells/%s", name);
	for (char *p = dir + 6; *p; p++)
		if (*p == '/')
			*p = '_';
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:f, s:[f,f], s:o, s:o, s:o, "
	                 "s:I, s:I, s:b, s:s, s:s?, s:s}",
	                 "name", name, "a", a, "b", b, "expected", exp, "runs", runs, "direct",
	                 direct, "relay", relay, "failed", failed, "direct_rate",
	                 runs ? (double)direct / runs : 0.0, "direct_rate_ci95", 0.57, 1.0,
	                 "time_to_direct_ms", direct ? stat_of(40, direct, 1) : json_null(),
	                 "rtt_direct_ms", direct ? stat_of(20, 12, 1) : json_null(), "rtt_relay_ms",
	                 stat_of(40, 0, 0), "bytes_direct", (json_int_t)direct * 123456,
	                 "bytes_relay", (json_int_t)789, "pass", pass, "outcome", got, "reached",
	                 pass ? NULL : "punch", "dir", dir);
}

/* The grid's cells; fills idx[i][j] with each pair's index in cells[] (or -1). */
static void add_pairs(json_t *cells, int idx[NPROF][NPROF])
{
	char name[128];

	for (int i = 0; i < NPROF; i++)
		for (int j = 0; j < NPROF; j++)
			idx[i][j] = -1;
	for (int i = 0; i < NPROF; i++)
		for (int j = i; j < NPROF; j++) {
			const char *exp = expected_of(i, j);
			int d = strcmp(exp, "direct") == 0 ? 5 : 0;

			if (i == 6 && j == 6)
				continue; /* a hole in the grid */
			snprintf(name, sizeof(name), "%s/%s", profiles[i], profiles[j]);
			if (i == 1 && j == 4) /* a failure: relayed where direct was expected */
				json_array_append_new(
				    cells, cell_new(name, profiles[i], profiles[j], exp, 1, 3, 1));
			else if (i == 4 && j == 4) /* better than expected */
				json_array_append_new(
				    cells, cell_new(name, profiles[i], profiles[j], exp, 5, 0, 0));
			else if (i == 5 && j == 6) /* not run */
				json_array_append_new(
				    cells, cell_new(name, profiles[i], profiles[j], exp, 0, 0, 0));
			else
				json_array_append_new(
				    cells,
				    cell_new(name, profiles[i], profiles[j], exp, d, 5 - d, 0));
			idx[i][j] = (int)json_array_size(cells) - 1;
		}
}

static json_t *report_new(int idx[NPROF][NPROF])
{
	json_t *cells = json_array(), *profs = json_array(), *r;

	for (int i = 0; i < NPROF; i++)
		json_array_append_new(profs, json_string(profiles[i]));
	add_pairs(cells, idx);
	json_array_append_new(cells,
	                      cell_new("same-nat", "same-nat", "same-nat", "direct", 5, 0, 0));
	json_array_append_new(cells,
	                      cell_new("same-cgn", "same-cgn", "same-cgn", "direct", 5, 0, 0));
	json_array_append_new(cells,
	                      cell_new("weird <&> \"cell\"", "<&>", "<&>", "relay", 0, 5, 0));
	r = json_pack("{s:s, s:i, s:s, s:f, s:[{s:s, s:s, s:{s:s}, s:n}], s:o, s:o, s:{s:i, "
	              "s:i, s:i, s:f}}",
	              "scenario", "scenarios/matrix.lua", "seed", 1, "started",
	              "2026-11-22T06:20:00Z", "duration_s", 41.2, "nats", "name", "nat1", "profile",
	              "full-cone", "declared", "mapping", "eim", "measured", "profiles", profs,
	              "cells", cells, "summary", "cells", 30, "passed", 27, "failed", 2,
	              "direct_rate", 0.61);
	return r;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void touch(const char *rel)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
}

static void make_files(void)
{
	char path[512];
	const char *dirs[] = { "cells", "cells/full-cone_symmetric",
		               "cells/full-cone_symmetric/logs", "cells/full-cone_symmetric/pcap" };

	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, dirs[i]);
		mkdir(path, 0755);
	}
	touch("cells/full-cone_symmetric/report.json");
	touch("cells/full-cone_symmetric/logs/peer-a.log");
	touch("cells/full-cone_symmetric/logs/x&y z.log");
	touch("cells/full-cone_symmetric/pcap/nat-a.pcap");
}

/* The part of the heatmap that draws cell k: from its link to the end of the link. */
static char *cell_box(const char *html, int k)
{
	char needle[64];
	const char *p, *end;

	snprintf(needle, sizeof(needle), "<a href=\"#cell-%d\"><g", k);
	p = strstr(html, needle);
	end = p ? strstr(p, "</a>") : NULL;
	return end ? strndup(p, (size_t)(end - p)) : strdup("");
}

static void check_box(const char *html, int k, const char *fill, const char *what)
{
	char *box = cell_box(html, k), want[64];

	snprintf(want, sizeof(want), "fill=\"%s\"", fill);
	ok(strstr(box, want) != NULL, "%s (cell %d) is drawn %s", what, k, fill);
	free(box);
}

static void test_links(const char *html, int ncells)
{
	const char *grid = strstr(html, "class=\"heatmap\"");
	const char *sections = strstr(html, "<section");
	char *maps = grid && sections ? strndup(grid, (size_t)(sections - grid)) : strdup("");
	int once = 1, anchored = 1;
	char needle[64];

	for (int k = 0; k < ncells; k++) {
		snprintf(needle, sizeof(needle), "href=\"#cell-%d\"", k);
		once &= count(maps, needle) == 1;
		snprintf(needle, sizeof(needle), "id=\"cell-%d\"", k);
		anchored &= count(html, needle) == 1;
	}
	ok(once, "the heatmap links each of the %d cells exactly once", ncells);
	ok(anchored, "each cell has one section to link to");
	is_int(count(maps, "<a href=\"#cell-"), ncells, "no other links in the heatmap");
	is_int(count(maps, "class=\"hole\""), 1, "the pair without a cell is a hole");
	free(maps);
}

static void test_colours(const char *html, int idx[NPROF][NPROF])
{
	char want[96];

	check_box(html, idx[0][0], GREEN, "a direct pass");
	check_box(html, idx[3][4], BLUE, "a relay pass");
	check_box(html, idx[1][4], RED, "the failure");
	check_box(html, idx[4][4], AMBER, "the surprise direct");
	check_box(html, idx[5][6], "#c9ccd1", "the cell not run");
	check_box(html, 28, GREEN, "same-cgn");
	check_box(html, idx[0][2], SLOW_GREEN, "a direct pass after 1.5 s");
	{
		char *box = cell_box(html, idx[0][1]), *plain = cell_box(html, idx[0][0]);

		ok(strstr(box, "class=\"flag\">!</text>") && strstr(box, "class=\"flag\">~</text>"),
		   "a flagged cell is marked ! (wire) and ~ (flaky)");
		ok(!strstr(plain, "class=\"flag\""), "an unflagged cell is not");
		free(box);
		free(plain);
	}
	ok(strstr(html, "claim vs wire</th><td>DISAGREES in 5 runs: claimed direct, wire relayed"),
	   "the cell's section says the wire disagrees");
	ok(strstr(html, "flags</th><td>[flaky] [wire disagrees]"), "and lists its flags");
	ok(strstr(html, "Direct cells by time to direct") && strstr(html, "background:#b9e4bb"),
	   "the legend explains the shades of direct");
	ok(strstr(html, "relay \xe2\x89\xa0 direct") != NULL, "the failure says got != expected");
	snprintf(want, sizeof(want), "class=\"panel cell mismatch\" id=\"cell-%d\"", idx[1][4]);
	ok(strstr(html, want) != NULL, "the failure's section is marked mismatch");
	ok(strstr(html, "reached</th><td>punch") != NULL, "the failure shows where it stopped");
	ok(strstr(html, "<b>Failed:</b> <a href=\"#cell-") != NULL, "failed cells listed on top");
}

static void test_text(const char *html)
{
	ok(strcasestr(html, "<script") == NULL, "no <script");
	ok(strcasestr(html, "javascript:") == NULL && strcasestr(html, " onclick") == NULL,
	   "no script in attributes either");
	ok(strstr(html, "<svg") != NULL, "inline SVG");
	ok(strstr(html, "http://") == NULL ||
	       count(html, "http://") == count(html, "xmlns=\"http://www.w3.org/2000/svg\""),
	   "nothing fetched from the network");
	ok(strstr(html, "weird &lt;&amp;&gt; &quot;cell&quot;") != NULL, "a cell name is escaped");
	ok(strstr(html, "weird <&>") == NULL, "and never raw");
	ok(strstr(html, "scenarios/matrix.lua") && strstr(html, "2026-11-22T06:20:00Z") &&
	       strstr(html, "41.2 s") && strstr(html, "seed 1"),
	   "title: scenario, start, duration, seed");
	ok(strstr(html, "direct rate</th><td>20% (95% CI 57\xe2\x80\x93"
	                "100%)") != NULL,
	   "direct rate with its interval");
	ok(strstr(html, "p50 40.0 ms \xc2\xb7 p95 52.0 ms</text>") != NULL,
	   "p50/p95 drawn when there are no samples");
	ok(strstr(html, "<circle") != NULL, "samples drawn as points");
	ok(strstr(html, "123456 B (120.6 KiB)") != NULL, "bytes in both units");
}

static void test_files(const char *html)
{
	const char *base = "cells/full-cone_symmetric/";
	char want[256];

	snprintf(want, sizeof(want), "href=\"%slogs/peer-a.log\"", base);
	ok(strstr(html, want) != NULL, "links the cell's log");
	snprintf(want, sizeof(want), "href=\"%spcap/nat-a.pcap\"", base);
	ok(strstr(html, want) != NULL, "links the cell's pcap");
	snprintf(want, sizeof(want), "href=\"%sreport.json\"", base);
	ok(strstr(html, want) != NULL, "links the cell's report.json");
	snprintf(want, sizeof(want), "href=\"%slogs/x%%26y%%20z.log\">x&amp;y z.log<", base);
	ok(strstr(html, want) != NULL, "file names are URL-encoded and escaped");
	ok(strstr(html, "cells/none_none/logs") == NULL, "no links to files that do not exist");
}

/* xmllint is an oracle when installed: the page must parse as XML. */
static void test_xmllint(const char *path)
{
	char cmd[600];

	if (system("command -v xmllint >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP xmllint not installed");
		ok(1, "# SKIP xmllint not installed");
		return;
	}
	fflush(stdout);
	snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
	is_int(system(cmd), 0, "well-formed XML (xmllint --noout)");
	snprintf(cmd, sizeof(cmd),
	         "xmllint --html --noout '%s' 2>&1 | grep -v 'Tag [a-z]* invalid' | "
	         "grep -E 'error' >&2",
	         path);
	ok(system(cmd) != 0, "xmllint --html: no errors but unknown SVG tags");
}

/* The NAT table row of the NAT called name, from its first <td> on. */
static char *nat_row(const char *html, const char *name)
{
	char needle[64];
	const char *p, *end;

	snprintf(needle, sizeof(needle), "<tr><td>%s<", name);
	p = strstr(html, needle);
	end = p ? strstr(p, "</tr>") : NULL;
	return end ? strndup(p, (size_t)(end - p)) : strdup("");
}

/* A run's NAT table: UDP and TCP measured side by side, the verdict naming what differs. */
static void test_nats(void)
{
	char path[512], err[256] = "", *html, *row;
	json_t *r = json_loads(
	    "{\"scenario\": \"run.lua\", \"expectations\": [], \"nats\": ["
	    " {\"name\": \"home\", \"profile\": \"full-cone\","
	    "  \"declared\": {\"mapping\": \"endpoint-independent\", \"filtering\":"
	    "   \"endpoint-independent\", \"ports\": \"preserve\", \"hairpin\": true,"
	    "   \"udp_timeout\": 60, \"overrides\": [\"udp_timeout\"]},"
	    "  \"measured\": {\"udp\": \"ok\", \"mapping\": \"endpoint-independent\","
	    "   \"filtering\": \"endpoint-independent\", \"nat\": true, \"hairpin\": true,"
	    "   \"port_preserved\": true, \"udp_match\": true, \"match\": false,"
	    "   \"path\": [{\"name\": \"home\"}, {\"name\": \"isp\"}],"
	    "   \"tcp\": {\"status\": \"ok\", \"mapping\": \"endpoint-independent\","
	    "    \"filtering\": \"address-and-port-dependent\", \"port_preserved\": true,"
	    "    \"port_in_block\": false, \"nat\": true, \"match\": false}}},"
	    " {\"name\": \"idle\", \"profile\": \"symmetric\", \"declared\": null,"
	    "  \"measured\": null},"
	    " {\"name\": \"fw\", \"profile\": \"udp-blocked\", \"declared\": null,"
	    "  \"measured\": {\"udp\": \"blocked\", \"nat\": false, \"udp_match\": true,"
	    "   \"path\": [{\"name\": \"fw\"}],"
	    "   \"match\": true, \"tcp\": {\"status\": \"ok\", \"mapping\":"
	    "    \"endpoint-independent\", \"filtering\": \"address-and-port-dependent\","
	    "    \"port_preserved\": false, \"nat\": true, \"match\": true}}}]}",
	    0, NULL);

	snprintf(path, sizeof(path), "%s/nats.html", tmpdir);
	ok(r != NULL, "a run report with three NATs");
	is_int(report_html_write(r, path, err, sizeof(err)), 0, "report_html_write");
	html = tap_slurp(path);
	ok(html && strstr(html, "<th>measured UDP (RFC 5780)</th><th>measured TCP</th>"),
	   "UDP and TCP have a column each");
	row = nat_row(html ? html : "", "home");
	ok(strstr(row, ">endpoint-independent mapping, endpoint-independent filtering, port kept, "
	               "hairpin yes</td><td") != NULL,
	   "home: UDP measured in words");
	ok(strstr(row, ">endpoint-independent mapping, address-and-port-dependent filtering, "
	               "port kept, OUTSIDE its port block</td><td class=\"bad\">NO "
	               "(TCP)</td>") != NULL,
	   "home: TCP beside it, and the verdict names TCP (%s)", row);
	free(row);
	row = nat_row(html ? html : "", "home");
	ok(strstr(row, "<tr><td>home<br/><small>measured through home under isp</small></td>") !=
	       NULL,
	   "home: the measured path names what lies on it");
	free(row);
	row = nat_row(html ? html : "", "home");
	ok(strstr(row, "<details><summary>every knob (1 set by the scenario: *)</summary> "
	               "mapping=endpoint-independent") &&
	       strstr(row, " <b>udp_timeout=60s*</b>") && strstr(row, " hairpin=on "),
	   "home: every knob as built, the scenario's override in bold (%s)", row);
	free(row);
	row = nat_row(html ? html : "", "fw");
	ok(strstr(row, "<small>") == NULL, "fw: a path of one NAT needs no words");
	free(row);
	row = nat_row(html ? html : "", "idle");
	is_int(count(row, "&#8212;"), 3, "idle: nothing declared, nothing measured for UDP or TCP");
	ok(strstr(row, "not measured") != NULL, "idle: not measured");
	free(row);
	row = nat_row(html ? html : "", "fw");
	ok(strstr(row, ">UDP blocked</td><td") &&
	       strstr(row, ">endpoint-independent mapping, address-and-port-dependent filtering, "
	                   "port changed</td><td class=\"ok\">yes</td>"),
	   "fw: UDP blocked, TCP measured through it (%s)", row);
	free(row);
	free(html);
	json_decref(r);
}

static void test_degraded(void)
{
	char path[512], err[256] = "";
	json_t *r;
	char *html;

	snprintf(path, sizeof(path), "%s/min.html", tmpdir);
	r = json_pack("{s:[{s:s}, {}, {s:s, s:s, s:s, s:i}]}", "cells", "name", "lonely", "name",
	              "a/b", "a", "a", "b", "b", "runs", 0);
	is_int(report_html_write(r, path, err, sizeof(err)), 0, "a report with missing fields");
	html = tap_slurp(path);
	ok(html && strstr(html, "id=\"cell-2\"") && strstr(html, "(unnamed)"),
	   "still one section per cell");
	free(html);
	json_decref(r);
	r = json_object();
	is_int(report_html_write(r, path, err, sizeof(err)), 0, "an empty report");
	json_decref(r);
	r = json_array();
	is_int(report_html_write(r, path, err, sizeof(err)), -EINVAL, "not an object");
	json_decref(r);
	r = json_object();
	is_int(report_html_write(r, "/nonexistent/dir/report.html", err, sizeof(err)), -ENOENT,
	       "an unwritable path");
	ok(strstr(err, "/nonexistent/dir/report.html") != NULL, "the error names the file (%s)",
	   err);
	json_decref(r);
}

int main(void)
{
	int idx[NPROF][NPROF];
	char path[512], err[256] = "", cmd[600];
	json_t *r;
	char *html;

	if (!mkdtemp(tmpdir))
		tap_skip_all("mkdtemp failed");
	make_files();
	r = report_new(idx);
	is_int((int)json_array_size(json_object_get(r, "cells")), 30, "30 cells");
	/* A slow direct cell, and one the wire contradicts that is also flaky. */
	json_object_set_new(json_array_get(json_object_get(r, "cells"), (size_t)idx[0][2]),
	                    "time_to_direct_ms",
	                    json_pack("{s:f, s:f}", "p50", 1500.0, "p95", 2000.0));
	json_object_set_new(json_array_get(json_object_get(r, "cells"), (size_t)idx[0][1]), "flags",
	                    json_pack("[s, s]", "flaky", "wire_disagrees"));
	json_object_set_new(json_array_get(json_object_get(r, "cells"), (size_t)idx[0][1]), "wire",
	                    json_pack("{s:i, s:i, s:i, s:i, s:i, s:s}", "runs", 5, "direct", 0,
	                              "relayed", 5, "none", 0, "disagree", 5, "disagree_note",
	                              "claimed direct, wire relayed"));
	snprintf(path, sizeof(path), "%s/report.html", tmpdir);
	is_int(report_html_write(r, path, err, sizeof(err)), 0, "report_html_write");
	html = tap_slurp(path);
	ok(html != NULL, "the page exists (%s)", path);
	if (html) {
		test_text(html);
		test_links(html, 30);
		test_colours(html, idx);
		test_files(html);
	}
	test_xmllint(path);
	test_degraded();
	test_nats();
	free(html);
	json_decref(r);
	if (getenv("T_REPORT_HTML_KEEP")) {
		tap_diag("kept %s", path);
	} else {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", tmpdir);
	}
	return tap_done();
}
