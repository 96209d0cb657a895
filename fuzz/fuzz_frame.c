/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the relay's stream decoding: the input is cut into reads at points chosen by
 * its first byte and fed to a frame_reader with the handshake limit, then the full
 * limit; each frame goes through every message decoder the relay or a client runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "natlab/frame.h"
#include "natlab/relay_proto.h"
#include "natlab/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_messages(const struct frame *f)
{
	struct relay_server_info si;
	struct relay_challenge ch;
	struct relay_packet pkt;
	struct relay_auth a;
	struct token t;
	const uint8_t *key;
	uint8_t reason;
	uint32_t x, y;
	char text[64];

	relay_challenge_decode(&ch, f->payload, f->len);
	relay_server_info_decode(&si, f->payload, f->len);
	relay_packet_decode(&pkt, f->payload, f->len);
	relay_peer_gone_decode(&key, &reason, f->payload, f->len);
	relay_restarting_decode(&x, &y, f->payload, f->len);
	relay_close_decode(&reason, text, sizeof(text), f->payload, f->len);
	if (relay_auth_decode(&a, f->payload, f->len) == 0)
		token_decode(&t, a.token, a.token_len);
	token_decode(&t, f->payload, f->len);
}

static void run(const uint8_t *data, size_t size, uint32_t limit, size_t step)
{
	struct frame_reader r;
	struct frame f;
	size_t off = 0;
	int rc = 0;

	frame_reader_init(&r, limit);
	while (off < size && rc >= 0) {
		size_t n = size - off < step ? size - off : step;
		const uint8_t *p = data + off;

		off += n;
		while ((rc = frame_reader_next(&r, &p, &n, &f)) == 1) {
			if (f.len > (limit ? limit : FRAME_MAX_PAYLOAD))
				__builtin_trap();
			decode_messages(&f);
		}
	}
	frame_reader_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	run(data + 1, size - 1, 1024, step);
	run(data + 1, size - 1, 0, size);
	if (size > 1) {
		char text[TOKEN_TEXT_MAX + 1];
		struct token t;
		size_t n = size - 1 < TOKEN_TEXT_MAX ? size - 1 : TOKEN_TEXT_MAX;

		memcpy(text, data + 1, n);
		text[n] = '\0';
		token_decode_text(&t, text);
	}
	return 0;
}
