/* SPDX-License-Identifier: MIT */
/*
 * Out dirs and the files in them: report.json, junit.xml, report.html, logs, pcaps, a
 * matrix cell's run.tap and run.log (outdir.c). natlab runs as root, and an out dir
 * can be a path a user without privileges chose or prepared: a link planted where a
 * report goes would make root truncate or append to the file it points at. So an out
 * dir is one natlab created or one owned by the user running natlab and writable by
 * nobody else, under parents nobody else can rename entries in, and every file in it
 * is opened without following a link and checked to be a plain file of ours with one
 * name before it is truncated or written.
 */
#ifndef NATLAB_OUTDIR_H
#define NATLAB_OUTDIR_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/*
 * mkdir -p path (mode 0755), then checks the result: path must be a directory (not a
 * symbolic link) owned by the effective user and not writable by group or others, and
 * each parent must be a directory that is not writable by group or others unless
 * sticky (as /tmp is). Returns 0, or -errno with a message naming the directory and
 * what to do in err: -ENOTDIR, -ELOOP (a symbolic link), -EPERM (owned by another
 * user, or writable by others), or mkdir's error.
 */
int outdir_make(const char *path, char *err, size_t errlen);

/*
 * Opens a file in an out dir: open(2) flags (O_WRONLY, O_CREAT, O_TRUNC, O_APPEND)
 * with O_NOFOLLOW, O_NONBLOCK while opening (a planted FIFO cannot block us) and
 * O_CLOEXEC added; truncates only after the checks. Returns the fd, or -ELOOP (a
 * symbolic link), -EINVAL (not a regular file), -EMLINK (a file with other names: a
 * planted hard link), -EPERM (owned by another user), or open's -errno.
 */
int outdir_open(const char *path, int flags, int mode);

/* Writes j as indented JSON to path through outdir_fopen(). Returns 0 or -errno. */
int outdir_write_json(const json_t *j, const char *path);

/* outdir_open() as a stdio stream: mode "w" (create, truncate) or "a" (create, append).
 * Returns NULL with errno set. */
FILE *outdir_fopen(const char *path, const char *mode);

#endif
