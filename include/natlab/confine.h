/* SPDX-License-Identifier: MIT */
/*
 * Confinement of the processes a scenario spawns in a lab host (confine.c). They run as
 * root, since lab programs bind ports and use raw sockets, but should not reach outside
 * their lab: with CAP_SYS_ADMIN a lab process could `nsenter --net=/proc/1/ns/net` into
 * the host's namespace, mount, or load modules; with CAP_NET_ADMIN it could rewrite its
 * host's routes and the NAT's rules behind the scenario's back.
 */
#ifndef NATLAB_CONFINE_H
#define NATLAB_CONFINE_H

#include <stddef.h>

/*
 * Called in the child between entering the host's network namespace and exec (unless
 * the scenario asked for a privileged process): gives it a mount namespace of its own
 * (mounts private, so nothing propagates back) with a private empty /run (no /run/netns
 * to enter other namespaces by, no natlab state), drops every capability but
 * CAP_NET_RAW (ping, raw sockets) and CAP_NET_BIND_SERVICE (ports below 1024) from the
 * bounding set and clears the inheritable and ambient sets, so that what it execs as
 * root has those two only. Returns 0, or -errno with a message in err.
 */
int lab_confine(char *err, size_t errlen);

/*
 * Makes path this process's /etc/resolv.conf (a host behind a DNS64 resolver, nat64.h):
 * bind-mounted over it, in a mount namespace of its own: a confined process has one
 * already (own_ns 0); a privileged one gets one here (own_ns 1), its /run still the
 * machine's. Nothing outside the process and its children sees it. 0 or -errno with a
 * message in err.
 */
int lab_confine_resolv(const char *path, int own_ns, char *err, size_t errlen);

#endif
