/* SPDX-License-Identifier: MIT */
#include "natlab/fd_limit.h"
#include "natlab/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

/* Descriptors open now (those under /proc/self/fd, less the one reading it). */
static size_t fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n ? n - 1 : 0;
}

int lab_fd_limit_raise(size_t want, struct rlimit *old)
{
	struct rlimit r;
	rlim_t need;

	if (getrlimit(RLIMIT_NOFILE, old) < 0)
		return 0;
	/* Room for what the build opens besides: libnftables, sysctls, /proc. */
	need = (rlim_t)(fds_open() + want + 64);
	if (old->rlim_cur == RLIM_INFINITY || old->rlim_cur >= need)
		return 0;
	r = *old;
	r.rlim_cur = old->rlim_max == RLIM_INFINITY || old->rlim_max > need ? need : old->rlim_max;
	if (r.rlim_cur <= old->rlim_cur || setrlimit(RLIMIT_NOFILE, &r) < 0) {
		log_debug("open files: %llu wanted, limit %llu (hard %llu)",
		          (unsigned long long)need, (unsigned long long)old->rlim_cur,
		          (unsigned long long)old->rlim_max);
		return 0;
	}
	return 1;
}

void lab_fd_limit_restore(const struct rlimit *old)
{
	if (setrlimit(RLIMIT_NOFILE, old) < 0)
		log_debug("open files: restoring the limit: %s", strerror(errno));
}

int lab_fd_high(int fd)
{
	struct rlimit r;
	int hi;

	if (fd < 0 || fd >= FD_SETSIZE)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, FD_SETSIZE);
	/* EINVAL: the soft limit is at or below FD_SETSIZE; EMFILE: everything above is taken. */
	if (hi < 0 && (errno == EINVAL || errno == EMFILE) && getrlimit(RLIMIT_NOFILE, &r) == 0 &&
	    r.rlim_cur != RLIM_INFINITY &&
	    (r.rlim_max == RLIM_INFINITY || r.rlim_cur < r.rlim_max)) {
		rlim_t want = r.rlim_cur < FD_SETSIZE ? 2 * FD_SETSIZE : 2 * r.rlim_cur;

		r.rlim_cur = r.rlim_max != RLIM_INFINITY && r.rlim_max < want ? r.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &r) == 0)
			hi = fcntl(fd, F_DUPFD_CLOEXEC, FD_SETSIZE);
	}
	if (hi < 0)
		return fd;
	close(fd);
	return hi;
}
