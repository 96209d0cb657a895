/* SPDX-License-Identifier: MIT */
/* Frame codec: round trips, byte-at-a-time feeding, oversized and truncated input. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/frame.h"
#include "tap.h"

static void test_header(void)
{
	uint8_t h[FRAME_HEADER_LEN];

	is_int(frame_header_write(h, 7, 0x010203), -EMSGSIZE, "length above 64 KiB refused");
	is_int(frame_header_write(h, 7, 0x00ff01), 0, "header write");
	ok(h[0] == 7 && h[1] == 0 && h[2] == 0 && h[3] == 0xff && h[4] == 1,
	   "type then big-endian length");
	is_int(frame_header_write(h, 1, FRAME_MAX_PAYLOAD), 0, "64 KiB payload is allowed");
	is_int(frame_header_write(h, 1, FRAME_MAX_PAYLOAD + 1), -EMSGSIZE, "64 KiB + 1 is refused");
}

static void test_encode(void)
{
	uint8_t out[16];

	is_int(frame_encode(out, sizeof(out), 3, "abc", 3), 8, "encode returns total length");
	ok(memcmp(out,
	          "\x03\x00\x00\x00\x03"
	          "abc",
	          8) == 0,
	   "encoded bytes");
	is_int(frame_encode(out, 7, 3, "abc", 3), -ENOBUFS, "encode into a short buffer");
}

/* Feeds stream in chunks of step bytes; returns frames seen, checking each. */
static int feed_in_steps(const uint8_t *stream, size_t len, size_t step, int *bad)
{
	struct frame_reader r;
	struct frame f;
	size_t off = 0;
	int frames = 0, rc;

	frame_reader_init(&r, 0);
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		const uint8_t *p = stream + off;

		off += n;
		while ((rc = frame_reader_next(&r, &p, &n, &f)) == 1) {
			if (f.type != 9 || f.len != (uint32_t)(frames * 100) ||
			    (f.len && f.payload[f.len - 1] != (uint8_t)frames))
				(*bad)++;
			frames++;
		}
		if (rc < 0)
			(*bad)++;
	}
	if (frame_reader_pending(&r))
		(*bad)++;
	frame_reader_close(&r);
	return frames;
}

static void test_reader_split(void)
{
	static uint8_t stream[5 * (FRAME_HEADER_LEN + 400)];
	size_t len = 0, steps[] = { 1, 2, 3, 5, 7, 64, 4096 };
	int i, bad;

	for (i = 0; i < 5; i++) {
		memset(stream + len + FRAME_HEADER_LEN, i, (size_t)i * 100);
		len += (size_t)frame_encode(stream + len, sizeof(stream) - len, 9,
		                            stream + len + FRAME_HEADER_LEN, (size_t)i * 100);
	}
	for (i = 0; i < (int)(sizeof(steps) / sizeof(steps[0])); i++) {
		bad = 0;
		is_int(feed_in_steps(stream, len, steps[i], &bad), 5,
		       "five frames whatever the split");
		is_int(bad, 0, "each frame intact");
	}
}

static void test_reader_oversized(void)
{
	const uint8_t big[] = { 4, 0x00, 0x01, 0x00, 0x01 }; /* 65537 */
	const uint8_t huge[] = { 4, 0xff, 0xff, 0xff, 0xff };
	const uint8_t small_limit[] = { 2, 0x00, 0x00, 0x04, 0x01 }; /* 1025 */
	struct frame_reader r;
	struct frame f;
	const uint8_t *p;
	size_t n;

	frame_reader_init(&r, 0);
	p = big, n = sizeof(big);
	is_int(frame_reader_next(&r, &p, &n, &f), -EMSGSIZE,
	       "65537-byte payload refused at the header");
	frame_reader_close(&r);
	frame_reader_init(&r, 0);
	p = huge, n = sizeof(huge);
	is_int(frame_reader_next(&r, &p, &n, &f), -EMSGSIZE,
	       "4 GiB length refused without allocating");
	frame_reader_close(&r);
	frame_reader_init(&r, 1024);
	p = small_limit, n = sizeof(small_limit);
	is_int(frame_reader_next(&r, &p, &n, &f), -EMSGSIZE, "per-reader limit enforced");
	frame_reader_close(&r);
}

static void test_reader_truncated(void)
{
	const uint8_t part[] = { 5, 0, 0, 0, 10, 'a', 'b', 'c' };
	struct frame_reader r;
	struct frame f;
	const uint8_t *p = part;
	size_t n = sizeof(part);

	frame_reader_init(&r, 0);
	is_int(frame_reader_next(&r, &p, &n, &f), 0, "truncated frame waits for more");
	is_int((int)n, 0, "all input consumed");
	ok(frame_reader_pending(&r), "a cut frame is pending (EOF here is an error)");
	frame_reader_close(&r);
	frame_reader_close(&r);

	frame_reader_init(&r, 0);
	p = (const uint8_t *)"\x08\x00\x00\x00\x00", n = 5;
	is_int(frame_reader_next(&r, &p, &n, &f), 1, "empty payload is a frame");
	is_int(f.len, 0, "with length 0");
	ok(!frame_reader_pending(&r), "nothing pending after it");
	frame_reader_close(&r);
}

static void test_reader_random(void)
{
	uint8_t junk[4096];
	struct frame_reader r;
	struct frame f;
	int i, round, errors = 0;

	srand(1234);
	for (round = 0; round < 200; round++) {
		const uint8_t *p = junk;
		size_t n = sizeof(junk);
		int rc;

		for (i = 0; i < (int)sizeof(junk); i++)
			junk[i] = (uint8_t)rand();
		frame_reader_init(&r, 0);
		while ((rc = frame_reader_next(&r, &p, &n, &f)) == 1)
			if (f.len > FRAME_MAX_PAYLOAD)
				errors++;
		if (rc != 0 && rc != -EMSGSIZE)
			errors++;
		frame_reader_close(&r);
	}
	is_int(errors, 0, "random bytes give frames within limits or -EMSGSIZE");
}

static void test_u64(void)
{
	uint8_t b[8];

	frame_put_u64(b, 0x0102030405060708ull);
	ok(b[0] == 1 && b[7] == 8, "u64 big-endian");
	ok(frame_get_u64(b) == 0x0102030405060708ull, "u64 round trip");
}

int main(void)
{
	test_header();
	test_encode();
	test_reader_split();
	test_reader_oversized();
	test_reader_truncated();
	test_reader_random();
	test_u64();
	return tap_done();
}
