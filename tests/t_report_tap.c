/* SPDX-License-Identifier: MIT */
/*
 * TAP from reports/: a run's expectation lines (a name can neither break the line nor
 * start a directive; where and each diag line as comments under a failure) and a matrix's
 * cell lines with the plan after them, a failed cell's reached and dir as a comment.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "natlab/report_tap.h"
#include "tap.h"

static char *buf;
static size_t len;

static FILE *out_open(void)
{
	free(buf);
	buf = NULL;
	return open_memstream(&buf, &len);
}

int main(void)
{
	FILE *f = out_open();
	json_t *cells;

	report_tap_line(f, 1, 1, "fine", "x.lua:1", "not shown");
	report_tap_line(f, 2, 0, "two\nlines # TODO", "x.lua:7", "got: 1\nwant: 2");
	report_tap_line(f, 3, 0, "no where", NULL, NULL);
	fclose(f);
	is_str(buf,
	       "ok 1 - fine\n"
	       "not ok 2 - two lines _ TODO\n#   at x.lua:7\n#   got: 1\n#   want: 2\n"
	       "not ok 3 - no where\n",
	       "expectation lines");

	cells = json_pack("[{s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:n, s:s},"
	                  " {s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:s, s:s}]",
	                  "name", "full-cone/symmetric", "expected", "direct", "pass", 1, "runs", 5,
	                  "direct", 5, "relay", 0, "failed", 0, "reached", "dir", "cells/a", "name",
	                  "same#nat", "expected", "direct", "pass", 0, "runs", 5, "direct", 1,
	                  "relay", 3, "failed", 1, "reached", "punch\nagain", "dir", "cells/b");
	f = out_open();
	report_tap_cells(f, cells);
	fclose(f);
	is_str(buf,
	       "ok 1 - full-cone/symmetric: expected direct, direct 5/5 (relay 0, failed 0)\n"
	       "not ok 2 - same_nat: expected direct, direct 1/5 (relay 3, failed 1)\n"
	       "#   reached \"punch\n#   again\"; see cells/b\n"
	       "1..2\n",
	       "cell lines, then the plan");
	json_decref(cells);

	cells = json_pack("[{s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:s, s:s, s:[s, s], s:s}]", "name",
	                  "x/y", "expected", "direct", "pass", 0, "runs", 4, "direct", 2, "relay",
	                  2, "failed", 0, "reached", "the wire disagrees", "dir", "cells/x",
	                  "flags", "flaky", "wire_disagrees", "reproduce",
	                  "natlab run 'm.lua' '--filter' 'x/y' '--seed' '3'");
	f = out_open();
	report_tap_cells(f, cells);
	fclose(f);
	is_str(buf,
	       "not ok 1 - x/y: expected direct, direct 2/4 (relay 2, failed 0) [flaky] [wire "
	       "disagrees]\n"
	       "#   reached \"the wire disagrees\"; see cells/x\n"
	       "#   reproduce: natlab run 'm.lua' '--filter' 'x/y' '--seed' '3'\n"
	       "1..1\n",
	       "flags on the line, the command that reproduces the cell under it");
	json_decref(cells);
	free(buf);
	return tap_done();
}
