/* SPDX-License-Identifier: MIT */
/* The one escaper for XML and HTML text and attribute values (escape.c). */
#ifndef NATLAB_REPORT_XML_H
#define NATLAB_REPORT_XML_H

#include <stdio.h>

/*
 * Writes s (NULL writes nothing) escaped for XML/HTML text and double- or single-quoted
 * attribute values: &, <, >, " and ' as references, and each C0 control byte but tab and
 * newline (which XML 1.0 does not allow, not even as a reference) as '?'.
 */
void report_xml_escape(FILE *f, const char *s);

#endif
