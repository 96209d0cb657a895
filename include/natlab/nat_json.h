/* SPDX-License-Identifier: MIT */
/*
 * A NAT's knobs as built, for people and reports: every knob of nat_knob_table with its
 * value, and which of them the scenario changed from the profile's preset.
 */
#ifndef NATLAB_NAT_JSON_H
#define NATLAB_NAT_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "natlab/nat.h"

/*
 * Whether knob kb of k differs from the preset of profile (the scenario set it); 0 when
 * profile is NULL or not a profile.
 */
int nat_knob_overridden(const char *profile, const struct nat_knob *kb, const struct nat_knobs *k);

/*
 * Every knob under its key (words as strings, hairpin a boolean, seconds and counts as
 * integers) and "overrides", the keys nat_knob_overridden() names, in table order. JSON
 * null for a box that does not translate. The caller owns the reference; NULL when out of
 * memory.
 */
json_t *nat_knobs_json(const char *profile, const struct nat_knobs *k);

/*
 * The same as one line of text, "key=value" separated by spaces (hairpin on/off, seconds
 * with an s), each override followed by '*'; "no translation" for a plain router.
 * Returns the length, or -ENOSPC when buf is too small (it then holds a prefix).
 */
int nat_knobs_format(const char *profile, const struct nat_knobs *k, char *buf, size_t cap);

#endif
