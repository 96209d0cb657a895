/* SPDX-License-Identifier: MIT */
/* A report as one HTML page (a matrix, or a single run): inline CSS and SVG, no JavaScript. */
#ifndef NATLAB_REPORT_HTML_H
#define NATLAB_REPORT_HTML_H

#include <jansson.h>
#include <stddef.h>

/* Renders report (the report.json contract) into path. Returns 0 or -errno, with err. */
int report_html_write(const json_t *report, const char *path, char *err, size_t errlen);

#endif
