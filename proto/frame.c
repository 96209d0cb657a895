/* SPDX-License-Identifier: MIT */
#include "natlab/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int frame_header_write(uint8_t out[FRAME_HEADER_LEN], uint8_t type, size_t len)
{
	if (len > FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	out[0] = type;
	frame_put_u32(out + 1, (uint32_t)len);
	return 0;
}

int frame_encode(uint8_t *out, size_t cap, uint8_t type, const void *payload, size_t len)
{
	int rc = frame_header_write(out, type, len);

	if (rc < 0)
		return rc;
	if (cap < FRAME_HEADER_LEN + len)
		return -ENOBUFS;
	if (len)
		memcpy(out + FRAME_HEADER_LEN, payload, len);
	return (int)(FRAME_HEADER_LEN + len);
}

void frame_reader_init(struct frame_reader *r, uint32_t max_payload)
{
	memset(r, 0, sizeof(*r));
	if (!max_payload || max_payload > FRAME_MAX_PAYLOAD)
		max_payload = FRAME_MAX_PAYLOAD;
	r->max_payload = max_payload;
}

void frame_reader_close(struct frame_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->have = 0;
	r->hdr_len = 0;
	r->consumed = 0;
}

int frame_reader_pending(const struct frame_reader *r)
{
	return r->hdr_len > 0;
}

/* Fills the header from input; returns 1 once all five bytes are in. */
static int frame_reader_take_header(struct frame_reader *r, const uint8_t **data, size_t *n)
{
	size_t want = FRAME_HEADER_LEN - r->hdr_len;
	size_t take = *n < want ? *n : want;

	if (take)
		memcpy(r->hdr + r->hdr_len, *data, take);
	r->hdr_len += (uint8_t)take;
	*data += take;
	*n -= take;
	if (r->hdr_len < FRAME_HEADER_LEN)
		return 0;
	r->type = r->hdr[0];
	r->len = frame_get_u32(r->hdr + 1);
	r->have = 0;
	return 1;
}

static void frame_reader_emit(struct frame_reader *r, struct frame *out, const uint8_t *payload)
{
	out->type = r->type;
	out->len = r->len;
	out->payload = payload;
	r->hdr_len = 0;
}

int frame_reader_next(struct frame_reader *r, const uint8_t **data, size_t *n, struct frame *out)
{
	size_t take;

	if (r->consumed) {
		free(r->buf);
		r->buf = NULL;
		r->consumed = 0;
	}
	if (r->hdr_len < FRAME_HEADER_LEN) {
		if (!*n)
			return 0;
		if (!frame_reader_take_header(r, data, n))
			return 0;
		if (r->len > r->max_payload)
			return -EMSGSIZE;
		/* Whole payload already in the input: hand it out without copying. */
		if (*n >= r->len) {
			frame_reader_emit(r, out, *data);
			*data += r->len;
			*n -= r->len;
			return 1;
		}
		r->buf = malloc(r->len ? r->len : 1);
		if (!r->buf)
			return -ENOMEM;
	}
	take = r->len - r->have;
	if (take > *n)
		take = *n;
	if (take)
		memcpy(r->buf + r->have, *data, take);
	r->have += (uint32_t)take;
	*data += take;
	*n -= take;
	if (r->have < r->len)
		return 0;
	frame_reader_emit(r, out, r->buf);
	r->consumed = 1;
	return 1;
}
