/* SPDX-License-Identifier: MIT */
/*
 * NAT boxes: RFC 4787 behaviour knobs, the profiles that preset them, the nftables
 * ruleset they turn into, and applying that ruleset inside a NAT box's namespace.
 * libnftables is used in nat.c only.
 */
#ifndef NATLAB_NAT_H
#define NATLAB_NAT_H

#include <netinet/in.h>
#include <jansson.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

enum nat_mapping { NAT_MAPPING_EIM, NAT_MAPPING_APDM };
enum nat_filtering { NAT_FILTER_EIF, NAT_FILTER_ADF, NAT_FILTER_APDF };
enum nat_ports { NAT_PORTS_PRESERVE, NAT_PORTS_RANDOM, NAT_PORTS_SEQUENTIAL };
/* What the NAT lets out of its LAN: all, no UDP, only TCP 80/443, only TCP 443. */
enum nat_block { NAT_BLOCK_NONE, NAT_BLOCK_UDP, NAT_BLOCK_WEB_ONLY, NAT_BLOCK_HTTPS_ONLY };
/*
 * What the box lets in on IPv6, where it routes without translating: replies only
 * (address-and-port-dependent, RFC 6092's default), anyone an internal endpoint sent to
 * (address-dependent), anyone once it sent (endpoint-independent), or everything (open).
 */
enum nat_filtering6 { NAT_FILTER6_APDF, NAT_FILTER6_ADF, NAT_FILTER6_EIF, NAT_FILTER6_OPEN };
/* What an unsolicited inbound TCP SYN gets (RFC 5382 REQ-4). */
enum nat_tcp_unsolicited { NAT_TCP_DROP, NAT_TCP_ICMP };
/*
 * NAT64's prefix (RFC 6052): the well-known 64:ff9b::/96, a network-specific /96 of the
 * lab's IPv6 prefix, or auto: well-known where RFC 6052 allows it (nat64.h).
 */
enum nat64_prefix { NAT64_PREFIX_AUTO, NAT64_PREFIX_WELL_KNOWN, NAT64_PREFIX_NETWORK };

#define NAT_UDP_TIMEOUT_DEFAULT 120
#define NAT_UDP_TIMEOUT_MIN     1
#define NAT_UDP_TIMEOUT_MAX     86400
/* RFC 5382 REQ-5: established at least 2 h 4 min, transitory at least 4 min. */
#define NAT_TCP_TIMEOUT_DEFAULT            7440
#define NAT_TCP_TRANSITORY_TIMEOUT_DEFAULT 240
/* RFC 5382 REQ-4: an unsolicited SYN is not answered for at least this long. */
#define NAT_TCP_UNSOLICITED_WAIT 6
/* First external port handed out by sequential allocation and by CGNAT port blocks. */
#define NAT_PORT_BASE        1024
#define NAT_SEQUENTIAL_PORTS 1024
/* Port mapping (UPnP-IGD, NAT-PMP, PCP): the longest lease the gateway grants. */
#define NAT_PORTMAP_LEASE_DEFAULT 3600
#define NAT_PORTMAP_LEASE_MAX     604800

/*
 * Every field but translate is a knob of nat_knob_table and is accessed through it as
 * an unsigned int (enums here have no negative values, so their type is unsigned int).
 */
struct nat_knobs {
	int translate; /* 0: a plain router (profile "none"), every other knob unused */
	enum nat_mapping mapping;
	enum nat_filtering filtering;
	enum nat_ports ports;
	unsigned hairpin;
	unsigned udp_timeout;            /* seconds */
	unsigned tcp_timeout;            /* seconds, established connections */
	unsigned tcp_transitory_timeout; /* seconds, connections opening or closing */
	unsigned port_block;             /* ports per subscriber, 0 = no blocks */
	enum nat_block block;
	enum nat_tcp_unsolicited tcp_unsolicited;
	unsigned upnp;          /* UPnP-IGD served by miniupnpd in the box (portmap.c) */
	unsigned natpmp;        /* NAT-PMP (RFC 6886), same daemon */
	unsigned pcp;           /* PCP (RFC 6887), same daemon */
	unsigned portmap_lease; /* seconds: the longest lease granted */
	unsigned isolation;     /* LAN hosts reach the box only, not each other (topology.c) */
	enum nat_filtering6 filtering6; /* IPv6 inbound filtering (nat_rules6.c) */
	unsigned nptv6;                 /* RFC 6296 prefix translation of the IPv6 LAN */
	unsigned nat64; /* IPv6-only LAN: NAT64 (TAYGA) and DNS64 (unbound) in the box */
	enum nat64_prefix nat64_prefix;
};

/* Whether the box answers any port-mapping protocol. */
int nat_knobs_portmap(const struct nat_knobs *k);

/* Fills *knobs with the preset of a DESIGN.md profile. -ENOENT if the name is unknown. */
int nat_profile_lookup(const char *name, struct nat_knobs *knobs);
/* The profile names, NULL-terminated, for help texts and error messages. */
extern const char *const nat_profile_names[];

enum nat_knob_type {
	NAT_KNOB_WORD,    /* one of words[], stored as its index */
	NAT_KNOB_BOOL,    /* 0 or 1 */
	NAT_KNOB_SECONDS, /* a duration in [min, max] seconds */
	NAT_KNOB_COUNT,   /* an integer in [min, max] */
};

/* One knob: its scenario key, what values it takes, and where it lives in nat_knobs. */
struct nat_knob {
	const char *key;
	enum nat_knob_type type;
	size_t offset;            /* of its unsigned field in struct nat_knobs */
	const char *const *words; /* NAT_KNOB_WORD: NULL-terminated, index = value */
	unsigned min, max;        /* NAT_KNOB_SECONDS, NAT_KNOB_COUNT */
};

/* Every knob, in the order they are shown; ends with an entry whose key is NULL. */
extern const struct nat_knob nat_knob_table[];

/* The knob called key, or NULL. */
const struct nat_knob *nat_knob_find(const char *key);
unsigned nat_knob_get(const struct nat_knob *kb, const struct nat_knobs *k);
/* Stores v; -ERANGE (nothing stored) if v is not a value of the knob. */
int nat_knob_set(const struct nat_knob *kb, struct nat_knobs *k, unsigned v);
/* A word knob's value as its word ("endpoint-independent"); NULL for other knobs. */
const char *nat_knob_word(const struct nat_knob *kb, const struct nat_knobs *k);
/* Sets a word knob from its word; -EINVAL if s is not one of its words. */
int nat_knob_set_word(const struct nat_knob *kb, struct nat_knobs *k, const char *s);

/* Words of measured (or declared) behaviour, for reports. */
const char *nat_mapping_name(enum nat_mapping m);
const char *nat_filtering_name(enum nat_filtering f);
const char *nat_ports_name(enum nat_ports p);

/*
 * Checks that the knobs make a NAT that can exist. On error returns -EINVAL and writes
 * a sentence saying what to change into err.
 */
int nat_knobs_validate(const struct nat_knobs *k, unsigned subscribers, char *err, size_t errlen);

/* TAYGA's TUN device in a nat64 box: IPv4 from translated IPv6 hosts comes in here. */
#define NAT64_IF "nat64"

/* What a ruleset is rendered from: the knobs and the addresses of one NAT box. */
struct nat_box_addrs {
	struct in_addr wan;        /* the box's external address */
	struct in_addr lan_prefix; /* its LAN, network address */
	int lan_len;
	const struct in_addr *subscribers; /* LAN addresses of attached nodes, for port blocks */
	unsigned nsubscribers;
};

/*
 * Renders the nftables ruleset (text, `nft -f` syntax) for one NAT box. On success
 * *out is a malloc'd NUL-terminated string the caller frees; for a box that does not
 * translate it is an empty string. Returns 0 or -errno.
 */
int nat_ruleset_render(const struct nat_knobs *k, const struct nat_box_addrs *a, char **out);

/*
 * The start of a forward chain, for IPv4 and IPv6 alike: replies pass, knob block's drops
 * of what leaves the LAN, then the rest of what leaves it passes. lan names the LAN's
 * interfaces as nft does (`"lan"`, or a set `{ "lan", "nat64" }`). The caller adds what
 * may come in and closes the chain.
 */
void nat_forward_head_render(FILE *f, enum nat_block block, const char *lan);

/*
 * Port mapping (portmap.c): miniupnpd keeps its mappings in chains of its own table; the
 * names are in its configuration. NAT-PMP and PCP share one UDP port and tell each other
 * apart by the version, the first byte of a request.
 */
#define NAT_PORTMAP_TABLE          "natlab_portmap"
#define NAT_PORTMAP_FORWARD_CHAIN  "miniupnpd"
#define NAT_PORTMAP_DNAT_CHAIN     "prerouting_miniupnpd"
#define NAT_PORTMAP_SNAT_CHAIN     "postrouting_miniupnpd"
#define NAT_PORTMAP_MARK           0x706d
#define NAT_PORTMAP_MARK_TEXT      "0x706d"
#define NAT_PORTMAP_PORT           5351
#define NAT_PORTMAP_VERSION_NATPMP 0
#define NAT_PORTMAP_VERSION_PCP    2

/* The port-mapping table's commands (`nft -f` syntax; loading them again keeps mappings). */
const char *nat_portmap_ruleset(void);

/*
 * In the current namespace: on, loads nat_portmap_ruleset() (the daemon's mappings stay);
 * off, removes the table with every mapping. Errors as nat_ruleset_apply.
 */
int nat_portmap_apply(int on, char *err, size_t errlen);

/* Empties the chains the daemon writes: every port mapping is gone. */
int nat_portmap_flush(char *err, size_t errlen);

/*
 * Between these two calls the libnftables contexts of nat_ruleset_apply and
 * nat_portmap_apply are freed in batches of up to 64 instead of one by one: closing a
 * context's socket after a commit waits for the kernel to destroy the committed
 * transactions (an RCU grace period), and one wait covers the whole batch. For building
 * many boxes; not nested, one thread.
 */
void nat_ctx_defer_begin(void);
void nat_ctx_defer_end(void);

/*
 * Loads a ruleset into the network namespace the caller is in now (the libnftables
 * context is created here, after any setns, because it binds to the current namespace).
 * Any old natlab table is replaced atomically. On failure returns -EINVAL and copies
 * nftables' own message into err.
 */
int nat_ruleset_apply(const char *ruleset, char *err, size_t errlen);
/*
 * nat_ruleset_apply(ruleset) and nat_portmap_apply(portmap) in one transaction, with one
 * libnftables context: a NAT box's tables at once (each context costs a socket, a
 * cache fetch and a commit). Errors as nat_ruleset_apply.
 */
int nat_box_apply(const char *ruleset, int portmap, char *err, size_t errlen);

/*
 * Wire accounting: the scenario's own nftables tables (`table inet natlab_wire` for routed
 * traffic of both families, `table bridge natlab_wire` for traffic between two hosts on one
 * LAN) beside
 * the NAT's, with named counters. It is loaded and replaced on its own, so a profile change
 * keeps the counters and new counters keep the NAT's state.
 */
#define NAT_WIRE_TABLE "natlab_wire"

/*
 * Loads `ruleset` (tables natlab_wire of family inet, ip or bridge, nothing else) into the current
 * namespace, replacing the previous ones atomically (counters restart at zero). Errors
 * as nat_ruleset_apply.
 */
int nat_wire_apply(const char *ruleset, char *err, size_t errlen);

/*
 * Sets every counter of the natlab_wire tables `ruleset` declares (inet, ip, bridge) in
 * the current namespace to zero, keeping the tables: what loading the same ruleset again
 * would do, without the deletions' wait for an RCU grace period (~12 ms a commit).
 * Fails (-ENOENT) if a table is missing, or if `ruleset` declares none as
 * `table FAMILY natlab_wire ` (the caller then loads it in full).
 */
int nat_wire_reset(const char *ruleset, char *err, size_t errlen);

typedef int (*nat_counter_cb)(const char *name, uint64_t packets, uint64_t bytes, void *arg);

/*
 * Calls fn for each named counter of the natlab_wire tables (of any family) in the
 * current namespace; a name in two tables comes twice. A negative return from fn stops
 * the walk and is returned.
 */
int nat_wire_read(nat_counter_cb fn, void *arg, char *err, size_t errlen);

/*
 * The NAT's state in the current namespace as nftables holds it: {"rules": [{chain, rule,
 * packets, bytes}], "sets": {name: ["element", ...]}} (every rule counts what it matched;
 * a chain whose policy drops ends in a rule `comment "policy drop"` counting what reached
 * the policy; set elements as nft prints them, with their expiry). 0 or -errno with a
 * sentence in err; *out is a new reference.
 */
int nat_state_read(json_t **out, char *err, size_t errlen);

/* Flushes the conntrack table of the current namespace: every mapping is forgotten. */
int nat_conntrack_flush(void);

/*
 * Sets the conntrack timeouts of the current namespace (they are per namespace) to the
 * knobs' UDP and TCP timeouts: conntrack entries then live exactly as long as the
 * ruleset's mapping sets. On failure returns -errno and says which one into err.
 */
int nat_conntrack_timeouts_set(const struct nat_knobs *k, char *err, size_t errlen);

#endif
