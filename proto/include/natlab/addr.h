/* SPDX-License-Identifier: MIT */
/*
 * Socket addresses as text and compared: the one parser and formatter that the relay,
 * the peer and the harness use for every "ADDR:PORT" they read or print.
 *
 * The text is "a.b.c.d:port" or "[v6]:port" (an IPv6 address always in brackets, so the
 * port is never ambiguous). Ports are in network byte order inside the addresses, as the
 * socket API has them. Only literal addresses: names are resolved by the caller.
 *
 * Each function reads a struct sockaddr through its family's own type (sockaddr_in or
 * sockaddr_in6), never through sockaddr_storage, so a sockaddr_in kept in a packed array
 * (4-byte aligned) can be passed as it is.
 */
#ifndef NATLAB_ADDR_H
#define NATLAB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Room for any text addr_format() writes: "[" INET6_ADDRSTRLEN "]:65535". */
#define ADDR_TEXT_MAX 56

/* Whether addr_parse() takes a text without ":port" (the port is 0 then). */
enum addr_port { ADDR_PORT_REQUIRED, ADDR_PORT_OPTIONAL };

/*
 * Parses "a.b.c.d:port" or "[v6]:port" (or, with ADDR_PORT_OPTIONAL, "a.b.c.d" and
 * "[v6]") into out, which is zeroed first. The port is decimal digits up to 65535.
 * Returns 0 or -EINVAL.
 */
int addr_parse(const char *text, struct sockaddr_storage *out, enum addr_port port);

/* Formats sa as addr_parse() reads it. Returns 0, -ENOSPC or -EAFNOSUPPORT. */
int addr_format(const struct sockaddr *sa, char *buf, size_t cap);

/* Whether a and b have the same family (IPv4 or IPv6), address and port. */
bool addr_equal(const struct sockaddr *a, const struct sockaddr *b);

#endif
