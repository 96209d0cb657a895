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

#endif
