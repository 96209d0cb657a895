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

/* Whether table (the text from `local NAME = {` to its `}`) has the entry `[n] = "name"`. */
static int has_entry(const char *lua, const char *table, int n, const char *name)
{
	char head[64], entry[96];
	const char *start, *end;

	if ((size_t)snprintf(head, sizeof(head), "local %s = {", table) >= sizeof(head) ||
	    (size_t)snprintf(entry, sizeof(entry), "[%d] = \"%s\"", n, name) >= sizeof(entry))
		return 0;
	start = strstr(lua, head);
	end = start ? strchr(start, '}') : NULL;
	if (!end)
		return 0;
	start = strstr(start, entry);
	return start && start < end;
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
	if ((size_t)snprintf(path, sizeof(path), "%s/wireshark/natlab.lua", src) >= sizeof(path))
		tap_skip_all("NATLAB_SRC is too long");
	lua = tap_slurp(path);
	ok(lua != NULL, "%s is readable", path);
	if (!lua)
		return tap_done();
	for (int r = RELAY_CLOSE_NONE + 1; r < RELAY_CLOSE_REASON_COUNT; r++) {
		const char *name = relay_close_reason_str((enum relay_close_reason)r);

		ok(has_entry(lua, "close_reasons", r, name),
		   "CLOSE reason %d is \"%s\" in the dissector's close_reasons", r, name);
	}
	for (int t = RELAY_FRAME_CHALLENGE; strcmp(relay_frame_type_str((uint8_t)t), "unknown");
	     t++) {
		char name[32];

		snprintf(name, sizeof(name), "%s", relay_frame_type_str((uint8_t)t));
		upper(name);
		ok(has_entry(lua, "frame_types", t, name),
		   "frame type %d is \"%s\" in the dissector's frame_types", t, name);
	}
	free(lua);
	return tap_done();
}
