/* SPDX-License-Identifier: MIT */
/*
 * A batch of namespaces made by one thread (issue 18 point 2): their mount points under
 * /run/netns are hard links to one inode and their sysctls are written through a procfs
 * instance of the thread's own. Each name must still be its own namespace, for us and
 * for `ip netns`, each sysctl must land in the namespace the thread is in, and removing
 * one namespace must leave the others mounted.
 */
#include "natlab/netns.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NNS 3

/* The value of sysctl key as the shared /proc shows it in the current namespace. */
static int sysctl_read(const char *key)
{
	char path[128];
	char *text;
	int v;

	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	text = tap_slurp(path);
	v = text && *text ? atoi(text) : -1;
	free(text);
	return v;
}

/* What `ip netns exec NS cat /proc/sys/net/ipv4/ip_forward` prints, -1 if it fails. */
static int ip_netns_forward(const char *ns)
{
	char cmd[256], out[16] = "";
	FILE *p;
	int v = -1;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s cat /proc/sys/net/ipv4/ip_forward 2>&1", ns);
	p = popen(cmd, "r");
	if (p && fgets(out, sizeof(out), p))
		v = atoi(out);
	if (p)
		pclose(p);
	return v;
}

int main(void)
{
	char name[NNS][64], path[256];
	int fd[NNS], rc[NNS];
	struct stat st[NNS], ps;

	tap_require_root();
	if (lab_netns_init() < 0)
		tap_skip_all("cannot open our own network namespace");
	for (int i = 0; i < NNS; i++) {
		snprintf(name[i], sizeof(name[i]), "nl-tnb%d.n%d", (int)getpid(), i);
		rc[i] = lab_netns_create(name[i], &fd[i]);
		is_int(rc[i], 0, "namespace created");
	}
	for (int i = 0; i < NNS; i++)
		if (rc[i] < 0)
			goto out;
	is_int(lab_netns_create(name[1], &(int){ -1 }), -EEXIST, "a taken name is refused");
	for (int i = 0; i < NNS; i++) {
		fstat(fd[i], &st[i]);
		snprintf(path, sizeof(path), LAB_NETNS_DIR "/%s", name[i]);
		ok(stat(path, &ps) == 0 && ps.st_ino == st[i].st_ino && ps.st_dev == st[i].st_dev,
		   "%s: its path shows its own namespace", name[i]);
	}
	ok(st[0].st_ino != st[1].st_ino && st[1].st_ino != st[2].st_ino &&
	       st[0].st_ino != st[2].st_ino,
	   "three namespaces, not one");
	/* Written through the thread's procfs instance, in turn: each keeps its own value. */
	for (int i = 0; i < NNS; i++) {
		lab_netns_enter(fd[i]);
		is_int(lab_sysctl_write("net/ipv4/ip_forward", i == 1 ? "1" : "0"), 0,
		       "ip_forward written");
		lab_netns_leave();
	}
	for (int i = 0; i < NNS; i++) {
		lab_netns_enter(fd[i]);
		is_int(sysctl_read("net/ipv4/ip_forward"), i == 1,
		       "each namespace has its own value");
		lab_netns_leave();
	}
	is_int(ip_netns_forward(name[1]), 1, "ip netns exec enters the second namespace");
	is_int(ip_netns_forward(name[2]), 0, "and the third");
	is_int(lab_netns_delete(name[0]), 0, "the first (the batch's anchor) is removed");
	snprintf(path, sizeof(path), LAB_NETNS_DIR "/%s", name[1]);
	ok(stat(path, &ps) == 0 && ps.st_ino == st[1].st_ino,
	   "the others are still mounted where they were");
	is_int(ip_netns_forward(name[1]), 1, "and ip netns exec still enters them");
out:
	lab_netns_batch_end();
	for (int i = 0; i < NNS; i++) {
		if (rc[i] == 0)
			close(fd[i]);
		lab_netns_delete(name[i]);
	}
	for (int i = 0; i < NNS; i++) {
		snprintf(path, sizeof(path), LAB_NETNS_DIR "/%s", name[i]);
		ok(access(path, F_OK) < 0, "%s removed", name[i]);
	}
	return tap_done();
}
