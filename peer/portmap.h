/* SPDX-License-Identifier: MIT */
/*
 * Port mapping: the peer asks its gateway to forward a public port to its UDP socket,
 * by NAT-PMP, PCP or UPnP-IGD (portmap.c decides and speaks NAT-PMP and PCP on its own
 * socket; portmap_upnp.c wraps miniupnpc, whose calls block, in libuv's thread pool).
 * The mapped address is a candidate of kind "mapped" (PEER_CAND_MAPPED); events in
 * docs/events.md, "Port mapping".
 */
#ifndef NATLAB_PEER_PORTMAP_H
#define NATLAB_PEER_PORTMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include <uv.h>

struct peer;
struct peer_portmap;

#define PEER_PORTMAP_LEASE_S 7200 /* asked for, as Tailscale and RFC 6886 do */

/*
 * Starts asking the gateway (the default route's) once the UDP socket is bound, in
 * parallel with STUN. 0, or -ENOMEM; everything else (no gateway, nothing answers) is an
 * event, never an error of the run.
 */
int peer_portmap_start(struct peer *p);
/* Whether our candidates wait for it: while NAT-PMP/PCP is being probed (at most
 * PEER_PORTMAP_PROBE_MS, less when the gateway answers with ICMP) or a gateway that
 * answered is being asked for the mapping. UPnP is never waited for. */
bool peer_portmap_gathering(const struct peer *p);
/* STUN found our reflexive address, or gave up (p->stun_ended): a PCP request waiting
 * for the port to suggest goes out. */
void peer_portmap_on_stun(struct peer *p);
/* The direct path died: is our mapping still there? (a router reboot forgets it) */
void peer_portmap_on_path_lost(struct peer *p);
/* The peer stops: the mapping is deleted (best effort; UPnP's delete runs on while the
 * loop ends). */
void peer_portmap_stop(struct peer *p);
/* After the loop ended. */
void peer_portmap_free(struct peer *p);

/* --- portmap_upnp.c: UPnP-IGD through miniupnpc, off the loop --- */
struct peer_upnp;

enum peer_upnp_op {
	PEER_UPNP_DISCOVER, /* SSDP, then the IGD's description: is there one? */
	PEER_UPNP_MAP,      /* AddPortMapping (after DISCOVER found one) */
	PEER_UPNP_CHECK,    /* GetSpecificPortMappingEntry; AddPortMapping again if missing */
	PEER_UPNP_DELETE,   /* DeletePortMapping */
};

struct peer_upnp_result {
	enum peer_upnp_op op;
	int ok;      /* DISCOVER: an IGD found; MAP, CHECK: mapped; DELETE: deleted */
	int missing; /* CHECK: the gateway had forgotten it (mapped again if ok) */
	struct sockaddr_in external;
	char why[160]; /* when not ok */
};

typedef void (*peer_upnp_cb)(struct peer_portmap *pm, const struct peer_upnp_result *r);

/* A UPnP client for the gateway gw (only an IGD there is used), mapping UDP
 * self:internal_port for lifetime seconds. NULL on allocation failure. */
struct peer_upnp *peer_upnp_new(uv_loop_t *loop, struct in_addr gw, struct in_addr self,
                                uint16_t internal_port, uint32_t lifetime);
/* Runs op in the thread pool; cb(pm, result) on the loop. -EBUSY while one runs. */
int peer_upnp_run(struct peer_upnp *u, enum peer_upnp_op op, peer_upnp_cb cb,
                  struct peer_portmap *pm);
bool peer_upnp_busy(const struct peer_upnp *u);
/* Frees u (not while busy: the loop has ended by then). */
void peer_upnp_free(struct peer_upnp *u);

#endif
