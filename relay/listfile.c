/* SPDX-License-Identifier: MIT */
/*
 * Reading the relay's small list files (revocation list, issuer keys) from the event
 * loop: only regular files, never more than a bound, and never blocking. A path that
 * names /dev/zero, a FIFO or a directory is an error, not an endless or stuck read.
 */
#include "natlab/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

int relay_listfile_read(const char *path, size_t max, char **out, size_t *out_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc = 0;

	*out = NULL;
	*out_len = 0;
	/* O_NONBLOCK: opening a FIFO without a writer must not stall the loop. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -ENOTSUP;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	buf = malloc(max + 2);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	/* Read one byte past the bound: a file that grew since fstat is refused too. */
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		rc = -EFBIG;
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

const char *relay_listfile_strerror(int rc)
{
	switch (rc) {
	case -EISDIR:
		return "is a directory, expected a file";
	case -ENOTSUP:
		return "not a regular file";
	case -EFBIG:
		return "larger than " RELAY_LISTFILE_MAX_TEXT;
	}
	return uv_strerror(rc);
}

int relay_listfile_each(const char *path, const char *what,
                        int (*line_cb)(void *arg, char *word, size_t lineno, char *why,
                                       size_t whylen),
                        void *arg, char *err, size_t errlen)
{
	char *text = NULL, *line, *next, *word, why[256] = "";
	size_t len, lineno = 0;
	int rc;

	rc = relay_listfile_read(path, RELAY_LISTFILE_MAX, &text, &len);
	if (rc < 0) {
		snprintf(err, errlen, "%s \"%s\": %s", what, path, relay_listfile_strerror(rc));
		return rc;
	}
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s \"%s\": binary data (a NUL byte)", what, path);
		rc = -EINVAL;
		goto out;
	}
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		word = relay_strip(line);
		if (!*word || *word == '#')
			continue;
		rc = line_cb(arg, word, lineno, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "%s \"%s\" line %zu: %s", what, path, lineno,
			         rc == -ENOMEM ? "out of memory" : why);
			goto out;
		}
	}
	rc = 0;
out:
	free(text);
	return rc;
}
