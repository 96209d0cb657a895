/* SPDX-License-Identifier: MIT */
/*
 * Packet captures with libpcap (the one file that speaks it): one pcap file per
 * interface, opened inside the interface's namespace and written from the event loop.
 */
#ifndef NATLAB_CAPTURE_H
#define NATLAB_CAPTURE_H

#include "natlab/model.h"
#include "natlab/runtime.h"

#include <stdint.h>
#include <sys/time.h>

struct capture;

/*
 * Starts capturing on ifname inside the namespace behind nsfd into path (pcap format,
 * readable by tshark; NULL: no file of its own, and promiscuous, for the internet's core
 * bridge), read from loop. Returns 0 or -errno, with libpcap's message in err.
 */
int capture_start(uv_loop_t *loop, int nsfd, const char *ifname, const char *path,
                  struct capture **out, char *err, size_t errlen);

/* Registers c with rt, so that runtime_close stops it if nobody else did. */
void capture_attach(struct capture *c, struct runtime *rt);

/* The lab's one capture, in the capture dir, and its interface of events. */
#define CAPTURE_PCAPNG    "lab.pcapng"
#define CAPTURE_EVENTS_IF "natlab/events"

struct pcapng;

/*
 * A lab's captures: both sides of every NAT, every host's uplink (each also in a classic
 * <node>-<interface>.pcap), and the internet's core, all in one pcapng with each
 * interface named <node>/<interface>, and an interface of events (natlab/events).
 */
struct capture_set {
	struct capture **v;
	int n;
	struct pcapng *ng;
	int events_if;
	/* Called for each packet captured on a node's interface (not the core's), if set. */
	void (*on_packet)(void *arg, int node, const char *ifname, const struct timeval *ts,
	                  const uint8_t *pkt, uint32_t caplen);
	void *on_packet_arg;
};

/*
 * Captures lab m into dir/<node>-<interface>.pcap and dir/lab.pcapng (dir is created).
 * On error the captures already started stay in *set for capture_set_stop.
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

/*
 * Records text in the lab's pcapng at this moment: a packet on natlab/events carrying
 * text, with text as its frame comment. Nothing without a pcapng.
 */
void capture_set_comment(struct capture_set *set, const char *text);

/* Writes what is still buffered, closes the file and frees the capture. */
void capture_stop(struct capture *c);

/* Packets written so far. */
unsigned long capture_packets(const struct capture *c);

#endif
