/* SPDX-License-Identifier: MIT */
#include "natlab/seal.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "natlab/frame.h"

/* The per-session key: the static direction key bound to the sender's session id. */
static void seal_session_key(uint8_t out[SEAL_KEY_LEN], const uint8_t base[SEAL_KEY_LEN],
                             const uint8_t session[SEAL_SESSION_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, base, SEAL_KEY_LEN, SEAL_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)SEAL_KDF_CONTEXT, sizeof(SEAL_KDF_CONTEXT));
	crypto_generichash_update(&st, session, SEAL_SESSION_LEN);
	crypto_generichash_final(&st, out, SEAL_KEY_LEN);
}

/* A random session id, never zero ("unknown" on the wire) nor equal to other. */
static void seal_session_new(uint8_t out[SEAL_SESSION_LEN], const uint8_t *other)
{
	do
		randombytes_buf(out, SEAL_SESSION_LEN);
	while (sodium_is_zero(out, SEAL_SESSION_LEN) ||
	       (other && memcmp(out, other, SEAL_SESSION_LEN) == 0));
}

int seal_init(struct seal_ctx *s, const struct identity *me, const uint8_t peer[IDENTITY_PUB_LEN])
{
	uint8_t my_pk[crypto_kx_PUBLICKEYBYTES], my_sk[crypto_kx_SECRETKEYBYTES];
	uint8_t peer_pk[crypto_kx_PUBLICKEYBYTES];
	int rc, cmp;

	memset(s, 0, sizeof(*s));
	rc = identity_init();
	if (rc < 0)
		return rc;
	cmp = memcmp(me->pub, peer, IDENTITY_PUB_LEN);
	if (cmp == 0)
		return -EINVAL;
	if (crypto_sign_ed25519_pk_to_curve25519(peer_pk, peer) != 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(my_pk, me->pub) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(my_sk, me->secret) != 0) {
		rc = -EINVAL;
		goto out;
	}
	s->dir = cmp < 0 ? 0 : 1;
	if (s->dir == 0)
		rc = crypto_kx_client_session_keys(s->rx_static, s->tx_static, my_pk, my_sk,
		                                   peer_pk);
	else
		rc = crypto_kx_server_session_keys(s->rx_static, s->tx_static, my_pk, my_sk,
		                                   peer_pk);
	if (rc != 0) {
		rc = -EINVAL;
		goto out;
	}
	seal_session_new(s->my_session, NULL);
	seal_session_key(s->tx_key, s->tx_static, s->my_session);
	rc = 0;
out:
	sodium_memzero(my_sk, sizeof(my_sk));
	if (rc < 0)
		sodium_memzero(s, sizeof(*s));
	return rc;
}

void seal_close(struct seal_ctx *s)
{
	if (s)
		sodium_memzero(s, sizeof(*s));
}

static void seal_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], uint8_t dir,
                       uint64_t counter)
{
	memset(nonce, 0, crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
	nonce[0] = dir;
	frame_put_u64(nonce + 4, counter);
}

int seal_seal(struct seal_ctx *s, const void *msg, size_t len, uint8_t *out, size_t cap)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint64_t *counter = s->tx_pend ? &s->pend_tx_counter : &s->tx_counter;
	unsigned long long clen;

	if (cap < SEAL_OVERHEAD || len > cap - SEAL_OVERHEAD)
		return -ENOBUFS;
	if (*counter == UINT64_MAX)
		return -EOVERFLOW;
	out[0] = SEAL_MAGIC;
	memcpy(out + 1, s->tx_pend ? s->pend_session : s->my_session, SEAL_SESSION_LEN);
	memcpy(out + 1 + SEAL_SESSION_LEN, s->dst_session, SEAL_SESSION_LEN);
	frame_put_u64(out + 1 + 2 * SEAL_SESSION_LEN, *counter);
	seal_nonce(nonce, s->dir, *counter);
	(*counter)++;
	crypto_aead_chacha20poly1305_ietf_encrypt(out + SEAL_HEADER_LEN, &clen, msg, len, out,
	                                          SEAL_HEADER_LEN, NULL, nonce,
	                                          s->tx_pend ? s->pend_tx_key : s->tx_key);
	return (int)(SEAL_HEADER_LEN + clen);
}

int seal_seal_to(struct seal_ctx *s, const uint8_t dst[SEAL_SESSION_LEN], const void *msg,
                 size_t len, uint8_t *out, size_t cap)
{
	uint8_t known[SEAL_SESSION_LEN];
	int n;

	memcpy(known, s->dst_session, SEAL_SESSION_LEN);
	memcpy(s->dst_session, dst, SEAL_SESSION_LEN);
	n = seal_seal(s, msg, len, out, cap);
	memcpy(s->dst_session, known, SEAL_SESSION_LEN);
	return n;
}

int seal_use_session(struct seal_ctx *s, const uint8_t session[SEAL_SESSION_LEN])
{
	if (sodium_is_zero(session, SEAL_SESSION_LEN))
		return -EINVAL;
	if (s->tx_counter || s->have_rx || s->have_pend)
		return -EBUSY;
	memcpy(s->my_session, session, SEAL_SESSION_LEN);
	seal_session_key(s->tx_key, s->tx_static, s->my_session);
	return 0;
}

static int window_test(const struct seal_ctx *s, uint64_t c)
{
	if (c >= s->rx_top)
		return 0;
	/* One word of the ring holds the newest counters, so the window proper is a
	 * word shorter than the ring. Older than that cannot be told: a replay. */
	if (s->rx_top - c > SEAL_WINDOW - 64)
		return -EALREADY;
	return (s->window[(c / 64) % (SEAL_WINDOW / 64)] >> (c % 64)) & 1 ? -EALREADY : 0;
}

static void window_mark(struct seal_ctx *s, uint64_t c)
{
	uint64_t i;

	if (c >= s->rx_top) {
		/* Clear the words the window slides over (all of them after a long jump). */
		uint64_t from = s->rx_top / 64, to = c / 64;

		if (to - from >= SEAL_WINDOW / 64 || s->rx_top == 0)
			memset(s->window, 0, sizeof(s->window));
		else
			for (i = from + 1; i <= to; i++)
				s->window[i % (SEAL_WINDOW / 64)] = 0;
		s->rx_top = c + 1;
	}
	s->window[(c / 64) % (SEAL_WINDOW / 64)] |= (uint64_t)1 << (c % 64);
}

/* Our pending session becomes the established one, bound to the peer session src. */
static void seal_promote(struct seal_ctx *s, const uint8_t src[SEAL_SESSION_LEN])
{
	memcpy(s->my_session, s->pend_session, SEAL_SESSION_LEN);
	memcpy(s->tx_key, s->pend_tx_key, SEAL_KEY_LEN);
	s->tx_counter = s->pend_tx_counter;
	memcpy(s->dst_session, src, SEAL_SESSION_LEN);
	s->have_rx = 0;
	s->have_pend = 0;
	s->tx_pend = 0;
	sodium_memzero(s->pend_tx_key, SEAL_KEY_LEN);
	sodium_memzero(s->pend_session, SEAL_SESSION_LEN);
}

int seal_open(struct seal_ctx *s, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap,
              int *bound)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], key[SEAL_KEY_LEN];
	const uint8_t *src = pkt + 1, *dst = pkt + 1 + SEAL_SESSION_LEN;
	unsigned long long mlen;
	uint64_t counter;
	int to_cur, to_pend, same, rc;

	if (len < SEAL_OVERHEAD || pkt[0] != SEAL_MAGIC || sodium_is_zero(src, SEAL_SESSION_LEN))
		return -EBADMSG;
	if (cap < len - SEAL_OVERHEAD)
		return -ENOBUFS;
	to_cur = memcmp(dst, s->my_session, SEAL_SESSION_LEN) == 0;
	to_pend = s->have_pend && memcmp(dst, s->pend_session, SEAL_SESSION_LEN) == 0;
	if (!to_cur && !to_pend && !sodium_is_zero(dst, SEAL_SESSION_LEN))
		return -ESTALE;
	same = s->have_rx && memcmp(src, s->rx_session, SEAL_SESSION_LEN) == 0;
	/* Our session answers one peer session; another must go through a handshake, and
	 * our pending session answers only the peer session it was minted for. */
	if ((to_cur && s->have_rx && !same) ||
	    (to_pend && memcmp(src, s->pend_peer, SEAL_SESSION_LEN) != 0))
		return -ESTALE;
	counter = frame_get_u64(pkt + 1 + 2 * SEAL_SESSION_LEN);
	if (to_cur && same) {
		rc = window_test(s, counter);
		if (rc < 0)
			return rc;
	}
	if (same)
		memcpy(key, s->rx_key, SEAL_KEY_LEN);
	else
		seal_session_key(key, s->rx_static, src);
	seal_nonce(nonce, s->dir ^ 1, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, pkt + SEAL_HEADER_LEN,
	                                              len - SEAL_HEADER_LEN, pkt, SEAL_HEADER_LEN,
	                                              nonce, key) != 0) {
		sodium_memzero(key, sizeof(key));
		return -EBADMSG;
	}
	if (to_pend)
		seal_promote(s, src);
	if (to_cur || to_pend) {
		if (!s->have_rx) {
			/* The first packet bound to this session of ours: it is fresh, since
			 * only peers that heard from this session can name it. */
			s->have_rx = 1;
			memcpy(s->rx_session, src, SEAL_SESSION_LEN);
			memcpy(s->rx_key, key, SEAL_KEY_LEN);
			s->rx_top = 0;
			memset(s->window, 0, sizeof(s->window));
		}
		window_mark(s, counter);
	}
	sodium_memzero(key, sizeof(key));
	*bound = to_cur || to_pend;
	return (int)mlen;
}

const uint8_t *seal_packet_src(const uint8_t *pkt)
{
	return pkt + 1;
}

void seal_set_dst(struct seal_ctx *s, const uint8_t src[SEAL_SESSION_LEN])
{
	memcpy(s->dst_session, src, SEAL_SESSION_LEN);
	if (!s->have_rx || memcmp(src, s->rx_session, SEAL_SESSION_LEN) == 0) {
		s->tx_pend = 0;
		return;
	}
	/* A new peer session: answer it from a session minted for it, so that what it
	 * binds to that session proves it heard us after this moment. */
	if (!s->have_pend || memcmp(src, s->pend_peer, SEAL_SESSION_LEN) != 0) {
		seal_session_new(s->pend_session, s->my_session);
		seal_session_key(s->pend_tx_key, s->tx_static, s->pend_session);
		s->pend_tx_counter = 0;
		memcpy(s->pend_peer, src, SEAL_SESSION_LEN);
		s->have_pend = 1;
	}
	s->tx_pend = 1;
}
