/* SPDX-License-Identifier: MIT */
/*
 * Every report format that is XML (junit.xml, report.html) escapes through here, so a
 * scenario's text (names, diagnostics, what a peer reached) cannot make one of them
 * ill-formed while the other stays valid.
 */
#include "natlab/report_xml.h"

void report_xml_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '&')
			fputs("&amp;", f);
		else if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c == '\'')
			fputs("&#39;", f);
		else if (c < 0x20 && c != '\n' && c != '\t')
			fputc('?', f);
		else
			fputc(c, f);
	}
}
