/* SPDX-License-Identifier: MIT */
/*
 * The relay directory (docs/relay.md, "Relay directory"): relays enroll once with a
 * one-time enrollment token, the directory polls their /healthz and lists the healthy
 * ones to peers. Shared between relay/dir_tokens.c (the token file), relay/directory.c
 * (the service) and relay/enroll.c (a relay enrolling).
 */
#ifndef NATLAB_DIRECTORY_H
#define NATLAB_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#define DIR_TOKEN_TTL_DEFAULT 3600 /* s: an enrollment token's life unless --ttl says */
#define DIR_TOKEN_MAX         64   /* characters of a token: [A-Za-z0-9_-] */
#define DIR_ID_LEN            16   /* hex characters of a relay id */
#define DIR_SECRET_LEN        64   /* hex characters of a relay's secret */

/*
 * Issues a token valid for ttl seconds: appends it to DIR/tokens (created 0600) under
 * an exclusive lock and writes it into out (DIR_TOKEN_MAX + 1 bytes). 0 or -errno.
 */
int dir_token_issue(const char *dir, uint32_t ttl, char *out);

/*
 * Uses up a token: 0 (it was valid: it moves to DIR/tokens.used), -ENOENT (never
 * issued), -EALREADY (used before), -ETIME (expired at `now`, unix seconds), -EINVAL
 * (not token characters), or another -errno (files).
 */
int dir_token_consume(const char *dir, const char *token, uint64_t now);

/* Commands (relay/directory.c). */
int relay_cmd_directory(int argc, char **argv);
int relay_cmd_directory_token(int argc, char **argv);

/* A relay enrolling (relay/enroll.c): what serve's options say. */
struct relay_enroll {
	const char *directory;  /* --directory ADDR:PORT; NULL: not enrolling */
	const char *token;      /* --enroll-token */
	const char *state_path; /* --enroll-state FILE: the id and secret once enrolled */
	const char *advertise;  /* --advertise ADDR:PORT: where peers reach the relay */
};

/*
 * Enrolls (or, with a state file from an earlier run, re-registers without a token)
 * with the directory, running the loop until it answers: relay listens on `listen`,
 * answers /healthz on `health`. Prints the `enrolled` line. 0, or -errno after logging
 * why (the relay then exits 1).
 */
int relay_enroll_run(uv_loop_t *loop, const struct relay_enroll *e, const struct sockaddr *listen,
                     const struct sockaddr *health);

#endif
