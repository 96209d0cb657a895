/* SPDX-License-Identifier: MIT */
#include "natlab/confine.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Formats "what: strerror(errno)" into err; returns -errno (taken before formatting). */
static int confine_fail(char *err, size_t errlen, const char *what)
{
	int e = errno;

	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return -e;
}

/* The highest capability the running kernel knows (newer than our headers, maybe). */
static int cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

static int caps_drop(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int last = cap_last();

	for (int c = 0; c <= last; c++) {
		if (c == CAP_NET_RAW || c == CAP_NET_BIND_SERVICE)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return confine_fail(err, errlen, "dropping a capability");
	}
	/* Root's exec gets the bounding set, plus what inheritable and ambient carry. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return confine_fail(err, errlen, "clearing ambient capabilities");
	if (syscall(SYS_capget, &hdr, data) < 0)
		return confine_fail(err, errlen, "capget");
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return confine_fail(err, errlen, "capset");
	return 0;
}

int lab_confine(char *err, size_t errlen)
{
	if (unshare(CLONE_NEWNS) < 0) {
		snprintf(err, errlen, "mount namespace: %s", strerror(errno));
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		snprintf(err, errlen, "making mounts private: %s", strerror(errno));
		return -errno;
	}
	if (mount("natlab-run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m") < 0) {
		snprintf(err, errlen, "a private /run: %s", strerror(errno));
		return -errno;
	}
	return caps_drop(err, errlen);
}

int lab_confine_resolv(const char *path, int own_ns, char *err, size_t errlen)
{
	if (own_ns && unshare(CLONE_NEWNS) < 0)
		return confine_fail(err, errlen, "mount namespace");
	if (own_ns && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return confine_fail(err, errlen, "making mounts private");
	/* A link (to systemd-resolved's file under /run, say) is followed to its target. */
	if (mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0) {
		int e = errno;

		snprintf(err, errlen, "/etc/resolv.conf from %s: %s%s", path, strerror(e),
		         e == ENOENT ? " (is /etc/resolv.conf a link to a file that does not exist "
		                       "here?)"
		                     : "");
		return -e;
	}
	return 0;
}
