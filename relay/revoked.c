/* SPDX-License-Identifier: MIT */
/*
 * The revocation list: a text file of token ids, one per line; blank lines and
 * lines starting with '#' are ignored. Kept sorted for bsearch.
 */
#include "natlab/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/log.h"
#include "natlab/token.h"

void relay_revoked_free(char **ids, size_t n)
{
	size_t i;

	for (i = 0; ids && i < n; i++)
		free(ids[i]);
	free(ids);
}

static int relay_revoked_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Strips surrounding whitespace in place; returns the start. */
static char *relay_strip(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static int relay_revoked_add(char ***ids, size_t *n, size_t *cap, const char *id)
{
	char **grown;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		grown = realloc(*ids, *cap * sizeof(**ids));
		if (!grown)
			return -ENOMEM;
		*ids = grown;
	}
	(*ids)[*n] = strdup(id);
	if (!(*ids)[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

int relay_revoked_load(const char *path, char ***out, size_t *out_n)
{
	char line[256], **ids = NULL, *id;
	size_t n = 0, cap = 0, lineno = 0;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (!f) {
		if (errno != ENOENT)
			return -errno;
		*out = NULL;
		*out_n = 0;
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		id = relay_strip(line);
		if (!*id || *id == '#')
			continue;
		if (!token_id_valid(id)) {
			log_warnx("%s:%zu: \"%s\" is not a token id, ignored", path, lineno, id);
			continue;
		}
		rc = relay_revoked_add(&ids, &n, &cap, id);
		if (rc < 0)
			goto out;
	}
	if (n)
		qsort(ids, n, sizeof(*ids), relay_revoked_cmp);
out:
	fclose(f);
	if (rc < 0) {
		relay_revoked_free(ids, n);
		return rc;
	}
	*out = ids;
	*out_n = n;
	return 0;
}
