/* SPDX-License-Identifier: MIT */
/*
 * Port mapping on NAT boxes (knobs upnp, natpmp, pcp, portmap_lease): the field's own
 * gateway daemon, miniupnpd (Debian's miniupnpd-nftables), runs inside the box with the
 * scenario and writes its mappings into the box's table natlab_portmap (nat.h).
 */
#ifndef NATLAB_PORTMAP_H
#define NATLAB_PORTMAP_H

#include "natlab/nat.h"

#include <stdint.h>

/* The UPnP-IGD description and control URLs live on this TCP port of the box's LAN side. */
#define PORTMAP_HTTP_PORT 5000

/*
 * Renders miniupnpd's configuration for one box (name: the node's, for messages; seed
 * makes its UPnP uuid; minissdpd: where it looks for a minissdpd socket, in the run's
 * own directory, since its default is the host's /var/run). *out is malloc'd; 0 or -errno.
 */
int portmap_conf_render(const struct nat_knobs *k, const struct nat_box_addrs *a, const char *name,
                        uint64_t seed, const char *minissdpd, char **out);

/*
 * Whether miniupnpd takes addr for a private or reserved one (it then refuses to map
 * anything, as behind a CGN): natlab's default internet, 198.18.0.0/15, is one.
 */
int portmap_addr_reserved(struct in_addr addr);

struct lua_State;
struct scenario;

/*
 * After lab:up() under `natlab run`: starts the gateway of every NAT box whose knobs ask
 * for one and waits until it listens. Raises a Lua error naming the box on failure.
 */
void portmap_start_all(struct lua_State *L, struct scenario *s);

/*
 * nat:flush() on a box with a gateway: the daemon restarts with no mapping, as after a
 * reboot (NAT-PMP and PCP clients see its epoch start again). Raises on failure.
 */
void portmap_restart(struct lua_State *L, struct scenario *s, int node);

#endif
