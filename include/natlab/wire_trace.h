/* SPDX-License-Identifier: MIT */
/*
 * Per-frame timing of the wires, to find where a late frame lost its time
 * (bench/wire_timing.sh). Off unless the environment names a file in NATLAB_WIRE_TRACE;
 * then every frame a wire writes appends one record: when it was read, when it was due,
 * when it was written, its length and its first bytes (headers, so that a reader can
 * tell frames apart). A process's records go out with one write(2) per loop callback, so
 * a daemon that ends with _exit loses none. The file starts with a header that gives
 * CLOCK_REALTIME - CLOCK_MONOTONIC, to compare with the kernel's socket timestamps.
 */
#ifndef NATLAB_WIRE_TRACE_H
#define NATLAB_WIRE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_TRACE_MAGIC "NLWTRC01"
#define WIRE_TRACE_HEAD  64

struct wire_trace_header {
	char magic[8];
	int64_t realtime_minus_mono_ns;
};

/* One frame written by a wire; times in CLOCK_MONOTONIC ns. */
struct wire_trace_rec {
	uint64_t read_ns;  /* when the forwarder read it */
	uint64_t due_ns;   /* when it was due to leave (read_ns + delay, serialization) */
	uint64_t write_ns; /* just before it was written */
	uint64_t woke_ns;  /* when the forwarder woke to send it (its timer fired), or read_ns */
	uint32_t len;      /* the frame's length */
	uint32_t dir;      /* enum wire_dir */
	unsigned char head[WIRE_TRACE_HEAD]; /* its first bytes, zero-padded */
};

/* Whether tracing is on (NATLAB_WIRE_TRACE set and its file opened); cheap after the first
 * call. A file that cannot be opened is said once (log_warn) and tracing stays off. */
int wire_trace_on(void);
/* Adds one record to the pending batch (a no-op when tracing is off). */
void wire_trace_frame(const struct wire_trace_rec *r, const void *frame, size_t len);
/* Writes the pending batch out. */
void wire_trace_flush(void);

#endif
