/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes what natlab-peer's TURN client decodes from the server: STUN messages with
 * TURN's attributes (and their MESSAGE-INTEGRITY under a fixed key), ChannelData, and
 * the stream framing that splits a TCP/TLS byte stream into both.
 */
#include <stddef.h>
#include <stdint.h>

#include "natlab/turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[16] = { 1, 2, 3 };
	struct turn_auth auth = { 0 };
	const uint8_t *d;
	struct turn_msg m;
	size_t off = 0, n;
	uint16_t ch;
	int len;

	if (turn_msg_decode(data, size, &m) == 0) {
		turn_msg_integrity_check(data, size, &m, key);
		turn_auth_challenge(&auth, &m);
	}
	turn_channel_data_decode(data, size, &ch, &d, &n);
	/* As tcp_read_cb walks a stream: frame by frame while whole frames are there. */
	while (off < size && (len = turn_frame_size(data + off, size - off)) > 0 &&
	       (size_t)len <= size - off) {
		if (turn_is_channel_data(data + off, (size_t)len))
			turn_channel_data_decode(data + off, (size_t)len, &ch, &d, &n);
		else
			turn_msg_decode(data + off, (size_t)len, &m);
		off += (size_t)len;
	}
	return 0;
}
