/* SPDX-License-Identifier: MIT */
/*
 * IPv6 knobs -> `table ip6 natlab`. A box routes its IPv6 LAN without translating it
 * (unless nptv6), so filtering is all there is:
 *
 * - address-and-port-dependent: conntrack's established state, nothing else comes in
 *   (RFC 6092 section 3.2: outbound opens a flow, unsolicited inbound is dropped);
 * - address-dependent: set adf_<proto> of (internal address . port . remote address)
 *   learned from what left the LAN; inbound to a learned internal endpoint from that
 *   remote address passes;
 * - endpoint-independent: set eif_<proto> of (internal address . port); inbound to it
 *   from anyone passes;
 * - open: everything passes (no IPv6 firewall).
 * Sets are learned in postrouting (priority srcnat + 10, as on IPv4), so only what the
 * forward chain let out is learned, and each outbound packet renews its element.
 *
 * nptv6 (RFC 6296): each LAN address is rewritten statelessly, before conntrack inbound
 * (prerouting, priority raw) and after the learning outbound (postrouting, srcnat + 20),
 * through maps natlab computes checksum-neutrally per address (nat_nptv6_map): conntrack
 * and the filtering sets see internal addresses only, and transport checksums stay as
 * they were. Addresses outside the maps (none exist in a lab) are dropped.
 */
#include "natlab/nat6.h"
#include "natlab/memstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAN_IF "wan"
#define LAN_IF "lan"

static const char *const protos[] = { "udp", "tcp" };

static uint16_t word(const struct in6_addr *a, int i)
{
	return (uint16_t)(a->s6_addr[2 * i] << 8 | a->s6_addr[2 * i + 1]);
}

static void set_word(struct in6_addr *a, int i, uint16_t w)
{
	a->s6_addr[2 * i] = (uint8_t)(w >> 8);
	a->s6_addr[2 * i + 1] = (uint8_t)w;
}

/* One's complement addition of 16-bit words (end-around carry). */
static uint16_t oc_add(uint16_t a, uint16_t b)
{
	uint32_t s = (uint32_t)a + b;

	return (uint16_t)((s & 0xffff) + (s >> 16));
}

static uint16_t prefix_sum(const struct in6_addr *a)
{
	uint16_t s = 0;

	for (int i = 0; i < 4; i++)
		s = oc_add(s, word(a, i));
	return s;
}

struct in6_addr nat_nptv6_map(const struct in6_addr *in, const struct in6_addr *pub)
{
	/* RFC 6296 section 3.2: the adjustment is the internal sum minus the external one. */
	uint16_t adj = oc_add(prefix_sum(in), (uint16_t)~prefix_sum(pub));
	struct in6_addr out = *in;
	int w = 4;

	memcpy(out.s6_addr, pub->s6_addr, 8);
	/* Section 3.7: a /64 adjusts the first word of the identifier that is not 0xffff. */
	while (w < 7 && word(&out, w) == 0xffff)
		w++;
	{
		uint16_t v = oc_add(word(&out, w), adj);

		/* 0xffff and 0 are the same one's complement number; RFC 6296 writes 0. */
		set_word(&out, w, v == 0xffff ? 0 : v);
	}
	return out;
}

struct render6 {
	FILE *f;
	const struct nat_knobs *k;
	const struct nat6_box_addrs *a;
	char lan[INET6_ADDRSTRLEN + 4];
	char pub[INET6_ADDRSTRLEN + 4];
};

static unsigned proto_timeout(const struct nat_knobs *k, int p)
{
	return p ? k->tcp_timeout : k->udp_timeout;
}

static void render_sets(struct render6 *r)
{
	for (int p = 0; p < 2; p++) {
		if (r->k->filtering6 == NAT_FILTER6_EIF)
			fprintf(r->f,
			        "\t# internal endpoints that sent out: anyone may answer (EIF)\n"
			        "\tset eif_%s {\n\t\ttype ipv6_addr . inet_service\n"
			        "\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
			        protos[p], proto_timeout(r->k, p));
		if (r->k->filtering6 == NAT_FILTER6_ADF)
			fprintf(r->f,
			        "\t# internal endpoint . remote address it sent to (ADF)\n"
			        "\tset adf_%s {\n\t\ttype ipv6_addr . inet_service . ipv6_addr\n"
			        "\t\tflags dynamic,timeout\n\t\ttimeout %us\n\t}\n",
			        protos[p], proto_timeout(r->k, p));
	}
}

/* The per-address maps of nptv6, both ways. */
static void render_npt_maps(struct render6 *r)
{
	char in[INET6_ADDRSTRLEN], ex[INET6_ADDRSTRLEN];

	for (int dir = 0; dir < 2; dir++) {
		fprintf(r->f, "\tmap npt_%s {\n\t\ttype ipv6_addr : ipv6_addr\n",
		        dir ? "in" : "out");
		for (unsigned i = 0; i < r->a->nhosts; i++) {
			struct in6_addr e = nat_nptv6_map(&r->a->hosts[i], &r->a->pub);

			inet_ntop(AF_INET6, &r->a->hosts[i], in, sizeof(in));
			inet_ntop(AF_INET6, &e, ex, sizeof(ex));
			fprintf(r->f, "%s%s : %s", i ? ", " : "\t\telements = { ", dir ? ex : in,
			        dir ? in : ex);
		}
		fprintf(r->f, "%s\t}\n", r->a->nhosts ? " }\n" : "");
	}
}

static void render_npt_chains(struct render6 *r)
{
	fprintf(r->f,
	        "\tchain npt_prerouting {\n"
	        "\t\ttype filter hook prerouting priority raw; policy accept;\n"
	        "\t\tiifname \"" WAN_IF "\" ip6 daddr %s ip6 daddr set ip6 daddr map @npt_in\n"
	        "\t\tiifname \"" WAN_IF "\" ip6 daddr %s drop\n"
	        "\t}\n"
	        "\tchain npt_postrouting {\n"
	        "\t\ttype filter hook postrouting priority srcnat + 20; policy accept;\n"
	        "\t\toifname \"" WAN_IF "\" ip6 saddr %s ip6 saddr set ip6 saddr map @npt_out\n"
	        "\t\toifname \"" WAN_IF "\" ip6 saddr %s drop\n"
	        "\t}\n",
	        r->pub, r->pub, r->lan, r->lan);
}

static void render_learn(struct render6 *r)
{
	if (r->k->filtering6 != NAT_FILTER6_EIF && r->k->filtering6 != NAT_FILTER6_ADF)
		return;
	fprintf(r->f, "\tchain learn {\n"
	              "\t\ttype filter hook postrouting priority srcnat + 10; policy accept;\n");
	for (int p = 0; p < 2; p++)
		if (r->k->filtering6 == NAT_FILTER6_EIF)
			fprintf(r->f,
			        "\t\tiifname \"" LAN_IF "\" oifname \"" WAN_IF "\" meta l4proto %s "
			        "update @eif_%s { ip6 saddr . %s sport }\n",
			        protos[p], protos[p], protos[p]);
		else
			fprintf(r->f,
			        "\t\tiifname \"" LAN_IF "\" oifname \"" WAN_IF "\" meta l4proto %s "
			        "update @adf_%s { ip6 saddr . %s sport . ip6 daddr }\n",
			        protos[p], protos[p], protos[p]);
	fprintf(r->f, "\t}\n");
}

static void render_forward(struct render6 *r)
{
	/* The same blocks as IPv4's: a udp-blocked network lets no IPv6 UDP out either. */
	nat_forward_head_render(r->f, r->k->block, "\"" LAN_IF "\"");
	/*
	 * NAT64 (nat64.h): the LAN's IPv6 to the prefix goes into TAYGA's device, and what
	 * comes out of it passed the box's IPv4 filtering already: the IPv4 knobs, not
	 * filtering6, decide what reaches a host through NAT64.
	 */
	if (r->k->nat64)
		fprintf(r->f, "\t\tiifname \"" LAN_IF "\" oifname \"" NAT64_IF "\" accept\n"
		              "\t\tiifname \"" NAT64_IF "\" oifname \"" LAN_IF "\" accept\n");
	if (r->k->filtering6 == NAT_FILTER6_OPEN)
		fprintf(r->f, "\t\tiifname \"" WAN_IF "\" oifname \"" LAN_IF "\" accept\n");
	for (int p = 0; p < 2; p++) {
		if (r->k->filtering6 == NAT_FILTER6_EIF)
			fprintf(r->f,
			        "\t\tiifname \"" WAN_IF "\" ip6 daddr . %s dport @eif_%s accept\n",
			        protos[p], protos[p]);
		if (r->k->filtering6 == NAT_FILTER6_ADF)
			fprintf(r->f,
			        "\t\tiifname \"" WAN_IF "\" ip6 daddr . %s dport . ip6 saddr "
			        "@adf_%s accept\n",
			        protos[p], protos[p]);
	}
	fprintf(r->f, "\t}\n");
}

/*
 * New inbound UDP and TCP to the box itself is dropped, as on IPv4 (its own stack would
 * answer a SYN with a RST); ICMPv6 (neighbour discovery) passes.
 */
static void render_input(struct render6 *r)
{
	fprintf(r->f, "\tchain input {\n"
	              "\t\ttype filter hook input priority filter; policy accept;\n"
	              "\t\tiifname \"" WAN_IF "\" meta l4proto udp ct state new drop\n"
	              "\t\tiifname \"" WAN_IF "\" meta l4proto tcp ct state new,invalid drop\n"
	              "\t}\n");
}

static int prefix_text(char *buf, size_t len, const struct in6_addr *a)
{
	char s[INET6_ADDRSTRLEN];
	int n;

	inet_ntop(AF_INET6, a, s, sizeof(s));
	n = snprintf(buf, len, "%s/64", s);
	return n < 0 || (size_t)n >= len ? -EOVERFLOW : 0;
}

int nat6_ruleset_render(const struct nat_knobs *k, const struct nat6_box_addrs *a, char **out)
{
	struct render6 r = { .k = k, .a = a };
	size_t len;

	*out = NULL;
	if (prefix_text(r.lan, sizeof(r.lan), &a->lan) < 0 ||
	    prefix_text(r.pub, sizeof(r.pub), &a->pub) < 0)
		return -EOVERFLOW;
	r.f = open_memstream(out, &len);
	if (!r.f)
		return -errno;
	if (k->translate) {
		fprintf(r.f, "table ip6 natlab {\n");
		render_sets(&r);
		if (k->nptv6) {
			render_npt_maps(&r);
			render_npt_chains(&r);
		}
		render_learn(&r);
		render_forward(&r);
		render_input(&r);
		fprintf(r.f, "}\n");
	}
	return memstream_done(r.f, out);
}
