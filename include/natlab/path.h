/* SPDX-License-Identifier: MIT */
/*
 * File paths built from parts (an out dir and a file in it): a path that does not fit its
 * buffer is an error, never a truncated name that would land somewhere else.
 */
#ifndef NATLAB_PATH_H
#define NATLAB_PATH_H

#include <stddef.h>

/* snprintf into buf: 0, or -ENAMETOOLONG when the result does not fit (buf unusable). */
int lab_pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
