/* SPDX-License-Identifier: MIT */
/*
 * Builds a lab model into namespaces, links, addresses, routes, sysctls and NAT rulesets,
 * and tears a lab down. Interface plan inside each namespace:
 *   host:     lo, eth0 (ifindex 2)
 *   NAT box:  lo, wan (2), bridge lan (3), one port per attached node (ifindex 10 + node)
 *   internet: lo, bridge core (2), one port per attached node (ifindex 10 + node)
 * Ports are named "p-<node>", so they fit IFNAMSIZ for any valid node name.
 */
#ifndef NATLAB_TOPOLOGY_H
#define NATLAB_TOPOLOGY_H

#include "natlab/model.h"

#include <signal.h>
#include <stddef.h>

#define LAB_IF_UPLINK_HOST "eth0"
#define LAB_IF_UPLINK_NAT  "wan"
#define LAB_IF_LAN	   "lan"
#define LAB_IF_CORE	   "core"

/*
 * Builds every node of m. Stops early with -EINTR when *stop becomes non-zero (a
 * signal); stop may be NULL. On error returns -errno and writes what failed into err; whatever was built
 * stays for the caller to tear down with lab_topology_down.
 */
int lab_topology_up(const struct lab_model *m, volatile sig_atomic_t *stop, char *err,
		    size_t errlen);

/*
 * Reloads NAT node i's ruleset (from its knobs, which may have changed) and flushes its
 * conntrack table: every mapping is forgotten, as when a router reboots.
 */
int lab_topology_nat_reload(const struct lab_model *m, int i, char *err, size_t errlen);

/* Takes node i's uplink (eth0 or wan) down or brings it back up with its default route. */
int lab_topology_link_set(const struct lab_model *m, int i, int up, char *err, size_t errlen);

/*
 * Removes everything of lab: processes inside its namespaces, then the namespaces
 * (their links, bridges and rulesets go with them). Safe to call on a half-built or
 * already removed lab. Returns the number of namespaces removed, or -errno.
 */
int lab_topology_down(const char *lab);

#endif
