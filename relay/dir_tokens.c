/* SPDX-License-Identifier: MIT */
/*
 * Enrollment tokens of the relay directory: random, one use, with an expiry. Kept in the
 * directory's state directory as text, so `natlab-relay directory-token` can issue one
 * while the directory runs: DIR/tokens holds "TOKEN EXPIRY" lines (unix seconds), and a
 * used token moves to DIR/tokens.used so a second use is told apart from a typo. Both
 * sides lock DIR/tokens (flock) while reading and rewriting it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>

#include <sodium.h>

#include "natlab/directory.h"

#define TOKEN_BYTES 24 /* 32 characters of base64url */

static int path_in(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int token_chars_ok(const char *t)
{
	size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

	return n > 0 && n <= DIR_TOKEN_MAX && t[n] == '\0';
}

int dir_token_issue(const char *dir, uint32_t ttl, char *out)
{
	uint8_t raw[TOKEN_BYTES];
	char path[4096], line[DIR_TOKEN_MAX + 32];
	int fd, n, rc = 0;

	rc = path_in(path, sizeof(path), dir, "tokens");
	if (rc < 0)
		return rc;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, DIR_TOKEN_MAX + 1, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = snprintf(line, sizeof(line), "%s %llu\n", out, (unsigned long long)time(NULL) + ttl);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EOVERFLOW;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0 || write(fd, line, (size_t)n) != n)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}

/* Whether token is a line of DIR/tokens.used. */
static int token_was_used(const char *dir, const char *token)
{
	char path[4096], line[256];
	FILE *f;
	int used = 0;

	if (path_in(path, sizeof(path), dir, "tokens.used") < 0 || !(f = fopen(path, "re")))
		return 0;
	while (!used && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		used = strcmp(line, token) == 0;
	}
	fclose(f);
	return used;
}

static int append_used(const char *dir, const char *token)
{
	char path[4096];
	FILE *f;
	int rc;

	rc = path_in(path, sizeof(path), dir, "tokens.used");
	if (rc < 0)
		return rc;
	f = fopen(path, "ae");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", token);
	return fclose(f) == 0 ? 0 : -errno;
}

int dir_token_consume(const char *dir, const char *token, uint64_t now)
{
	char path[4096], line[256], tok[DIR_TOKEN_MAX + 2];
	unsigned long long expiry, found_expiry = 0;
	char *keep = NULL;
	size_t keep_len = 0;
	FILE *f = NULL, *mem = NULL;
	int fd = -1, found = 0, rc;

	if (!token_chars_ok(token))
		return -EINVAL;
	rc = path_in(path, sizeof(path), dir, "tokens");
	if (rc < 0)
		return rc;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? (token_was_used(dir, token) ? -EALREADY : -ENOENT) : -errno;
		goto out;
	}
	if (flock(fd, LOCK_EX) < 0 || !(f = fdopen(dup(fd), "r")) ||
	    !(mem = open_memstream(&keep, &keep_len))) {
		rc = -errno;
		goto out;
	}
	/* Every line but this token's is kept; a malformed line is kept as it is. */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%65s %llu", tok, &expiry) == 2 && strcmp(tok, token) == 0) {
			found = 1;
			found_expiry = expiry;
			continue;
		}
		fputs(line, mem);
	}
	fclose(mem);
	mem = NULL;
	if (!found) {
		rc = token_was_used(dir, token) ? -EALREADY : -ENOENT;
		goto out;
	}
	if (now >= found_expiry) {
		rc = -ETIME; /* left in the file: it keeps saying "expired" */
		goto out;
	}
	rc = append_used(dir, token);
	if (rc == 0 && (ftruncate(fd, 0) < 0 || pwrite(fd, keep, keep_len, 0) != (ssize_t)keep_len))
		rc = -errno;
out:
	if (mem)
		fclose(mem);
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd); /* drops the lock */
	free(keep);
	return rc;
}
