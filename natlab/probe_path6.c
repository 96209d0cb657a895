/* SPDX-License-Identifier: MIT */
/*
 * What the boxes between a host and the internet declare for IPv6 (natlab probe --ipv6):
 * a box routes its IPv6 LAN, so the mapping is endpoint-independent and ports are kept;
 * NPTv6 rewrites the prefix (the address changes: a NAT as the probe sees it); each box's
 * filtering6 filters what comes in, and stacked boxes add up to the strictest. An `open`
 * box lets everything in, which RFC 5780's tests read as endpoint-independent.
 */
#include "natlab/probe_path.h"

#include "natlab/nat.h"

/* Strictness of a filtering6 value, for the RFC 5780 reading of it. */
static int strictness(enum nat_filtering6 f)
{
	switch (f) {
	case NAT_FILTER6_APDF:
		return 2;
	case NAT_FILTER6_ADF:
		return 1;
	default:
		return 0; /* EIF and open */
	}
}

static const char *filtering_word(int strict)
{
	return strict == 2   ? "address-and-port-dependent"
	       : strict == 1 ? "address-dependent"
	                     : "endpoint-independent";
}

json_t *probe_path6_declared(const struct lab_model *m, int host, const uint16_t tcp_port[2])
{
	bool nat = false, udp_blocked = false, tcp_blocked = false;
	json_t *nats = json_array(), *tcp;
	int strict = 0;

	for (int up = m->nodes[host].parent; up >= 0; up = m->nodes[up].parent) {
		const struct lab_node *n = &m->nodes[up];
		const struct nat_knobs *k = &n->knobs;

		if (n->kind != LAB_NODE_NAT)
			continue;
		json_array_append_new(nats, json_pack("{s:s, s:s, s:s, s:b}", "name", n->name,
		                                      "profile", n->profile, "filtering6",
		                                      filtering_word(strictness(k->filtering6)),
		                                      "nptv6", k->nptv6 != 0));
		if (strictness(k->filtering6) > strict)
			strict = strictness(k->filtering6);
		nat |= k->nptv6 != 0;
		/* block filters IPv6 out of the LAN as it does IPv4 (docs/scenarios.md). */
		udp_blocked |= k->block != NAT_BLOCK_NONE;
		tcp_blocked |= (k->block == NAT_BLOCK_WEB_ONLY &&
		                !((tcp_port[0] == 80 || tcp_port[0] == 443) &&
		                  (tcp_port[1] == 80 || tcp_port[1] == 443))) ||
		               k->block == NAT_BLOCK_HTTPS_ONLY;
	}
	tcp = json_pack("{s:s, s:b, s:s?, s:s?, s:o}", "status", tcp_blocked ? "blocked" : "ok",
	                "nat", nat, "mapping", tcp_blocked ? NULL : "endpoint-independent",
	                "filtering", tcp_blocked ? NULL : filtering_word(strict), "port_preserved",
	                tcp_blocked ? json_null() : json_true());
	return json_pack("{s:o, s:b, s:s, s:s?, s:s?, s:o, s:o}", "nats", nats, "nat", nat, "udp",
	                 udp_blocked ? "blocked" : "ok", "mapping",
	                 udp_blocked ? NULL : "endpoint-independent", "filtering",
	                 udp_blocked ? NULL : filtering_word(strict), "port_preserved",
	                 udp_blocked ? json_null() : json_true(), "tcp", tcp);
}
