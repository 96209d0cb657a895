/* SPDX-License-Identifier: MIT */
/*
 * Packet captures with libpcap (the one file that speaks it): one pcap file per
 * interface, opened inside the interface's namespace and written from the event loop.
 */
#ifndef NATLAB_CAPTURE_H
#define NATLAB_CAPTURE_H

#include "natlab/model.h"
#include "natlab/runtime.h"

struct capture;

/*
 * Starts capturing on ifname inside the namespace behind nsfd into path (pcap format,
 * readable by tshark), read from loop. Returns 0 or -errno, with libpcap's message in err.
 */
int capture_start(uv_loop_t *loop, int nsfd, const char *ifname, const char *path,
                  struct capture **out, char *err, size_t errlen);

/* Registers c with rt, so that runtime_close stops it if nobody else did. */
void capture_attach(struct capture *c, struct runtime *rt);

/* A lab's captures: both sides of every NAT, every host's uplink. */
struct capture_set {
	struct capture **v;
	int n;
};

/*
 * Captures lab m into dir/<node>-<interface>.pcap (dir is created). On error the
 * captures already started stay in *set for capture_set_stop.
 */
int capture_set_start(uv_loop_t *loop, const struct lab_model *m, const char *dir,
                      struct capture_set *set, char *err, size_t errlen);
/*
 * Writes what the kernel holds and what is buffered to the files, so that a fork can
 * hand the captures on with nothing written twice.
 */
void capture_set_flush(struct capture_set *set);
/*
 * Lets go of every capture of the set without reading or writing (after a fork handed
 * them on, flushed, to the process that goes on capturing).
 */
void capture_set_release(struct capture_set *set);
/* Flushes and stops every capture of the set. */
void capture_set_stop(struct capture_set *set);

/* Writes what is still buffered, closes the file and frees the capture. */
void capture_stop(struct capture *c);

/* Packets written so far. */
unsigned long capture_packets(const struct capture *c);

#endif
