/* SPDX-License-Identifier: MIT */
/*
 * TLS to the relays (--relay-ca, --relay-pin), over proto/tls.c: ciphertext read from
 * the relay's socket is fed in and the plaintext frames go to peer_relay_on_bytes();
 * frames out are sealed and written raw. There is no fallback to plaintext: a refused
 * certificate ends the run like refused credentials (exit 3, relay_cert_refused), and
 * any other TLS failure drops the connection, which is retried over TLS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/log.h"
#include "peer.h"

int peer_tls_setup(struct peer *p)
{
	const struct peer_opts *o = p->o;
	struct tls_config cfg = { .role = TLS_ROLE_CLIENT,
		                  .ca_file = o->relay_ca,
		                  .pin = o->relay_pin };
	char err[TLS_ERR_MAX];

	if (!o->relay_ca && !o->relay_pin)
		return 0;
	if (tls_ctx_new(&p->tls, &cfg, err, sizeof(err)) < 0) {
		peer_error(p, PEER_EXIT_USAGE, "bad_tls", "%s", err);
		return -1;
	}
	return 0;
}

/* Sends what TLS has pending (handshake messages, records, alerts). */
static int relay_tls_flush(struct peer_relay *r)
{
	size_t n = tls_conn_pending(r->tls);
	uint8_t *buf;
	int rc;

	if (!n)
		return 0;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	n = tls_conn_take(r->tls, buf, n);
	rc = peer_relay_write_raw(r, buf, n);
	free(buf);
	return rc;
}

int peer_relay_tls_start(struct peer_relay *r)
{
	int rc = tls_conn_new(&r->tls, r->peer->tls, r->host);

	if (rc < 0) {
		snprintf(r->close_reason, sizeof(r->close_reason), "TLS: cannot start: %s",
		         strerror(-rc));
		return rc;
	}
	rc = relay_tls_flush(r);
	if (rc < 0)
		snprintf(r->close_reason, sizeof(r->close_reason), "TLS: cannot send: %s",
		         uv_strerror(rc));
	return rc;
}

int peer_relay_tls_write(struct peer_relay *r, const uint8_t *data, size_t len)
{
	int rc = tls_conn_write(r->tls, data, len);

	if (rc == -EAGAIN)
		return -ENOTCONN;
	if (rc < 0)
		return rc;
	return relay_tls_flush(r);
}

void peer_relay_tls_on_read(struct peer_relay *r, const uint8_t *buf, size_t n)
{
	static uint8_t plain[16 * 1024];
	int was = tls_conn_established(r->tls), rc;

	if (tls_conn_feed(r->tls, buf, n) < 0) {
		peer_relay_fail(r, "TLS: out of memory");
		return;
	}
	for (;;) {
		rc = tls_conn_read(r->tls, plain, sizeof(plain));
		/* The handshake's last flight, or the alert that says why we refused. */
		relay_tls_flush(r);
		if (!was && tls_conn_established(r->tls)) {
			was = 1;
			log_info("relay %s: %s", r->text, tls_conn_version(r->tls));
		}
		if (rc == 0)
			return;
		if (rc == -EKEYREJECTED) {
			r->peer->refused = 1;
			peer_error(r->peer, PEER_EXIT_REFUSED, "relay_cert_refused", "relay %s: %s",
			           r->text, tls_conn_error(r->tls));
			return;
		}
		if (rc < 0) {
			snprintf(r->close_reason, sizeof(r->close_reason), "TLS: %s",
			         tls_conn_error(r->tls));
			peer_relay_fail(r, r->close_reason);
			return;
		}
		peer_relay_on_bytes(r, plain, (size_t)rc);
		if (r->state == PEER_RELAY_CLOSING || r->state == PEER_RELAY_IDLE || !r->tls)
			return;
	}
}
