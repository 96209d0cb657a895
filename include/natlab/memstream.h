/* SPDX-License-Identifier: MIT */
/* The end of a text rendered into an open_memstream() buffer (rulesets, configurations). */
#ifndef NATLAB_MEMSTREAM_H
#define NATLAB_MEMSTREAM_H

#include <stdio.h>

/*
 * fclose()s f, the memstream writing *out: returns 0 with the text in *out, or frees
 * *out, sets it to NULL and returns -ENOMEM (the stream could not grow its buffer).
 */
int memstream_done(FILE *f, char **out);

#endif
