/* SPDX-License-Identifier: MIT */
#include "natlab/report_phases.h"
#include "natlab/report_stats.h"

json_t *report_run_phases(const json_t *report, double spawned_ms, double reaped_ms)
{
	const json_t *phases = json_object_get(report, "phases");
	const json_t *clock = json_object_get(phases, "clock_ms"), *m;
	json_t *out;
	double prev = 0;
	size_t i;

	if (!json_is_number(clock))
		return NULL;
	out = json_object();
	if (spawned_ms > 0)
		json_object_set_new(out, "start", json_real(json_number_value(clock) - spawned_ms));
	json_array_foreach(json_object_get(phases, "marks"), i, m)
	{
		const char *name = json_string_value(json_object_get(m, "name"));
		double t = json_number_value(json_object_get(m, "t_ms"));

		if (!name)
			continue;
		/* A phase marked twice (two relays started) is the sum of its stretches. */
		json_object_set_new(
		    out, name, json_real(json_number_value(json_object_get(out, name)) + t - prev));
		prev = t;
	}
	if (reaped_ms > 0)
		json_object_set_new(out, "exit",
		                    json_real(reaped_ms - (json_number_value(clock) + prev)));
	return out;
}

void report_phases_add(json_t *acc, const json_t *run_phases)
{
	const char *name;
	json_t *ms, *samples;

	json_object_foreach((json_t *)run_phases, name, ms)
	{
		samples = json_object_get(acc, name);
		if (!samples) {
			samples = json_array();
			json_object_set_new(acc, name, samples);
		}
		json_array_append(samples, ms);
	}
}

json_t *report_phases_fold(json_t *acc)
{
	json_t *out = json_object(), *samples;
	const char *name;

	json_object_foreach(acc, name, samples)
	    json_object_set_new(out, name, report_percentiles(samples));
	return out;
}
