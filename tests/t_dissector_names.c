/* SPDX-License-Identifier: MIT */
/*
 * wireshark/natlab.lua names every relay frame type and CLOSE reason that
 * proto/relay_proto.c does, with the same numbers: a reason added to the C and not to the
 * dissector shows up in tshark as a bare number (byte_cap, 17, did).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/relay_proto.h"
#include "tap.h"

/* Whether the dissector's text has the table entry `[n] = "name"`. */
static int has_entry(const char *lua, int n, const char *name)
{
	char entry[96];

	snprintf(entry, sizeof(entry), "[%d] = \"%s\"", n, name);
	return strstr(lua, entry) != NULL;
}

static void upper(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

int main(void)
{
	const char *src = getenv("NATLAB_SRC");
	char path[4096];
	char *lua;

	if (!src)
		tap_skip_all("NATLAB_SRC not set (ctest sets it)");
	snprintf(path, sizeof(path), "%s/wireshark/natlab.lua", src);
	lua = tap_slurp(path);
	ok(lua != NULL, "%s is readable", path);
	if (!lua)
		return tap_done();
	for (int r = RELAY_CLOSE_NONE + 1; r < RELAY_CLOSE_REASON_COUNT; r++) {
		const char *name = relay_close_reason_str((enum relay_close_reason)r);

		ok(has_entry(lua, r, name), "CLOSE reason %d is \"%s\" in the dissector", r, name);
	}
	for (int t = RELAY_FRAME_CHALLENGE; strcmp(relay_frame_type_str((uint8_t)t), "unknown");
	     t++) {
		char name[32];

		snprintf(name, sizeof(name), "%s", relay_frame_type_str((uint8_t)t));
		upper(name);
		ok(has_entry(lua, t, name), "frame type %d is \"%s\" in the dissector", t, name);
	}
	free(lua);
	return tap_done();
}
