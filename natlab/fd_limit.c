/* SPDX-License-Identifier: MIT */
#include "natlab/fd_limit.h"
#include "natlab/log.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

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
