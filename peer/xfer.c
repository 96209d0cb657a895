/* SPDX-License-Identifier: MIT */
/*
 * The transfer workload. The sender never buffers: the bytes at any offset can be
 * generated again (a ChaCha20 keystream, or a repeated --pattern), so it can resend any
 * chunk it likes. It resends only the chunks that were lost (selective repeat, as TCP
 * with SACK does): the receiver holds up to a window of chunks out of order and each
 * ACK carries, besides the next offset it needs, a bitmap of the chunks it holds after
 * it. A chunk is lost when chunks sent after it reached the receiver (RACK, RFC 8985:
 * by send time, so a resent chunk is not declared lost again by acks for older ones),
 * or when nothing was acknowledged for a retransmission timeout (a stall, a failover).
 * The previous go-back-N sent a whole window again for each loss, 2.18 times the bytes
 * of an undisturbed transfer. The receiver hashes the data in order (BLAKE2b-256) and
 * compares with the checksum the sender computed; the verdict goes back in a RESULT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "natlab/log.h"
#include "peer.h"

#define XFER_WINDOW  PEER_XFER_WINDOW
#define XFER_REORDER 3 /* chunks a later one may overtake before the earlier counts as lost */
#define XFER_RTO_NS  (300ull * 1000000)
#define XFER_RTO_MAX (1200ull * 1000000)
#define XFER_END_NS  (200ull * 1000000)
#define XFER_SACK    63 /* chunks after the next one that an ACK's bitmap covers */

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
	t->rto_ns = XFER_RTO_NS;
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

static size_t chunk_len(uint64_t total, uint64_t idx)
{
	uint64_t off = idx * PEER_CHUNK;

	return total - off < PEER_CHUNK ? (size_t)(total - off) : PEER_CHUNK;
}

static struct peer_xfer_slot *tx_slot(struct peer_xfer_tx *t, uint64_t idx)
{
	return &t->slot[idx % XFER_WINDOW];
}

static int xfer_send_chunk(struct peer *p, struct peer_xfer_tx *t, uint64_t idx, int again)
{
	uint8_t m[1 + 16 + PEER_CHUNK];
	size_t n = chunk_len(t->total, idx);
	struct peer_xfer_slot *s = tx_slot(t, idx);
	int rc;

	m[0] = PEER_MSG_DATA;
	frame_put_u64(m + 1, t->total);
	frame_put_u64(m + 9, idx * PEER_CHUNK);
	peer_xfer_fill(m + 17, n, idx * PEER_CHUNK, t->pattern);
	rc = peer_send(p, m, 17 + n);
	if (rc < 0)
		return rc;
	s->sent_ns = peer_now_ns();
	s->lost = 0;
	t->sent += n;
	if (again)
		t->retransmitted += n;
	return 0;
}

void peer_xfer_tx_pump(struct peer *p, struct peer_xfer_tx *t)
{
	uint64_t now = peer_now_ns(), idx, first, end;

	if (!t->active || t->done)
		return;
	if (t->acked == t->total) {
		if (now - t->last_end_ns > XFER_END_NS)
			xfer_send_end(p, t);
		return;
	}
	first = t->acked / PEER_CHUNK;
	end = (t->next + PEER_CHUNK - 1) / PEER_CHUNK;
	if (t->next > t->acked && now - t->last_progress_ns > t->rto_ns) {
		/* Nothing acknowledged for a while (a stall, a path change, a failover):
		 * what is still out is lost. Backing off keeps a long stall from costing a
		 * window per timeout. */
		for (idx = first; idx < end; idx++)
			if (!tx_slot(t, idx)->sacked)
				tx_slot(t, idx)->lost = 1;
		t->last_progress_ns = now;
		t->rto_ns = t->rto_ns * 2 < XFER_RTO_MAX ? t->rto_ns * 2 : XFER_RTO_MAX;
		t->timeouts++;
	}
	for (idx = first; idx < end; idx++)
		if (tx_slot(t, idx)->lost && xfer_send_chunk(p, t, idx, 1) < 0)
			return;
	while (t->next < t->total && t->next / PEER_CHUNK - first < XFER_WINDOW) {
		if (xfer_send_chunk(p, t, t->next / PEER_CHUNK, 0) < 0)
			break;
		t->next += chunk_len(t->total, t->next / PEER_CHUNK);
	}
}

void peer_xfer_tx_on_ack(struct peer *p, struct peer_xfer_tx *t, const uint8_t *m, size_t len)
{
	uint64_t next, sack = 0, idx, first, end, top = 0;
	struct peer_xfer_slot *s;
	int progress = 0, i;

	if (!t->active || t->done || len < 8)
		return;
	next = frame_get_u64(m);
	if (len >= 16)
		sack = frame_get_u64(m + 8);
	/* Only offsets we sent, on chunk boundaries, can be acknowledged. */
	if (next > t->next || (next % PEER_CHUNK && next != t->total))
		return;
	for (idx = t->acked / PEER_CHUNK;
	     next > t->acked && idx < (next + PEER_CHUNK - 1) / PEER_CHUNK; idx++) {
		s = tx_slot(t, idx);
		if (s->sent_ns > t->rack_ns)
			t->rack_ns = s->sent_ns;
		memset(s, 0, sizeof(*s));
		progress = 1;
	}
	if (next > t->acked)
		t->acked = next;
	first = t->acked / PEER_CHUNK;
	end = (t->next + PEER_CHUNK - 1) / PEER_CHUNK;
	/* The bitmap is relative to the ACK's offset: an old ACK's says nothing new. */
	for (i = 0; next == t->acked && i < XFER_SACK; i++) {
		idx = first + 1 + (uint64_t)i;
		if (idx >= end)
			break;
		s = tx_slot(t, idx);
		if (!((sack >> i) & 1) || s->sacked)
			continue;
		s->sacked = 1;
		s->lost = 0;
		if (s->sent_ns > t->rack_ns)
			t->rack_ns = s->sent_ns;
		progress = 1;
	}
	for (idx = first; idx < end; idx++)
		if (tx_slot(t, idx)->sacked)
			top = idx;
	for (idx = first; idx + XFER_REORDER <= top; idx++) {
		s = tx_slot(t, idx);
		if (!s->sacked && s->sent_ns < t->rack_ns)
			s->lost = 1;
	}
	if (progress) {
		t->last_progress_ns = peer_now_ns();
		t->rto_ns = XFER_RTO_NS;
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
	event_emit("transfer_done", "{s:s, s:I, s:b, s:f, s:f, s:I, s:I, s:i}", "role", "sender",
	           "bytes", (json_int_t)bytes, "ok", t->ok, "secs", secs, "mbit_s",
	           secs > 0 ? (double)bytes * 8 / secs / 1e6 : 0.0, "sent", (json_int_t)t->sent,
	           "retransmitted", (json_int_t)t->retransmitted, "timeouts", (int)t->timeouts);
	return 1;
}

/* The next offset we need, and which of the XFER_SACK chunks after it we hold. */
static void xfer_send_ack(struct peer *p, const struct peer_xfer_rx *x)
{
	uint64_t sack = 0, first = x->next / PEER_CHUNK;
	uint8_t m[17];
	int i;

	for (i = 0; i < XFER_SACK; i++)
		if (x->have[(first + 1 + (uint64_t)i) % XFER_WINDOW])
			sack |= (uint64_t)1 << i;
	m[0] = PEER_MSG_ACK;
	frame_put_u64(m + 1, x->next);
	frame_put_u64(m + 9, sack);
	peer_send(p, m, sizeof(m));
}

/* Hashes the chunks held in order from x->next on. */
static void xfer_rx_drain(struct peer_xfer_rx *x)
{
	uint64_t idx;
	size_t n;

	for (idx = x->next / PEER_CHUNK; x->next < x->total && x->have[idx % XFER_WINDOW]; idx++) {
		n = chunk_len(x->total, idx);
		crypto_generichash_update(x->hash, x->buf + (idx % XFER_WINDOW) * PEER_CHUNK, n);
		x->have[idx % XFER_WINDOW] = 0;
		x->next += n;
	}
}

void peer_xfer_rx_on_data(struct peer *p, struct peer_xfer_rx *x, const uint8_t *m, size_t len)
{
	uint64_t total, offset, idx, first;

	if (len < 16)
		return;
	total = frame_get_u64(m);
	offset = frame_get_u64(m + 8);
	if (!x->active) {
		x->hash = sodium_malloc(sizeof(crypto_generichash_state));
		x->buf = malloc((size_t)XFER_WINDOW * PEER_CHUNK);
		if (!x->hash || !x->buf) {
			peer_xfer_rx_free(x);
			return;
		}
		crypto_generichash_init(x->hash, NULL, 0, sizeof(x->sum));
		x->active = 1;
		x->total = total;
		x->start_ns = peer_now_ns();
	}
	if (total != x->total || x->done)
		return;
	/* Whole chunks only, each where the sender cuts them. */
	if (offset % PEER_CHUNK || offset >= total ||
	    len - 16 != chunk_len(total, offset / PEER_CHUNK))
		goto ack;
	idx = offset / PEER_CHUNK;
	first = x->next / PEER_CHUNK;
	if (idx < first || idx >= first + XFER_WINDOW || x->have[idx % XFER_WINDOW]) {
		x->duplicates += len - 16;
		goto ack;
	}
	memcpy(x->buf + (idx % XFER_WINDOW) * PEER_CHUNK, m + 16, len - 16);
	x->have[idx % XFER_WINDOW] = 1;
	xfer_rx_drain(x);
	if (x->next == x->total)
		crypto_generichash_final(x->hash, x->sum, sizeof(x->sum));
ack:
	/* Duplicates and gaps are acknowledged too: the sender learns where we are. */
	xfer_send_ack(p, x);
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
			xfer_send_ack(p, x);
		return;
	}
	ok = sodium_memcmp(x->sum, m + 8, 32) == 0;
	if (!x->done) {
		double secs = (double)(peer_now_ns() - x->start_ns) / 1e9;

		x->done = 1;
		event_emit("transfer_done", "{s:s, s:I, s:b, s:f, s:f, s:I}", "role", "receiver",
		           "bytes", (json_int_t)x->total, "ok", ok, "secs", secs, "mbit_s",
		           secs > 0 ? (double)x->total * 8 / secs / 1e6 : 0.0, "duplicates",
		           (json_int_t)x->duplicates);
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
	free(x->buf);
	x->buf = NULL;
}
