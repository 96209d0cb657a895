/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr with a monotonic timestamp (seconds since boot, the clock pcap
 * captures and conntrack use too, so log lines and packets line up). OpenBSD's split:
 * log_warn and log_fatal append strerror(errno); the x variants do not.
 */
#ifndef NATLAB_LOG_H
#define NATLAB_LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN };

/* Sets the program name printed on each line and the lowest level shown. */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
/*
 * Timestamps on (the default: daemons' logs line up with captures) or off (a command's
 * messages to the person who typed it, where a raw uptime only gets in the way).
 */
void log_set_stamps(int on);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void log_fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Like log_warnx, with the strerror of a negative errno code appended. */
void log_warn_code(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
