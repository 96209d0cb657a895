/* SPDX-License-Identifier: MIT */
#include "natlab/report_timeline.h"
#include "natlab/report_xml.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TL_LW    190 /* lane labels */
#define TL_PW    780 /* plot */
#define TL_RW    50  /* right of the plot: room for the last tick's "NNNNN ms" */
#define TL_RH    32  /* lane height: a row of words above and below, a gap between lanes */
#define TL_TOP   34
#define TL_LANES 40

static const struct {
	const char *what, *colour, *label;
} packet_kinds[] = {
	{ "sealed", "#2e8b4e", "natlab-peer (sealed)" },
	{ "stun", "#7b1fa2", "STUN" },
	{ "syn", "#e39b1b", "TCP SYN" },
	{ "icmp", "#c62828", "ICMP error" },
	{ "udp", "#777777", "other UDP" },
};

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static const char *packet_colour(const char *what)
{
	for (size_t i = 0; i < sizeof(packet_kinds) / sizeof(packet_kinds[0]); i++)
		if (strcmp(what, packet_kinds[i].what) == 0)
			return packet_kinds[i].colour;
	return "#777777";
}

#define TL_GREY "#8a939c"

/* An event's colour: what it says about the path, at a glance. */
static const char *event_colour(const json_t *e)
{
	const char *what = jstr(e, "what"), *detail = jstr(e, "detail");

	if (!strcmp(what, "failed") || !strcmp(what, "error"))
		return "#c62828";
	if (!strcmp(what, "held"))
		return "#2e8b4e";
	if (!strcmp(what, "punch"))
		return "#e39b1b";
	if (!strcmp(what, "path"))
		return strstr(detail, "\"direct\"") ? "#2e8b4e" : "#3366b8";
	return TL_GREY;
}

/* Events that get a word beside their mark (the others tell on hover). */
static int event_labelled(const char *what)
{
	return !strcmp(what, "punch") || !strcmp(what, "path") || !strcmp(what, "failed") ||
	       !strcmp(what, "error") || !strcmp(what, "connected");
}

/* Lanes in a reading order: processes, the scenario, then interfaces by name. */
static int lane_rank(const json_t *item)
{
	const char *kind = jstr(item, "kind");

	if (strcmp(kind, "event") != 0)
		return 2;
	return strcmp(jstr(item, "lane"), "scenario") == 0 ? 1 : 0;
}

struct lane {
	const char *name;
	int rank;
};

static int lane_cmp(const void *a, const void *b)
{
	const struct lane *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank - y->rank;
	return x->rank == 2 ? strcmp(x->name, y->name) : 0;
}

static int lanes_collect(const json_t *tl, struct lane *lanes)
{
	const json_t *it;
	size_t i;
	int n = 0;

	json_array_foreach(tl, i, it)
	{
		const char *name = jstr(it, "lane");
		int k;

		for (k = 0; k < n && strcmp(lanes[k].name, name); k++)
			;
		if (k == n && n < TL_LANES)
			lanes[n++] = (struct lane){ name, lane_rank(it) };
	}
	/* Stable for ranks 0 and 1 (first appearance) needs the index: insertion sort. */
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && lane_cmp(&lanes[b - 1], &lanes[b]) > 0; b--) {
			struct lane t = lanes[b];

			lanes[b] = lanes[b - 1];
			lanes[b - 1] = t;
		}
	return n;
}

static int lane_of(const struct lane *lanes, int n, const char *name)
{
	for (int k = 0; k < n; k++)
		if (!strcmp(lanes[k].name, name))
			return k;
	return -1;
}

static double axis_max(const json_t *tl)
{
	double max = 1, step;
	const json_t *it;
	size_t i;

	json_array_foreach(tl, i, it) max =
	    fmax(max, json_number_value(json_object_get(it, "t_ms")));
	step = pow(10, floor(log10(max)));
	return ceil(max / step) * step;
}

static void axis(FILE *f, double max, int y)
{
	fprintf(f, "<line class=\"ax\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", TL_LW,
	        TL_LW + TL_PW, y, y);
	for (int t = 0; t <= 10; t++) {
		int x = TL_LW + TL_PW * t / 10;

		fprintf(f,
		        "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>"
		        "<text x=\"%d\" y=\"%d\" class=\"tick\">%g%s</text>",
		        x, x, TL_TOP - 6, y, x, y + 13, max * t / 10, t == 10 ? " ms" : "");
	}
	fputs("\n", f);
}

/* Where the last word on a lane ended, and on which of two rows: words never overlap. */
struct lane_words {
	int end[2];
};

static int item_x(const json_t *it, double max)
{
	double t = json_number_value(json_object_get(it, "t_ms"));

	return TL_LW + (int)lround(fmin(fmax(t, 0), max) / max * TL_PW);
}

/* Whether the item is an event with a colour of its own (drawn over the others). */
static int item_coloured(const json_t *it)
{
	return !strcmp(jstr(it, "kind"), "event") && strcmp(event_colour(it), TL_GREY) != 0;
}

/* An item's mark (a dot for an event, a tick for a packet) with its hover text. */
static void mark_svg(FILE *f, const json_t *it, double max, int y)
{
	const char *kind = jstr(it, "kind"), *what = jstr(it, "what");
	int x = item_x(it, max);

	if (!strcmp(kind, "event")) {
		fprintf(f, "<g><circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/>", x, y,
		        event_colour(it));
	} else {
		int out = !strcmp(kind, "out");

		fprintf(f,
		        "<g><line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
		        "stroke-width=\"1.5\"/>",
		        x, x, y, out ? y - 8 : y + 8, packet_colour(what));
	}
	fprintf(f, "<title>%.1f ms ", json_number_value(json_object_get(it, "t_ms")));
	report_xml_escape(f, jstr(it, "lane"));
	fputs(": ", f);
	report_xml_escape(f, strcmp(kind, "event") ? kind : "");
	fputs(strcmp(kind, "event") ? " " : "", f);
	report_xml_escape(f, what);
	if (*jstr(it, "detail")) {
		fputs(" ", f);
		report_xml_escape(f, jstr(it, "detail"));
	}
	fputs("</title></g>\n", f);
}

/* The word beside a labelled event: above the lane if there is room, else below, else
 * none (the hover tells). */
static void word_svg(FILE *f, const json_t *it, double max, int y, struct lane_words *w)
{
	const char *what = jstr(it, "what");
	int x = item_x(it, max), row;

	if (strcmp(jstr(it, "kind"), "event") != 0 || !event_labelled(what))
		return;
	row = x + 5 >= w->end[0] ? 0 : x + 5 >= w->end[1] ? 1 : -1;
	if (row < 0)
		return;
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"ev\">", x + 5, row ? y + 14 : y - 7);
	report_xml_escape(f, what);
	fputs("</text>\n", f);
	w->end[row] = x + 8 + 6 * (int)strlen(what);
}

static void legend(FILE *f)
{
	fputs("<div class=\"legend tl\">Packets (up: leaving towards the internet, down: "
	      "arriving from it): ",
	      f);
	for (size_t i = 0; i < sizeof(packet_kinds) / sizeof(packet_kinds[0]); i++) {
		fprintf(f, "<span><i style=\"background:%s\"></i>", packet_kinds[i].colour);
		report_xml_escape(f, packet_kinds[i].label);
		fputs("</span>", f);
	}
	fputs(" Events: <span><i style=\"background:#e39b1b\"></i>punch</span>"
	      "<span><i style=\"background:#2e8b4e\"></i>direct path, expectation held</span>"
	      "<span><i style=\"background:#3366b8\"></i>relay path</span>"
	      "<span><i style=\"background:#c62828\"></i>error, expectation failed</span>"
	      "<span><i style=\"background:#8a939c\"></i>other (hover)</span></div>\n",
	      f);
}

void report_timeline_svg(FILE *f, const json_t *tl)
{
	struct lane lanes[TL_LANES];
	struct lane_words words[TL_LANES] = { 0 };
	int n = json_is_array(tl) ? lanes_collect(tl, lanes) : 0, h, w = TL_LW + TL_PW + TL_RW;
	double max;
	const json_t *it;
	size_t i;

	if (n == 0)
		return;
	max = axis_max(tl);
	h = TL_TOP + n * TL_RH + 24;
	fprintf(f,
	        "<div class=\"timeline\"><svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tl\" "
	        "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n<text x=\"0\" y=\"14\" "
	        "class=\"lab\" font-weight=\"600\">Timeline (ms since the run started; hover "
	        "for details)</text>\n",
	        w, h, w, h);
	for (int k = 0; k < n; k++) {
		int y = TL_TOP + k * TL_RH + TL_RH / 2;

		fprintf(f,
		        "<line class=\"lane\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>"
		        "<text x=\"%d\" y=\"%d\" class=\"lanelab\">",
		        TL_LW, TL_LW + TL_PW, y, y, TL_LW - 8, y + 4);
		report_xml_escape(f, lanes[k].name);
		fputs("</text>\n", f);
	}
	axis(f, max, TL_TOP + n * TL_RH);
	/*
	 * Three passes, each in the order recorded: packets and grey events, then the
	 * coloured events over them (a path or an error must not hide under the grey dot of
	 * an rtt event a few milliseconds later), then the words over every mark.
	 */
	for (int pass = 0; pass < 3; pass++) {
		json_array_foreach(tl, i, it)
		{
			int k = lane_of(lanes, n, jstr(it, "lane")),
			    y = TL_TOP + k * TL_RH + TL_RH / 2;

			if (k < 0)
				continue;
			if (pass == 2)
				word_svg(f, it, max, y, &words[k]);
			else if (item_coloured(it) == pass)
				mark_svg(f, it, max, y);
		}
	}
	fputs("</svg>\n", f);
	legend(f);
	fputs("</div>\n", f);
}
