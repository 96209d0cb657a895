/* SPDX-License-Identifier: MIT */
/*
 * The open-files limit during a lab build. A build holds two descriptors per node (its
 * namespace and its routing socket) until the end, 2500 for a lab of 1000 hosts, past
 * the usual soft limit of 1024.
 */
#ifndef NATLAB_FD_LIMIT_H
#define NATLAB_FD_LIMIT_H

#include <stddef.h>
#include <sys/resource.h>

/*
 * Raises the soft RLIMIT_NOFILE so that `want` more descriptors fit (up to the hard
 * limit) and stores the previous limits in *old. Returns 1 if it raised the limit, 0 if
 * no raise was needed or possible (the build then fails later with EMFILE, naming it).
 */
int lab_fd_limit_raise(size_t want, struct rlimit *old);
/* Puts back what lab_fd_limit_raise() stored when it returned 1. */
void lab_fd_limit_restore(const struct rlimit *old);

/*
 * Moves fd, a descriptor kept for a long time (a wire's TAP or timer), to a number at or
 * above FD_SETSIZE and returns the new one (fd is closed); returns fd unchanged if it is
 * negative, already there, or there is no room. libnftables waits on its sockets with
 * select(), which takes numbers below FD_SETSIZE only: a lab's wires (four descriptors
 * each) must leave those numbers free. Raises the soft open-files limit (never the hard
 * one) for good when it is what keeps fd down there.
 */
int lab_fd_high(int fd);

#endif
