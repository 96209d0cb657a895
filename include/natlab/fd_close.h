/* SPDX-License-Identifier: MIT */
/*
 * Closing file descriptors whose close waits on the kernel, side by side (fd_close.c). A
 * TAP device goes away with the last close of its fd, and that close waits for RCU grace
 * periods (about 30 ms here); a lab's wires closed one after the other made up most of
 * its teardown (6 TAP fds: 190 ms of a matrix cell's 300).
 */
#ifndef NATLAB_FD_CLOSE_H
#define NATLAB_FD_CLOSE_H

/*
 * Closes fd in a thread of its own and returns at once; closes it here when no thread can
 * be started. The fd is ours no more either way. A process that exits before
 * lab_fd_close_wait() leaves the rest to the kernel's own close at exit.
 */
void lab_fd_close_bg(int fd);

/* Waits until every fd handed to lab_fd_close_bg() is closed. */
void lab_fd_close_wait(void);

#endif
