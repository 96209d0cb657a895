/* SPDX-License-Identifier: MIT */
/* The behaviour the NATs on a probed path declare, and whether a measurement matches it. */
#include "natlab/probe_path.h"
#include "natlab/nat_json.h"

#include <string.h>

static bool web_port(uint16_t port)
{
	return port == 80 || port == 443;
}

/*
 * Node c's place among the subscribers of NAT box nat: the ruleset numbers the LAN's
 * addresses in model order (topology.c, nat_subscribers), and c uses its first.
 */
static unsigned subscriber_index(const struct lab_model *m, int nat, int c)
{
	unsigned idx = 0;

	for (int j = 0; j < c; j++)
		if (m->nodes[j].parent == nat)
			idx += (unsigned)m->nodes[j].naddrs;
	return idx;
}

void probe_path_walk(const struct lab_model *m, int host, const uint16_t tcp_port[2],
                     struct probe_path *p)
{
	*p = (struct probe_path){ .nats = json_array(), .all_preserve = true };
	for (int c = host, up = m->nodes[host].parent; up >= 0; c = up, up = m->nodes[up].parent) {
		const struct lab_node *n = &m->nodes[up];
		const struct nat_knobs *k = &n->knobs;

		if (n->kind != LAB_NODE_NAT)
			continue;
		json_array_append_new(p->nats, json_pack("{s:s, s:s, s:o?}", "name", n->name,
		                                         "profile", n->profile, "knobs",
		                                         nat_knobs_json(n->profile, k)));
		if (!k->translate)
			continue;
		p->translating++;
		p->udp_blocked |= k->block != NAT_BLOCK_NONE;
		p->tcp_blocked |= k->block == NAT_BLOCK_WEB_ONLY &&
		                  !(web_port(tcp_port[0]) && web_port(tcp_port[1]));
		/* The probe needs two TCP ports, and only 443 gets out. */
		p->tcp_blocked |= k->block == NAT_BLOCK_HTTPS_ONLY;
		p->all_preserve &= k->ports == NAT_PORTS_PRESERVE;
		p->hairpin = k->hairpin;
		p->block_lo = p->block_hi = 0;
		if (k->port_block) {
			p->blocks++;
			p->block_lo = NAT_PORT_BASE + subscriber_index(m, up, c) * k->port_block;
			p->block_hi = p->block_lo + k->port_block - 1;
		}
		if (k->mapping > p->mapping)
			p->mapping = k->mapping;
		if (k->filtering > p->filtering)
			p->filtering = k->filtering;
	}
}

void probe_path_close(struct probe_path *p)
{
	json_decref(p->nats);
	p->nats = NULL;
}

static json_t *preserved_json(const struct probe_path *p, bool blocked, unsigned local_port)
{
	if (blocked || p->blocks > 1)
		return json_null();
	if (!p->all_preserve)
		return json_false();
	if (!p->blocks)
		return json_true();
	if (!p->block_lo) /* an inner NAT's block: where its ports land is not predicted */
		return json_null();
	return json_boolean(local_port >= p->block_lo && local_port <= p->block_hi);
}

json_t *probe_path_declared(const struct probe_path *p, unsigned udp_local, unsigned tcp_local)
{
	bool ub = p->udp_blocked, tb = p->tcp_blocked, in_block = p->block_lo != 0;
	json_t *tcp;

	tcp = json_pack("{s:s, s:b, s:s?, s:s?, s:o, s:o}", "status", tb ? "blocked" : "ok", "nat",
	                p->translating > 0, "mapping", tb ? NULL : nat_mapping_name(p->mapping),
	                "filtering", tb ? NULL : nat_filtering_name(p->filtering), "port_preserved",
	                preserved_json(p, tb, tcp_local), "port_in_block",
	                in_block && !tb ? json_true() : json_null());
	return json_pack("{s:O, s:b, s:s, s:s?, s:s?, s:o, s:o, s:o, s:o, s:o}", "nats", p->nats,
	                 "nat", p->translating > 0, "udp", ub ? "blocked" : "ok", "mapping",
	                 ub ? NULL : nat_mapping_name(p->mapping), "filtering",
	                 ub ? NULL : nat_filtering_name(p->filtering), "hairpin",
	                 p->translating == 1 && !ub ? json_boolean(p->hairpin) : json_null(),
	                 "port_preserved", preserved_json(p, ub, udp_local), "port_in_block",
	                 in_block && !ub ? json_true() : json_null(), "port_block",
	                 in_block ? json_pack("[i, i]", p->block_lo, p->block_hi) : json_null(),
	                 "tcp", tcp);
}

void probe_path_mark_block(const struct probe_path *p, json_t *measured, bool ok,
                           unsigned mapped_port)
{
	if (!p->block_lo)
		return;
	json_object_set_new(
	    measured, "port_in_block",
	    ok ? json_boolean(mapped_port >= p->block_lo && mapped_port <= p->block_hi)
	       : json_null());
}

bool probe_path_matches(const json_t *declared, const json_t *measured, bool tcp)
{
	static const char *const udp_keys[] = { "udp",           "nat",     "mapping",
		                                "filtering",     "hairpin", "port_preserved",
		                                "port_in_block", NULL };
	static const char *const tcp_keys[] = {
		"status", "nat", "mapping", "filtering", "port_preserved", "port_in_block", NULL
	};
	const char *const *keys = tcp ? tcp_keys : udp_keys;

	for (size_t k = 0; keys[k]; k++) {
		const json_t *d = json_object_get(declared, keys[k]);

		if (!d || json_is_null(d))
			continue;
		if (!json_equal((json_t *)d, json_object_get(measured, keys[k])))
			return false;
		/* The status comes first: blocked, nothing else could be measured. */
		if (k == 0 && json_is_string(d) && strcmp(json_string_value(d), "blocked") == 0)
			return true;
	}
	return true;
}
