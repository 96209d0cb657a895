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
#define LAB_IF_LAN         "lan"
#define LAB_IF_CORE        "core"

/* A wire's two TAP fds, for the process that will forward between them. */
struct lab_wire_fds {
	int node;      /* whose uplink it is */
	int fd_parent; /* the TAP on the parent's bridge */
	int fd_child;  /* the node's eth0 or wan */
};

struct lab_wires {
	struct lab_wire_fds *v;
	int n;
};

/* Closes the fds (their TAP devices go with them) and frees the list. */
void lab_wires_close(struct lab_wires *w);

struct wire;
/*
 * Starts a forwarder for each wire in fds on the wires' thread (wire_thread.h), with its
 * node's impairments both ways and a seed derived from the lab's (same seed, same
 * drops); wires[node] gets it. The wires own the fds from here on, and fds is emptied.
 * On error the message is in err and the wires already started stay in wires[] for the
 * caller to free (lab_wires_free).
 */
int lab_wires_start(const struct lab_model *m, struct lab_wires *fds, struct wire **wires,
                    char *err, size_t errlen);
/* New impairments for both directions of w, on the wires' thread. 0 or -errno. */
int lab_wires_set_link(struct wire *w, const struct wire_impairment *imp);
/* Frees wires[0..n) (NULLs skipped, NULLed) and ends the wires' thread. Accepts NULL. */
void lab_wires_free(struct wire **wires, int n);

/*
 * Builds every node of m. Stops early with -EINTR when *stop becomes non-zero (a
 * signal); stop may be NULL. On error returns -errno and writes what failed into err; whatever was
 * built stays for the caller to tear down with lab_topology_down. Nodes with a link table get their
 * uplink as two TAP devices whose fds are added to *wires: the devices live as long as the fds, and
 * nothing crosses until a forwarder (wire.h) joins them.
 */
int lab_topology_up(const struct lab_model *m, volatile sig_atomic_t *stop, struct lab_wires *wires,
                    char *err, size_t errlen);

/*
 * The LAN addresses of the nodes attached to NAT node i, in model order (a CGN's port
 * blocks follow it): *out is malloc'd; returns how many, or -ENOMEM.
 */
int lab_nat_subscribers(const struct lab_model *m, int i, struct in_addr **out);

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
