/* SPDX-License-Identifier: MIT */
/*
 * Packet captures with libpcap (the one file that speaks it): one pcap file per
 * interface, opened inside the interface's namespace and written from the event loop.
 */
#ifndef NATLAB_CAPTURE_H
#define NATLAB_CAPTURE_H

#include "natlab/runtime.h"

struct capture;

/*
 * Starts capturing on ifname inside the namespace behind nsfd into path (pcap format,
 * readable by tshark). The capture is a runtime child: it is closed with the runtime if
 * capture_stop was not called. Returns 0 or -errno, with libpcap's message in err.
 */
int capture_start(struct runtime *rt, int nsfd, const char *ifname, const char *path,
		  struct capture **out, char *err, size_t errlen);

/* Writes what is still buffered, closes the file and frees the capture. */
void capture_stop(struct capture *c);

/* Packets written so far. */
unsigned long capture_packets(const struct capture *c);

#endif
