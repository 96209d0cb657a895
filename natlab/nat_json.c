/* SPDX-License-Identifier: MIT */
/* A NAT's knobs as built, as JSON and as text, with the scenario's overrides marked. */
#include "natlab/nat_json.h"

#include <errno.h>
#include <stdio.h>

int nat_knob_overridden(const char *profile, const struct nat_knob *kb, const struct nat_knobs *k)
{
	struct nat_knobs preset;

	if (!profile || nat_profile_lookup(profile, &preset) < 0)
		return 0;
	return nat_knob_get(kb, &preset) != nat_knob_get(kb, k);
}

json_t *nat_knobs_json(const char *profile, const struct nat_knobs *k)
{
	json_t *o, *overrides;

	if (!k->translate)
		return json_null();
	o = json_object();
	overrides = json_array();
	if (!o || !overrides) {
		json_decref(o);
		json_decref(overrides);
		return NULL;
	}
	for (const struct nat_knob *kb = nat_knob_table; kb->key; kb++) {
		unsigned v = nat_knob_get(kb, k);

		json_object_set_new(o, kb->key,
		                    kb->type == NAT_KNOB_WORD   ? json_string(nat_knob_word(kb, k))
		                    : kb->type == NAT_KNOB_BOOL ? json_boolean(v)
		                                                : json_integer(v));
		if (nat_knob_overridden(profile, kb, k))
			json_array_append_new(overrides, json_string(kb->key));
	}
	json_object_set_new(o, "overrides", overrides);
	return o;
}

int nat_knobs_format(const char *profile, const struct nat_knobs *k, char *buf, size_t cap)
{
	size_t len = 0;
	int n;

	if (!k->translate) {
		n = snprintf(buf, cap, "no translation");
		return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
	}
	if (cap)
		buf[0] = '\0';
	for (const struct nat_knob *kb = nat_knob_table; kb->key; kb++) {
		unsigned v = nat_knob_get(kb, k);
		const char *mark = nat_knob_overridden(profile, kb, k) ? "*" : "";
		const char *sep = len ? " " : "";

		if (kb->type == NAT_KNOB_WORD)
			n = snprintf(buf + len, cap - len, "%s%s=%s%s", sep, kb->key,
			             nat_knob_word(kb, k), mark);
		else if (kb->type == NAT_KNOB_BOOL)
			n = snprintf(buf + len, cap - len, "%s%s=%s%s", sep, kb->key,
			             v ? "on" : "off", mark);
		else
			n = snprintf(buf + len, cap - len, "%s%s=%u%s%s", sep, kb->key, v,
			             kb->type == NAT_KNOB_SECONDS ? "s" : "", mark);
		if (n < 0 || (size_t)n >= cap - len)
			return -ENOSPC;
		len += (size_t)n;
	}
	return (int)len;
}
