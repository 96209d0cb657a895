/* SPDX-License-Identifier: MIT */
/* The NAT profiles of DESIGN.md as presets of RFC 4787 knobs, and the knob words. */
#include "natlab/nat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct nat_profile {
	const char *name;
	struct nat_knobs knobs;
};

#define HOME(filt)                                                                                 \
	{                                                                                          \
		.translate = 1, .mapping = NAT_MAPPING_EIM, .filtering = (filt),                   \
		.ports = NAT_PORTS_PRESERVE, .hairpin = 1, .udp_timeout = NAT_UDP_TIMEOUT_DEFAULT, \
		.block = NAT_BLOCK_NONE                                                            \
	}

static const struct nat_profile nat_profiles[] = {
	{ "none", { .translate = 0, .udp_timeout = NAT_UDP_TIMEOUT_DEFAULT } },
	{ "full-cone", HOME(NAT_FILTER_EIF) },
	{ "restricted-cone", HOME(NAT_FILTER_ADF) },
	{ "port-restricted-cone", HOME(NAT_FILTER_APDF) },
	{ "symmetric",
	  { .translate = 1, .mapping = NAT_MAPPING_APDM, .filtering = NAT_FILTER_APDF,
	    .ports = NAT_PORTS_RANDOM, .hairpin = 0, .udp_timeout = NAT_UDP_TIMEOUT_DEFAULT } },
	/* RFC 6888: EIM, hairpinning, port blocks per subscriber. */
	{ "cgnat",
	  { .translate = 1, .mapping = NAT_MAPPING_EIM, .filtering = NAT_FILTER_APDF,
	    .ports = NAT_PORTS_PRESERVE, .hairpin = 1, .udp_timeout = NAT_UDP_TIMEOUT_DEFAULT,
	    .port_block = 2048 } },
	/* A strict corporate firewall: it still NATs, but no UDP leaves and TCP only for web. */
	{ "udp-blocked",
	  { .translate = 1, .mapping = NAT_MAPPING_EIM, .filtering = NAT_FILTER_APDF,
	    .ports = NAT_PORTS_PRESERVE, .hairpin = 0, .udp_timeout = NAT_UDP_TIMEOUT_DEFAULT,
	    .block = NAT_BLOCK_WEB_ONLY } },
};

const char *const nat_profile_names[] = { "none",      "full-cone", "restricted-cone",
					  "port-restricted-cone", "symmetric", "cgnat",
					  "udp-blocked", NULL };

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

static const char *const mapping_words[] = { "endpoint-independent",
					     "address-and-port-dependent", NULL };
static const char *const filtering_words[] = { "endpoint-independent", "address-dependent",
					       "address-and-port-dependent", NULL };
static const char *const ports_words[] = { "preserve", "random", "sequential", NULL };
static const char *const block_words[] = { "none", "udp", "web-only", NULL };

static int word_index(const char *const *words, const char *s)
{
	for (int i = 0; words[i]; i++)
		if (strcmp(words[i], s) == 0)
			return i;
	return -EINVAL;
}

int nat_mapping_parse(const char *s, enum nat_mapping *out)
{
	int i = word_index(mapping_words, s);

	if (i < 0)
		return i;
	*out = (enum nat_mapping)i;
	return 0;
}

int nat_filtering_parse(const char *s, enum nat_filtering *out)
{
	int i = word_index(filtering_words, s);

	if (i < 0)
		return i;
	*out = (enum nat_filtering)i;
	return 0;
}

int nat_ports_parse(const char *s, enum nat_ports *out)
{
	int i = word_index(ports_words, s);

	if (i < 0)
		return i;
	*out = (enum nat_ports)i;
	return 0;
}

int nat_block_parse(const char *s, enum nat_block *out)
{
	int i = word_index(block_words, s);

	if (i < 0)
		return i;
	*out = (enum nat_block)i;
	return 0;
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

const char *nat_block_name(enum nat_block b)
{
	return block_words[b];
}

int nat_knobs_validate(const struct nat_knobs *k, unsigned subscribers, char *err, size_t errlen)
{
	if (!k->translate)
		return 0;
	if (k->mapping == NAT_MAPPING_APDM && k->ports == NAT_PORTS_PRESERVE && !k->port_block) {
		snprintf(err, errlen, "mapping \"address-and-port-dependent\" needs ports = "
				      "\"random\" or \"sequential\" (preserving the port would "
				      "give every destination the same mapping)");
		return -EINVAL;
	}
	if (k->udp_timeout < NAT_UDP_TIMEOUT_MIN || k->udp_timeout > NAT_UDP_TIMEOUT_MAX) {
		snprintf(err, errlen, "udp_timeout must be between %d and %d seconds",
			 NAT_UDP_TIMEOUT_MIN, NAT_UDP_TIMEOUT_MAX);
		return -EINVAL;
	}
	if (k->port_block && (k->port_block < 16 ||
			      (unsigned long)k->port_block * (subscribers ? subscribers : 1) >
				      65536 - NAT_PORT_BASE)) {
		snprintf(err, errlen,
			 "port_block %u with %u subscribers does not fit in ports %d-65535 "
			 "(at least 16 ports each)",
			 k->port_block, subscribers, NAT_PORT_BASE);
		return -EINVAL;
	}
	return 0;
}
