/* SPDX-License-Identifier: MIT */
/*
 * The IPv6 fields of lab.json (state.c calls these): written only for a lab with IPv6 on,
 * so an IPv4 lab's lab.json is as before. Nodes: "ipv6" (true, false, "only"), "addrs6";
 * routers also "lan6", "gateway6", "pub6". The internet: "prefix6", "routers6".
 */
#ifndef NATLAB_STATE6_H
#define NATLAB_STATE6_H

#include "natlab/model.h"

#include <jansson.h>

void lab_state6_node_json(const struct lab_model *m, const struct lab_node *n, json_t *o);
void lab_state6_internet_json(const struct lab_model *m, json_t *o);
/* Reads them back into node n / model m; -EINVAL if malformed. */
int lab_state6_node_read(struct lab_node *n, json_t *o);
int lab_state6_internet_read(struct lab_model *m, json_t *o);

#endif
