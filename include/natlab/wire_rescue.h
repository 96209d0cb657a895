/* SPDX-License-Identifier: MIT */
/*
 * A woken SCHED_FIFO thread waits on the CPU it last ran on: on a kernel built with
 * PREEMPT_NONE, if another task is in a long kernel path there (a kworker tearing down
 * namespaces, netlink work of other labs), the wires' thread waits for it, 2-50 ms seen
 * with perf sched on the shared machine, while the other CPU was free (it switched
 * between normal tasks dozens of times meanwhile). The kernel moves a woken real-time
 * thread only when a real-time task holds its CPU.
 *
 * The rescue is a second thread of the same priority on another CPU, pinned apart from
 * the wires' thread. It polls the wires' loop's epoll fd, so it wakes with the wires'
 * thread on every frame and timer; if that thread has not finished a loop iteration
 * WIRE_RESCUE_GRACE_NS later, it moves it to its own CPU (sched_setaffinity on a thread
 * of this process, nothing global) and takes the other. Idle wires cost it nothing;
 * busy ones one more wake-up per event at most every grace.
 */
#ifndef NATLAB_WIRE_RESCUE_H
#define NATLAB_WIRE_RESCUE_H

#include <stdatomic.h>
#include <stdint.h>

/* How long an event may wait for the wires' thread before the rescue moves it. */
#define WIRE_RESCUE_GRACE_NS 300000
/* The rescue thread's name (comm). */
#define WIRE_RESCUE_NAME "natlab-rescue"

/*
 * Called on the wires' thread: pins it to the CPU it runs on and starts the rescue on
 * another (none if the process may use one CPU only: returns 0 then too). epfd is the
 * wires' loop's backend fd; beat is a counter the wires' thread advances once per loop
 * iteration. Returns 0 or -errno (the wires then go on without a rescue).
 */
int wire_rescue_start(int epfd, const _Atomic uint64_t *beat);
/* Ends the rescue (from the wires' thread) and gives that thread every CPU back. */
void wire_rescue_stop(void);
/* How many times the rescue moved the wires' thread since the process started. */
uint64_t wire_rescue_moves(void);

#endif
