/* SPDX-License-Identifier: MIT */
/* Helpers of the STUN and TURN codec tests: bytes from RFC listings, addresses as text. */
#ifndef NATLAB_TESTS_HEXADDR_H
#define NATLAB_TESTS_HEXADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Bytes from hex pairs separated by any white space, as RFCs print them; the count. */
size_t unhex(const char *s, uint8_t *out, size_t cap);
/* An address from its text; the tests only ever pass good ones. */
struct sockaddr_storage addr(const char *text);
/* An address as text, in one of four rotating static buffers ("(none)" if unset). */
const char *fmt(const struct sockaddr_storage *ss);

#endif
