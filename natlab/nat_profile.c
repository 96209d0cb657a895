/* SPDX-License-Identifier: MIT */
/* The NAT profiles of DESIGN.md as presets of RFC 4787 knobs, and the knob words. */
#include "natlab/nat.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct nat_profile {
	const char *name;
	struct nat_knobs knobs;
};

/* The timeouts every profile shares: RFC 4787 REQ-5 for UDP, RFC 5382 REQ-5 for TCP, and the
 * longest port-mapping lease (used only where upnp, natpmp or pcp is on); presets with a
 * shorter UDP timeout take TIMEOUTS_UDP. */
#define TIMEOUTS_UDP(udp)                                                                          \
	.udp_timeout = (udp), .tcp_timeout = NAT_TCP_TIMEOUT_DEFAULT,                              \
	.tcp_transitory_timeout = NAT_TCP_TRANSITORY_TIMEOUT_DEFAULT,                              \
	.portmap_lease = NAT_PORTMAP_LEASE_DEFAULT
#define TIMEOUTS TIMEOUTS_UDP(NAT_UDP_TIMEOUT_DEFAULT)

/* Address-and-port-dependent mapping and filtering: a fresh port per destination. */
#define SYMMETRIC(p)                                                                               \
	{                                                                                          \
		.translate = 1, .mapping = NAT_MAPPING_APDM, .filtering = NAT_FILTER_APDF,         \
		.ports = (p), .hairpin = 0, TIMEOUTS                                               \
	}

#define HOME(filt)                                                                                 \
	{                                                                                          \
		.translate = 1, .mapping = NAT_MAPPING_EIM, .filtering = (filt),                   \
		.ports = NAT_PORTS_PRESERVE, .hairpin = 1, TIMEOUTS, .block = NAT_BLOCK_NONE       \
	}

/* A home router's IPv4 side (port-restricted cone) with more knobs set. */
#define HOME_PLUS(...)                                                                             \
	{                                                                                          \
		.translate = 1, .mapping = NAT_MAPPING_EIM, .filtering = NAT_FILTER_APDF,          \
		.ports = NAT_PORTS_PRESERVE, .hairpin = 1, TIMEOUTS, __VA_ARGS__                   \
	}

/* A mobile carrier's side: a random port per destination, 30 s for UDP; more knobs set. */
#define MOBILE_PLUS(...)                                                                           \
	{                                                                                          \
		.translate = 1, .mapping = NAT_MAPPING_APDM, .filtering = NAT_FILTER_APDF,         \
		.ports = NAT_PORTS_RANDOM, .hairpin = 0, TIMEOUTS_UDP(30), __VA_ARGS__             \
	}

static const struct nat_profile nat_profiles[] = {
	{ "none", { .translate = 0, TIMEOUTS } },
	{ "full-cone", HOME(NAT_FILTER_EIF) },
	{ "restricted-cone", HOME(NAT_FILTER_ADF) },
	{ "port-restricted-cone", HOME(NAT_FILTER_APDF) },
	{ "symmetric", SYMMETRIC(NAT_PORTS_RANDOM) },
	/*
	 * A sequential allocator (many enterprise and carrier NATs): a mapping per
	 * destination, on the next port of one counter that every subscriber shares.
	 */
	{ "symmetric-sequential", SYMMETRIC(NAT_PORTS_SEQUENTIAL) },
	/* RFC 6888: EIM, hairpinning, port blocks per subscriber. */
	{ "cgnat",
	  { .translate = 1,
	    .mapping = NAT_MAPPING_EIM,
	    .filtering = NAT_FILTER_APDF,
	    .ports = NAT_PORTS_PRESERVE,
	    .hairpin = 1,
	    TIMEOUTS,
	    .port_block = 2048 } },
	/* A strict corporate firewall: it still NATs, but no UDP leaves and TCP only for web. */
	{ "udp-blocked",
	  { .translate = 1,
	    .mapping = NAT_MAPPING_EIM,
	    .filtering = NAT_FILTER_APDF,
	    .ports = NAT_PORTS_PRESERVE,
	    .hairpin = 0,
	    TIMEOUTS,
	    .block = NAT_BLOCK_WEB_ONLY } },
	/*
	 * Presets of boxes met in the field; docs/scenarios.md ("NAT presets") gives each
	 * one's source and what is natlab's choice.
	 */
	/* Linux masquerade as consumer routers (OpenWrt and most firmware) run it. */
	{ "home-router", HOME(NAT_FILTER_APDF) },
	/* A mobile carrier's CGN: a random port of the subscriber's block per destination. */
	{ "mobile-cgn", MOBILE_PLUS(.port_block = 2048) },
	/* A guest network's gateway: random ports, and guests never reach each other, neither
	 * through it nor on the LAN (client isolation). */
	{ "hotel-wifi",
	  { .translate = 1,
	    .mapping = NAT_MAPPING_EIM,
	    .filtering = NAT_FILTER_APDF,
	    .ports = NAT_PORTS_RANDOM,
	    .hairpin = 0,
	    TIMEOUTS_UDP(60),
	    .isolation = 1 } },
	/* A stateful enterprise firewall with dynamic IP and port NAT and short UDP sessions. */
	{ "enterprise-firewall",
	  { .translate = 1,
	    .mapping = NAT_MAPPING_APDM,
	    .filtering = NAT_FILTER_APDF,
	    .ports = NAT_PORTS_RANDOM,
	    .hairpin = 0,
	    .udp_timeout = 30,
	    .tcp_timeout = 3600,
	    .tcp_transitory_timeout = NAT_TCP_TRANSITORY_TIMEOUT_DEFAULT,
	    .portmap_lease = NAT_PORTMAP_LEASE_DEFAULT } },
	/*
	 * IPv6 edges (docs/scenarios.md, "IPv6"): a home router's IPv4 side, with its IPv6 LAN
	 * routed behind a stateful firewall (RFC 6092), behind none, or prefix-translated
	 * (RFC 6296).
	 */
	{ "v6-firewall", HOME(NAT_FILTER_APDF) },
	{ "v6-open", HOME_PLUS(.filtering6 = NAT_FILTER6_OPEN) },
	{ "nptv6", HOME_PLUS(.nptv6 = 1) },
	/*
	 * A mobile carrier's IPv6-only access (RFC 6877's PLAT): handsets get IPv6 only and
	 * reach IPv4 through NAT64 and DNS64; the IPv4 side is mobile-cgn's without port
	 * blocks (TAYGA, not the LAN, picks the pool address each handset is seen as).
	 */
	{ "mobile-nat64", MOBILE_PLUS(.nat64 = 1) },
	/*
	 * A home router with its port-mapping daemon on, as OpenWrt's miniupnpd package and
	 * most vendor firmware ship it: UPnP-IGD and NAT-PMP/PCP (one switch in miniupnpd).
	 */
	{ "upnp-router", HOME_PLUS(.upnp = 1, .natpmp = 1, .pcp = 1) },
};

const char *const nat_profile_names[] = {
	"none",        "full-cone",  "restricted-cone", "port-restricted-cone",
	"symmetric",   "cgnat",      "udp-blocked",     "symmetric-sequential",
	"home-router", "mobile-cgn", "hotel-wifi",      "enterprise-firewall",
	"v6-firewall", "v6-open",    "nptv6",           "mobile-nat64",
	"upnp-router", NULL
};
/* Both lists name every profile once: a preset added to one only would not be listed in
 * errors, or not found. */
_Static_assert(sizeof(nat_profile_names) / sizeof(nat_profile_names[0]) - 1 ==
                   sizeof(nat_profiles) / sizeof(nat_profiles[0]),
               "nat_profile_names and nat_profiles differ");

int nat_profile_lookup(const char *name, struct nat_knobs *knobs)
{
	for (size_t i = 0; i < sizeof(nat_profiles) / sizeof(nat_profiles[0]); i++) {
		if (strcmp(nat_profiles[i].name, name) == 0) {
			*knobs = nat_profiles[i].knobs;
			return 0;
		}
	}
	return -ENOENT;
}

static const char *const mapping_words[] = { "endpoint-independent", "address-and-port-dependent",
	                                     NULL };
static const char *const filtering_words[] = { "endpoint-independent", "address-dependent",
	                                       "address-and-port-dependent", NULL };
static const char *const ports_words[] = { "preserve", "random", "sequential", NULL };
static const char *const block_words[] = { "none", "udp", "web-only", "https-only", NULL };
static const char *const unsolicited_words[] = { "drop", "icmp", NULL };
static const char *const filtering6_words[] = { "address-and-port-dependent", "address-dependent",
	                                        "endpoint-independent", "open", NULL };
static const char *const nat64_prefix_words[] = { "auto", "well-known", "network-specific", NULL };

/* The table reads and writes these fields as unsigned int. */
_Static_assert(sizeof(enum nat_mapping) == sizeof(unsigned) &&
                   sizeof(enum nat_filtering) == sizeof(unsigned) &&
                   sizeof(enum nat_ports) == sizeof(unsigned) &&
                   sizeof(enum nat_block) == sizeof(unsigned) &&
                   sizeof(enum nat_tcp_unsolicited) == sizeof(unsigned) &&
                   sizeof(enum nat64_prefix) == sizeof(unsigned),
               "knob enums are stored as unsigned int");

#define WORD(k, w)                                                                                 \
	{                                                                                          \
#k, NAT_KNOB_WORD, offsetof(struct nat_knobs, k), (w), 0, 0                        \
	}
#define NUMBER(k, t, lo, hi)                                                                       \
	{                                                                                          \
#k, (t), offsetof(struct nat_knobs, k), NULL, (lo), (hi)                           \
	}

const struct nat_knob nat_knob_table[] = {
	WORD(mapping, mapping_words),
	WORD(filtering, filtering_words),
	WORD(ports, ports_words),
	NUMBER(hairpin, NAT_KNOB_BOOL, 0, 1),
	NUMBER(udp_timeout, NAT_KNOB_SECONDS, NAT_UDP_TIMEOUT_MIN, NAT_UDP_TIMEOUT_MAX),
	NUMBER(tcp_timeout, NAT_KNOB_SECONDS, 1, 7 * 86400),
	NUMBER(tcp_transitory_timeout, NAT_KNOB_SECONDS, 1, 86400),
	NUMBER(port_block, NAT_KNOB_COUNT, 0, 65536 - NAT_PORT_BASE),
	WORD(block, block_words),
	WORD(tcp_unsolicited, unsolicited_words),
	NUMBER(upnp, NAT_KNOB_BOOL, 0, 1),
	NUMBER(natpmp, NAT_KNOB_BOOL, 0, 1),
	NUMBER(pcp, NAT_KNOB_BOOL, 0, 1),
	NUMBER(portmap_lease, NAT_KNOB_SECONDS, 2, NAT_PORTMAP_LEASE_MAX),
	NUMBER(isolation, NAT_KNOB_BOOL, 0, 1),
	WORD(filtering6, filtering6_words),
	NUMBER(nptv6, NAT_KNOB_BOOL, 0, 1),
	NUMBER(nat64, NAT_KNOB_BOOL, 0, 1),
	WORD(nat64_prefix, nat64_prefix_words),
	{ NULL, NAT_KNOB_BOOL, 0, NULL, 0, 0 },
};

const struct nat_knob *nat_knob_find(const char *key)
{
	for (const struct nat_knob *kb = nat_knob_table; kb->key; kb++)
		if (strcmp(kb->key, key) == 0)
			return kb;
	return NULL;
}

unsigned nat_knob_get(const struct nat_knob *kb, const struct nat_knobs *k)
{
	return *(const unsigned *)((const char *)k + kb->offset);
}

static unsigned knob_max(const struct nat_knob *kb)
{
	unsigned n = 0;

	if (kb->type != NAT_KNOB_WORD)
		return kb->max;
	while (kb->words[n])
		n++;
	return n - 1;
}

int nat_knob_set(const struct nat_knob *kb, struct nat_knobs *k, unsigned v)
{
	if (v < kb->min || v > knob_max(kb))
		return -ERANGE;
	*(unsigned *)((char *)k + kb->offset) = v;
	return 0;
}

const char *nat_knob_word(const struct nat_knob *kb, const struct nat_knobs *k)
{
	return kb->type == NAT_KNOB_WORD ? kb->words[nat_knob_get(kb, k)] : NULL;
}

int nat_knob_set_word(const struct nat_knob *kb, struct nat_knobs *k, const char *s)
{
	for (unsigned i = 0; kb->type == NAT_KNOB_WORD && kb->words[i]; i++)
		if (strcmp(kb->words[i], s) == 0)
			return nat_knob_set(kb, k, i);
	return -EINVAL;
}

const char *nat_mapping_name(enum nat_mapping m)
{
	return mapping_words[m];
}

const char *nat_filtering_name(enum nat_filtering f)
{
	return filtering_words[f];
}

const char *nat_ports_name(enum nat_ports p)
{
	return ports_words[p];
}

int nat_knobs_portmap(const struct nat_knobs *k)
{
	return k->upnp || k->natpmp || k->pcp;
}

int nat_knobs_validate(const struct nat_knobs *k, unsigned subscribers, char *err, size_t errlen)
{
	if (!k->translate && nat_knobs_portmap(k)) {
		snprintf(err, errlen,
		         "upnp, natpmp and pcp open ports on a NAT, and profile \"none\" does not "
		         "translate: choose a NAT profile, or turn them off");
		return -EINVAL;
	}
	if (!k->translate)
		return 0;
	for (const struct nat_knob *kb = nat_knob_table; kb->key; kb++) {
		unsigned v = nat_knob_get(kb, k);

		if (v < kb->min || v > knob_max(kb)) {
			snprintf(err, errlen, "%s = %u is not a value of the knob (%u-%u)", kb->key,
			         v, kb->min, knob_max(kb));
			return -EINVAL;
		}
	}
	/*
	 * The one combination that cannot exist: a port kept for every destination is one
	 * mapping for all of them, which is endpoint-independent mapping.
	 */
	if (k->mapping == NAT_MAPPING_APDM && k->ports == NAT_PORTS_PRESERVE) {
		snprintf(err, errlen,
		         "mapping \"address-and-port-dependent\" with ports \"preserve\" cannot be "
		         "built (keeping the port for every destination is one mapping for all, "
		         "i.e. endpoint-independent): use ports = \"random\" (a random port%s per "
		         "destination) or \"sequential\"",
		         k->port_block ? " of the subscriber's block" : "");
		return -EINVAL;
	}
	if (k->tcp_timeout < k->tcp_transitory_timeout) {
		snprintf(err, errlen,
		         "tcp_timeout %u s is shorter than tcp_transitory_timeout %u s: an "
		         "established connection would be dropped before a half-open one; "
		         "make tcp_timeout at least tcp_transitory_timeout",
		         k->tcp_timeout, k->tcp_transitory_timeout);
		return -EINVAL;
	}
	if (k->port_block &&
	    (k->port_block < 16 || (unsigned long)k->port_block * (subscribers ? subscribers : 1) >
	                               65536 - NAT_PORT_BASE)) {
		snprintf(err, errlen,
		         "port_block %u with %u subscribers does not fit in ports %d-65535 "
		         "(at least 16 ports each)",
		         k->port_block, subscribers, NAT_PORT_BASE);
		return -EINVAL;
	}
	/*
	 * Behind NAT64 the box's IPv4 side sees TAYGA's pool addresses, drawn per IPv6 host,
	 * not LAN addresses: no per-subscriber block, no gateway on an IPv4 LAN it lacks.
	 */
	if (k->nat64 && (k->port_block || nat_knobs_portmap(k))) {
		snprintf(err, errlen,
		         "nat64 = true with %s cannot be built (its LAN is IPv6-only: TAYGA, not "
		         "the LAN, gives each host its IPv4 address): turn %s off",
		         k->port_block ? "port_block" : "upnp, natpmp or pcp",
		         k->port_block ? "port_block" : "upnp, natpmp and pcp");
		return -EINVAL;
	}
	return 0;
}
