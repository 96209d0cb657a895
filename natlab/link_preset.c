/* SPDX-License-Identifier: MIT */
#include "natlab/link_preset.h"

#include <errno.h>
#include <string.h>

/*
 * Each direction gets the delay, so a link's own round trip is twice it. The sources of
 * the figures are in docs/scenarios.md ("Link presets"); where a figure has none it is
 * natlab's choice and says so there.
 */
static const struct {
	const char *name;
	const char *delay, *jitter, *loss, *rate;
} presets[] = {
	{ "wifi", "2ms", "2ms", "0.1%", NULL },
	{ "4g", "30ms", "10ms", "0%", "10mbit" },
	{ "3g", "75ms", "15ms", "0%", "1.6mbit" },
	{ "satellite", "300ms", "10ms", "0.1%", "10mbit" },
	{ "transatlantic", "35ms", "1ms", "0%", NULL },
};

const char *link_preset_names(void)
{
	return "wifi, 4g, 3g, satellite, transatlantic";
}

int link_preset_apply(const char *name, struct wire_impairment *imp)
{
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		if (strcmp(presets[i].name, name) != 0)
			continue;
		memset(imp, 0, sizeof(*imp));
		/* The figures above are valid words of the link keys: these cannot fail. */
		wire_impairment_set(imp, "delay", presets[i].delay);
		wire_impairment_set(imp, "jitter", presets[i].jitter);
		wire_impairment_set(imp, "loss", presets[i].loss);
		if (presets[i].rate)
			wire_impairment_set(imp, "rate", presets[i].rate);
		return 0;
	}
	return -ENOENT;
}
