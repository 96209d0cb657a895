/* SPDX-License-Identifier: MIT */
/*
 * NAT boxes: RFC 4787 behaviour knobs, the profiles that preset them, the nftables
 * ruleset they turn into, and applying that ruleset inside a NAT box's namespace.
 * libnftables is used in nat.c only.
 */
#ifndef NATLAB_NAT_H
#define NATLAB_NAT_H

#include <netinet/in.h>
#include <stddef.h>

enum nat_mapping { NAT_MAPPING_EIM, NAT_MAPPING_APDM };
enum nat_filtering { NAT_FILTER_EIF, NAT_FILTER_ADF, NAT_FILTER_APDF };
enum nat_ports { NAT_PORTS_PRESERVE, NAT_PORTS_RANDOM, NAT_PORTS_SEQUENTIAL };
enum nat_block { NAT_BLOCK_NONE, NAT_BLOCK_UDP, NAT_BLOCK_WEB_ONLY };

#define NAT_UDP_TIMEOUT_DEFAULT 120
#define NAT_UDP_TIMEOUT_MIN	1
#define NAT_UDP_TIMEOUT_MAX	86400
/* First external port handed out by sequential allocation and by CGNAT port blocks. */
#define NAT_PORT_BASE		1024
#define NAT_SEQUENTIAL_PORTS	1024

struct nat_knobs {
	int translate; /* 0: a plain router (profile "none"), every other knob unused */
	enum nat_mapping mapping;
	enum nat_filtering filtering;
	enum nat_ports ports;
	int hairpin;
	unsigned udp_timeout; /* seconds */
	unsigned port_block;  /* ports per subscriber, 0 = no blocks */
	enum nat_block block;
};

/* Fills *knobs with the preset of a DESIGN.md profile. -ENOENT if the name is unknown. */
int nat_profile_lookup(const char *name, struct nat_knobs *knobs);
/* The profile names, NULL-terminated, for help texts and error messages. */
extern const char *const nat_profile_names[];

/*
 * Parse one knob value given as text ("endpoint-independent", "random", "on", ...).
 * Return 0, or -EINVAL if the value is not one of the knob's words.
 */
int nat_mapping_parse(const char *s, enum nat_mapping *out);
int nat_filtering_parse(const char *s, enum nat_filtering *out);
int nat_ports_parse(const char *s, enum nat_ports *out);
int nat_block_parse(const char *s, enum nat_block *out);
const char *nat_mapping_name(enum nat_mapping m);
const char *nat_filtering_name(enum nat_filtering f);
const char *nat_ports_name(enum nat_ports p);
const char *nat_block_name(enum nat_block b);

/*
 * Checks that the knobs make a NAT that can exist. On error returns -EINVAL and writes
 * a sentence saying what to change into err.
 */
int nat_knobs_validate(const struct nat_knobs *k, unsigned subscribers, char *err, size_t errlen);

/* What a ruleset is rendered from: the knobs and the addresses of one NAT box. */
struct nat_box_addrs {
	struct in_addr wan;	   /* the box's external address */
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
 * Loads a ruleset into the network namespace the caller is in now (the libnftables
 * context is created here, after any setns, because it binds to the current namespace).
 * Any old natlab table is replaced atomically. On failure returns -EINVAL and copies
 * nftables' own message into err.
 */
int nat_ruleset_apply(const char *ruleset, char *err, size_t errlen);

/* Flushes the conntrack table of the current namespace: every mapping is forgotten. */
int nat_conntrack_flush(void);

#endif
