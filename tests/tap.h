/* SPDX-License-Identifier: MIT */
/*
 * A tiny TAP producer for the unit tests. A failing check prints file:line, the
 * expression and both values, so a red run says what went wrong without a debugger.
 */
#ifndef NATLAB_TESTS_TAP_H
#define NATLAB_TESTS_TAP_H

#include <stdint.h>

void tap_plan(int n);
/* Ends the run: prints the plan if none was given and returns the exit code (0 or 1). */
int tap_done(void);
/* Prints "1..0 # SKIP reason" and exits 77, the code CMake treats as skipped. */
void tap_skip_all(const char *reason) __attribute__((noreturn));
/* Exits 77 with a skip unless running as root with CAP_NET_ADMIN. */
void tap_require_root(void);

int tap_ok_at(const char *file, int line, int cond, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int tap_int_at(const char *file, int line, long long got, long long want, const char *expr,
               const char *name);
int tap_str_at(const char *file, int line, const char *got, const char *want, const char *expr,
               const char *name);
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The whole file at path as a NUL-terminated string the caller frees; NULL if unreadable. */
char *tap_slurp(const char *path);

#define ok(cond, ...)           tap_ok_at(__FILE__, __LINE__, !!(cond), #cond, __VA_ARGS__)
#define is_int(got, want, name) tap_int_at(__FILE__, __LINE__, (got), (want), #got, (name))
#define is_str(got, want, name) tap_str_at(__FILE__, __LINE__, (got), (want), #got, (name))

#endif
