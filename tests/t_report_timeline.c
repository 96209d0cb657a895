/* SPDX-License-Identifier: MIT */
/*
 * report_timeline_svg: lanes in reading order (processes, the scenario, interfaces by
 * name), packets up when they leave towards the internet and down when they arrive,
 * coloured by kind, events coloured by what they say, words that never overlap, text
 * escaped, nothing for an empty timeline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/report_timeline.h"
#include "tap.h"

static char *render(json_t *tl)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	report_timeline_svg(f, tl);
	fclose(f);
	json_decref(tl);
	return buf;
}

static json_t *item(double t, const char *lane, const char *kind, const char *what,
                    const char *detail)
{
	return json_pack("{s:f, s:s, s:s, s:s, s:s?}", "t_ms", t, "lane", lane, "kind", kind,
	                 "what", what, "detail", detail);
}

/* The y of lane name's label, or -1. */
static int lane_y(const char *svg, const char *name)
{
	char want[128];
	const char *p;
	int y;

	snprintf(want, sizeof(want), "class=\"lanelab\">%s</text>", name);
	p = strstr(svg, want);
	if (!p)
		return -1;
	while (p > svg && strncmp(p, " y=\"", 4) != 0)
		p--;
	return sscanf(p, " y=\"%d\"", &y) == 1 ? y : -1;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

int main(void)
{
	json_t *tl = json_array();
	char *svg;
	int y_wan, y_lan, y_peer, y_scn;

	json_array_append_new(tl, item(10, "natb/wan", "in", "sealed", "198.18.0.4 > 198.18.0.5"));
	json_array_append_new(tl, item(12, "nata/wan", "out", "sealed", NULL));
	json_array_append_new(tl, item(5, "ha/peer", "event", "punch", "{\"event\":\"punch\"}"));
	json_array_append_new(tl, item(5.2, "ha/peer", "event", "path", "{\"kind\":\"direct\"}"));
	json_array_append_new(tl, item(5.4, "ha/peer", "event", "connected", NULL));
	json_array_append_new(tl, item(5.6, "ha/peer", "event", "error", "<boom> & \"x\""));
	json_array_append_new(tl, item(20, "scenario", "event", "failed", "expectation 1 failed"));
	json_array_append_new(tl, item(15, "nata/lan", "out", "stun", NULL));
	json_array_append_new(tl, item(16, "nata/lan", "in", "icmp", NULL));
	svg = render(tl);

	ok(strstr(svg, "<svg") && count(svg, "<svg") == count(svg, "</svg>"), "one closed <svg>");
	y_peer = lane_y(svg, "ha/peer");
	y_scn = lane_y(svg, "scenario");
	y_lan = lane_y(svg, "nata/lan");
	y_wan = lane_y(svg, "nata/wan");
	ok(y_peer > 0 && y_peer < y_scn && y_scn < y_lan && y_lan < y_wan &&
	       y_wan < lane_y(svg, "natb/wan"),
	   "lanes: the process, the scenario, then interfaces by name (%d %d %d %d)", y_peer, y_scn,
	   y_lan, y_wan);
	/* Ticks: out goes up from the lane's line, in goes down. The axis: 0..20 ms. */
	ok(strstr(svg, "y2=\"") != NULL, "packets are ticks");
	{
		char want[160];
		int mid = y_wan - 4; /* labels sit 4 below the lane's line */

		snprintf(want, sizeof(want), "y1=\"%d\" y2=\"%d\" stroke=\"#2e8b4e\"", mid,
		         mid - 8);
		ok(strstr(svg, want) != NULL, "an outbound sealed packet is a green tick up");
		mid = y_lan - 4;
		snprintf(want, sizeof(want), "y1=\"%d\" y2=\"%d\" stroke=\"#c62828\"", mid,
		         mid + 8);
		ok(strstr(svg, want) != NULL, "an inbound ICMP error is a red tick down");
		snprintf(want, sizeof(want), "y1=\"%d\" y2=\"%d\" stroke=\"#7b1fa2\"", mid,
		         mid - 8);
		ok(strstr(svg, want) != NULL, "an outbound STUN request a purple tick up");
	}
	ok(strstr(svg, "fill=\"#e39b1b\"/>") && strstr(svg, "class=\"ev\">punch</text>"),
	   "a punch is an amber mark with its word");
	ok(count(svg, "fill=\"#2e8b4e\"/>") == 1, "a direct path is green");
	ok(strstr(svg, "class=\"ev\">failed</text>") && count(svg, "fill=\"#c62828\"/>") == 2,
	   "a failed expectation and an error are red");
	/* punch above, path below, connected and error (8 px apart) in neither; failed. */
	ok(count(svg, "class=\"ev\">") == 3,
	   "close words share two rows, the one with no room is left to the hover (%d words)",
	   count(svg, "class=\"ev\">"));
	ok(strstr(svg, "&lt;boom&gt; &amp; &quot;x&quot;") ||
	       strstr(svg, "&lt;boom&gt; &amp; \"x\"") || strstr(svg, "&#60;boom&#62; &#38;"),
	   "details are escaped");
	ok(strstr(svg, "<title>10.0 ms natb/wan: in sealed 198.18.0.4 &gt; 198.18.0.5</title>") ||
	       strstr(svg,
	              "<title>10.0 ms natb/wan: in sealed 198.18.0.4 &#62; 198.18.0.5</title>"),
	   "each mark tells time, lane, direction, kind and endpoints on hover");
	ok(strstr(svg, ">20 ms</text>") != NULL, "the axis ends at the last moment, rounded up");
	free(svg);

	svg = render(json_array());
	ok(svg && *svg == '\0', "an empty timeline draws nothing");
	free(svg);
	return tap_done();
}
