/* SPDX-License-Identifier: MIT */
/*
 * A NAT box's port-mapping gateway as miniupnpd's configuration: which protocols it
 * answers, the leases it grants, the chains it writes (nat.h, NAT_PORTMAP_*), and who
 * may map which ports. Pure text, so tests compare it.
 */
#include "natlab/portmap.h"
#include "natlab/memstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* miniupnpd's own floor for a lease (min_lifetime's default), unless the cap is lower. */
#define PORTMAP_MIN_LEASE 120

/*
 * Who may map what. A home box lets its LAN map any port from 1024 up, as miniupnpd's
 * sample configuration does; a CGN with port blocks lets each subscriber map only the
 * ports of its own block, which is what RFC 6887 asks of a CGN's PCP server. Anything
 * else is refused.
 */
static void render_permissions(FILE *f, const struct nat_knobs *k, const struct nat_box_addrs *a)
{
	char ip[INET_ADDRSTRLEN];

	if (k->port_block) {
		for (unsigned i = 0; i < a->nsubscribers; i++) {
			unsigned lo = NAT_PORT_BASE + i * k->port_block;

			inet_ntop(AF_INET, &a->subscribers[i], ip, sizeof(ip));
			fprintf(f, "allow %u-%u %s/32 1-65535\n", lo, lo + k->port_block - 1, ip);
		}
	} else {
		inet_ntop(AF_INET, &a->lan_prefix, ip, sizeof(ip));
		fprintf(f, "allow %d-65535 %s/%d 1-65535\n", NAT_PORT_BASE, ip, a->lan_len);
	}
	fprintf(f, "deny 0-65535 0.0.0.0/0 0-65535\n");
}

int portmap_conf_render(const struct nat_knobs *k, const struct nat_box_addrs *a, const char *name,
                        uint64_t seed, const char *minissdpd, char **out)
{
	/* miniupnpd wants its floor below its cap (the knob's range keeps the cap >= 2). */
	unsigned min_lease =
	    k->portmap_lease <= PORTMAP_MIN_LEASE ? k->portmap_lease - 1 : PORTMAP_MIN_LEASE;
	size_t len;
	FILE *f;

	*out = NULL;
	f = open_memstream(out, &len);
	if (!f)
		return -errno;
	fprintf(f,
	        "# natlab: the port-mapping gateway of NAT box \"%s\"\n"
	        "ext_ifname=wan\n"
	        "listening_ip=lan\n"
	        "enable_upnp=%s\n"
	        "enable_natpmp=%s\n"
	        "http_port=%d\n"
	        "min_lifetime=%u\n"
	        "max_lifetime=%u\n"
	        "upnp_table_name=" NAT_PORTMAP_TABLE "\n"
	        "upnp_nat_table_name=" NAT_PORTMAP_TABLE "\n"
	        "upnp_forward_chain=" NAT_PORTMAP_FORWARD_CHAIN "\n"
	        "upnp_nat_chain=" NAT_PORTMAP_DNAT_CHAIN "\n"
	        "upnp_nat_postrouting_chain=" NAT_PORTMAP_SNAT_CHAIN "\n"
	        "secure_mode=yes\n"
	        "system_uptime=no\n"
	        "notify_interval=60\n"
	        "minissdpdsocket=%s\n"
	        "friendly_name=natlab %s\n"
	        "uuid=%08x-6e61-746c-6162-%012llx\n",
	        name, k->upnp ? "yes" : "no", k->natpmp || k->pcp ? "yes" : "no", PORTMAP_HTTP_PORT,
	        min_lease, k->portmap_lease, minissdpd, name, (unsigned)(seed & 0xffffffffu),
	        (unsigned long long)(seed >> 16) & 0xffffffffffffull);
	render_permissions(f, k, a);
	return memstream_done(f, out);
}
