/* SPDX-License-Identifier: MIT */
/*
 * The trusted issuer keys: --issuer-key names a file of public keys (one per line, 64
 * hex characters, '#' comments: a keygen FILE.pub is such a file) or a directory whose
 * *.pub files are read that way. Re-read live, so keys are added and revoked without
 * a restart.
 */
#include "natlab/relay.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "natlab/identity.h"

/* More files than this in a key directory is a mistake, not a key set. */
#define RELAY_ISSUERS_MAX_FILES 256

void relay_issuers_clear(struct relay_issuers *is)
{
	free(is->keys);
	memset(is, 0, sizeof(*is));
}

struct relay_issuers_build {
	struct relay_issuers *is;
	size_t cap;
};

static int relay_issuers_line_cb(void *arg, char *word, size_t lineno, char *why, size_t whylen)
{
	struct relay_issuers_build *b = arg;
	uint8_t key[RELAY_KEY_LEN];

	if (identity_pub_parse(key, word) < 0) {
		snprintf(why, whylen,
		         "not a public key (64 hex characters, as natlab-relay keygen writes to "
		         "FILE.pub)");
		return -EINVAL;
	}
	return relay_keys_add(&b->is->keys, &b->is->n, &b->cap, key);
}

static int relay_issuers_load_file(const char *path, struct relay_issuers_build *b, char *err,
                                   size_t errlen)
{
	return relay_listfile_each(path, "issuer key file", relay_issuers_line_cb, b, err, errlen);
}

static int relay_name_is_pub(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 4 && !strcmp(name + n - 4, ".pub");
}

static int relay_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.pub file of dir, in name order so that errors are reported reproducibly. */
static int relay_issuers_load_dir(const char *dir, struct relay_issuers_build *b, char *err,
                                  size_t errlen)
{
	char *names[RELAY_ISSUERS_MAX_FILES], path[4096];
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendir(dir);
	if (!d) {
		rc = -errno;
		snprintf(err, errlen, "issuer key directory \"%s\": %s", dir, uv_strerror(rc));
		return rc;
	}
	while ((de = readdir(d))) {
		if (!relay_name_is_pub(de->d_name))
			continue;
		if (n == RELAY_ISSUERS_MAX_FILES) {
			snprintf(
			    err, errlen,
			    "issuer key directory \"%s\": more than %d .pub files; put several "
			    "keys in one file instead",
			    dir, RELAY_ISSUERS_MAX_FILES);
			rc = -E2BIG;
			goto out;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			snprintf(err, errlen, "issuer key directory \"%s\": out of memory", dir);
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), relay_name_cmp);
	for (i = 0; i < n && rc == 0; i++) {
		int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);

		if (len < 0 || (size_t)len >= sizeof(path)) {
			snprintf(err, errlen, "issuer key directory \"%s\": path too long", dir);
			rc = -ENAMETOOLONG;
			break;
		}
		rc = relay_issuers_load_file(path, b, err, errlen);
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	closedir(d);
	return rc;
}

int relay_issuers_load(const char *path, struct relay_issuers *out, char *err, size_t errlen)
{
	struct relay_issuers is = { 0 };
	struct relay_issuers_build b = { .is = &is };
	struct stat st;
	int rc;

	if (stat(path, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "issuer keys \"%s\": %s", path, uv_strerror(rc));
		return rc;
	}
	if (S_ISDIR(st.st_mode))
		rc = relay_issuers_load_dir(path, &b, err, errlen);
	else
		rc = relay_issuers_load_file(path, &b, err, errlen);
	if (rc < 0) {
		relay_issuers_clear(&is);
		return rc;
	}
	relay_keys_sort(is.keys, is.n);
	*out = is;
	return 0;
}

int relay_issuers_has(const struct relay_issuers *is, const uint8_t key[RELAY_KEY_LEN])
{
	return relay_keys_find((const uint8_t(*)[RELAY_KEY_LEN])is->keys, is->n, key);
}
