/* SPDX-License-Identifier: MIT */
/*
 * The revocation list: a text file of token ids, one per line, and issuer keys as
 * "key:" followed by 64 hex characters; blank lines and lines starting with '#' are
 * ignored. Both kept sorted for bsearch.
 */
#include "natlab/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/log.h"
#include "natlab/token.h"

#define RELAY_REVOKED_KEY_PREFIX "key:"

void relay_revoked_clear(struct relay_revoked *r)
{
	size_t i;

	for (i = 0; r->ids && i < r->n_ids; i++)
		free(r->ids[i]);
	free(r->ids);
	free(r->keys);
	memset(r, 0, sizeof(*r));
}

static int relay_revoked_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int relay_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, RELAY_KEY_LEN);
}

/* Strips surrounding whitespace in place; returns the start. */
char *relay_strip(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static int relay_revoked_add_id(struct relay_revoked *r, size_t *cap, const char *id)
{
	char **grown;

	if (r->n_ids == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		grown = realloc(r->ids, *cap * sizeof(*r->ids));
		if (!grown)
			return -ENOMEM;
		r->ids = grown;
	}
	r->ids[r->n_ids] = strdup(id);
	if (!r->ids[r->n_ids])
		return -ENOMEM;
	r->n_ids++;
	return 0;
}

int relay_keys_add(uint8_t (**keys)[RELAY_KEY_LEN], size_t *n, size_t *cap,
                   const uint8_t key[RELAY_KEY_LEN])
{
	uint8_t(*grown)[RELAY_KEY_LEN];

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		grown = realloc(*keys, *cap * sizeof(**keys));
		if (!grown)
			return -ENOMEM;
		*keys = grown;
	}
	memcpy((*keys)[*n], key, RELAY_KEY_LEN);
	(*n)++;
	return 0;
}

void relay_keys_sort(uint8_t (*keys)[RELAY_KEY_LEN], size_t n)
{
	if (n)
		qsort(keys, n, RELAY_KEY_LEN, relay_key_cmp);
}

int relay_keys_find(const uint8_t (*keys)[RELAY_KEY_LEN], size_t n,
                    const uint8_t key[RELAY_KEY_LEN])
{
	return n && bsearch(key, keys, n, RELAY_KEY_LEN, relay_key_cmp) != NULL;
}

struct relay_revoked_build {
	struct relay_revoked r;
	size_t cap, kcap;
	const char *path;
};

static int relay_revoked_line_cb(void *arg, char *word, size_t lineno, char *why, size_t whylen)
{
	struct relay_revoked_build *b = arg;
	size_t plen = strlen(RELAY_REVOKED_KEY_PREFIX);
	uint8_t key[RELAY_KEY_LEN];

	if (!strncmp(word, RELAY_REVOKED_KEY_PREFIX, plen)) {
		/* A key revocation that does not parse must not pass as nothing. */
		if (identity_pub_parse(key, word + plen) < 0) {
			snprintf(why, whylen,
			         "\"key:\" must be followed by 64 hex characters (an issuer's "
			         "FILE.pub)");
			return -EINVAL;
		}
		return relay_keys_add(&b->r.keys, &b->r.n_keys, &b->kcap, key);
	}
	if (!token_id_valid(word)) {
		log_warnx("%s:%zu: \"%.80s\" is not a token id, ignored", b->path, lineno, word);
		return 0;
	}
	return relay_revoked_add_id(&b->r, &b->cap, word);
}

int relay_revoked_load(const char *path, struct relay_revoked *out, char *err, size_t errlen)
{
	struct relay_revoked_build b = { .path = path };
	int rc;

	rc = relay_listfile_each(path, "revocation file", relay_revoked_line_cb, &b, err, errlen);
	if (rc < 0) {
		relay_revoked_clear(&b.r);
		return rc;
	}
	if (b.r.n_ids)
		qsort(b.r.ids, b.r.n_ids, sizeof(*b.r.ids), relay_revoked_cmp);
	relay_keys_sort(b.r.keys, b.r.n_keys);
	*out = b.r;
	return 0;
}

int relay_revoked_has_id(const struct relay_revoked *r, const char *token_id)
{
	if (!token_id[0] || !r->n_ids)
		return 0;
	return bsearch(&token_id, r->ids, r->n_ids, sizeof(*r->ids), relay_revoked_cmp) != NULL;
}
