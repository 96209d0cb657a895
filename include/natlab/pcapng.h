/* SPDX-License-Identifier: MIT */
/*
 * A pcapng writer (the format Wireshark reads natively): one section, any number of
 * named interfaces, packets with optional comments. libpcap writes only classic pcap,
 * one link type and no names per file; a lab's one capture needs all three.
 */
#ifndef NATLAB_PCAPNG_H
#define NATLAB_PCAPNG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/* Link types used here (pcap-linktype(7)). */
#define PCAPNG_LINKTYPE_ETHERNET 1
#define PCAPNG_LINKTYPE_USER0    147

struct pcapng;

/* Creates path and writes the section header. 0 or -errno; *out owned by the caller. */
int pcapng_open(const char *path, const char *app, struct pcapng **out);

/*
 * Describes an interface named name (e.g. "home/wan"); returns its id for
 * pcapng_packet (0, 1, ... in order), or -errno.
 */
int pcapng_interface(struct pcapng *p, const char *name, int linktype, uint32_t snaplen);

/*
 * Writes one packet seen on interface id at ts (caplen bytes of an orig_len packet), with
 * comment (or NULL) as its frame comment. 0 or -errno.
 */
int pcapng_packet(struct pcapng *p, int id, const struct timeval *ts, const uint8_t *data,
                  uint32_t caplen, uint32_t orig_len, const char *comment);

/* Writes out what is buffered. */
int pcapng_flush(struct pcapng *p);
/* Flushes, closes and frees; NULL is fine. */
void pcapng_close(struct pcapng *p);

#endif
