/* SPDX-License-Identifier: MIT */
/*
 * Network namespaces, bind-mounted under /run/netns like `ip netns add` does, so that
 * `ip netns` and other tools see them. A namespace is created without the calling thread
 * staying in it: unshare, bind-mount, then back to the namespace we started in.
 */
#ifndef NATLAB_NETNS_H
#define NATLAB_NETNS_H

#include <stddef.h>

#define LAB_NETNS_DIR "/run/netns"

/* Remembers the caller's namespace as home. Call once before any other function here. */
int lab_netns_init(void);

/*
 * Creates namespace NAME and returns an fd to it in *fd (caller closes). -EEXIST if taken.
 * The mount points of one thread's namespaces share an inode until lab_netns_batch_end().
 */
int lab_netns_create(const char *name, int *fd);
/* Ends the calling thread's batch of lab_netns_create() calls (releases its anchor). */
void lab_netns_batch_end(void);
/* Opens an existing namespace by name; -ENOENT if there is none. */
int lab_netns_open(const char *name, int *fd);
/* Opens the namespace of node in lab ("nl-<lab>.<node>"). */
int lab_node_netns_open(const char *lab, const char *node, int *fd);
/* Moves the calling thread into the namespace behind fd. */
int lab_netns_enter(int fd);
/*
 * Moves the calling thread into the namespace of node in lab; on failure returns -errno
 * and writes a sentence naming the node into err. lab_netns_leave() comes back.
 */
int lab_node_netns_enter(const char *lab, const char *node, char *err, size_t errlen);
/*
 * Moves the calling thread back home. Failing to is fatal (the process exits with a
 * message): nothing may go on in a namespace it did not mean to be in.
 */
void lab_netns_leave(void);
/* Unmounts and removes NAME. Processes still inside keep it alive: kill them first. */
int lab_netns_delete(const char *name);

/*
 * Calls fn for each namespace under /run/netns whose name starts with prefix.
 * Stops and returns fn's value if it is non-zero.
 */
int lab_netns_foreach(const char *prefix, int (*fn)(const char *name, void *arg), void *arg);

/*
 * Kills (SIGKILL, by pid) every process in any namespace whose name starts with prefix
 * (one lab: "nl-<lab>."; one namespace: its full name), with one pass over /proc per
 * round, until none is left or timeout_ms passes. Returns the number of kills sent, or
 * -errno (-ETIMEDOUT if some survived).
 */
int lab_netns_kill_procs(const char *prefix, int timeout_ms);

/* Writes a sysctl under /proc/sys of the caller's current namespace ("net/ipv4/ip_forward"). */
int lab_sysctl_write(const char *key, const char *value);

#endif
