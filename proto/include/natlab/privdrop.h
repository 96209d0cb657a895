/* SPDX-License-Identifier: MIT */
/*
 * Dropping root for good (natlab-relay and natlab-peer --user). Each binds what it needs
 * (a relay's ports, a peer's UDP socket) and reads its key files as started, then
 * becomes an unprivileged user before it reads anything from the network: a bug in a
 * parser then runs with that user's rights, not root's.
 */
#ifndef NATLAB_PRIVDROP_H
#define NATLAB_PRIVDROP_H

#include <stddef.h>

/*
 * Becomes user (a name in the passwd database, or a numeric uid): no supplementary
 * groups, the user's group as real, effective and saved gid, its uid likewise, and
 * no_new_privs, then checks that root cannot be regained. Returns 0, or -errno with a
 * message naming the user and what to do in err: -ENOENT (no such user), -EINVAL (the
 * user is root), -EPERM (not started as root, or the switch did not hold).
 */
int priv_drop(const char *user, char *err, size_t errlen);

#endif
