/* SPDX-License-Identifier: MIT */
#include "natlab/netns.h"
#include "natlab/log.h"
#include "natlab/model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int home_fd = -1;

/*
 * The directories under /proc/sys/net (ipv4, ipv6, netfilter, ...) of the namespace this
 * thread is in, each opened by the first sysctl written there and closed when the thread
 * changes namespace. Every namespace has its own dentry for each of them, all with one
 * parent and one name: each lookup walks one hash chain as long as the machine has
 * namespaces (proc_sys_compare took a fifth of a 250-NAT build's CPU). Writing relative
 * to these fds looks each of them up once per namespace instead of once per sysctl.
 * They are looked up in a procfs instance of this thread's own (sysctl_proc), made for
 * the namespace and dropped with it: its /proc/sys/net has a dentry of its own, so the
 * chain holds this namespace's entries only, not one per namespace on the machine (the
 * first lookup of each directory still took 2.2 s of a 250-NAT build on a loaded machine).
 */
#define SYSCTL_DIRS 4
static _Thread_local struct {
	char name[16];
	int fd;
} sysctl_dir[SYSCTL_DIRS];
static _Thread_local int sysctl_dirs;
static _Thread_local int sysctl_proc = -1;

static void sysctl_dirs_forget(void)
{
	for (int i = 0; i < sysctl_dirs; i++)
		close(sysctl_dir[i].fd);
	sysctl_dirs = 0;
	if (sysctl_proc >= 0)
		close(sysctl_proc);
	sysctl_proc = -1;
}

/*
 * Opens /proc/sys/net/<dir> (dir: "net/<dir>") in a new, detached procfs instance, which
 * shows the sysctls of the namespace of the thread that looks them up, as /proc does;
 * the shared /proc where that fails (no fsopen, or no right to mount procfs).
 */
static int sysctl_dir_open(const char *dir)
{
	char path[64];
	int n, fs;

	if (sysctl_proc < 0 && (fs = fsopen("proc", FSOPEN_CLOEXEC)) >= 0) {
		if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
			sysctl_proc =
			    fsmount(fs, FSMOUNT_CLOEXEC,
			            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
		close(fs);
	}
	if (sysctl_proc >= 0) {
		n = snprintf(path, sizeof(path), "sys/%s", dir);
		if (n > 0 && (size_t)n < sizeof(path))
			return openat(sysctl_proc, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	n = snprintf(path, sizeof(path), "/proc/sys/%s", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Opens /proc/sys/<key> (path) for writing, relative to the cached directory of its net/<dir>. */
static int sysctl_open(const char *key, const char *path)
{
	const char *rest = strncmp(key, "net/", 4) == 0 ? strchr(key + 4, '/') : NULL;
	size_t len = rest ? (size_t)(rest - key) : 0;
	int i;

	if (!rest || len >= sizeof(sysctl_dir[0].name))
		return open(path, O_WRONLY | O_CLOEXEC);
	for (i = 0; i < sysctl_dirs; i++)
		if (strncmp(sysctl_dir[i].name, key, len) == 0 && !sysctl_dir[i].name[len])
			return openat(sysctl_dir[i].fd, rest + 1, O_WRONLY | O_CLOEXEC);
	if (sysctl_dirs == SYSCTL_DIRS)
		return open(path, O_WRONLY | O_CLOEXEC);
	memcpy(sysctl_dir[i].name, key, len);
	sysctl_dir[i].name[len] = '\0';
	sysctl_dir[i].fd = sysctl_dir_open(sysctl_dir[i].name);
	if (sysctl_dir[i].fd < 0) /* a module not loaded: ENOENT for this key, as before */
		return open(path, O_WRONLY | O_CLOEXEC);
	sysctl_dirs++;
	return openat(sysctl_dir[i].fd, rest + 1, O_WRONLY | O_CLOEXEC);
}

int lab_netns_init(void)
{
	if (home_fd >= 0)
		return 0;
	home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	return home_fd < 0 ? -errno : 0;
}

static int netns_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, LAB_NETNS_DIR "/%s", name);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/*
 * /run/netns must be a shared mount point so that the bind mounts made here show up in
 * every mount namespace, as iproute2 arranges it.
 */
static int netns_dir_prepare(void)
{
	static int ready;

	if (ready)
		return 0;
	if (mkdir(LAB_NETNS_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mount("", LAB_NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
		if (errno != EINVAL)
			return -errno;
		if (mount(LAB_NETNS_DIR, LAB_NETNS_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		if (mount("", LAB_NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
			return -errno;
	}
	ready = 1;
	return 0;
}

/*
 * A mount point made by this thread's batch of namespaces (lab_netns_batch_end closes
 * it): the others are hard links to it. Each name still has its own dentry, which is
 * what a bind mount covers, but no inode of its own: on ext4 (/run/netns is on the root
 * filesystem here) allocating an inode scans for recently deleted ones, and a lab's
 * teardown had just deleted a thousand (a quarter of a 250-NAT build's CPU went there).
 */
static _Thread_local int mount_anchor = -1;

void lab_netns_batch_end(void)
{
	if (mount_anchor >= 0)
		close(mount_anchor);
	mount_anchor = -1;
}

/* Creates the empty file path, the mount point of a namespace; -EEXIST if it exists. */
static int mount_point_make(const char *path)
{
	char anchor[64];
	int fd;

	if (mount_anchor >= 0 && snprintf(anchor, sizeof(anchor), "/proc/self/fd/%d",
	                                  mount_anchor) < (int)sizeof(anchor)) {
		if (linkat(AT_FDCWD, anchor, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno == EEXIST)
			return -EEXIST;
		/* Anything else (the anchor gone, links refused): a file of its own. */
	}
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (mount_anchor < 0)
		mount_anchor = fd;
	else
		close(fd);
	return 0;
}

int lab_netns_create(const char *name, int *fd)
{
	char path[256];
	int rc;

	*fd = -1;
	rc = netns_path(name, path, sizeof(path));
	if (rc < 0)
		return rc;
	rc = netns_dir_prepare();
	if (rc < 0)
		return rc;
	rc = mount_point_make(path);
	if (rc < 0)
		return rc;
	sysctl_dirs_forget();
	if (unshare(CLONE_NEWNET) < 0) {
		rc = -errno;
		unlink(path);
		return rc;
	}
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0) {
		rc = -errno;
		lab_netns_leave();
		unlink(path);
		return rc;
	}
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	rc = *fd < 0 ? -errno : 0;
	lab_netns_leave();
	return rc;
}

int lab_netns_open(const char *name, int *fd)
{
	char path[256];
	int rc = netns_path(name, path, sizeof(path));

	if (rc < 0)
		return rc;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

int lab_node_netns_open(const char *lab, const char *node, int *fd)
{
	char ns[128];
	int rc = lab_netns_name(lab, node, ns, sizeof(ns));

	*fd = -1;
	return rc < 0 ? rc : lab_netns_open(ns, fd);
}

int lab_netns_enter(int fd)
{
	sysctl_dirs_forget();
	return setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

int lab_node_netns_enter(const char *lab, const char *node, char *err, size_t errlen)
{
	int fd, rc;

	rc = lab_node_netns_open(lab, node, &fd);
	if (rc < 0) {
		snprintf(err, errlen, "namespace of \"%s\": %s", node, strerror(-rc));
		return rc;
	}
	rc = lab_netns_enter(fd);
	close(fd);
	if (rc < 0)
		snprintf(err, errlen, "setns into \"%s\": %s", node, strerror(-rc));
	return rc;
}

void lab_netns_leave(void)
{
	/*
	 * A thread stuck in a lab namespace would build the next lab's links, rules and
	 * sockets in the wrong place, or the root namespace's in a lab: never go on.
	 */
	sysctl_dirs_forget();
	if (home_fd < 0)
		log_fatalx("cannot return to the home network namespace: lab_netns_init() was "
		           "not called (a natlab bug); `natlab down` removes what was built");
	if (setns(home_fd, CLONE_NEWNET) < 0)
		log_fatal("cannot return to the home network namespace; `natlab down` removes "
		          "what was built");
}

int lab_netns_delete(const char *name)
{
	char path[256];
	int rc = netns_path(name, path, sizeof(path));

	if (rc < 0)
		return rc;
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int lab_netns_foreach(const char *prefix, int (*fn)(const char *name, void *arg), void *arg)
{
	DIR *d = opendir(LAB_NETNS_DIR);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (rc == 0 && (e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			rc = fn(e->d_name, arg);
	}
	closedir(d);
	return rc;
}

struct ns_set {
	struct stat *st;
	size_t n, cap;
};

static int ns_set_add_cb(const char *name, void *arg)
{
	struct ns_set *set = arg;
	char path[256];

	if (netns_path(name, path, sizeof(path)) < 0)
		return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		struct stat *st = realloc(set->st, cap * sizeof(*st));

		if (!st)
			return -ENOMEM;
		set->st = st;
		set->cap = cap;
	}
	if (stat(path, &set->st[set->n]) == 0)
		set->n++;
	return 0;
}

static int ns_set_has(const struct ns_set *set, const struct stat *st)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->st[i].st_dev == st->st_dev && set->st[i].st_ino == st->st_ino)
			return 1;
	return 0;
}

/* One pass over /proc: SIGKILL to each process in one of the namespaces; returns how many. */
static int kill_pass(const struct ns_set *set)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t self = getpid();
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[64];
		struct stat st;
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		if (stat(path, &st) < 0 || !ns_set_has(set, &st))
			continue;
		if (kill((pid_t)pid, SIGKILL) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int lab_netns_kill_procs(const char *prefix, int timeout_ms)
{
	struct ns_set set = { 0 };
	int rc, total = 0;

	rc = lab_netns_foreach(prefix, ns_set_add_cb, &set);
	for (int waited = 0; rc == 0 && set.n; waited += 10) {
		rc = kill_pass(&set);
		if (rc <= 0)
			break;
		total += rc;
		rc = 0;
		if (waited >= timeout_ms) {
			rc = -ETIMEDOUT;
			break;
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	free(set.st);
	return rc < 0 ? rc : total;
}

int lab_sysctl_write(const char *key, const char *value)
{
	char path[256];
	size_t len = strlen(value);
	int fd, n, rc = 0;

	n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = sysctl_open(key, path);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		rc = -errno;
	close(fd);
	return rc;
}
