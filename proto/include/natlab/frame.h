/* SPDX-License-Identifier: MIT */
/*
 * Relay protocol framing: a 1-byte type, a 4-byte big-endian payload length, then
 * the payload (at most FRAME_MAX_PAYLOAD bytes). The codec knows nothing of what
 * the types mean (see relay_proto.h); it only cuts a byte stream into frames.
 */
#ifndef NATLAB_FRAME_H
#define NATLAB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN  5
#define FRAME_MAX_PAYLOAD (64 * 1024)

/* One decoded frame. payload points into the caller's input or into the reader's
 * buffer, and is valid until the next call on the reader. */
struct frame {
	uint8_t type;
	uint32_t len;
	const uint8_t *payload;
};

/* Incremental decoder for a stream. It holds no memory while idle: a payload split
 * across reads is buffered in an allocation of exactly its length. */
struct frame_reader {
	uint32_t max_payload;
	uint8_t hdr[FRAME_HEADER_LEN];
	uint8_t hdr_len;
	uint8_t type;
	uint32_t len;
	uint32_t have;
	uint8_t *buf;
	int consumed; /* the last frame returned was from buf: free it on the next call */
};

/* Writes a header. Returns -EMSGSIZE if len exceeds FRAME_MAX_PAYLOAD. */
int frame_header_write(uint8_t out[FRAME_HEADER_LEN], uint8_t type, size_t len);

/* Encodes a whole frame into out (cap bytes). Returns the frame's total length,
 * -EMSGSIZE if the payload is too long, -ENOBUFS if out is too small. */
int frame_encode(uint8_t *out, size_t cap, uint8_t type, const void *payload, size_t len);

/* max_payload of 0 means FRAME_MAX_PAYLOAD; larger values are clamped to it. */
void frame_reader_init(struct frame_reader *r, uint32_t max_payload);
/* Frees a buffered partial payload. Safe to call twice. */
void frame_reader_close(struct frame_reader *r);

/*
 * Takes bytes from *data (*n of them), advancing both. Returns 1 with *out filled
 * when a frame is complete, 0 when all input was consumed without completing one
 * (partial bytes are kept), -EMSGSIZE when a header announces a payload longer than
 * max_payload, -ENOMEM. After an error the reader is unusable: close the stream.
 * Call again with the remaining input until it returns 0.
 */
int frame_reader_next(struct frame_reader *r, const uint8_t **data, size_t *n, struct frame *out);

/* True while a frame is partly received (used to tell a clean EOF from a cut one). */
int frame_reader_pending(const struct frame_reader *r);

static inline void frame_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t frame_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void frame_put_u64(uint8_t *p, uint64_t v)
{
	frame_put_u32(p, (uint32_t)(v >> 32));
	frame_put_u32(p + 4, (uint32_t)v);
}

static inline uint64_t frame_get_u64(const uint8_t *p)
{
	return (uint64_t)frame_get_u32(p) << 32 | frame_get_u32(p + 4);
}

static inline void frame_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t frame_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

#endif
