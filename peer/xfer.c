/* SPDX-License-Identifier: MIT */
/*
 * The transfer workload. The sender never buffers: the bytes at any offset can be
 * generated again (a ChaCha20 keystream, or a repeated --pattern), so a go-back-N
 * window is enough to survive the losses of a path change or a relay failover. The
 * receiver accepts data in order only, hashes it (BLAKE2b-256) and compares with the
 * checksum the sender computed; the verdict goes back in a RESULT message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "natlab/log.h"
#include "peer.h"

#define XFER_WINDOW  64 /* chunks in flight: fits a default 208 KiB socket buffer */
#define XFER_DUPACKS 3  /* duplicate acks that mean a gap: go back at once */
#define XFER_RTO_NS  (300ull * 1000000)
#define XFER_END_NS  (200ull * 1000000)

/* A fixed key: the stream only needs to be incompressible and reproducible. */
static const uint8_t xfer_key[crypto_stream_chacha20_ietf_KEYBYTES] =
    "natlab-peer transfer stream v1";
static const uint8_t xfer_nonce[crypto_stream_chacha20_ietf_NONCEBYTES];

void peer_xfer_fill(uint8_t *out, size_t len, uint64_t offset, const char *pattern)
{
	size_t i, plen;

	if (pattern) {
		plen = strlen(pattern);
		for (i = 0; i < len; i++)
			out[i] = (uint8_t)pattern[(offset + i) % plen];
		return;
	}
	/* Offsets are multiples of PEER_CHUNK, itself a multiple of the 64-byte block. */
	memset(out, 0, len);
	crypto_stream_chacha20_ietf_xor_ic(out, out, len, xfer_nonce, (uint32_t)(offset / 64),
	                                   xfer_key);
}

int peer_xfer_tx_start(struct peer_xfer_tx *t, uint64_t total, const char *pattern)
{
	crypto_generichash_state st;
	uint8_t chunk[PEER_CHUNK];
	uint64_t off;
	size_t n;

	/* The keystream block counter is 32 bits: 256 GiB is far beyond any lab run. */
	if (total > ((uint64_t)1 << 38))
		return -EFBIG;
	memset(t, 0, sizeof(*t));
	t->total = total;
	t->pattern = pattern;
	crypto_generichash_init(&st, NULL, 0, sizeof(t->sum));
	for (off = 0; off < total; off += n) {
		n = total - off < PEER_CHUNK ? (size_t)(total - off) : PEER_CHUNK;
		peer_xfer_fill(chunk, n, off, pattern);
		crypto_generichash_update(&st, chunk, n);
	}
	crypto_generichash_final(&st, t->sum, sizeof(t->sum));
	t->active = 1;
	t->start_ns = t->last_progress_ns = peer_now_ns();
	return 0;
}

static void xfer_send_end(struct peer *p, struct peer_xfer_tx *t)
{
	uint8_t m[1 + 8 + 32];

	m[0] = PEER_MSG_END;
	frame_put_u64(m + 1, t->total);
	memcpy(m + 9, t->sum, 32);
	peer_send(p, m, sizeof(m));
	t->last_end_ns = peer_now_ns();
}

void peer_xfer_tx_pump(struct peer *p, struct peer_xfer_tx *t)
{
	uint8_t m[1 + 16 + PEER_CHUNK];
	uint64_t now = peer_now_ns();
	size_t n;

	if (!t->active || t->done)
		return;
	if (t->acked == t->total) {
		if (now - t->last_end_ns > XFER_END_NS)
			xfer_send_end(p, t);
		return;
	}
	if (now - t->last_progress_ns > XFER_RTO_NS) {
		/* Nothing acknowledged for a while: the path changed or lost packets. */
		t->next = t->acked;
		t->last_progress_ns = now;
	}
	while (t->next < t->total && t->next - t->acked < (uint64_t)XFER_WINDOW * PEER_CHUNK) {
		n = t->total - t->next < PEER_CHUNK ? (size_t)(t->total - t->next) : PEER_CHUNK;
		m[0] = PEER_MSG_DATA;
		frame_put_u64(m + 1, t->total);
		frame_put_u64(m + 9, t->next);
		peer_xfer_fill(m + 17, n, t->next, t->pattern);
		if (peer_send(p, m, 17 + n) < 0)
			break;
		t->next += n;
	}
}

void peer_xfer_tx_on_ack(struct peer *p, struct peer_xfer_tx *t, const uint8_t *m, size_t len)
{
	uint64_t next;

	if (!t->active || t->done || len < 8)
		return;
	next = frame_get_u64(m);
	if (next > t->acked && next <= t->total) {
		t->acked = next;
		if (t->next < t->acked)
			t->next = t->acked;
		t->last_progress_ns = peer_now_ns();
		t->dupacks = 0;
		t->rewound = 0;
	} else if (next == t->acked && t->next > t->acked && !t->rewound &&
	           ++t->dupacks >= XFER_DUPACKS) {
		/* The receiver keeps asking for the same offset: a packet was lost. The
		 * acks for the rest of the old flight must not rewind again. */
		t->next = t->acked;
		t->rewound = 1;
		t->dupacks = 0;
	}
	peer_xfer_tx_pump(p, t);
}

int peer_xfer_tx_on_result(struct peer *p, struct peer_xfer_tx *t, const uint8_t *m, size_t len)
{
	double secs;
	uint64_t bytes;

	if (!t->active || t->done || len < 9)
		return 0;
	t->done = 1;
	t->ok = m[0] == 1;
	bytes = frame_get_u64(m + 1);
	secs = (double)(peer_now_ns() - t->start_ns) / 1e9;
	event_emit("transfer_done", "{s:s, s:I, s:b, s:f, s:f}", "role", "sender", "bytes",
	           (json_int_t)bytes, "ok", t->ok, "secs", secs, "mbit_s",
	           secs > 0 ? (double)bytes * 8 / secs / 1e6 : 0.0);
	return 1;
}

static void xfer_send_ack(struct peer *p, uint64_t next)
{
	uint8_t m[9];

	m[0] = PEER_MSG_ACK;
	frame_put_u64(m + 1, next);
	peer_send(p, m, sizeof(m));
}

void peer_xfer_rx_on_data(struct peer *p, struct peer_xfer_rx *x, const uint8_t *m, size_t len)
{
	uint64_t total, offset;

	if (len < 16)
		return;
	total = frame_get_u64(m);
	offset = frame_get_u64(m + 8);
	if (!x->active) {
		x->hash = sodium_malloc(sizeof(crypto_generichash_state));
		if (!x->hash)
			return;
		crypto_generichash_init(x->hash, NULL, 0, sizeof(x->sum));
		x->active = 1;
		x->total = total;
		x->start_ns = peer_now_ns();
	}
	if (total != x->total || x->done)
		return;
	if (offset == x->next && len > 16 && x->next + (len - 16) <= x->total) {
		crypto_generichash_update(x->hash, m + 16, len - 16);
		x->next += len - 16;
		if (x->next == x->total)
			crypto_generichash_final(x->hash, x->sum, sizeof(x->sum));
	}
	/* Duplicates and gaps are acknowledged too: the sender learns where we are. */
	xfer_send_ack(p, x->next);
}

void peer_xfer_rx_on_end(struct peer *p, struct peer_xfer_rx *x, const uint8_t *m, size_t len)
{
	uint8_t r[10];
	int ok;

	if (len < 40)
		return;
	if (!x->active && frame_get_u64(m) == 0) {
		/* An empty transfer: nothing to hash but the empty string. */
		x->active = 1;
		x->start_ns = peer_now_ns();
		crypto_generichash(x->sum, sizeof(x->sum), NULL, 0, NULL, 0);
	}
	if (!x->active || x->next != x->total || frame_get_u64(m) != x->total) {
		if (x->active)
			xfer_send_ack(p, x->next);
		return;
	}
	ok = sodium_memcmp(x->sum, m + 8, 32) == 0;
	if (!x->done) {
		double secs = (double)(peer_now_ns() - x->start_ns) / 1e9;

		x->done = 1;
		event_emit("transfer_done", "{s:s, s:I, s:b, s:f, s:f}", "role", "receiver",
		           "bytes", (json_int_t)x->total, "ok", ok, "secs", secs, "mbit_s",
		           secs > 0 ? (double)x->total * 8 / secs / 1e6 : 0.0);
		if (!ok)
			log_warnx("transfer: checksum mismatch after %llu bytes",
			          (unsigned long long)x->total);
	}
	/* Answered every time: the sender repeats END until a RESULT gets through. */
	r[0] = PEER_MSG_RESULT;
	r[1] = (uint8_t)ok;
	frame_put_u64(r + 2, x->total);
	peer_send(p, r, sizeof(r));
}

void peer_xfer_rx_free(struct peer_xfer_rx *x)
{
	if (x->hash)
		sodium_free(x->hash);
	x->hash = NULL;
}
