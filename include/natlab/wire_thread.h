/* SPDX-License-Identifier: MIT */
/*
 * The thread that forwards a process's wires, on a loop of its own. Only this thread
 * runs under SCHED_FIFO (wire_sched.h): the thread of `natlab run` that runs the
 * scenario (Lua, netlink, nftables, spawning) keeps the normal scheduler, so a run's own
 * work never holds a CPU at real-time priority, and a wire's timer or frame waits for no
 * such work, of this run or another (bench/wire_timing.sh: with a matrix running its
 * cells' whole threads at FIFO 10 beside it, a 20 ms wire's p99 was +1.4-2.5 ms).
 *
 * Everything that touches a wire (wire.h: not thread-safe) runs on this thread, through
 * wire_thread_call. One per process, started by the first call. Signals are blocked in
 * it: they stay the main thread's.
 */
#ifndef NATLAB_WIRE_THREAD_H
#define NATLAB_WIRE_THREAD_H

#include <uv.h>

/* The thread's name (comm), so that tests and chrt find it. */
#define WIRE_THREAD_NAME "natlab-wires"

/*
 * Runs fn(loop, arg) on the wires' thread (started first if need be) and returns when it
 * has; loop is the thread's, for wire_new. While the thread is held for a fork
 * (wire_thread_hold), fn runs on the caller's thread instead. Returns 0, or -errno if
 * the thread cannot be started (fn not run).
 */
int wire_thread_call(void (*fn)(uv_loop_t *loop, void *arg), void *arg);
/*
 * Stops the thread where it waits, before a fork: the loop and its wires stay as they
 * are, and nothing forwards until wire_thread_resume. A no-op if it is not running.
 */
void wire_thread_hold(void);
/* After wire_thread_hold: in a forked child (uv_loop_fork first) or the same process. */
int wire_thread_resume(int forked);
/*
 * Ends the thread and its loop: the wires must be freed already (wire_free through
 * wire_thread_call); their last close callbacks run here. The next call starts afresh.
 */
void wire_thread_stop(void);

#endif
