/* SPDX-License-Identifier: MIT */
/*
 * report.html: the matrix report as one self-contained page. No JavaScript, no external
 * resources: inline CSS and inline SVG only, so it opens offline, from a CI artifact or
 * an e-mail attachment alike. The markup is also well-formed XML (every element closed,
 * numeric character references only), which lets the test check it with xmllint.
 *
 * The heatmap is the upper triangle of the profile matrix, rows and columns in the order
 * of "profiles", like the table in DESIGN.md: the pair {a, b} sits in row min, column max
 * of their positions. A cell goes into the grid when both its profiles are listed and
 * its name is "a/b" or "b/a"; every other cell ("same-nat", "same-cgn", a duplicate of a
 * pair) is drawn as a tile below the grid. Missing fields render as a dash.
 */
#include "natlab/outdir.h"
#include "natlab/report_html.h"
#include "natlab/report_tap.h"
#include "natlab/report_timeline.h"
#include "natlab/report_xml.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GRID_LW    190 /* row label column */
#define GRID_TH    118 /* rotated column labels */
#define GRID_CW    88
#define GRID_CH    46
#define TILE_W     200 /* special cells: a tile and its name */
#define TILES_ROW  5
#define CHART_LW   90  /* series label */
#define CHART_PW   320 /* plot */
#define CHART_RW   230 /* p50/p95 text */
#define CHART_RH   24
#define MAX_POINTS 600 /* samples drawn per series; more only blur the strip */

enum verdict { V_NOTRUN, V_DIRECT, V_RELAY, V_BETTER, V_MISMATCH };

static const struct {
	const char *cls, *fill, *ink, *label;
} verdicts[] = {
	[V_NOTRUN] = { "notrun", "#c9ccd1", "#333333", "not run" },
	[V_DIRECT] = { "direct", "#2e8b4e", "#ffffff", "as expected, direct" },
	[V_RELAY] = { "relay", "#3366b8", "#ffffff", "as expected, relay (or no path)" },
	[V_BETTER] = { "better", "#e39b1b", "#222222", "direct where relay was expected" },
	[V_MISMATCH] = { "mismatch", "#c62828", "#ffffff", "not as expected / failed" },
};

/*
 * Direct cells as expected are shaded by their time-to-direct p50: the darker, the
 * faster. A direct cell without a time keeps the plain direct green.
 */
static const struct {
	double upto_ms;
	const char *fill, *ink, *label;
} ttd_shades[] = {
	{ 100, "#1b5e20", "#ffffff", "direct in \xe2\x89\xa4 100 ms" },
	{ 300, "#2e8b4e", "#ffffff", "\xe2\x89\xa4 300 ms" },
	{ 1000, "#66bb6a", "#1d2329", "\xe2\x89\xa4 1 s" },
	{ 1e300, "#b9e4bb", "#1d2329", "> 1 s" },
};

struct html {
	FILE *f;
	const json_t *cells;
	char base[4096]; /* the report's directory: cell dirs are relative to it */
};

/* Where each grid pair's cell is: index into cells[], or -1. */
struct grid {
	size_t n;
	const char **names;
	long *slot; /* n * n, upper triangle used */
};

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static double jnum(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static long long jint(const json_t *o, const char *key, long long dflt)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? (long long)json_number_value(v) : dflt;
}

/* A relative path as an href: everything but unreserved characters and '/' encoded. */
static void esc_url(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~/", c))
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

static void escf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void escf(FILE *f, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	report_xml_escape(f, buf);
}

/* Any scalar as text; what is missing or not a scalar is a dash. */
static void esc_json(FILE *f, const json_t *v)
{
	if (json_is_string(v))
		report_xml_escape(f, json_string_value(v));
	else if (json_is_integer(v))
		fprintf(f, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		fprintf(f, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		fputs(json_is_true(v) ? "true" : "false", f);
	else
		fputs("&#8211;", f);
}

static void fmt_ms(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "\xe2\x80\x93");
	else
		snprintf(buf, len, "%.*f ms", v < 10 ? 2 : 1, v);
}

static void fmt_pct(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "\xe2\x80\x93");
	else
		snprintf(buf, len, "%.0f%%", 100 * v);
}

static void fmt_bytes(char *buf, size_t len, double v)
{
	static const char *units[] = { "KiB", "MiB", "GiB", "TiB" };
	double x = v;
	int u = -1;

	if (isnan(v)) {
		snprintf(buf, len, "\xe2\x80\x93");
		return;
	}
	while (x >= 1024 && u < 3) {
		x /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%.0f B", v);
	else
		snprintf(buf, len, "%.0f B (%.1f %s)", v, x, units[u]);
}

/* What the cell got: "outcome" if given, else the majority of its counts. */
static const char *cell_got(const json_t *c)
{
	long long d = jint(c, "direct", 0), r = jint(c, "relay", 0), x = jint(c, "failed", 0);

	if (jint(c, "runs", -1) == 0)
		return NULL;
	if (jstr(c, "outcome"))
		return jstr(c, "outcome");
	if (d + r + x == 0)
		return NULL;
	return d >= r && d >= x ? "direct" : r >= x ? "relay" : "fail";
}

static int cell_pass(const json_t *c)
{
	const json_t *p = json_object_get(c, "pass");
	const char *got = cell_got(c), *exp = jstr(c, "expected");

	if (json_is_boolean(p))
		return json_is_true(p);
	return got && exp && strcmp(got, exp) == 0;
}

static enum verdict cell_verdict(const json_t *c)
{
	long long runs = jint(c, "runs", -1), direct = jint(c, "direct", 0);
	const char *got = cell_got(c), *exp = jstr(c, "expected");

	if (runs == 0 || (runs < 0 && !got))
		return V_NOTRUN;
	if (cell_pass(c))
		return got && strcmp(got, "direct") == 0 ? V_DIRECT : V_RELAY;
	if (exp && strcmp(exp, "direct") != 0 && runs > 0 && direct == runs)
		return V_BETTER;
	return V_MISMATCH;
}

/* "5/5", or the rate alone when the counts are missing. */
static void fmt_rate(char *buf, size_t len, const json_t *c)
{
	long long runs = jint(c, "runs", -1), direct = jint(c, "direct", -1);

	if (runs > 0 && direct >= 0)
		snprintf(buf, len, "%lld/%lld", direct, runs);
	else if (runs == 0)
		snprintf(buf, len, "\xe2\x80\x93");
	else
		fmt_pct(buf, len, jnum(c, "direct_rate"));
}

/* "100% (95% CI 57–100%)", the interval left out when missing. */
static void fmt_rate_ci(char *buf, size_t len, const json_t *c)
{
	const json_t *ci = json_object_get(c, "direct_rate_ci95");
	char r[32];

	fmt_pct(r, sizeof(r), jnum(c, "direct_rate"));
	if (json_array_size(ci) == 2 && json_is_number(json_array_get(ci, 0)))
		snprintf(buf, len, "%s (95%% CI %.0f\xe2\x80\x93%.0f%%)", r,
		         100 * json_number_value(json_array_get(ci, 0)),
		         100 * json_number_value(json_array_get(ci, 1)));
	else
		snprintf(buf, len, "%s", r);
}

static const char *cell_name(const json_t *c)
{
	return jstr(c, "name") ? jstr(c, "name") : "(unnamed)";
}

static int cell_has_flag(const json_t *c, const char *flag)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(c, "flags"), i,
	                   e) if (json_is_string(e) &&
	                          strcmp(json_string_value(e), flag) == 0) return 1;
	return 0;
}

/* The tooltip: the whole cell in a few lines of plain text. */
static void cell_tooltip(FILE *f, const json_t *c)
{
	const char *exp = jstr(c, "expected"), *got = cell_got(c);
	char rate[96], p50[32];

	fmt_rate_ci(rate, sizeof(rate), c);
	fmt_ms(p50, sizeof(p50), jnum(json_object_get(c, "time_to_direct_ms"), "p50"));
	fputs("<title>", f);
	report_xml_escape(f, cell_name(c));
	escf(f, "\nexpected %s, got %s: %s", exp ? exp : "?", got ? got : "?",
	     verdicts[cell_verdict(c)].label);
	escf(f, "\nruns %lld: direct %lld, relay %lld, failed %lld", jint(c, "runs", 0),
	     jint(c, "direct", 0), jint(c, "relay", 0), jint(c, "failed", 0));
	escf(f, "\ndirect rate %s\ntime to direct p50 %s", rate, p50);
	if (!cell_pass(c) && jstr(c, "reached"))
		escf(f, "\nreached %s", jstr(c, "reached"));
	if (cell_has_flag(c, "flaky"))
		escf(f, "\nflaky: direct in some runs, not all");
	if (jstr(c, "family"))
		escf(f, "\ndirect over %s", jstr(c, "family"));
	fputs("</title>", f);
}

/* The shade of a cell: by time to direct for a direct cell as expected. */
static void cell_colours(const json_t *c, enum verdict v, const char **fill, const char **ink)
{
	const json_t *p50 = json_object_get(json_object_get(c, "time_to_direct_ms"), "p50");

	*fill = verdicts[v].fill;
	*ink = verdicts[v].ink;
	if (v != V_DIRECT || !json_is_number(p50))
		return;
	for (size_t k = 0; k < sizeof(ttd_shades) / sizeof(ttd_shades[0]); k++)
		if (json_number_value(p50) <= ttd_shades[k].upto_ms) {
			*fill = ttd_shades[k].fill;
			*ink = ttd_shades[k].ink;
			return;
		}
}

/* One coloured box with its rate and what it got, linked to the cell's section. */
static void svg_cell(FILE *f, const json_t *c, size_t idx, int x, int y)
{
	enum verdict v = cell_verdict(c);
	const char *got = cell_got(c), *exp = jstr(c, "expected"), *fill, *ink;
	char rate[48];

	cell_colours(c, v, &fill, &ink);
	fmt_rate(rate, sizeof(rate), c);
	fprintf(f, "<a href=\"#cell-%zu\"><g class=\"hm %s\">", idx, verdicts[v].cls);
	cell_tooltip(f, c);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"4\" fill=\"%s\"/>",
	        x + 2, y + 2, GRID_CW - 4, GRID_CH - 4, fill);
	/* Corner marks: the wire contradicts the stack (!), the cell is flaky (~). */
	if (cell_has_flag(c, "wire_disagrees"))
		fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\" class=\"flag\">!</text>",
		        x + GRID_CW - 10, y + 14, ink);
	if (cell_has_flag(c, "flaky"))
		fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\" class=\"flag\">~</text>", x + 10,
		        y + 14, ink);
	fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\" class=\"rate\">", x + GRID_CW / 2, y + 21,
	        ink);
	report_xml_escape(f, rate);
	fprintf(f, "</text><text x=\"%d\" y=\"%d\" fill=\"%s\" class=\"sub\">", x + GRID_CW / 2,
	        y + 36, ink);
	if (v == V_DIRECT || v == V_RELAY || v == V_NOTRUN)
		report_xml_escape(f, v == V_NOTRUN ? "not run" : got);
	else
		escf(f, "%s \xe2\x89\xa0 %s", got ? got : "?", exp ? exp : "?");
	fputs("</text></g></a>\n", f);
}

static long grid_find(const struct grid *g, const char *name)
{
	for (size_t i = 0; name && i < g->n; i++)
		if (strcmp(g->names[i], name) == 0)
			return (long)i;
	return -1;
}

/* Whether name is "x/y". */
static int name_is_pair(const char *name, const char *x, const char *y)
{
	size_t lx = strlen(x);

	return name && strncmp(name, x, lx) == 0 && name[lx] == '/' &&
	       strcmp(name + lx + 1, y) == 0;
}

/* The grid slot of cell c, or -1 when it is listed below the grid. */
static long grid_slot_of(const struct grid *g, const json_t *c)
{
	const char *a = jstr(c, "a"), *b = jstr(c, "b"), *name = jstr(c, "name");
	long i = grid_find(g, a), j = grid_find(g, b), t;

	if (i < 0 || j < 0 || !(name_is_pair(name, a, b) || name_is_pair(name, b, a)))
		return -1;
	if (i > j) {
		t = i;
		i = j;
		j = t;
	}
	return i * (long)g->n + j;
}

/* Profiles from "profiles"; without it, from the cells' a and b in order of appearance. */
static int grid_names(struct grid *g, const json_t *report)
{
	const json_t *profiles = json_object_get(report, "profiles"), *v, *c;
	size_t i, cap = json_array_size(profiles);

	json_array_foreach(json_object_get(report, "cells"), i, c) cap += 2;
	g->names = calloc(cap + 1, sizeof(*g->names));
	if (!g->names)
		return -ENOMEM;
	json_array_foreach(profiles, i,
	                   v) if (json_is_string(v) && grid_find(g, json_string_value(v)) < 0)
	    g->names[g->n++] = json_string_value(v);
	if (g->n > 0)
		return 0;
	json_array_foreach(json_object_get(report, "cells"), i, c)
	{
		const char *a = jstr(c, "a"), *b = jstr(c, "b");

		if (!a || !b || !(name_is_pair(jstr(c, "name"), a, b)))
			continue;
		if (grid_find(g, a) < 0)
			g->names[g->n++] = a;
		if (grid_find(g, b) < 0)
			g->names[g->n++] = b;
	}
	return 0;
}

/* Places the cells; marks each cell's slot (or -1) in placed[], first come first placed. */
static int grid_build(struct grid *g, const json_t *report, long *placed)
{
	const json_t *c;
	size_t i;
	int rc = grid_names(g, report);

	if (rc < 0)
		return rc;
	g->slot = malloc((g->n * g->n + 1) * sizeof(*g->slot));
	if (!g->slot)
		return -ENOMEM;
	for (i = 0; i < g->n * g->n; i++)
		g->slot[i] = -1;
	json_array_foreach(json_object_get(report, "cells"), i, c)
	{
		long s = grid_slot_of(g, c);

		if (s >= 0 && g->slot[s] >= 0)
			s = -1;
		if (s >= 0)
			g->slot[s] = (long)i;
		placed[i] = s;
	}
	return 0;
}

static void grid_free(struct grid *g)
{
	free(g->names);
	free(g->slot);
}

static void grid_labels(FILE *f, const struct grid *g)
{
	for (size_t i = 0; i < g->n; i++) {
		int y = GRID_TH + (int)i * GRID_CH + GRID_CH / 2 + 4;
		int x = GRID_LW + (int)i * GRID_CW + GRID_CW / 2;

		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"rowlab\">", GRID_LW - 8, y);
		report_xml_escape(f, g->names[i]);
		fprintf(f,
		        "</text><text transform=\"translate(%d,%d) rotate(-40)\" class=\"collab\">",
		        x, GRID_TH - 8);
		report_xml_escape(f, g->names[i]);
		fputs("</text>\n", f);
	}
}

/* An upper-triangle pair no cell covers: a dashed outline, nothing to link to. */
static void grid_hole(FILE *f, int x, int y)
{
	fprintf(f,
	        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"4\" class=\"hole\">"
	        "<title>no cell for this pair</title></rect>\n",
	        x + 2, y + 2, GRID_CW - 4, GRID_CH - 4);
}

static void grid_svg(FILE *f, const struct grid *g, const json_t *cells)
{
	int w = GRID_LW + (int)g->n * GRID_CW + 150, h = GRID_TH + (int)g->n * GRID_CH + 4;

	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heatmap\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"NAT matrix\">\n",
	        w, h, w, h);
	grid_labels(f, g);
	for (size_t i = 0; i < g->n; i++)
		for (size_t j = i; j < g->n; j++) {
			long s = g->slot[i * g->n + j];
			int x = GRID_LW + (int)j * GRID_CW, y = GRID_TH + (int)i * GRID_CH;

			if (s < 0)
				grid_hole(f, x, y);
			else
				svg_cell(f, json_array_get(cells, (size_t)s), (size_t)s, x, y);
		}
	fputs("</svg>\n", f);
}

/* The cells outside the grid as tiles, each with its name under it. */
static void tiles_svg(FILE *f, const json_t *cells, const long *placed)
{
	size_t i, n = 0, k = 0;
	const json_t *c;

	json_array_foreach(cells, i, c) n += placed[i] < 0;
	if (n == 0)
		return;
	fprintf(f,
	        "<h3>Other cells</h3>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
	        "class=\"tiles\" width=\"%d\" height=\"%d\">\n",
	        TILE_W * (int)(n < TILES_ROW ? n : TILES_ROW),
	        (int)((n + TILES_ROW - 1) / TILES_ROW) * (GRID_CH + 24));
	json_array_foreach(cells, i, c)
	{
		int x, y;

		if (placed[i] >= 0)
			continue;
		x = (int)(k % TILES_ROW) * TILE_W + (TILE_W - GRID_CW) / 2;
		y = (int)(k / TILES_ROW) * (GRID_CH + 24);
		k++;
		svg_cell(f, c, i, x, y);
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tilelab\">", x + GRID_CW / 2,
		        y + GRID_CH + 14);
		report_xml_escape(f, cell_name(c));
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
}

static void legend(FILE *f)
{
	fputs("<p class=\"legend\">", f);
	for (size_t v = 0; v < sizeof(verdicts) / sizeof(verdicts[0]); v++) {
		fprintf(f, "<span><i style=\"background:%s\"></i>", verdicts[v].fill);
		report_xml_escape(f, verdicts[v].label);
		fputs("</span> ", f);
	}
	fputs("<br/><span>Direct cells by time to direct (p50):</span> ", f);
	for (size_t k = 0; k < sizeof(ttd_shades) / sizeof(ttd_shades[0]); k++) {
		fprintf(f, "<span><i style=\"background:%s\"></i>", ttd_shades[k].fill);
		report_xml_escape(f, ttd_shades[k].label);
		fputs("</span> ", f);
	}
	fputs("<br/><span>Each box: runs that went direct / runs; under it what the cell got "
	      "(\xe2\x89\xa0 what was expected); ! the wire's verdict contradicts the stack's "
	      "claim; ~ flaky (direct in some runs, not all). Hover for details, click for the "
	      "cell.</span></p>\n",
	      f);
}

static const char CSS[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2329;"
    "margin:0 auto;max-width:1180px;padding:16px 24px;background:#f6f7f9}\n"
    "h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:0 0 8px}h3{font-size:15px}\n"
    "a{color:#1f5fbf}code{font:12px ui-monospace,Menlo,Consolas,monospace}\n"
    ".meta{color:#555;margin:2px 0 12px}\n"
    ".stats{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0}\n"
    ".stat{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:6px 14px}\n"
    ".stat b{display:block;font-size:20px}.stat.bad b{color:#c62828}"
    ".stat.good b{color:#2e8b4e}\n"
    ".panel{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 16px;"
    "margin:14px 0;overflow-x:auto}\n"
    "svg text{font-family:system-ui,sans-serif}\n"
    ".rowlab{font-size:13px;text-anchor:end;fill:#333}"
    ".collab{font-size:13px;text-anchor:start;fill:#333}\n"
    ".rate{font-size:15px;font-weight:700;text-anchor:middle}"
    ".sub{font-size:10px;text-anchor:middle}"
    ".flag{font-size:13px;font-weight:700;text-anchor:middle}\n"
    ".tilelab{font-size:12px;text-anchor:middle;fill:#333}\n"
    ".hole{fill:none;stroke:#c9ccd1;stroke-dasharray:4 3}\n"
    ".hm:hover rect{stroke:#111;stroke-width:2}\n"
    ".legend span{display:inline-block;margin-right:14px;color:#444}"
    ".legend i{display:inline-block;width:12px;height:12px;border-radius:2px;"
    "margin-right:5px;vertical-align:-1px}\n"
    ".cell{border-left:6px solid #c9ccd1}.cell .sw{display:inline-block;width:12px;"
    "height:12px;border-radius:2px;margin-right:8px}\n"
    ".cols{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}\n"
    "table.kv{border-collapse:collapse}table.kv th{text-align:left;font-weight:600;"
    "color:#555;padding:2px 14px 2px 0;vertical-align:top}table.kv td{padding:2px 0}\n"
    "table.nats{border-collapse:collapse}table.nats td,table.nats th{border-bottom:1px "
    "solid #eee;padding:3px 10px;text-align:left}table.nats td.ok{color:#2e7d32;"
    "font-weight:600}table.nats td.bad{color:#c62828;font-weight:700}\n"
    ".verdict{font-weight:700}.files{margin:6px 0 0}.files li{display:inline;"
    "margin-right:12px}.files ul{display:inline;padding:0;margin:0 0 0 6px}\n"
    "svg.chart{display:block;margin-bottom:6px}\n"
    ".chart .ax{stroke:#999}.chart .tick{font-size:10px;fill:#666;text-anchor:middle}"
    ".chart .lab{font-size:12px;fill:#333}.chart .q{font-size:11px;fill:#333}"
    ".chart .none{font-size:11px;fill:#999}\n"
    ".top{font-size:12px}\n"
    ".tl .ax{stroke:#999}.tl .grid{stroke:#eef0f2}.tl .lane{stroke:#dde1e6}"
    ".tl .tick{font-size:10px;fill:#666;text-anchor:middle}.tl .lab{font-size:12px;"
    "fill:#333}.tl .lanelab{font-size:11px;fill:#333;text-anchor:end}"
    ".tl .ev{font-size:10px;fill:#333}.legend.tl{font-size:12px;margin:2px 0 8px}\n";

/* A matrix report has cells; a single run's has none, and expectations instead. */
static int is_run_report(const json_t *report)
{
	return json_array_size(json_object_get(report, "cells")) == 0 &&
	       json_is_array(json_object_get(report, "expectations"));
}

static void page_head(FILE *f, const json_t *report)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
	      "<title>",
	      f);
	fputs(is_run_report(report) ? "natlab run: " : "natlab matrix: ", f);
	report_xml_escape(f, jstr(report, "scenario") ? jstr(report, "scenario") : "report");
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body id=\"top\">\n", CSS);
}

static void stat_box(FILE *f, const char *cls, const char *label, const char *value)
{
	fprintf(f, "<div class=\"stat %s\"><b>", cls);
	report_xml_escape(f, value);
	fputs("</b>", f);
	report_xml_escape(f, label);
	fputs("</div>\n", f);
}

/* Summary counts from "summary", each counted from the cells when missing. */
static void summary(FILE *f, const json_t *report)
{
	const json_t *s = json_object_get(report, "summary"), *cells, *c;
	long long n = 0, passed = 0, notrun = 0;
	char buf[64];
	size_t i;

	cells = json_object_get(report, "cells");
	json_array_foreach(cells, i, c)
	{
		n++;
		passed += cell_pass(c);
		notrun += cell_verdict(c) == V_NOTRUN;
	}
	snprintf(buf, sizeof(buf), "%lld", jint(s, "cells", n));
	stat_box(f, "", "cells", buf);
	snprintf(buf, sizeof(buf), "%lld", jint(s, "passed", passed));
	stat_box(f, "good", "passed", buf);
	snprintf(buf, sizeof(buf), "%lld", jint(s, "failed", n - passed));
	stat_box(f, jint(s, "failed", n - passed) > 0 ? "bad" : "", "failed", buf);
	if (notrun > 0) {
		snprintf(buf, sizeof(buf), "%lld", notrun);
		stat_box(f, "", "not run", buf);
	}
	fmt_pct(buf, sizeof(buf), jnum(s, "direct_rate"));
	stat_box(f, "", "runs direct", buf);
}

/* A single run's counts: expectations, passed, failed. */
static void run_summary(FILE *f, const json_t *report)
{
	const json_t *s = json_object_get(report, "summary");
	char buf[64];

	snprintf(buf, sizeof(buf), "%lld", jint(s, "expectations", 0));
	stat_box(f, "", "expectations", buf);
	snprintf(buf, sizeof(buf), "%lld", jint(s, "passed", 0));
	stat_box(f, "good", "passed", buf);
	snprintf(buf, sizeof(buf), "%lld", jint(s, "failed", 0));
	stat_box(f, jint(s, "failed", 0) > 0 ? "bad" : "", "failed", buf);
}

/* Links to the failed cells, so a red run goes straight to what broke. */
static void failed_list(FILE *f, const json_t *cells)
{
	const json_t *c;
	size_t i;
	int any = 0;

	json_array_foreach(cells, i, c)
	{
		if (cell_verdict(c) == V_NOTRUN || cell_pass(c))
			continue;
		fputs(any ? ", " : "<p><b>Failed:</b> ", f);
		fprintf(f, "<a href=\"#cell-%zu\">", i);
		report_xml_escape(f, cell_name(c));
		fputs("</a>", f);
		any = 1;
	}
	if (any)
		fputs("</p>\n", f);
}

static void page_title(FILE *f, const json_t *report)
{
	char dur[32];
	double d = jnum(report, "duration_s");

	fputs(is_run_report(report) ? "<h1>Run: " : "<h1>NAT matrix: ", f);
	report_xml_escape(f, jstr(report, "scenario") ? jstr(report, "scenario") : "(no scenario)");
	fputs("</h1>\n<p class=\"meta\">started ", f);
	esc_json(f, json_object_get(report, "started"));
	if (isnan(d))
		snprintf(dur, sizeof(dur), "\xe2\x80\x93");
	else
		snprintf(dur, sizeof(dur), "%.1f s", d);
	fputs(" &#183; duration ", f);
	report_xml_escape(f, dur);
	fputs(" &#183; seed ", f);
	esc_json(f, json_object_get(report, "seed"));
	fputs("</p>\n<div class=\"stats\">\n", f);
	if (is_run_report(report))
		run_summary(f, report);
	else
		summary(f, report);
	fputs("</div>\n", f);
	failed_list(f, json_object_get(report, "cells"));
}

/*
 * One protocol's behaviour in words, with the whole object as JSON in the cell's
 * tooltip: `status` is the key saying "blocked" ("udp" for UDP, "status" for TCP), proto
 * the protocol's name. Port preservation, the port block, the port allocation and
 * hairpinning are said when the object has them (hairpin null: not predicted). more, when
 * not NULL, adds to the cell: it gets v and more_arg.
 */
static void behaviour_td(FILE *f, const json_t *v, const char *status, const char *proto,
                         void (*more)(FILE *, const json_t *, const json_t *),
                         const json_t *more_arg)
{
	char *s = json_is_object(v) ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	const json_t *hairpin = json_object_get(v, "hairpin");
	const json_t *kept = json_object_get(v, "port_preserved");
	const json_t *in_block = json_object_get(v, "port_in_block");
	const char *st = jstr(v, status), *ports = jstr(v, "ports");

	fputs("<td title=\"", f);
	if (s)
		report_xml_escape(f, s);
	fputs("\">", f);
	if (!s)
		fputs("&#8212;", f);
	else if (st && strcmp(st, "blocked") == 0)
		escf(f, "%s blocked", proto);
	else if (json_is_false(json_object_get(v, "nat")))
		fputs("no translation", f);
	else {
		escf(f, "%s mapping, %s filtering", jstr(v, "mapping") ?: "?",
		     jstr(v, "filtering") ?: "?");
		if (ports)
			escf(f, ", ports %s", ports);
		if (json_is_boolean(kept))
			escf(f, ", port %s", json_is_true(kept) ? "kept" : "changed");
		if (json_is_boolean(in_block))
			escf(f, ", %s its port block",
			     json_is_true(in_block) ? "inside" : "OUTSIDE");
		if (hairpin)
			escf(f, ", hairpin %s",
			     json_is_boolean(hairpin) ? (json_is_true(hairpin) ? "yes" : "no")
			                              : "not predicted");
	}
	if (more)
		more(f, v, more_arg);
	fputs("</td>", f);
	free(s);
}

/* One knob's value in words: hairpin on/off, timeouts in seconds with an s. */
static void knob_value(FILE *f, const char *key, const json_t *v)
{
	if (json_is_string(v))
		report_xml_escape(f, json_string_value(v));
	else if (json_is_boolean(v))
		fputs(json_is_true(v) ? "on" : "off", f);
	else
		fprintf(f, "%lld%s", (long long)json_integer_value(v),
		        strstr(key, "timeout") ? "s" : "");
}

/* Every knob of one NAT as built ("key=value"), the scenario's overrides in bold with a *. */
static void knob_list(FILE *f, const json_t *knobs)
{
	const json_t *overrides = json_object_get(knobs, "overrides"), *v, *o;
	const char *key;
	size_t i;

	json_object_foreach((json_t *)knobs, key, v)
	{
		int over = 0;

		if (strcmp(key, "overrides") == 0)
			continue;
		json_array_foreach(overrides, i, o) over |=
		    strcmp(json_string_value(o) ?: "", key) == 0;
		fputs(over ? " <b>" : " ", f);
		report_xml_escape(f, key);
		fputc('=', f);
		knob_value(f, key, v);
		fputs(over ? "*</b>" : "", f);
	}
}

/*
 * The knobs as built, folded under a line: a run's NAT declares its own (with
 * "overrides"); a matrix's entry has them for every NAT of its measured path.
 */
static void knobs_details(FILE *f, const json_t *declared, const json_t *measured)
{
	const json_t *path = json_object_get(measured, "path"), *p;
	size_t i;

	if (json_is_array(json_object_get(declared, "overrides"))) {
		fprintf(f, "<details><summary>every knob (%zu set by the scenario: *)</summary>",
		        json_array_size(json_object_get(declared, "overrides")));
		knob_list(f, declared);
		fputs("</details>", f);
		return;
	}
	if (!json_object_get(json_array_get(path, 0), "knobs"))
		return;
	fputs("<details><summary>every knob on the path (set by the scenario: *)</summary>", f);
	json_array_foreach(path, i, p)
	{
		fputs(i ? "<br/>" : "", f);
		esc_json(f, json_object_get(p, "name"));
		fputs(" (", f);
		esc_json(f, json_object_get(p, "profile"));
		fputs("):", f);
		if (json_is_object(json_object_get(p, "knobs")))
			knob_list(f, json_object_get(p, "knobs"));
		else
			fputs(" no translation", f);
	}
	fputs("</details>", f);
}

/* "cpe under isp": the NATs a measurement crossed, nearest first; nothing for one NAT. */
static void path_words(FILE *f, const json_t *measured)
{
	const json_t *path = json_object_get(measured, "path"), *p;
	size_t i;

	if (json_array_size(path) < 2)
		return;
	fputs("<br/><small>measured through ", f);
	json_array_foreach(path, i, p)
	{
		fputs(i ? " under " : "", f);
		esc_json(f, json_object_get(p, "name"));
	}
	fputs("</small>", f);
}

/*
 * Whether a NAT measured as declared: counts for a matrix; for a run the probe's verdict,
 * naming the protocol that differs.
 */
static void as_declared_td(FILE *f, const json_t *n)
{
	const json_t *m = json_object_get(n, "measured");
	long long count = jint(n, "measurements", -1), ok = jint(n, "as_declared", 0);
	int udp = !json_is_false(json_object_get(m, "udp_match"));
	int tcp = !json_is_false(json_object_get(json_object_get(m, "tcp"), "match"));

	if (!json_is_object(m))
		fputs("<td>not measured</td>", f);
	else if (count < 0 && json_is_true(json_object_get(m, "match")))
		fputs("<td class=\"ok\">yes</td>", f);
	else if (count < 0)
		fprintf(f, "<td class=\"bad\">NO%s</td>",
		        udp == tcp ? ""
		        : !udp     ? " (UDP)"
		                   : " (TCP)");
	else
		fprintf(f, "<td class=\"%s\">%s (%lld of %lld)</td>", ok == count ? "ok" : "bad",
		        ok == count ? "yes" : "NO", ok, count);
}

/* The NAT boxes with declared and measured behaviour, when the report has any. */
static void nats_table(FILE *f, const json_t *report)
{
	const json_t *nats = json_object_get(report, "nats"), *n;
	size_t i;

	if (json_array_size(nats) == 0)
		return;
	fputs("<div class=\"panel\"><h3>NATs</h3><table class=\"nats\"><tr><th>name</th>"
	      "<th>profile</th><th>declared</th><th>measured UDP (RFC 5780)</th>"
	      "<th>measured TCP</th><th>as declared</th>"
	      "</tr>\n",
	      f);
	json_array_foreach(nats, i, n)
	{
		fputs("<tr><td>", f);
		esc_json(f, json_object_get(n, "name"));
		path_words(f, json_object_get(n, "measured"));
		fputs("</td><td>", f);
		esc_json(f, json_object_get(n, "profile"));
		fputs("</td>", f);
		behaviour_td(f, json_object_get(n, "declared"), "udp", "UDP", knobs_details,
		             json_object_get(n, "measured"));
		behaviour_td(f, json_object_get(n, "measured"), "udp", "UDP", NULL, NULL);
		behaviour_td(f, json_object_get(json_object_get(n, "measured"), "tcp"), "status",
		             "TCP", NULL, NULL);
		as_declared_td(f, n);
		fputs("</tr>\n", f);
	}
	fputs("</table></div>\n", f);
}

/* One series of a chart: samples (or only p50/p95) of one quantity. */
struct series {
	const char *label;
	const json_t *stat; /* {p50, p95, samples} or NULL */
	const char *fill;
};

static double series_max(const struct series *s)
{
	const json_t *samples = json_object_get(s->stat, "samples"), *v;
	double m = fmax(jnum(s->stat, "p95"), jnum(s->stat, "p50"));
	size_t i;

	json_array_foreach(samples, i, v) if (json_is_number(v)) m =
	    isnan(m) ? json_number_value(v) : fmax(m, json_number_value(v));
	return m;
}

/* 1, 2 or 5 times a power of ten, at least x: a round end for the axis. */
static double nice_ceil(double x)
{
	double p = pow(10, floor(log10(x))), steps[] = { 1, 2, 5, 10 };

	for (int i = 0; i < 4; i++)
		if (x <= steps[i] * p)
			return steps[i] * p;
	return 10 * p;
}

static int chart_x(double v, double max)
{
	return CHART_LW + (int)lround(v / max * CHART_PW);
}

/* A p50 or p95 mark across the row: solid for p50, dashed for p95. */
static void chart_mark(FILE *f, const char *q, double v, double max, int y)
{
	char ms[32];

	if (isnan(v))
		return;
	fmt_ms(ms, sizeof(ms), v);
	fprintf(
	    f,
	    "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#111\" stroke-width=\"2\"%s>"
	    "<title>%s ",
	    chart_x(v, max), chart_x(v, max), y - 9, y + 9,
	    strcmp(q, "p95") == 0 ? " stroke-dasharray=\"3 2\"" : "", q);
	report_xml_escape(f, ms);
	fputs("</title></line>", f);
}

static void chart_row(FILE *f, const struct series *s, double max, int y)
{
	const json_t *samples = json_object_get(s->stat, "samples"), *v;
	double p50 = jnum(s->stat, "p50"), p95 = jnum(s->stat, "p95");
	char a[32], b[32];
	size_t i;

	fprintf(f, "<text x=\"0\" y=\"%d\" class=\"lab\">", y + 4);
	report_xml_escape(f, s->label);
	fputs("</text>", f);
	if (isnan(p50) && json_array_size(samples) == 0) {
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"none\">no samples</text>\n", CHART_LW,
		        y + 4);
		return;
	}
	json_array_foreach(samples, i, v) if (json_is_number(v) && i < MAX_POINTS)
	    fprintf(f,
	            "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\" "
	            "fill-opacity=\"0.55\"/>",
	            chart_x(json_number_value(v), max), y + (int)(i * 7 % 11) - 5, s->fill);
	chart_mark(f, "p50", p50, max, y);
	chart_mark(f, "p95", p95, max, y);
	fmt_ms(a, sizeof(a), p50);
	fmt_ms(b, sizeof(b), p95);
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"q\">", CHART_LW + CHART_PW + 12, y + 4);
	escf(f, "p50 %s \xc2\xb7 p95 %s", a, b);
	if (json_array_size(samples) > 0)
		fprintf(f, " (n=%zu)", json_array_size(samples));
	fputs("</text>\n", f);
}

static void chart_axis(FILE *f, double max, int y)
{
	fprintf(f, "<line class=\"ax\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", CHART_LW,
	        CHART_LW + CHART_PW, y, y);
	for (int t = 0; t <= 4; t++) {
		double v = max * t / 4;
		int x = chart_x(v, max);

		fprintf(f, "<line class=\"ax\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", x, x, y,
		        y + 3);
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\">%g%s</text>", x, y + 14, v,
		        t == 4 ? " ms" : "");
	}
	fputs("\n", f);
}

/* A strip plot of the series on one shared scale, p50 and p95 marked. */
static void chart_svg(FILE *f, const char *title, const struct series *s, int n)
{
	int h = n * CHART_RH + 40, w = CHART_LW + CHART_PW + CHART_RW;
	double max = NAN;

	for (int i = 0; i < n; i++)
		max = isnan(max) ? series_max(&s[i]) : fmax(max, series_max(&s[i]));
	max = isnan(max) || max <= 0 ? 1 : nice_ceil(max);
	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\">\n<text x=\"0\" y=\"12\" class=\"lab\" "
	        "font-weight=\"600\">",
	        w, h, w, h);
	report_xml_escape(f, title);
	fputs("</text>\n", f);
	for (int i = 0; i < n; i++)
		chart_row(f, &s[i], max, 30 + i * CHART_RH);
	chart_axis(f, max, 30 + n * CHART_RH - 8);
	fputs("</svg>\n", f);
}

static void cell_charts(FILE *f, const json_t *c)
{
	struct series ttd[] = {
		{ "direct", json_object_get(c, "time_to_direct_ms"), "#2e8b4e" },
	};
	struct series rtt[] = {
		{ "direct", json_object_get(c, "rtt_direct_ms"), "#2e8b4e" },
		{ "relay", json_object_get(c, "rtt_relay_ms"), "#3366b8" },
	};

	fputs("<div>", f);
	chart_svg(f, "Time to direct", ttd, 1);
	chart_svg(f, "Round-trip time", rtt, 2);
	fputs("</div>\n", f);
}

static void kv_row(FILE *f, const char *key, const char *value)
{
	fputs("<tr><th>", f);
	report_xml_escape(f, key);
	fputs("</th><td>", f);
	report_xml_escape(f, value);
	fputs("</td></tr>\n", f);
}

/* The wire's verdicts beside the stack's outcomes, and when the wire saw the switch. */
static void wire_rows(FILE *f, const json_t *c)
{
	const json_t *w = json_object_get(c, "wire");
	char buf[256], p50[32];

	if (!json_is_object(w))
		return;
	snprintf(buf, sizeof(buf), "%lld direct, %lld relayed, %lld none of %lld runs",
	         jint(w, "direct", 0), jint(w, "relayed", 0), jint(w, "none", 0),
	         jint(w, "runs", 0));
	kv_row(f, "wire", buf);
	if (json_is_object(json_object_get(w, "switch_ms"))) {
		fmt_ms(p50, sizeof(p50), jnum(json_object_get(w, "switch_ms"), "p50"));
		kv_row(f, "switch on the wire (p50)", p50);
	}
	if (jint(w, "disagree", 0) > 0) {
		snprintf(buf, sizeof(buf), "DISAGREES in %lld runs: %s", jint(w, "disagree", 0),
		         jstr(w, "disagree_note") ? jstr(w, "disagree_note") : "?");
		kv_row(f, "claim vs wire", buf);
	}
}

static void cell_table(FILE *f, const json_t *c)
{
	const char *exp = jstr(c, "expected"), *got = cell_got(c);
	char buf[160], a[48], b[48];

	fputs("<table class=\"kv\">\n", f);
	snprintf(buf, sizeof(buf), "%s / %s", jstr(c, "a") ? jstr(c, "a") : "?",
	         jstr(c, "b") ? jstr(c, "b") : "?");
	kv_row(f, "profiles", buf);
	kv_row(f, "expected", exp ? exp : "\xe2\x80\x93");
	kv_row(f, "got", got ? got : "\xe2\x80\x93");
	snprintf(buf, sizeof(buf), "%lld: %lld direct, %lld relay, %lld failed", jint(c, "runs", 0),
	         jint(c, "direct", 0), jint(c, "relay", 0), jint(c, "failed", 0));
	kv_row(f, "runs", buf);
	fmt_rate_ci(buf, sizeof(buf), c);
	kv_row(f, "direct rate", buf);
	fmt_bytes(a, sizeof(a), jnum(c, "bytes_direct"));
	fmt_bytes(b, sizeof(b), jnum(c, "bytes_relay"));
	kv_row(f, "bytes direct", a);
	kv_row(f, "bytes relay", b);
	if (jstr(c, "family"))
		kv_row(f, "direct over", jstr(c, "family"));
	if ((!cell_pass(c) && cell_verdict(c) != V_NOTRUN) || jstr(c, "reached"))
		kv_row(f, "reached", jstr(c, "reached") ? jstr(c, "reached") : "\xe2\x80\x93");
	wire_rows(f, c);
	report_cell_flags(buf, sizeof(buf), c);
	if (buf[0])
		kv_row(f, "flags", buf + 1);
	if (json_is_integer(json_object_get(c, "seed"))) {
		snprintf(buf, sizeof(buf), "%lld", jint(c, "seed", 0));
		kv_row(f, "seed", buf);
	}
	if (jstr(c, "reproduce"))
		kv_row(f, "reproduce", jstr(c, "reproduce"));
	fputs("</table>\n", f);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files (no dot files) of path, sorted; the caller frees the array and names. */
static int dir_files(const char *path, char ***out)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **v = NULL, **nv;
	int n = 0;

	*out = NULL;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
			continue;
		nv = realloc(v, (size_t)(n + 1) * sizeof(*v));
		if (!nv || !(nv[n] = strdup(e->d_name))) {
			v = nv ? nv : v;
			break;
		}
		v = nv;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, (size_t)n, sizeof(*v), cmp_str);
	*out = v;
	return n;
}

/* Links to the files of dir/sub ("" for dir itself), relative to the report. */
static void files_list(struct html *h, const char *dir, const char *sub, const char *title)
{
	char path[8192];
	char **names;
	int n;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", h->base, dir, sub) >= sizeof(path))
		return;
	n = dir_files(path, &names);
	if (n <= 0) {
		free(names);
		return;
	}
	fputs("<div>", h->f);
	report_xml_escape(h->f, title);
	fputs(":<ul>", h->f);
	for (int i = 0; i < n; i++) {
		fputs("<li><a href=\"", h->f);
		esc_url(h->f, dir);
		fputs("/", h->f);
		if (*sub) {
			esc_url(h->f, sub);
			fputs("/", h->f);
		}
		esc_url(h->f, names[i]);
		fputs("\">", h->f);
		report_xml_escape(h->f, names[i]);
		fputs("</a></li>", h->f);
		free(names[i]);
	}
	free(names);
	fputs("</ul></div>\n", h->f);
}

static void cell_files(struct html *h, const json_t *c)
{
	const char *dir = jstr(c, "dir");

	if (!dir)
		return;
	fputs("<div class=\"files\">Output: <a href=\"", h->f);
	esc_url(h->f, dir);
	fputs("/\"><code>", h->f);
	report_xml_escape(h->f, dir);
	fputs("</code></a>\n", h->f);
	files_list(h, dir, "", "files");
	files_list(h, dir, "logs", "logs");
	files_list(h, dir, "pcap", "pcaps");
	files_list(h, dir, "nat", "NAT state (end, and at each failed expectation)");
	fputs("</div>\n", h->f);
}

static void cell_section(struct html *h, const json_t *c, size_t idx)
{
	enum verdict v = cell_verdict(c);

	fprintf(h->f,
	        "<section class=\"panel cell %s\" id=\"cell-%zu\" style=\"border-left-color:%s\">\n"
	        "<h2><span class=\"sw\" style=\"background:%s\"></span>",
	        verdicts[v].cls, idx, verdicts[v].fill, verdicts[v].fill);
	report_xml_escape(h->f, cell_name(c));
	fprintf(h->f, " <span class=\"verdict\" style=\"color:%s\">", verdicts[v].fill);
	if (v == V_NOTRUN)
		report_xml_escape(h->f, verdicts[v].label);
	else
		escf(h->f, "%s: %s", cell_pass(c) ? "pass" : "FAIL", verdicts[v].label);
	fputs("</span></h2>\n<div class=\"cols\"><div>", h->f);
	cell_table(h->f, c);
	cell_files(h, c);
	fputs("</div>\n", h->f);
	cell_charts(h->f, c);
	fputs("</div>\n", h->f);
	report_timeline_svg(h->f, json_object_get(c, "timeline"));
	fputs("<p class=\"top\"><a href=\"#top\">back to the matrix</a></p>\n</section>\n", h->f);
}

/* A single run: its expectations in order, what it recorded, its NATs and its files. */
static void run_expectations(FILE *f, const json_t *report)
{
	const json_t *e;
	size_t i;

	fputs("<div class=\"panel\"><h3>Expectations</h3><table class=\"nats\"><tr><th>#</th>"
	      "<th>result</th><th>expectation</th><th>where</th></tr>\n",
	      f);
	json_array_foreach(json_object_get(report, "expectations"), i, e)
	{
		int ok = json_is_true(json_object_get(e, "ok"));

		fprintf(f, "<tr><td>%zu</td><td class=\"%s\">%s</td><td>", i + 1, ok ? "ok" : "bad",
		        ok ? "ok" : "NOT OK");
		esc_json(f, json_object_get(e, "name"));
		if (json_is_string(json_object_get(e, "diag"))) {
			fputs("<pre>", f);
			report_xml_escape(f, jstr(e, "diag"));
			fputs("</pre>", f);
		}
		fputs("</td><td><code>", f);
		esc_json(f, json_object_get(e, "where"));
		fputs("</code></td></tr>\n", f);
	}
	fputs("</table></div>\n", f);
}

static void run_results(FILE *f, const json_t *report)
{
	const json_t *r = json_object_get(report, "results"), *x;
	size_t i;

	if (json_array_size(r) == 0)
		return;
	fputs("<div class=\"panel\"><h3>Results</h3>\n", f);
	json_array_foreach(r, i, x)
	{
		char *s = json_dumps(x, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		fputs("<pre>", f);
		if (s)
			report_xml_escape(f, s);
		fputs("</pre>\n", f);
		free(s);
	}
	fputs("</div>\n", f);
}

static int run_page(struct html *h, const json_t *report)
{
	page_head(h->f, report);
	page_title(h->f, report);
	if (jstr(report, "error")) {
		fputs("<p class=\"panel bad\"><b>The scenario stopped early:</b> ", h->f);
		report_xml_escape(h->f, jstr(report, "error"));
		fputs("</p>\n", h->f);
	}
	run_expectations(h->f, report);
	nats_table(h->f, report);
	run_results(h->f, report);
	if (json_array_size(json_object_get(report, "timeline"))) {
		fputs("<div class=\"panel\">", h->f);
		report_timeline_svg(h->f, json_object_get(report, "timeline"));
		fputs("</div>\n", h->f);
	}
	fputs("<div class=\"panel files\">", h->f);
	files_list(h, ".", "logs", "logs");
	files_list(h, ".", "pcap", "pcaps");
	files_list(h, ".", "nat", "NAT state (end, and at each failed expectation)");
	fputs("</div>\n</body>\n</html>\n", h->f);
	return 0;
}

static int page_body(struct html *h, const json_t *report)
{
	struct grid g = { 0 };
	const json_t *c;
	long *placed = calloc(json_array_size(h->cells) + 1, sizeof(*placed));
	size_t i;
	int rc = placed ? grid_build(&g, report, placed) : -ENOMEM;

	if (rc < 0)
		goto out;
	page_head(h->f, report);
	page_title(h->f, report);
	fputs("<div class=\"panel\">\n", h->f);
	legend(h->f);
	grid_svg(h->f, &g, h->cells);
	tiles_svg(h->f, h->cells, placed);
	fputs("</div>\n", h->f);
	nats_table(h->f, report);
	json_array_foreach(h->cells, i, c) cell_section(h, c, i);
	fputs("</body>\n</html>\n", h->f);
out:
	grid_free(&g);
	free(placed);
	return rc;
}

static void report_dir(char *buf, size_t len, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(buf, len, ".");
	else if (slash == path)
		snprintf(buf, len, "/");
	else
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

int report_html_write(const json_t *report, const char *path, char *err, size_t errlen)
{
	struct html h = { 0 };
	char tmp[4200];
	int rc;

	if (!json_is_object(report)) {
		snprintf(err, errlen, "%s: report is not a JSON object", path);
		return -EINVAL;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp) ||
	    strlen(path) >= sizeof(h.base)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	report_dir(h.base, sizeof(h.base), path);
	h.cells = json_object_get(report, "cells");
	h.f = outdir_fopen(tmp, "w");
	if (!h.f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(-rc));
		return rc;
	}
	rc = is_run_report(report) ? run_page(&h, report) : page_body(&h, report);
	if (ferror(h.f) && rc == 0)
		rc = -EIO;
	if (fclose(h.f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}
