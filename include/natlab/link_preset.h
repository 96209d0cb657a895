/* SPDX-License-Identifier: MIT */
/*
 * Named link presets (`link = "4g"`, or `link = { preset = "4g", loss = "2%" }`): the
 * impairments of common access and long-haul links, each direction alike, with where
 * their figures come from (docs/scenarios.md lists them).
 */
#ifndef NATLAB_LINK_PRESET_H
#define NATLAB_LINK_PRESET_H

#include "natlab/wire.h"

/* Sets *imp to preset name's impairments. 0, or -ENOENT for an unknown name. */
int link_preset_apply(const char *name, struct wire_impairment *imp);
/* The preset names, comma-separated, for error messages. */
const char *link_preset_names(void);

#endif
