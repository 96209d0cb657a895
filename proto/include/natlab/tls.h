/* SPDX-License-Identifier: MIT */
/*
 * TLS over memory buffers (OpenSSL, wrapped here and nowhere else). No sockets and no
 * event loop: the caller feeds the ciphertext it read from the network in, takes the
 * plaintext out, hands plaintext in and sends the ciphertext that comes out. So the
 * relay, the peer and any later transport (TURN over TLS) use it from their own libuv
 * callbacks, and a test runs a client and a server in one thread by passing bytes.
 *
 * The rule the caller follows: after every call (feed, read, write, handshake,
 * shutdown), send whatever tls_conn_pending() reports (tls_conn_take). TLS produces
 * output while reading too (handshake messages, alerts).
 *
 * Verification (client side): by a CA file (the chain must verify and the certificate
 * must name the server: its IP address or DNS name in subjectAltName), by a pinned
 * SHA-256 fingerprint of the server's certificate (DER), or both (both must hold).
 * A client without either is refused at tls_ctx_new: there is no unverified mode.
 *
 * Errors: -errno codes; -EKEYREJECTED when the peer's certificate was refused, -EPROTO
 * for any other TLS failure, -EPIPE after the peer closed cleanly (close_notify).
 * Every failure leaves a sentence in the error buffer or tls_conn_error().
 */
#ifndef NATLAB_TLS_H
#define NATLAB_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TLS_FP_LEN      32 /* SHA-256 */
#define TLS_FP_TEXT_LEN 64 /* lowercase hex, no separators */
#define TLS_ERR_MAX     512

enum tls_role { TLS_ROLE_CLIENT, TLS_ROLE_SERVER };

struct tls_config {
	enum tls_role role;
	const char *cert_file; /* server: PEM certificate (chain) */
	const char *key_file;  /* server: PEM private key */
	const char *ca_file;   /* client: trust these PEM certificates; NULL: no CA check */
	const char *pin;       /* client: SHA-256 fingerprint (tls_fp_parse form); NULL: none */
};

struct tls_ctx;
struct tls_conn;

/*
 * Loads the files and checks them (a key that does not match the certificate, a pin
 * that does not parse, a client with neither CA nor pin). *out is the caller's, freed
 * with tls_ctx_free; err (errlen bytes) gets a sentence naming the file on failure.
 */
int tls_ctx_new(struct tls_ctx **out, const struct tls_config *cfg, char *err, size_t errlen);
/* Connections hold a reference: the context may be freed before them. NULL is fine. */
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * A new connection. server_name (client only, may be NULL): the name the certificate
 * must carry under CA verification, an IP address literal or a DNS name (also sent as
 * SNI). A client starts its handshake at once: its ClientHello is pending on return.
 */
int tls_conn_new(struct tls_conn **out, struct tls_ctx *ctx, const char *server_name);
void tls_conn_free(struct tls_conn *c);

/* Ciphertext that arrived from the network. 0 or -ENOMEM. */
int tls_conn_feed(struct tls_conn *c, const void *data, size_t len);
/*
 * Moves the handshake on with what was fed: 1 when established, 0 when it needs more
 * input, or an error. tls_conn_read does this too; it is for callers that have nothing
 * to read yet (a server waiting to send first).
 */
int tls_conn_handshake(struct tls_conn *c);
/* Up to cap bytes of plaintext: > 0 bytes, 0 when more input is needed, or an error. */
int tls_conn_read(struct tls_conn *c, void *buf, size_t cap);
/*
 * Encrypts all len bytes (any length) into the pending output. -EAGAIN before the
 * handshake is done (nothing taken: the caller keeps the bytes), or an error.
 */
int tls_conn_write(struct tls_conn *c, const void *data, size_t len);
/* Bytes of ciphertext waiting to be sent. */
size_t tls_conn_pending(const struct tls_conn *c);
/* Moves up to cap bytes of pending ciphertext into buf; returns how many. */
size_t tls_conn_take(struct tls_conn *c, void *buf, size_t cap);
/*
 * Gives the memory back that c holds for network bytes, when none are waiting either
 * way (an idle session): the handshake leaves kilobytes in each buffer. 1 if it did,
 * 0 if bytes were waiting (nothing done), -ENOMEM.
 */
int tls_conn_trim(struct tls_conn *c);
/* Queues a close_notify (pending afterwards). 0 or an error. */
int tls_conn_shutdown(struct tls_conn *c);
int tls_conn_established(const struct tls_conn *c);
/* The last failure as a sentence ("" if none). Owned by c. */
const char *tls_conn_error(const struct tls_conn *c);
/* "TLSv1.3" etc. once established, else "". */
const char *tls_conn_version(const struct tls_conn *c);
/* The SHA-256 fingerprint of the peer's certificate: 0, or -ENOENT if it sent none. */
int tls_conn_peer_fp(const struct tls_conn *c, uint8_t fp[TLS_FP_LEN]);

/*
 * A self-signed ECDSA P-256 certificate for names (comma-separated IP addresses and DNS
 * names, the first one also the subject CN), valid for days, written as PEM to
 * cert_path and key_path (mode 0600). Refuses to overwrite either file (-EEXIST).
 * fp gets the certificate's fingerprint.
 */
int tls_cert_make(const char *cert_path, const char *key_path, const char *names, unsigned days,
                  uint8_t fp[TLS_FP_LEN], char *err, size_t errlen);
/* The fingerprint of the first certificate in a PEM file. */
int tls_cert_fp(const char *cert_path, uint8_t fp[TLS_FP_LEN], char *err, size_t errlen);

/*
 * Parses a fingerprint: 64 hex digits, either case, optionally in pairs separated by
 * colons (as `openssl x509 -fingerprint -sha256` prints it, "sha256 Fingerprint=" prefix
 * allowed). 0 or -EINVAL.
 */
int tls_fp_parse(uint8_t fp[TLS_FP_LEN], const char *text);
/* 64 lowercase hex digits and a NUL. */
void tls_fp_format(const uint8_t fp[TLS_FP_LEN], char out[TLS_FP_TEXT_LEN + 1]);

#endif
