/* SPDX-License-Identifier: MIT */
/*
 * RFC 4787 / RFC 5382 knobs -> one nftables table per NAT box. Pure text generation,
 * so the rulesets are golden files in the tests. UDP and TCP get the same machinery,
 * each in sets of its own (eim_udp, eim_tcp, ...). What each piece is for, checked on
 * this kernel with coturn's RFC 5780 client and tests/nat_behave.c (see DESIGN.md, "NAT
 * profiles", and docs/lab.md, "NAT knobs"):
 *
 * - Mapping. Linux SNAT only keeps a mapping while some conntrack entry uses it, and
 *   picks ports per connection; so endpoint-independent mapping pins the external port
 *   chosen for an internal endpoint in map eim_<proto> and reuses it for every
 *   destination. Address-and-port-dependent mapping draws a fresh random or sequential
 *   port per connection (inside the subscriber's block with port_block). Linux also
 *   keeps only whole connections unique, so it would hand an external port one internal
 *   endpoint holds to another endpoint talking to another remote (two hosts bound to
 *   the same port, say); sets eim_ports_<proto> and eim_owners_<proto> record who holds
 *   which port: a held source port is not preserved, and a new mapping that lands on a
 *   port someone else holds loses its first packet (or SYN), whose retransmission draws
 *   another port.
 * - Filtering. Conntrack alone is address-and-port-dependent filtering. Endpoint-
 *   independent and address-dependent filtering need map fwd_<proto> (external port ->
 *   internal endpoint) to DNAT unsolicited inbound packets; address-dependent filtering
 *   also checks set adf_<proto> (internal endpoint . remote address). All are learned
 *   after SNAT (priority srcnat + 10) from `ct reply proto-dst`, the port NAT really
 *   chose; TCP elements live as long as conntrack keeps the connection.
 * - New inbound UDP and TCP to the box itself is dropped in input: a conntrack entry of
 *   it could take the port the next outbound mapping wanted, and the box's stack would
 *   answer a SYN with a RST.
 */
#include "natlab/nat.h"
#include "natlab/memstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define WAN_IF "wan"
#define LAN_IF "lan"

/* The layer-4 protocols with ports: each gets the same machinery, in sets of its own. */
enum proto { PROTO_UDP, PROTO_TCP, PROTO_COUNT };
static const char *const proto_names[PROTO_COUNT] = { "udp", "tcp" };

struct render {
	FILE *f;
	const struct nat_knobs *k;
	const struct nat_box_addrs *a;
	char wan[INET_ADDRSTRLEN];
	char lan[INET_ADDRSTRLEN + 4];
	/* The LAN's interfaces, as nft names them: with nat64, TAYGA's device too. */
	const char *lan_ifs;
};

static int uses_fwd_map(const struct nat_knobs *k)
{
	return k->filtering != NAT_FILTER_APDF || k->hairpin;
}

static int is_eim(const struct render *r)
{
	return r->k->mapping == NAT_MAPPING_EIM;
}

/* A set's default timeout: the protocol's mapping lifetime (TCP: an established one). */
static unsigned set_timeout(const struct render *r, enum proto p)
{
	return p == PROTO_TCP ? r->k->tcp_timeout : r->k->udp_timeout;
}

static void render_sets(struct render *r, enum proto p)
{
	const char *n = proto_names[p];
	unsigned t = set_timeout(r, p);

	if (is_eim(r))
		fprintf(r->f,
		        "\t# internal endpoint -> its one external endpoint (EIM)\n"
		        "\tmap eim_%s {\n"
		        "\t\ttype ipv4_addr . inet_service : ipv4_addr . inet_service\n"
		        "\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n"
		        "\t# external ports held by an internal endpoint, and by which (EIM)\n"
		        "\tset eim_ports_%s {\n"
		        "\t\ttype inet_service\n"
		        "\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n"
		        "\tset eim_owners_%s {\n"
		        "\t\ttype inet_service . ipv4_addr . inet_service\n"
		        "\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
		        n, t, n, t, n, t);
	if (uses_fwd_map(r->k))
		fprintf(r->f,
		        "\t# external port -> internal endpoint (inbound filtering, hairpin)\n"
		        "\tmap fwd_%s {\n"
		        "\t\ttype inet_service : ipv4_addr . inet_service\n"
		        "\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
		        n, t);
	if (r->k->filtering == NAT_FILTER_ADF)
		fprintf(r->f,
		        "\t# internal endpoint . remote address it has sent to (ADF)\n"
		        "\tset adf_%s {\n"
		        "\t\ttype ipv4_addr . inet_service . ipv4_addr\n"
		        "\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
		        n, t);
}

static void render_unsolicited_sets(struct render *r)
{
	if (r->k->tcp_unsolicited != NAT_TCP_ICMP)
		return;
	fprintf(r->f,
	        "\t# unsolicited SYNs (remote endpoint . port) not answered yet (RFC 5382 REQ-4)\n"
	        "\tset syn_wait_tcp {\n"
	        "\t\ttype ipv4_addr . inet_service . inet_service\n"
	        "\t\tflags dynamic,timeout\n\t\ttimeout %ds\n\t}\n"
	        "\t# and those seen at all: a SYN here but no longer above is answered\n"
	        "\tset syn_seen_tcp {\n"
	        "\t\ttype ipv4_addr . inet_service . inet_service\n"
	        "\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
	        NAT_TCP_UNSOLICITED_WAIT, r->k->tcp_transitory_timeout);
}

static void render_prerouting(struct render *r)
{
	fprintf(r->f, "\tchain prerouting {\n"
	              "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
	for (enum proto p = 0; p < PROTO_COUNT; p++) {
		const char *n = proto_names[p];

		if (r->k->filtering != NAT_FILTER_APDF)
			fprintf(r->f,
			        "\t\tiifname \"" WAN_IF "\" ip daddr %s %s dport @fwd_%s "
			        "dnat ip to %s dport map @fwd_%s\n",
			        r->wan, n, n, n, n);
		if (r->k->hairpin)
			fprintf(r->f,
			        "\t\tiifname %s ip daddr %s %s dport @fwd_%s "
			        "dnat ip to %s dport map @fwd_%s\n",
			        r->lan_ifs, r->wan, n, n, n, n);
	}
	fprintf(r->f, "\t}\n");
}

/* { 0 : lo, 1 : lo + 1, ... }: the ports a `numgen inc mod count` counter walks through. */
static void render_sequence(struct render *r, unsigned lo, unsigned count)
{
	fprintf(r->f, "numgen inc mod %u map { ", count);
	for (unsigned i = 0; i < count; i++)
		fprintf(r->f, "%s%u : %u", i ? ", " : "", i, lo + i);
	fprintf(r->f, " }\n");
}

/*
 * The SNAT rules for a new mapping, by port strategy; each starts with rule (the match
 * so far). held: the source port is an external port another endpoint holds, so it
 * must not be kept; a random draw instead.
 */
static void render_snat(struct render *r, const char *rule, int held)
{
	const struct nat_knobs *k = r->k;
	char sub[INET_ADDRSTRLEN];

	if (k->port_block && k->ports == NAT_PORTS_SEQUENTIAL) {
		/* One counter per subscriber: each rule's numgen counts on its own. */
		for (unsigned i = 0; i < r->a->nsubscribers; i++) {
			inet_ntop(AF_INET, &r->a->subscribers[i], sub, sizeof(sub));
			fprintf(r->f, "%sip saddr %s snat ip to %s : ", rule, sub, r->wan);
			render_sequence(r, NAT_PORT_BASE + i * k->port_block, k->port_block);
		}
		return;
	}
	/* No IPv4 subscriber (an IPv6-only LAN), no block to hand out: nothing to map. */
	if (k->port_block && !r->a->nsubscribers)
		return;
	fprintf(r->f, "%s", rule);
	if (k->port_block) {
		fprintf(r->f, "snat ip to ip saddr map { ");
		for (unsigned i = 0; i < r->a->nsubscribers; i++) {
			unsigned lo = NAT_PORT_BASE + i * k->port_block;

			inet_ntop(AF_INET, &r->a->subscribers[i], sub, sizeof(sub));
			fprintf(r->f, "%s%s : %s . %u-%u", i ? ", " : "", sub, r->wan, lo,
			        lo + k->port_block - 1);
		}
		fprintf(r->f, " }%s\n", held || k->ports == NAT_PORTS_RANDOM ? " random" : "");
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
		fprintf(r->f, "snat ip to %s : ", r->wan);
		render_sequence(r, NAT_PORT_BASE, NAT_SEQUENTIAL_PORTS);
		break;
	}
}

static void render_postrouting(struct render *r)
{
	char rule[256];

	fprintf(r->f, "\tchain postrouting {\n"
	              "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	/* Hairpinned packets leave from the external address, so replies come back. */
	for (enum proto p = 0; r->k->hairpin && is_eim(r) && p < PROTO_COUNT; p++)
		fprintf(r->f,
		        "\t\toifname %s ct status dnat ip saddr %s "
		        "ip saddr . %s sport @eim_%s "
		        "snat ip to ip saddr . %s sport map @eim_%s\n",
		        r->lan_ifs, r->lan, proto_names[p], proto_names[p], proto_names[p],
		        proto_names[p]);
	if (r->k->hairpin)
		fprintf(r->f, "\t\toifname %s ct status dnat ip saddr %s snat ip to %s\n",
		        r->lan_ifs, r->lan, r->wan);
	for (enum proto p = 0; p < PROTO_COUNT; p++) {
		const char *n = proto_names[p];

		if (is_eim(r))
			fprintf(r->f,
			        "\t\toifname \"" WAN_IF
			        "\" ip saddr %s ip saddr . %s sport @eim_%s "
			        "snat ip to ip saddr . %s sport map @eim_%s\n",
			        r->lan, n, n, n, n);
		/* Strategies that may keep the source port must not keep one that is held. */
		if (is_eim(r) && r->k->ports == NAT_PORTS_PRESERVE) {
			snprintf(rule, sizeof(rule),
			         "\t\toifname \"" WAN_IF "\" ip saddr %s %s sport @eim_ports_%s ",
			         r->lan, n, n);
			render_snat(r, rule, 1);
		}
		snprintf(rule, sizeof(rule),
		         "\t\toifname \"" WAN_IF "\" ip saddr %s meta l4proto %s ", r->lan, n);
		render_snat(r, rule, 0);
	}
	fprintf(r->f, "\t\toifname \"" WAN_IF "\" ip saddr %s snat ip to %s\n\t}\n", r->lan,
	        r->wan);
}

/* The updates of one learning chain; timeout: per element (TCP), 0 for the set's own. */
/*
 * The updates of one learning chain; timeout: per element (TCP), 0 for the set's own.
 * Each rule names its protocol again: nftables types `ct ... proto-src` from it.
 */
static void render_learn_chain(struct render *r, const char *chain, enum proto p, unsigned timeout)
{
	const char *n = proto_names[p];
	char t[32] = "";

	if (timeout)
		snprintf(t, sizeof(t), " timeout %us", timeout);
	fprintf(r->f, "\tchain %s {\n", chain);
	if (uses_fwd_map(r->k))
		fprintf(r->f,
		        "\t\tmeta l4proto %s update @fwd_%s { ct reply proto-dst%s : "
		        "ct original ip saddr . ct original proto-src }\n",
		        n, n, t);
	if (is_eim(r))
		fprintf(r->f,
		        "\t\tmeta l4proto %s update @eim_%s { ct original ip saddr . "
		        "ct original proto-src%s : ct reply ip daddr . ct reply proto-dst }\n"
		        "\t\tmeta l4proto %s update @eim_ports_%s { ct reply proto-dst%s }\n"
		        "\t\tmeta l4proto %s update @eim_owners_%s { ct reply proto-dst . "
		        "ct original ip saddr . ct original proto-src%s }\n",
		        n, n, t, n, n, t, n, n, t);
	if (r->k->filtering == NAT_FILTER_ADF)
		fprintf(r->f,
		        "\t\tmeta l4proto %s update @adf_%s { ct original ip saddr . "
		        "ct original proto-src . ip daddr%s }\n",
		        n, n, t);
	fprintf(r->f, "\t}\n");
}

static void render_learn(struct render *r)
{
	if (!is_eim(r) && !uses_fwd_map(r->k))
		return;
	fprintf(r->f, "\tchain learn {\n"
	              "\t\ttype filter hook postrouting priority srcnat + 10; policy accept;\n");
	/* Before anything is learned from it: a new mapping on a port someone else holds. */
	for (enum proto p = 0; is_eim(r) && p < PROTO_COUNT; p++)
		fprintf(r->f,
		        "\t\toifname \"" WAN_IF "\" meta l4proto %s ct state new ct status snat "
		        "ct reply proto-dst @eim_ports_%s ct reply proto-dst . "
		        "ct original ip saddr . ct original proto-src != @eim_owners_%s drop\n",
		        proto_names[p], proto_names[p], proto_names[p]);
	/*
	 * A TCP mapping lives as long as conntrack keeps its connection: tcp_timeout while
	 * established, tcp_transitory_timeout while opening or closing. Conntrack has just
	 * set the entry's expiration by its TCP state, and only an established one lives
	 * longer than the transitory timeout (nat_knobs_validate sees to that).
	 */
	fprintf(r->f,
	        "\t\toifname \"" WAN_IF "\" meta l4proto udp ct status snat goto learn_udp\n"
	        "\t\toifname \"" WAN_IF "\" meta l4proto tcp ct status snat "
	        "ct expiration > %us goto learn_tcp\n"
	        "\t\toifname \"" WAN_IF "\" meta l4proto tcp ct status snat goto "
	        "learn_tcp_transitory\n"
	        "\t}\n",
	        r->k->tcp_transitory_timeout);
	render_learn_chain(r, "learn_udp", PROTO_UDP, 0);
	render_learn_chain(r, "learn_tcp", PROTO_TCP, r->k->tcp_timeout);
	render_learn_chain(r, "learn_tcp_transitory", PROTO_TCP, r->k->tcp_transitory_timeout);
}

void nat_forward_head_render(FILE *f, enum nat_block block, const char *lan)
{
	fprintf(f, "\tchain forward {\n"
	           "\t\ttype filter hook forward priority filter; policy drop;\n"
	           "\t\tct state established,related accept\n");
	if (block != NAT_BLOCK_NONE)
		fprintf(f, "\t\tiifname %s oifname \"" WAN_IF "\" meta l4proto udp drop\n", lan);
	if (block == NAT_BLOCK_WEB_ONLY)
		fprintf(f,
		        "\t\tiifname %s oifname \"" WAN_IF
		        "\" meta l4proto tcp tcp dport != { 80, 443 } drop\n",
		        lan);
	/* The corporate network whose only way out is TLS on 443 (or a proxy inside it). */
	if (block == NAT_BLOCK_HTTPS_ONLY)
		fprintf(f,
		        "\t\tiifname %s oifname \"" WAN_IF "\" meta l4proto != tcp drop\n"
		        "\t\tiifname %s oifname \"" WAN_IF "\" tcp dport != 443 drop\n",
		        lan, lan);
	fprintf(f, "\t\tiifname %s oifname \"" WAN_IF "\" accept\n", lan);
}

static void render_forward(struct render *r)
{
	const char *in = r->lan_ifs;

	nat_forward_head_render(r->f, r->k->block, in);
	if (r->k->hairpin)
		fprintf(r->f, "\t\tiifname %s oifname %s accept\n", in, in);
	if (r->k->filtering == NAT_FILTER_EIF)
		fprintf(r->f, "\t\tiifname \"" WAN_IF "\" ct status dnat accept\n");
	for (enum proto p = 0; r->k->filtering == NAT_FILTER_ADF && p < PROTO_COUNT; p++)
		fprintf(r->f,
		        "\t\tiifname \"" WAN_IF "\" ct status dnat "
		        "ip daddr . %s dport . ip saddr @adf_%s accept\n",
		        proto_names[p], proto_names[p]);
	if (nat_knobs_portmap(r->k))
		fprintf(r->f, "\t\tiifname \"" WAN_IF "\" ct mark 0x%x accept\n", NAT_PORTMAP_MARK);
	fprintf(r->f, "\t}\n");
}

/*
 * NAT-PMP and PCP share UDP port 5351 and one daemon (miniupnpd answers both); the
 * first byte of a request is its version (NAT-PMP 0, PCP 2), so a box that speaks only
 * one of them drops the other's requests, as a gateway without it would not answer.
 */
static void render_portmap_versions(struct render *r)
{
	if (r->k->natpmp == r->k->pcp)
		return;
	fprintf(r->f, "\t\tiifname \"" LAN_IF "\" udp dport %d @th,64,8 %d drop\n",
	        NAT_PORTMAP_PORT,
	        r->k->natpmp ? NAT_PORTMAP_VERSION_PCP : NAT_PORTMAP_VERSION_NATPMP);
}

/*
 * New inbound UDP and TCP to the box itself (no mapping took it) is dropped: its
 * conntrack entry could take a port the next outbound mapping wants, and the box's own
 * stack would answer a SYN with a RST at once, which no RFC 5382 NAT does. With
 * tcp_unsolicited = "icmp", a SYN retransmitted after NAT_TCP_UNSOLICITED_WAIT seconds
 * gets ICMP port unreachable instead (nftables cannot hold a packet back).
 */
static void render_input(struct render *r)
{
	if (r->k->tcp_unsolicited == NAT_TCP_ICMP)
		fprintf(r->f, "\tchain unsolicited_tcp {\n"
		              "\t\tip saddr . tcp sport . tcp dport @syn_wait_tcp drop\n"
		              "\t\ttcp flags & (syn | ack) == syn ip saddr . tcp sport . tcp dport "
		              "@syn_seen_tcp reject with icmp type port-unreachable\n"
		              "\t\ttcp flags & (syn | ack) == syn "
		              "add @syn_wait_tcp { ip saddr . tcp sport . tcp dport } "
		              "add @syn_seen_tcp { ip saddr . tcp sport . tcp dport }\n"
		              "\t}\n");
	fprintf(r->f, "\tchain input {\n"
	              "\t\ttype filter hook input priority filter; policy accept;\n"
	              "\t\tiifname \"" WAN_IF "\" meta l4proto udp ct state new drop\n");
	if (r->k->tcp_unsolicited == NAT_TCP_ICMP)
		fprintf(r->f, "\t\tiifname \"" WAN_IF "\" meta l4proto tcp ct state new "
		              "jump unsolicited_tcp\n");
	fprintf(r->f, "\t\tiifname \"" WAN_IF "\" meta l4proto tcp ct state new,invalid drop\n");
	render_portmap_versions(r);
	fprintf(r->f, "\t}\n");
}

/*
 * The table miniupnpd writes its mappings into: chains named in its configuration
 * (portmap.c), hooked just before natlab's own (priorities - 10) so that a mapping's
 * DNAT wins over natlab's. A connection a mapping took in keeps NAT_PORTMAP_MARK, which
 * natlab's forward chain accepts whatever the filtering (its policy is drop, and a drop
 * in any table is final). `add` only: loading it again keeps the daemon's rules.
 */
const char *nat_portmap_ruleset(void)
{
	return "add table inet " NAT_PORTMAP_TABLE "\n"
	       "add chain inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_FORWARD_CHAIN "\n"
	       "add chain inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_DNAT_CHAIN "\n"
	       "add chain inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_SNAT_CHAIN "\n"
	       "add chain inet " NAT_PORTMAP_TABLE " prerouting "
	       "{ type nat hook prerouting priority dstnat - 10; policy accept; }\n"
	       "add chain inet " NAT_PORTMAP_TABLE " postrouting "
	       "{ type nat hook postrouting priority srcnat - 10; policy accept; }\n"
	       "add chain inet " NAT_PORTMAP_TABLE " forward "
	       "{ type filter hook forward priority filter - 10; policy accept; }\n"
	       "flush chain inet " NAT_PORTMAP_TABLE " prerouting\n"
	       "flush chain inet " NAT_PORTMAP_TABLE " postrouting\n"
	       "flush chain inet " NAT_PORTMAP_TABLE " forward\n"
	       "add rule inet " NAT_PORTMAP_TABLE " prerouting iifname \"" WAN_IF
	       "\" ct mark set " NAT_PORTMAP_MARK_TEXT " jump " NAT_PORTMAP_DNAT_CHAIN "\n"
	       "add rule inet " NAT_PORTMAP_TABLE " prerouting iifname \"" WAN_IF
	       "\" ct mark set 0\n"
	       "add rule inet " NAT_PORTMAP_TABLE " postrouting jump " NAT_PORTMAP_SNAT_CHAIN "\n"
	       "add rule inet " NAT_PORTMAP_TABLE " forward iifname \"" WAN_IF
	       "\" jump " NAT_PORTMAP_FORWARD_CHAIN "\n";
}

int nat_ruleset_render(const struct nat_knobs *k, const struct nat_box_addrs *a, char **out)
{
	/* Translated IPv6 hosts come out of TAYGA's device: the LAN's traffic too (nat64). */
	struct render r = { .k = k,
		            .a = a,
		            .lan_ifs = k->nat64 ? "{ \"" LAN_IF "\", \"" NAT64_IF "\" }"
		                                : "\"" LAN_IF "\"" };
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
		for (enum proto p = 0; p < PROTO_COUNT; p++)
			render_sets(&r, p);
		render_unsolicited_sets(&r);
		render_prerouting(&r);
		render_postrouting(&r);
		render_learn(&r);
		render_forward(&r);
		render_input(&r);
		fprintf(r.f, "}\n");
	}
	return memstream_done(r.f, out);
}
