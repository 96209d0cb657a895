/* SPDX-License-Identifier: MIT */
#include "natlab/report_tap.h"

#include <string.h>

/* TAP descriptions must not break the line or start a directive. */
static void tap_name(FILE *f, const char *name)
{
	for (const char *p = name; p && *p; p++)
		fputc(*p == '\n' ? ' ' : *p == '#' ? '_' : *p, f);
}

/* text as comment lines, so no line of it can be read as a test line. */
static void tap_comment(FILE *f, const char *text)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(f, "#   %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
}

void report_tap_line(FILE *f, int n, int ok, const char *name, const char *where, const char *diag)
{
	fprintf(f, "%s %d - ", ok ? "ok" : "not ok", n);
	tap_name(f, name);
	fputc('\n', f);
	if (!ok && where)
		fprintf(f, "#   at %s\n", where);
	if (!ok && diag)
		tap_comment(f, diag);
	fflush(f);
}

void report_cell_flags(char *buf, size_t len, const json_t *cell)
{
	const json_t *flag;
	size_t i, off = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(cell, "flags"), i, flag)
	{
		int k = snprintf(buf + off, len - off, " [%s]",
		                 strcmp(json_string_value(flag) ?: "", "wire_disagrees") == 0
		                     ? "wire disagrees"
		                     : json_string_value(flag) ?: "?");

		if (k < 0 || (size_t)k >= len - off)
			break;
		off += (size_t)k;
	}
}

void report_tap_cells(FILE *f, const json_t *cells)
{
	char line[512], diag[4600], flags[128], rate[96];
	const json_t *c;
	size_t i;

	json_array_foreach(cells, i, c)
	{
		int pass = json_is_true(json_object_get(c, "pass"));
		const char *repro = json_string_value(json_object_get(c, "reproduce"));

		const json_t *ci = json_object_get(c, "direct_rate_ci95");

		report_cell_flags(flags, sizeof(flags), c);
		rate[0] = '\0';
		if (json_is_number(json_object_get(c, "expected_rate")))
			snprintf(rate, sizeof(rate),
			         " at a rate of %.2f (Wilson 95%% [%.3f, %.3f])",
			         json_number_value(json_object_get(c, "expected_rate")),
			         json_number_value(json_array_get(ci, 0)),
			         json_number_value(json_array_get(ci, 1)));
		/* A description cut short still says which cell it is; the report has the rest. */
		snprintf(line, sizeof(line),
		         "%s: expected %s%s, direct %lld/%lld (relay %lld, failed %lld)%s",
		         json_string_value(json_object_get(c, "name")) ?: "?",
		         json_string_value(json_object_get(c, "expected")) ?: "?", rate,
		         json_integer_value(json_object_get(c, "direct")),
		         json_integer_value(json_object_get(c, "runs")),
		         json_integer_value(json_object_get(c, "relay")),
		         json_integer_value(json_object_get(c, "failed")), flags);
		snprintf(diag, sizeof(diag), "reached \"%s\"; see %s%s%s",
		         json_string_value(json_object_get(c, "reached")) ?: "?",
		         json_string_value(json_object_get(c, "dir")) ?: "?",
		         repro ? "\nreproduce: " : "", repro ? repro : "");
		report_tap_line(f, (int)i + 1, pass, line, NULL, diag);
	}
	fprintf(f, "1..%zu\n", json_array_size(cells));
	fflush(f);
}
