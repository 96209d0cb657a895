/* SPDX-License-Identifier: MIT */
#include "natlab/state6.h"
#include "natlab/model6.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static json_t *addr6_json(const struct in6_addr *a)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, s, sizeof(s));
	return json_string(s);
}

static json_t *prefix6_json(const struct in6_addr *a, int len)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, s, sizeof(s));
	return json_sprintf("%s/%d", s, len);
}

void lab_state6_node_json(const struct lab_model *m, const struct lab_node *n, json_t *o)
{
	json_t *addrs = json_array();
	struct in6_addr g = lab_node_gateway6(n);

	if (!m->v6) {
		json_decref(addrs);
		return;
	}
	for (int j = 0; j < n->naddrs6; j++)
		json_array_append_new(addrs, addr6_json(&n->addrs6[j]));
	json_object_set_new(o, "ipv6",
	                    n->ipv6 == LAB_IPV6_ONLY ? json_string("only")
	                                             : json_boolean(lab_node_has6(n)));
	json_object_set_new(o, "addrs6", addrs);
	if (n->kind == LAB_NODE_HOST || !lab_node_has6(n))
		return;
	json_object_set_new(o, "lan6", prefix6_json(&n->prefix6, LAB_LAN6_LEN));
	json_object_set_new(o, "gateway6", addr6_json(&g));
	json_object_set_new(o, "pub6", prefix6_json(&n->pub6, LAB_LAN6_LEN));
}

void lab_state6_internet_json(const struct lab_model *m, json_t *o)
{
	json_t *routers = json_array();

	if (!m->v6) {
		json_decref(routers);
		return;
	}
	for (int k = 0; k < m->hops; k++) {
		struct in6_addr a = lab_hop6_addr(m, k);

		json_array_append_new(routers, addr6_json(&a));
	}
	json_object_set_new(o, "prefix6", prefix6_json(&m->inet6_prefix, m->inet6_len));
	json_object_set_new(o, "routers6", routers);
}

static int prefix6_read(json_t *v, struct in6_addr *a)
{
	int len;

	return json_is_string(v) && lab_prefix6_parse(json_string_value(v), a, &len) == 0 &&
	               len == LAB_LAN6_LEN
	           ? 0
	           : -EINVAL;
}

int lab_state6_node_read(struct lab_node *n, json_t *o)
{
	json_t *v = json_object_get(o, "ipv6"), *addrs = json_object_get(o, "addrs6"), *a;
	size_t j;

	n->ipv6 = !v || json_is_false(v) ? LAB_IPV6_OFF
	          : json_is_true(v)      ? LAB_IPV6_DUAL
	                                 : LAB_IPV6_ONLY;
	if (v && !json_is_boolean(v) &&
	    (!json_is_string(v) || strcmp(json_string_value(v), "only") != 0))
		return -EINVAL;
	json_array_foreach(addrs, j, a)
	{
		if (j >= LAB_ADDRS_MAX || !json_is_string(a) ||
		    inet_pton(AF_INET6, json_string_value(a), &n->addrs6[j]) != 1)
			return -EINVAL;
		n->naddrs6++;
	}
	if ((v = json_object_get(o, "lan6")) && prefix6_read(v, &n->prefix6) < 0)
		return -EINVAL;
	if ((v = json_object_get(o, "pub6")) && prefix6_read(v, &n->pub6) < 0)
		return -EINVAL;
	return 0;
}

int lab_state6_internet_read(struct lab_model *m, json_t *o)
{
	json_t *v = o ? json_object_get(o, "prefix6") : NULL;
	char err[256];

	if (!v)
		return 0;
	return json_is_string(v) ? lab_internet6_set(m, json_string_value(v), err, sizeof(err))
	                         : -EINVAL;
}
