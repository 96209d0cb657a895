/* SPDX-License-Identifier: MIT */
/*
 * A run's timeline (report.json `timeline`, natlab/timeline.h) as inline SVG for
 * report.html: a lane per process (its events), one for the scenario (expectations) and
 * one per interface (key packets: up ticks leave towards the internet, down ticks arrive
 * from it), all on one time axis, so a failed punch reads at a glance: probes leaving one
 * NAT and arriving at the other's WAN but never on its LAN were dropped there.
 */
#ifndef NATLAB_REPORT_TIMELINE_H
#define NATLAB_REPORT_TIMELINE_H

#include <jansson.h>
#include <stdio.h>

/* Writes a <div> with the timeline's SVG and legend; nothing for an empty timeline. */
void report_timeline_svg(FILE *f, const json_t *timeline);

#endif
