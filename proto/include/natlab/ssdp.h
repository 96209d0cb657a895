/* SPDX-License-Identifier: MIT */
/*
 * SSDP (UPnP Device Architecture 1.1, section 1.3) for finding a gateway: the M-SEARCH
 * request for an Internet Gateway Device, and the LOCATION of an answer. Pure: no
 * sockets. The parser reads whatever arrives on our search socket and is fuzzed.
 */
#ifndef NATLAB_SSDP_H
#define NATLAB_SSDP_H

#include <stddef.h>

#define SSDP_PORT      1900
#define SSDP_MULTICAST "239.255.255.250"
#define SSDP_IGD_TYPE  "urn:schemas-upnp-org:device:InternetGatewayDevice:1"

/* The M-SEARCH for an IGD (MX 1): its length, or -ENOBUFS. */
int ssdp_search_encode(char *out, size_t cap);
/*
 * An answer (HTTP/1.1 200 OK with a LOCATION header, case-insensitive): its URL into out
 * (NUL-terminated), returns its length; -EBADMSG when buf is no such answer or the URL
 * is not http://, -ENOBUFS when it does not fit.
 */
int ssdp_location_parse(const char *buf, size_t len, char *out, size_t cap);

#endif
