/* SPDX-License-Identifier: MIT */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_count;
static int tap_failed;
static int tap_planned;

void tap_plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

int tap_done(void)
{
	if (!tap_planned)
		printf("1..%d\n", tap_count);
	else if (tap_planned != tap_count)
		printf("# planned %d tests but ran %d\n", tap_planned, tap_count);
	fflush(stdout);
	return (tap_failed || (tap_planned && tap_planned != tap_count)) ? 1 : 0;
}

void tap_skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	fflush(stdout);
	exit(77);
}

void tap_require_root(void)
{
	if (geteuid() != 0)
		tap_skip_all("needs root (CAP_NET_ADMIN) to build network namespaces");
}

static void tap_vresult(int cond, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void tap_vresult(int cond, const char *fmt, va_list ap)
{
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

int tap_ok_at(const char *file, int line, int cond, const char *expr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   failed at %s:%d: %s\n", file, line, expr);
	return cond;
}

static int tap_result(int cond, const char *name)
{
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", tap_count, name);
	return cond;
}

int tap_int_at(const char *file, int line, long long got, long long want, const char *expr,
               const char *name)
{
	int cond = got == want;

	tap_result(cond, name);
	if (!cond)
		printf("#   failed at %s:%d: %s\n#        got: %lld\n#   expected: %lld\n", file,
		       line, expr, got, want);
	fflush(stdout);
	return cond;
}

int tap_str_at(const char *file, int line, const char *got, const char *want, const char *expr,
               const char *name)
{
	int cond = (got && want) ? strcmp(got, want) == 0 : got == want;

	tap_result(cond, name);
	if (!cond)
		printf("#   failed at %s:%d: %s\n#        got: \"%s\"\n#   expected: \"%s\"\n",
		       file, line, expr, got ? got : "(null)", want ? want : "(null)");
	fflush(stdout);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

char *tap_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	/* Read to the end, never by the size stat() gives: /proc files say 0. */
	do {
		if (cap - len < 4096) {
			char *grown = realloc(buf, cap + 65536);

			if (!grown) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[len] = '\0';
	fclose(f);
	return buf;
}
