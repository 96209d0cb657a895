/* SPDX-License-Identifier: MIT */
/* JSON Lines events on stdout; the schema is docs/events.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "natlab/log.h"
#include "peer.h"

static uint64_t event_t0;

void event_init(void)
{
	event_t0 = uv_hrtime();
}

double event_t0_ms(void)
{
	return (double)(event_t0 / 1000) / 1000.0;
}

double event_now_ms(void)
{
	/* Whole microseconds keep lines short and are finer than anything we measure. */
	return (double)((uv_hrtime() - event_t0) / 1000) / 1000.0;
}

void event_emit_obj(const char *name, json_t *fields)
{
	json_t *o = json_object();
	char *line;

	json_object_set_new(o, "t_ms", json_real(event_now_ms()));
	json_object_set_new(o, "event", json_string(name));
	if (fields) {
		json_object_update(o, fields);
		json_decref(fields);
	}
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (!line) {
		log_warnx("event %s: cannot encode", name);
		return;
	}
	/* One write per line, flushed, so a harness reading the pipe sees it at once. */
	fprintf(stdout, "%s\n", line);
	fflush(stdout);
	free(line);
}

void event_emit(const char *name, const char *fmt, ...)
{
	json_error_t err;
	json_t *fields = NULL;
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		fields = json_vpack_ex(&err, 0, fmt, ap);
		va_end(ap);
		if (!fields) {
			log_warnx("event %s: %s", name, err.text);
			return;
		}
	}
	event_emit_obj(name, fields);
}

void event_error_v(const char *reason, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	event_emit("error", "{s:s, s:s}", "reason", reason, "message", msg);
	log_warnx("%s", msg);
}
