/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the STUN decoder and the responder the relay runs on every datagram, with an
 * RFC 5780 configuration so the CHANGE-REQUEST paths are reached.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "natlab/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct stun_server_config cfg;
	static int ready;
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(40000) };
	uint8_t out[STUN_MAX_MESSAGE];
	enum stun_endpoint ep, send_ep;
	struct stun_msg msg;
	int len;

	if (!ready) {
		struct sockaddr_in *a = (struct sockaddr_in *)&cfg.primary;
		struct sockaddr_in *b = (struct sockaddr_in *)&cfg.alternate;

		a->sin_family = b->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(0x7f000001);
		a->sin_port = htons(3478);
		b->sin_addr.s_addr = htonl(0x7f000002);
		cfg.alt_port = htons(3479);
		cfg.software = "fuzz";
		ready = 1;
	}
	src.sin_addr.s_addr = htonl(0x7f000001);
	stun_msg_decode(data, size, &msg);
	ep = size ? (enum stun_endpoint)(data[size - 1] & 3) : STUN_EP_A1P1;
	len = stun_server_handle(&cfg, ep, data, size, (const struct sockaddr *)&src, out,
	                         sizeof(out), &send_ep);
	if (len > 0) {
		/* What we send must decode as a STUN response of ours. */
		if ((size_t)len > sizeof(out) || stun_msg_decode(out, (size_t)len, &msg) != 0)
			__builtin_trap();
		if ((unsigned)send_ep >= STUN_EP_COUNT)
			__builtin_trap();
	}
	return 0;
}
