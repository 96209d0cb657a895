/* SPDX-License-Identifier: MIT */
/*
 * Where a run's time went (phases.c): a cell run's marks (report.json's phases, each the
 * moment a phase ended) with the job pool's own start and end of the run, turned into
 * phase durations, and those folded over a cell's runs. All on CLOCK_MONOTONIC.
 */
#ifndef NATLAB_REPORT_PHASES_H
#define NATLAB_REPORT_PHASES_H

#include <jansson.h>

/*
 * The phases of one run, {name: ms} in the order they happened, each from the end of the
 * one before: `start` (spawned_ms, when the job pool started the run, to the run's clock
 * start), then one per mark, then `exit` (the last mark to reaped_ms, when the pool saw the
 * run end). spawned_ms or reaped_ms 0: that phase is left out. A report without phases
 * gives NULL. New reference.
 */
json_t *report_run_phases(const json_t *report, double spawned_ms, double reaped_ms);

/* Appends each phase of run_phases (report_run_phases()) to acc's samples {name: [ms]}. */
void report_phases_add(json_t *acc, const json_t *run_phases);

/* {name: {p50, p95, samples}} of acc (report_phases_add()). New reference. */
json_t *report_phases_fold(json_t *acc);

#endif
