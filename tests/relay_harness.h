/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the relay integration tests: start natlab-relay on loopback (port 0,
 * learned from its ready line), a blocking test client that speaks the relay protocol
 * through proto/'s helpers, and a /metrics reader. Every wait has a deadline.
 */
#ifndef NATLAB_TESTS_RELAY_HARNESS_H
#define NATLAB_TESTS_RELAY_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "natlab/frame.h"
#include "natlab/identity.h"
#include "natlab/relay_proto.h"
#include "natlab/tls.h"

struct rh_relay {
	pid_t pid;
	uint16_t port;
	uint16_t metrics_port;
	uint16_t stun_port;
	int out_fd;
	uint16_t tls_port; /* --tls-listen's, 0 without */
};

/* Starts natlab-relay --listen 127.0.0.1:0 --metrics 127.0.0.1:0 ARGS... (NULL-ended).
 * Skips the test (exit 77) if NATLAB_BIN is unset. Returns 0 or -errno. */
int rh_relay_start(struct rh_relay *r, const char *const *args);
/* SIGTERM, then SIGKILL after timeout_ms; returns the exit status or -1. */
int rh_relay_stop(struct rh_relay *r, int timeout_ms);

struct rh_client {
	int fd;
	struct identity id;
	struct frame_reader reader;
	uint8_t buf[FRAME_MAX_PAYLOAD + FRAME_HEADER_LEN];
	const uint8_t *p;
	size_t n;
	struct frame f; /* the last frame received */
	uint8_t close_reason;
	char close_text[RELAY_CLOSE_TEXT_MAX + 1];
	struct tls_conn *tls; /* set by rh_client_tls: every read and write goes through it */
	uint8_t plain[FRAME_MAX_PAYLOAD + FRAME_HEADER_LEN];
	uint8_t challenge_flags; /* the CHALLENGE's flags, set by rh_client_handshake */
};

/* Connects to 127.0.0.1:port with a fresh identity. rcvbuf > 0 shrinks SO_RCVBUF. */
int rh_client_connect(struct rh_client *c, uint16_t port, int rcvbuf);
/* The same from source address src (a 127.x.y.z address, any port). */
int rh_client_connect_from(struct rh_client *c, uint16_t port, int rcvbuf, const char *src);
void rh_client_close(struct rh_client *c);
/* A connected client on the heap (rh_client_connect); the test exits 1 if it cannot be. */
struct rh_client *rh_client_new(uint16_t port, int rcvbuf);
/* rh_client_close, then free. */
void rh_client_free(struct rh_client *c);
/* TLS on a connected client (a client ctx, server_name as tls_conn_new): 1 when the
 * handshake completed, 0 on timeout, or the wrapper's error (-EKEYREJECTED, ...). */
int rh_client_tls(struct rh_client *c, struct tls_ctx *ctx, const char *name, int timeout_ms);
int rh_client_write(struct rh_client *c, const void *data, size_t len);
/* Receives one frame into c->f: 1, 0 on timeout, -EPIPE on EOF or reset. */
int rh_client_recv(struct rh_client *c, int timeout_ms);
/* Receives until a frame of type arrives (others skipped): 1, 0 timeout, -EPIPE. */
int rh_client_expect(struct rh_client *c, uint8_t type, int timeout_ms);
/* Handshake with an optional token text: 0 when SERVER_INFO arrived, the CLOSE reason
 * (> 0) when refused, -errno otherwise. tamper != 0 signs the wrong nonce. */
int rh_client_handshake(struct rh_client *c, const char *token, int tamper, int timeout_ms);
int rh_client_send_packet(struct rh_client *c, const uint8_t key[32], const void *data, size_t len);
/* Waits for the peer to close: returns the CLOSE reason seen (0 if none) or -ETIMEDOUT. */
int rh_client_wait_closed(struct rh_client *c, int timeout_ms);

/* Reads natlab_relay_<name> (name may carry {labels}) from /metrics; -1 on failure. */
long long rh_metric(uint16_t port, const char *name);
/* GET path: returns the HTTP status and copies the body (NUL-terminated) into body. */
int rh_http_get(uint16_t port, const char *path, char *body, size_t cap);

/* Monotonic milliseconds. */
long long rh_now_ms(void);

#endif
