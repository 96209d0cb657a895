/* SPDX-License-Identifier: MIT */
/*
 * Relay addresses: where a peer can be reached through a relay, as one text, like
 * libp2p's /p2p-circuit addresses (relay, then target). The form is
 *
 *     relay://HOST:PORT/PEERKEY
 *
 * HOST:PORT is the relay's protocol address (a name, a.b.c.d, or [v6] in brackets; the
 * port decimal, 1..65535) and PEERKEY the target peer's public key, 64 lowercase or
 * uppercase hex characters. natlab-peer prints its own (the `home_relay` event) and
 * takes one as --connect, so a connector that was not configured with the listener's
 * relay still finds it (docs/relay.md, "Relay addresses").
 */
#ifndef NATLAB_RELAY_ADDR_H
#define NATLAB_RELAY_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_ADDR_SCHEME "relay://"
/* Room for the HOST:PORT part (the peer's relay texts are at most 63 characters). */
#define RELAY_ADDR_HOSTPORT_MAX 64
/* Room for a whole relay address and its NUL. */
#define RELAY_ADDR_TEXT_MAX (sizeof(RELAY_ADDR_SCHEME) - 1 + RELAY_ADDR_HOSTPORT_MAX + 1 + 64 + 1)

/* Whether text is meant as a relay address (starts with the scheme): then parse it. */
int relay_addr_is(const char *text);

/*
 * Parses a relay address into hostport (NUL-terminated, cap bytes) and key (32 bytes).
 * Returns 0, or -EINVAL with *why (if why is not NULL) set to a static sentence naming
 * the part that is wrong, for error messages.
 */
int relay_addr_parse(const char *text, char *hostport, size_t cap, uint8_t key[32],
                     const char **why);

/* Writes "relay://HOSTPORT/KEYHEX". Returns 0 or -ENOSPC (out too small). */
int relay_addr_format(const char *hostport, const uint8_t key[32], char *out, size_t cap);

#endif
