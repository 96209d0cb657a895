/* SPDX-License-Identifier: MIT */
#include "natlab/outdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p: creates path and its missing parents (mode 0755). */
static int outdir_mkdir_p(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	int n = snprintf(buf, sizeof(buf), "%s", path);

	if (n < 0 || (size_t)n >= sizeof(buf)) {
		snprintf(err, errlen, "out dir %.64s...: path too long", path);
		return -ENAMETOOLONG;
	}
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
			n = -errno;
			snprintf(err, errlen, "out dir %s: mkdir %s: %s", path, buf, strerror(-n));
			return n;
		}
		if (!c)
			return 0;
		*p = c;
	}
}

/* The parents of the directory real (a resolved path): none may let others swap it. */
static int outdir_check_parents(const char *path, const char *real, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(buf, sizeof(buf), "%s", real); /* fits: realpath's result */
	while ((slash = strrchr(buf, '/')) != NULL) {
		slash[slash == buf ? 1 : 0] = '\0';
		if (stat(buf, &st) < 0) {
			int rc = -errno;

			snprintf(err, errlen, "out dir %s: parent %s: %s", path, buf,
			         strerror(-rc));
			return rc;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
			snprintf(err, errlen,
			         "out dir %s: its parent %s is writable by others (mode %04o), who "
			         "could put a link in its place: use a directory under a parent "
			         "only its owner can write, or a sticky one like /tmp",
			         path, buf, (unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		if (slash == buf)
			break;
	}
	return 0;
}

int outdir_make(const char *path, char *err, size_t errlen)
{
	char real[PATH_MAX];
	struct stat st;
	int fd, rc;

	rc = outdir_mkdir_p(path, err, errlen);
	if (rc < 0)
		return rc;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			rc = -ELOOP;
		if (rc == -ELOOP)
			snprintf(err, errlen,
			         "out dir %s is a symbolic link: give the directory it points at, "
			         "or a new one",
			         path);
		else
			snprintf(err, errlen, "out dir %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "out dir %s: %s", path, strerror(-rc));
		return rc;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen,
		         "out dir %s belongs to uid %u, not to the user running natlab (uid %u): "
		         "give a new directory (natlab creates it) or one of your own",
		         path, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
		         "out dir %s is writable by group or others (mode %04o), who could plant "
		         "links in it: chmod go-w it, or give a new directory",
		         path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (!realpath(path, real)) {
		rc = -errno;
		snprintf(err, errlen, "out dir %s: %s", path, strerror(-rc));
		return rc;
	}
	return outdir_check_parents(path, real, err, errlen);
}

int outdir_open(const char *path, int flags, int mode)
{
	struct stat st;
	int fd, rc = 0;

	fd = open(path, (flags & ~O_TRUNC) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == ENXIO ? -EINVAL : -errno; /* ENXIO: a FIFO with no reader */
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL;
	else if (st.st_nlink != 1)
		rc = -EMLINK;
	else if (st.st_uid != geteuid())
		rc = -EPERM;
	else if ((flags & O_TRUNC) && ftruncate(fd, 0) < 0)
		rc = -errno;
	else if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

FILE *outdir_fopen(const char *path, const char *mode)
{
	int append = strcmp(mode, "a") == 0;
	int fd = outdir_open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, append ? "a" : "w");
	if (!f) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return f;
}

int outdir_write_json(const json_t *j, const char *path)
{
	FILE *f = outdir_fopen(path, "w");
	int rc;

	if (!f)
		return -errno;
	rc = json_dumpf(j, f, JSON_INDENT(2)) < 0 || ferror(f) ? -EIO : 0;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}
