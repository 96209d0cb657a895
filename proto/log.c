/* SPDX-License-Identifier: MIT */
#include "natlab/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_progname = "natlab";
static enum log_level log_min = LOG_LEVEL_INFO;
static int log_stamps = 1;

void log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_min = level;
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

void log_set_stamps(int on)
{
	log_stamps = on;
}

/* Checked like printf at each caller (log.h), so fmt is a format here too. */
static void log_vemit(const char *tag, const char *err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_vemit(const char *tag, const char *err, const char *fmt, va_list ap)
{
	struct timespec ts;
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_stamps) {
		fprintf(stderr, "%s: %s%s%s%s\n", log_progname, tag, msg, err ? ": " : "",
		        err ? err : "");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "%s: [%ld.%06ld] %s%s%s%s\n", log_progname, (long)ts.tv_sec,
	        ts.tv_nsec / 1000, tag, msg, err ? ": " : "", err ? err : "");
}

#define LOG_BODY(level, tag, err)                                                                  \
	do {                                                                                       \
		va_list ap;                                                                        \
		if ((level) < log_min)                                                             \
			return;                                                                    \
		va_start(ap, fmt);                                                                 \
		log_vemit(tag, err, fmt, ap);                                                      \
		va_end(ap);                                                                        \
	} while (0)

void log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, "debug: ", NULL);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, "", NULL);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, "error: ", NULL);
}

void log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARN, "error: ", err);
}

void log_warn_code(int code, const char *fmt, ...)
{
	const char *err = strerror(code < 0 ? -code : code);

	LOG_BODY(LOG_LEVEL_WARN, "error: ", err);
}

void log_fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vemit("fatal: ", err, fmt, ap);
	va_end(ap);
	exit(1);
}

void log_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("fatal: ", NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
