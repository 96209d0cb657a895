/* SPDX-License-Identifier: MIT */
/*
 * The wires' timing on a busy machine. A wire's frames leave when a timerfd fires on the
 * loop's thread; under the normal scheduler, that thread waits behind every CPU-bound
 * process for its turn (a 40 ms wire measured 40.6 ms p50 with other labs running). The
 * thread that forwards (wire_thread.h: it does nothing else) therefore runs under
 * SCHED_FIFO: woken by its timer, it preempts any normal process at once. Processes are
 * forked from other threads, and SCHED_RESET_ON_FORK would give any it forked the normal
 * scheduler back. Nothing else changes: no sysctl, no limit, no other process.
 */
#ifndef NATLAB_WIRE_SCHED_H
#define NATLAB_WIRE_SCHED_H

/*
 * The SCHED_FIFO priority: above normal processes and modest real-time ones (natlab builds
 * whose whole run thread was FIFO 10 among them), below the kernel's threaded IRQs (50).
 */
#define WIRE_SCHED_PRIORITY 20

/*
 * Puts the calling thread under SCHED_FIFO at WIRE_SCHED_PRIORITY, unless the environment
 * says NATLAB_WIRE_SCHED=normal (for comparisons). Returns 1 if it did, 0 if told not to,
 * -errno if the kernel refused (EPERM without CAP_SYS_NICE, e.g. rootless: the wires then
 * keep the normal scheduler's timing, said once at debug level).
 */
int wire_sched_realtime(void);

#endif
