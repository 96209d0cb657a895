/* SPDX-License-Identifier: MIT */
/*
 * A NAT's knobs as built: every knob of the table shows, with the scenario's overrides
 * of its profile named (JSON) or marked (text), whatever the knob's type.
 */
#include <errno.h>
#include <string.h>

#include "natlab/nat_json.h"
#include "tap.h"

static void test_json(void)
{
	struct nat_knobs k;
	json_t *j, *o;
	size_t nknobs = 0;

	for (const struct nat_knob *kb = nat_knob_table; kb->key; kb++)
		nknobs++;
	nat_profile_lookup("cgnat", &k);
	j = nat_knobs_json("cgnat", &k);
	is_int(json_object_size(j), nknobs + 1, "every knob and overrides");
	is_int(json_array_size(json_object_get(j, "overrides")), 0, "the preset: no overrides");
	ok(json_is_true(json_object_get(j, "hairpin")), "hairpin is a boolean");
	is_int(json_integer_value(json_object_get(j, "port_block")), 2048, "a count as a number");
	json_decref(j);

	k.mapping = NAT_MAPPING_APDM;
	k.ports = NAT_PORTS_RANDOM;
	k.udp_timeout = 60;
	j = nat_knobs_json("cgnat", &k);
	o = json_object_get(j, "overrides");
	is_int(json_array_size(o), 3, "three knobs set by the scenario");
	is_str(json_string_value(json_array_get(o, 0)), "mapping", "in table order: mapping");
	is_str(json_string_value(json_array_get(o, 1)), "ports", "ports");
	is_str(json_string_value(json_array_get(o, 2)), "udp_timeout", "udp_timeout");
	is_str(json_string_value(json_object_get(j, "mapping")), "address-and-port-dependent",
	       "the value as built");
	json_decref(j);
	j = nat_knobs_json("no-such-profile", &k);
	is_int(json_array_size(json_object_get(j, "overrides")), 0,
	       "an unknown profile has no preset to differ from");
	json_decref(j);
	nat_profile_lookup("none", &k);
	j = nat_knobs_json("none", &k);
	ok(json_is_null(j), "a router that does not translate: null");
	json_decref(j);
}

static void test_text(void)
{
	struct nat_knobs k;
	const char *want = "mapping=endpoint-independent filtering=address-and-port-dependent "
	                   "ports=preserve hairpin=off* udp_timeout=60s* ";
	char buf[1024], small[16];
	int n;

	nat_profile_lookup("port-restricted-cone", &k);
	k.udp_timeout = 60;
	k.hairpin = 0;
	n = nat_knobs_format("port-restricted-cone", &k, buf, sizeof(buf));
	is_int(n, (int)strlen(buf), "returns the length");
	ok(strncmp(buf, want, strlen(want)) == 0, "words, on/off, seconds; overrides marked (%s)",
	   buf);
	ok(strstr(buf, " port_block=0 ") && strstr(buf, " block=none"), "counts and words (%s)",
	   buf);
	is_int(nat_knobs_format("port-restricted-cone", &k, small, sizeof(small)), -ENOSPC,
	       "too small a buffer: -ENOSPC");
	nat_profile_lookup("none", &k);
	nat_knobs_format("none", &k, buf, sizeof(buf));
	is_str(buf, "no translation", "a plain router");
}

int main(void)
{
	test_json();
	test_text();
	return tap_done();
}
