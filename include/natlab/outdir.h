/* SPDX-License-Identifier: MIT */
/* Writing results: directories for out dirs and XML text for junit.xml (outdir.c). */
#ifndef NATLAB_OUTDIR_H
#define NATLAB_OUTDIR_H

#include <stdio.h>

/* mkdir -p: creates path and its missing parents (mode 0755). Returns 0 or -errno. */
int lab_mkdir_p(const char *path);

/* Writes s (NULL writes nothing) with <, >, & and " escaped for XML text and attributes. */
void lab_xml_escape(FILE *f, const char *s);

#endif
