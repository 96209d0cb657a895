/* SPDX-License-Identifier: MIT */
/* Small macros every part uses. */
#ifndef NATLAB_UTIL_H
#define NATLAB_UTIL_H

#include <stddef.h>

/* The struct that embeds member ptr (libuv handles live inside their owners). */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define ARRAY_SIZE(a)                   (sizeof(a) / sizeof((a)[0]))

#endif
