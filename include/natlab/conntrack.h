/* SPDX-License-Identifier: MIT */
/*
 * Reading a namespace's conntrack table (ctnetlink): what a NAT box holds as mappings,
 * each entry with its original tuple (as the inside host sent it) and its reply tuple
 * (as the outside sees it: for a translated flow, the external address and port).
 */
#ifndef NATLAB_CONNTRACK_H
#define NATLAB_CONNTRACK_H

#include <jansson.h>
#include <stddef.h>

/*
 * Dumps the IPv4 conntrack table of the namespace the caller is in now into *out (new
 * reference), an array of objects: proto, original and reply ({src, dst} as "a.b.c.d:port",
 * ports absent for protocols without), timeout_s, tcp_state (TCP), flags (snat, dnat,
 * assured, seen_reply as found) and, for a source-translated flow, mapped ("inside ->
 * outside" endpoint). Returns 0 or -errno with a sentence in err.
 */
int lab_conntrack_read(json_t **out, char *err, size_t errlen);

#endif
