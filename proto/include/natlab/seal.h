/* SPDX-License-Identifier: MIT */
/*
 * End-to-end sealing between two natlab peers. The relay (and anyone on a direct
 * path) sees ciphertext only.
 *
 * Keys: each side turns the Ed25519 identities into X25519 keys
 * (crypto_sign_ed25519_{pk,sk}_to_curve25519) and runs crypto_kx, the side with the
 * lexicographically smaller Ed25519 public key playing "client". That gives one static
 * key per direction. Each process picks a random 8-byte session id at start; the key a
 * sender uses is BLAKE2b-256(static direction key, SEAL_KDF_CONTEXT || sender session),
 * so a restarted peer never reuses a (key, nonce) pair even though its counter starts
 * again at 0.
 *
 * Packet (SEAL_OVERHEAD bytes added to the plaintext):
 *   u8 SEAL_MAGIC | src_session[8] | dst_session[8] | u64 counter | ciphertext | tag[16]
 * ChaCha20-Poly1305 (IETF), the 25-byte header as additional data, nonce =
 * u8 direction (0 client->server, 1 server->client) | 3 zero bytes | u64 counter.
 * The counter increases by one per packet and is never reused within a session.
 *
 * Freshness: dst_session names the receiver's session as the sender knows it. A packet
 * with dst_session equal to ours is "bound"; one with all zeros is "unbound" (the
 * sender has not heard from us yet) and callers must only act on hello messages in
 * unbound packets, so a packet recorded from an older session cannot be replayed into
 * a new one. Bound packets go through a sliding replay window of SEAL_WINDOW counters.
 *
 * Session switches: our session is bound to one peer session, the first whose bound
 * packet arrived. A peer that restarted has a new session, and its bound packets are
 * accepted only after a fresh handshake: its unbound hello makes us mint a new session
 * of our own for it (pending; seal_set_dst()), and its first packet bound to that new
 * session replaces the old pair. Our old session is forgotten then, so packets of the
 * old peer session (bound to it) are refused as stale for good, and a packet bound to a
 * session we minted cannot predate the handshake. A replayed old hello only mints a
 * pending session that no live peer answers; the established pair keeps working.
 */
#ifndef NATLAB_SEAL_H
#define NATLAB_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "natlab/identity.h"

#define SEAL_MAGIC       0xA1 /* top bits set: never mistaken for STUN (RFC 8489 section 5) */
#define SEAL_SESSION_LEN 8
#define SEAL_HEADER_LEN  (1 + 2 * SEAL_SESSION_LEN + 8)
#define SEAL_TAG_LEN     16
#define SEAL_OVERHEAD    (SEAL_HEADER_LEN + SEAL_TAG_LEN)
#define SEAL_KEY_LEN     32
#define SEAL_WINDOW      8192 /* replay bitmap bits; SEAL_WINDOW - 64 counters may arrive late */
#define SEAL_KDF_CONTEXT "natlab-peer seal v1"

struct seal_ctx {
	uint8_t dir;                     /* our direction bit: 0 if we are the kx client */
	uint8_t tx_static[SEAL_KEY_LEN]; /* crypto_kx tx key */
	uint8_t rx_static[SEAL_KEY_LEN]; /* crypto_kx rx key */
	uint8_t tx_key[SEAL_KEY_LEN];    /* tx_static bound to my_session */
	uint8_t my_session[SEAL_SESSION_LEN];
	uint8_t dst_session[SEAL_SESSION_LEN]; /* put in outgoing packets; zero until known */
	uint64_t tx_counter;
	/* The peer session whose bound packets we accept, with its key and window. */
	int have_rx;
	uint8_t rx_session[SEAL_SESSION_LEN];
	uint8_t rx_key[SEAL_KEY_LEN];
	uint64_t rx_top; /* highest counter accepted + 1 (0: none yet) */
	uint64_t window[SEAL_WINDOW / 64];
	/* A handshake with a new peer session under way: the session we minted for it. */
	int have_pend;
	int tx_pend; /* what we send goes out as pend_session, to pend_peer */
	uint8_t pend_session[SEAL_SESSION_LEN];
	uint8_t pend_peer[SEAL_SESSION_LEN];
	uint8_t pend_tx_key[SEAL_KEY_LEN];
	uint64_t pend_tx_counter;
};

/*
 * Derives the keys between me and peer and picks a random session id. Returns 0,
 * -EINVAL if peer is not a usable key (low order point, or peer == me), -ENOSYS if
 * libsodium cannot start.
 */
int seal_init(struct seal_ctx *s, const struct identity *me, const uint8_t peer[IDENTITY_PUB_LEN]);
/* Wipes the keys. */
void seal_close(struct seal_ctx *s);

/*
 * Seals len bytes of msg into out (cap bytes, at least len + SEAL_OVERHEAD). Returns
 * the packet length, -ENOBUFS, or -EOVERFLOW when the counter is exhausted.
 */
int seal_seal(struct seal_ctx *s, const void *msg, size_t len, uint8_t *out, size_t cap);

/*
 * As seal_seal, but addressed to dst (a session the peer announced beforehand, in its
 * signed address record) instead of the one we know: for probes sent before the peer's
 * first packet; what we know is left as it was.
 */
int seal_seal_to(struct seal_ctx *s, const uint8_t dst[SEAL_SESSION_LEN], const void *msg,
                 size_t len, uint8_t *out, size_t cap);

/*
 * Uses session (never zero) as ours instead of the random one seal_init() picked: the one
 * we announced before we knew the peer. Only before anything was sealed or opened:
 * -EBUSY otherwise, -EINVAL for a zero session.
 */
int seal_use_session(struct seal_ctx *s, const uint8_t session[SEAL_SESSION_LEN]);

/*
 * Opens a packet into out (cap >= len - SEAL_OVERHEAD). Returns the plaintext length
 * and sets *bound (1: addressed to our session, replay-checked; 0: unbound, act on
 * hellos only). Errors: -EBADMSG (not a sealed packet, or it fails authentication),
 * -ESTALE (addressed to a session of ours that is gone, or from a peer session other
 * than the one our session is bound to), -EALREADY (a replay, or older than the
 * window). The first packet bound to a pending session (seal_set_dst()) completes the
 * handshake and switches to the new pair. A packet that fails leaves the state untouched.
 */
int seal_open(struct seal_ctx *s, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap,
              int *bound);

/* The session id of the sender of a packet that seal_open() accepted. */
const uint8_t *seal_packet_src(const uint8_t *pkt);

/*
 * Addresses what we send from now on to the peer's session src (learned from an
 * unbound hello or any accepted packet). If our session is already bound to another
 * peer session, src is a new one (the peer restarted, or a hello was replayed): we
 * mint a pending session of ours for it (kept while src stays the same) and send as
 * that until a bound packet from the established peer session turns us back.
 */
void seal_set_dst(struct seal_ctx *s, const uint8_t src[SEAL_SESSION_LEN]);

#endif
