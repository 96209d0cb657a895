/* SPDX-License-Identifier: MIT */
/*
 * The peer's endpoint addresses, IPv4 or IPv6: candidates, probe targets, where a packet
 * came from, the direct path. sa.sa_family says which member is valid; a pointer to one
 * is a struct sockaddr for the socket API. Code that only ever speaks IPv4 (hard-NAT
 * techniques, TURN) reads .in after checking the family.
 */
#ifndef NATLAB_PEER_SA_H
#define NATLAB_PEER_SA_H

#include <netinet/in.h>
#include <sys/socket.h>

union peer_sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

#endif
