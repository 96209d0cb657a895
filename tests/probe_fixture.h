/* SPDX-License-Identifier: MIT */
/*
 * What the probe tests share: responders (UDP or TCP) serving from a child process on
 * loopback, and small helpers for addresses and JSON.
 */
#ifndef NATLAB_TESTS_PROBE_FIXTURE_H
#define NATLAB_TESTS_PROBE_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "natlab/stun.h"

/*
 * Binds a responder (TCP when tcp, else UDP) on 127.0.0.1, and 127.0.0.2 when alternate,
 * in the parent, so that the ports are known and bound before any probe, and serves from
 * a child that dies with us. Returns the child's pid (-1 on failure, with a TAP
 * diagnostic) and the bound configuration in *bound.
 */
pid_t fixture_responder_start(bool tcp, bool alternate, struct stun_server_config *bound);

/* The same on the addresses given (text, port 0; alternate NULL for none): ::1 for IPv6. */
pid_t fixture_responder_start_at(bool tcp, const char *primary, const char *alternate,
                                 struct stun_server_config *bound);

/* Stops the child by pid; returns its exit status, or -1 if it did not exit cleanly. */
int fixture_responder_stop(pid_t pid);

/* An address from its text; the tests only ever pass good ones. */
struct sockaddr_storage fixture_addr(const char *text);

/* o[key] as text: the string, "null", or "(missing)". */
const char *fixture_jstr(json_t *o, const char *key);

#endif
