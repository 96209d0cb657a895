/* SPDX-License-Identifier: MIT */
/*
 * RFC 4787 knobs -> one nftables table per NAT box. Pure text generation, so the
 * rulesets are golden files in the tests. What each piece is for, checked on this
 * kernel with coturn's RFC 5780 client (see DESIGN.md, "NAT profiles"):
 *
 * - Mapping. Linux SNAT only keeps a mapping while some conntrack entry uses it, and
 *   picks ports per connection; so endpoint-independent mapping pins the external port
 *   chosen for an internal endpoint in map eim_udp and reuses it for every destination.
 *   Address-and-port-dependent mapping draws a fresh random or sequential port per
 *   connection. Linux also keeps only whole connections unique, so it would hand an
 *   external port one internal endpoint holds to another endpoint talking to another
 *   remote (two hosts bound to the same port, say); sets eim_ports_udp and
 *   eim_owners_udp record who holds which port: a held source port is not preserved,
 *   and a new mapping that lands on a port someone else holds loses its first packet,
 *   whose retransmission draws another port.
 * - Filtering. Conntrack alone is address-and-port-dependent filtering. Endpoint-
 *   independent and address-dependent filtering need map fwd_udp (external port ->
 *   internal endpoint) to DNAT unsolicited inbound packets; address-dependent filtering
 *   also checks set adf_udp (internal endpoint . remote address) learned outbound.
 *   The maps are learned after SNAT (priority srcnat + 10) from `ct reply proto-dst`,
 *   the port NAT really chose.
 * - New inbound UDP to the box itself is dropped in input: otherwise its conntrack
 *   entry can take the port the next outbound mapping wanted.
 */
#include "natlab/nat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define WAN_IF "wan"
#define LAN_IF "lan"

struct render {
	FILE *f;
	const struct nat_knobs *k;
	const struct nat_box_addrs *a;
	char wan[INET_ADDRSTRLEN];
	char lan[INET_ADDRSTRLEN + 4];
};

static int uses_fwd_map(const struct nat_knobs *k)
{
	return k->filtering != NAT_FILTER_APDF || k->hairpin;
}

static void render_sets(struct render *r)
{
	unsigned t = r->k->udp_timeout;

	if (r->k->mapping == NAT_MAPPING_EIM)
		fprintf(r->f,
			"\t# internal endpoint -> its one external endpoint (EIM)\n"
			"\tmap eim_udp {\n"
			"\t\ttype ipv4_addr . inet_service : ipv4_addr . inet_service\n"
			"\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n"
			"\t# external ports held by an internal endpoint, and by which (EIM)\n"
			"\tset eim_ports_udp {\n"
			"\t\ttype inet_service\n"
			"\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n"
			"\tset eim_owners_udp {\n"
			"\t\ttype inet_service . ipv4_addr . inet_service\n"
			"\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
			t, t, t);
	if (uses_fwd_map(r->k))
		fprintf(r->f,
			"\t# external port -> internal endpoint (inbound filtering, hairpin)\n"
			"\tmap fwd_udp {\n"
			"\t\ttype inet_service : ipv4_addr . inet_service\n"
			"\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
			t);
	if (r->k->filtering == NAT_FILTER_ADF)
		fprintf(r->f,
			"\t# internal endpoint . remote address it has sent to (ADF)\n"
			"\tset adf_udp {\n"
			"\t\ttype ipv4_addr . inet_service . ipv4_addr\n"
			"\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
			t);
}

static void render_prerouting(struct render *r)
{
	fprintf(r->f, "\tchain prerouting {\n"
		      "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
	if (r->k->filtering != NAT_FILTER_APDF)
		fprintf(r->f,
			"\t\tiifname \"" WAN_IF "\" ip daddr %s udp dport @fwd_udp "
			"dnat ip to udp dport map @fwd_udp\n",
			r->wan);
	if (r->k->hairpin)
		fprintf(r->f,
			"\t\tiifname \"" LAN_IF "\" ip daddr %s udp dport @fwd_udp "
			"dnat ip to udp dport map @fwd_udp\n",
			r->wan);
	fprintf(r->f, "\t}\n");
}

/*
 * The SNAT target for a new UDP mapping, by port strategy. held: the source port is an
 * external port another endpoint holds, so it must not be kept; a random draw instead.
 */
static void render_udp_target(struct render *r, int held)
{
	const struct nat_knobs *k = r->k;

	if (k->port_block) {
		fprintf(r->f, "snat ip to ip saddr map { ");
		for (unsigned i = 0; i < r->a->nsubscribers; i++) {
			char sub[INET_ADDRSTRLEN];
			unsigned lo = NAT_PORT_BASE + i * k->port_block;

			inet_ntop(AF_INET, &r->a->subscribers[i], sub, sizeof(sub));
			fprintf(r->f, "%s%s : %s . %u-%u", i ? ", " : "", sub, r->wan, lo,
				lo + k->port_block - 1);
		}
		fprintf(r->f, " }%s\n", held ? " random" : "");
		return;
	}
	switch (k->ports) {
	case NAT_PORTS_PRESERVE:
		if (held)
			fprintf(r->f, "snat ip to %s : %d-65535 random\n", r->wan, NAT_PORT_BASE);
		else
			fprintf(r->f, "snat ip to %s\n", r->wan);
		break;
	case NAT_PORTS_RANDOM:
		fprintf(r->f, "snat ip to %s : %d-65535 random\n", r->wan, NAT_PORT_BASE);
		break;
	case NAT_PORTS_SEQUENTIAL:
		fprintf(r->f, "snat ip to %s : numgen inc mod %d map { ", r->wan,
			NAT_SEQUENTIAL_PORTS);
		for (int i = 0; i < NAT_SEQUENTIAL_PORTS; i++)
			fprintf(r->f, "%s%d : %d", i ? ", " : "", i, NAT_PORT_BASE + i);
		fprintf(r->f, " }\n");
		break;
	}
}

static void render_postrouting(struct render *r)
{
	int eim = r->k->mapping == NAT_MAPPING_EIM;

	fprintf(r->f, "\tchain postrouting {\n"
		      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	if (r->k->hairpin) {
		/* Hairpinned packets leave from the external address, so replies come back. */
		if (eim)
			fprintf(r->f,
				"\t\toifname \"" LAN_IF "\" ct status dnat ip saddr %s "
				"ip saddr . udp sport @eim_udp "
				"snat ip to ip saddr . udp sport map @eim_udp\n",
				r->lan);
		fprintf(r->f, "\t\toifname \"" LAN_IF "\" ct status dnat ip saddr %s snat ip to %s\n",
			r->lan, r->wan);
	}
	if (eim)
		fprintf(r->f,
			"\t\toifname \"" WAN_IF "\" ip saddr %s ip saddr . udp sport @eim_udp "
			"snat ip to ip saddr . udp sport map @eim_udp\n",
			r->lan);
	/* Strategies that may keep the source port must not keep one that is held. */
	if (eim && (r->k->port_block || r->k->ports == NAT_PORTS_PRESERVE)) {
		fprintf(r->f, "\t\toifname \"" WAN_IF "\" ip saddr %s udp sport @eim_ports_udp ",
			r->lan);
		render_udp_target(r, 1);
	}
	fprintf(r->f, "\t\toifname \"" WAN_IF "\" ip saddr %s meta l4proto udp ", r->lan);
	render_udp_target(r, 0);
	fprintf(r->f, "\t\toifname \"" WAN_IF "\" ip saddr %s snat ip to %s\n\t}\n", r->lan,
		r->wan);
}

static void render_learn(struct render *r)
{
	if (r->k->mapping != NAT_MAPPING_EIM && !uses_fwd_map(r->k))
		return;
	fprintf(r->f, "\tchain learn {\n"
		      "\t\ttype filter hook postrouting priority srcnat + 10; policy accept;\n");
	/* Before anything is learned from it: a new mapping on a port someone else holds. */
	if (r->k->mapping == NAT_MAPPING_EIM)
		fprintf(r->f, "\t\toifname \"" WAN_IF "\" meta l4proto udp ct state new ct status snat "
			      "ct reply proto-dst @eim_ports_udp ct reply proto-dst . "
			      "ct original ip saddr . ct original proto-src != @eim_owners_udp drop\n");
	if (uses_fwd_map(r->k))
		fprintf(r->f, "\t\toifname \"" WAN_IF "\" meta l4proto udp ct status snat "
			      "update @fwd_udp { ct reply proto-dst : "
			      "ct original ip saddr . ct original proto-src }\n");
	if (r->k->mapping == NAT_MAPPING_EIM)
		fprintf(r->f, "\t\toifname \"" WAN_IF "\" meta l4proto udp ct status snat "
			      "update @eim_udp { ct original ip saddr . ct original proto-src : "
			      "ct reply ip daddr . ct reply proto-dst }\n"
			      "\t\toifname \"" WAN_IF "\" meta l4proto udp ct status snat "
			      "update @eim_ports_udp { ct reply proto-dst }\n"
			      "\t\toifname \"" WAN_IF "\" meta l4proto udp ct status snat "
			      "update @eim_owners_udp { ct reply proto-dst . ct original ip saddr . "
			      "ct original proto-src }\n");
	fprintf(r->f, "\t}\n");
}

static void render_forward(struct render *r)
{
	fprintf(r->f, "\tchain forward {\n"
		      "\t\ttype filter hook forward priority filter; policy drop;\n"
		      "\t\tct state established,related accept\n");
	if (r->k->block != NAT_BLOCK_NONE)
		fprintf(r->f,
			"\t\tiifname \"" LAN_IF "\" oifname \"" WAN_IF "\" meta l4proto udp drop\n");
	if (r->k->block == NAT_BLOCK_WEB_ONLY)
		fprintf(r->f, "\t\tiifname \"" LAN_IF "\" oifname \"" WAN_IF
			      "\" meta l4proto tcp tcp dport != { 80, 443 } drop\n");
	if (r->k->filtering == NAT_FILTER_ADF)
		fprintf(r->f, "\t\tiifname \"" LAN_IF "\" oifname \"" WAN_IF "\" meta l4proto udp "
			      "update @adf_udp { ip saddr . udp sport . ip daddr }\n");
	fprintf(r->f, "\t\tiifname \"" LAN_IF "\" oifname \"" WAN_IF "\" accept\n");
	if (r->k->hairpin)
		fprintf(r->f, "\t\tiifname \"" LAN_IF "\" oifname \"" LAN_IF "\" accept\n");
	if (r->k->filtering == NAT_FILTER_EIF)
		fprintf(r->f, "\t\tiifname \"" WAN_IF "\" ct status dnat accept\n");
	else if (r->k->filtering == NAT_FILTER_ADF)
		fprintf(r->f, "\t\tiifname \"" WAN_IF "\" ct status dnat "
			      "ip daddr . udp dport . ip saddr @adf_udp accept\n");
	fprintf(r->f, "\t}\n");
}

static void render_input(struct render *r)
{
	fprintf(r->f, "\tchain input {\n"
		      "\t\ttype filter hook input priority filter; policy accept;\n"
		      "\t\tiifname \"" WAN_IF "\" meta l4proto udp ct state new drop\n"
		      "\t}\n");
}

int nat_ruleset_render(const struct nat_knobs *k, const struct nat_box_addrs *a, char **out)
{
	struct render r = { .k = k, .a = a };
	char prefix[INET_ADDRSTRLEN];
	size_t len;
	int n;

	*out = NULL;
	r.f = open_memstream(out, &len);
	if (!r.f)
		return -errno;
	if (k->translate) {
		inet_ntop(AF_INET, &a->wan, r.wan, sizeof(r.wan));
		inet_ntop(AF_INET, &a->lan_prefix, prefix, sizeof(prefix));
		n = snprintf(r.lan, sizeof(r.lan), "%s/%d", prefix, a->lan_len);
		if (n < 0 || (size_t)n >= sizeof(r.lan)) {
			fclose(r.f);
			free(*out);
			*out = NULL;
			return -EOVERFLOW;
		}
		fprintf(r.f, "table ip natlab {\n");
		render_sets(&r);
		render_prerouting(&r);
		render_postrouting(&r);
		render_learn(&r);
		render_forward(&r);
		render_input(&r);
		fprintf(r.f, "}\n");
	}
	if (fclose(r.f) != 0) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
