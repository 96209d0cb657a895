/* SPDX-License-Identifier: MIT */
/*
 * natlab-peer as a TURN client (RFC 8656, the parts a WebRTC client uses), in turn.c.
 *
 * The peer allocates a relayed address on one TURN server (UDP or TCP to it), offers it
 * as a `relayed` candidate, and once the other peer's relayed address is known installs
 * a permission and a channel for it. The TURN path is allocation to allocation on the
 * server, so it works whatever NATs sit in between. It carries traffic instead of
 * natlab-relay once something came back through it (both sides' permissions are then
 * in place); natlab-relay still carries the offer/answer, as a WebRTC application's
 * signalling server does, and stays the fallback. A direct path is preferred to both.
 */
#ifndef NATLAB_PEER_TURN_H
#define NATLAB_PEER_TURN_H

#include <stdint.h>
#include <netinet/in.h>

#include <uv.h>

#include "natlab/tls.h"
#include "natlab/turn.h"

#include "sa.h"

struct peer;

enum peer_turn_transport { PEER_TURN_UDP, PEER_TURN_TCP, PEER_TURN_TLS };

/* What --turn* asked for; parsed by main.c. */
struct peer_turn_opts {
	const char *server; /* HOST:PORT, NULL: no TURN */
	enum peer_turn_transport transport;
	const char *user;     /* the username, or with a secret the user part of it */
	const char *password; /* explicit credentials */
	const char *secret;   /* REST: credentials minted from this (coturn static-auth-secret) */
	long long ttl_s;      /* REST credentials' lifetime */
	const char *ca;       /* TLS: trust this PEM certificate file (the server's, self-signed) */
	const char *pin;      /* TLS: or the SHA-256 fingerprint of the server's certificate */
	int only;             /* --turn-only: natlab-relay carries the offers, never data */
	uint64_t byte_cap;    /* --turn-byte-cap: relay at most this much through TURN; 0 none */
};

enum peer_turn_state {
	PEER_TURN_OFF,
	PEER_TURN_CONNECTING, /* TCP connect in flight */
	PEER_TURN_ALLOCATING,
	PEER_TURN_READY,
	PEER_TURN_DOWN, /* failed or lost: reported, no longer used */
};

struct peer_turn {
	struct peer *p;
	const struct peer_turn_opts *o;
	enum peer_turn_state state;
	char text[64];
	union peer_sa server;
	uv_udp_t udp;
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	struct tls_ctx *tls_ctx; /* TLS to the server: the context and the connection */
	struct tls_conn *tls;
	uint8_t rbuf[2 * 65536];
	size_t rlen;

	struct turn_auth auth;
	int have_auth; /* a realm and nonce from the server: requests carry credentials */
	char password[TURN_TEXT_MAX + 1];
	uint64_t cred_expiry; /* REST credentials: Unix seconds; 0 explicit */
	int renewed;          /* credentials minted again for the request in flight */

	/* One transaction at a time; the next request is chosen when it ends. */
	int tx_active;
	uint16_t tx_type;
	uint8_t txid[STUN_TXID_SIZE];
	int tx_tries, stale_tries, auth_tries;
	uint64_t tx_sent_ns, tx_first_ns;

	union peer_sa relayed, mapped;
	uint32_t lifetime;
	uint64_t refresh_at_ns, perm_at_ns, chan_at_ns;
	union peer_sa peer_addr; /* the other peer's relayed address */
	int have_peer, perm_ok, chan_ok;
	struct in_addr perm_ip; /* the address the permission is for */
	int validated;          /* something came back from the peer through TURN */
	uint64_t last_probe_ns, last_rx_ns;
	uint64_t start_ns, allocated_ns;
	uint64_t bytes;    /* sealed bytes through TURN, both ways */
	int reported;      /* the path event named TURN last */
	int stun_finished; /* STUN ended while the allocation was being made (candidates.c) */
	int capped;        /* --turn-byte-cap reached */
};

/* Starts allocating (nothing when o->server is NULL). 0, or -1 once the error is
 * reported and the peer stops. */
int peer_turn_start(struct peer *p, struct peer_turn *t, const struct peer_turn_opts *o);
/* Whether the candidates wait for TURN: an allocation is still being made. */
int peer_turn_gathering(const struct peer *p);
/* Per tick: retransmissions, refreshes, the peer's permission and channel. */
void peer_turn_tick(struct peer *p, uint64_t now);
/* Whether sealed traffic to the peer goes through TURN (validated both ways). */
int peer_turn_usable(const struct peer *p);
/* Sends one sealed packet to the peer through the allocation. 0 or -errno. */
int peer_turn_send(struct peer *p, const uint8_t *pkt, size_t len);
/* The `path` event when the path is TURN: 1 if TURN is the path (reported or not). */
int peer_turn_path_report(struct peer *p);
/* Sealed bytes through TURN (for the exit event). */
uint64_t peer_turn_bytes(const struct peer *p);
/* Deletes the allocation (Refresh 0, best effort); the loop closes the handles. */
void peer_turn_close(struct peer *p);
/* Frees the TLS state once the loop has ended. */
void peer_turn_free(struct peer *p);

#endif
