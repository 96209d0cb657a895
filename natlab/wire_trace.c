/* SPDX-License-Identifier: MIT */
#include "natlab/log.h"
#include "natlab/wire_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Records held until the loop callback that made them ends (wire_trace_flush). */
#define WIRE_TRACE_BATCH 128

static int trace_fd = -2; /* -2: not looked at yet, -1: off */
static struct wire_trace_rec batch[WIRE_TRACE_BATCH];
static size_t nbatch;

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int trace_open(const char *path)
{
	struct wire_trace_header h = { .magic = WIRE_TRACE_MAGIC };
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	off_t end;

	if (fd < 0)
		return -errno;
	/* The run and the daemon it forks share the file: one header, by whoever comes first. */
	end = lseek(fd, 0, SEEK_END);
	if (end == 0) {
		h.realtime_minus_mono_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
		if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h)) {
			int rc = errno ? -errno : -EIO;

			close(fd);
			return rc;
		}
	}
	return fd;
}

int wire_trace_on(void)
{
	if (trace_fd == -2) {
		const char *path = getenv("NATLAB_WIRE_TRACE");

		trace_fd = -1;
		if (path && *path) {
			trace_fd = trace_open(path);
			if (trace_fd < 0) {
				errno = -trace_fd;
				log_warn("wire trace \"%s\" (NATLAB_WIRE_TRACE): not traced", path);
				trace_fd = -1;
			}
		}
	}
	return trace_fd >= 0;
}

void wire_trace_frame(const struct wire_trace_rec *r, const void *frame, size_t len)
{
	struct wire_trace_rec *b;

	if (!wire_trace_on())
		return;
	if (nbatch == WIRE_TRACE_BATCH)
		wire_trace_flush();
	b = &batch[nbatch++];
	*b = *r;
	memset(b->head, 0, sizeof(b->head));
	memcpy(b->head, frame, len < sizeof(b->head) ? len : sizeof(b->head));
}

void wire_trace_flush(void)
{
	size_t len = nbatch * sizeof(batch[0]);

	if (nbatch == 0 || trace_fd < 0)
		return;
	nbatch = 0;
	/* O_APPEND: the run's records and its daemon's never overwrite each other. */
	if (write(trace_fd, batch, len) != (ssize_t)len)
		log_debug("wire trace: short write");
}
