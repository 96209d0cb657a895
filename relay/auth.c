/* SPDX-License-Identifier: MIT */
/*
 * Live authentication state: the trusted issuer keys and the revocation list, re-read
 * every revoked_poll_ms; sessions whose token or issuer key is revoked are closed at
 * once; a list that cannot be read fails closed (new sessions refused, /healthz says
 * why) while open sessions keep the last good lists; SIGUSR1 and SIGUSR2 turn the
 * token requirement off and on for new handshakes only.
 */
#include "natlab/relay.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/log.h"

static int relay_revoked_equal(const struct relay_revoked *a, const struct relay_revoked *b)
{
	size_t i;

	if (a->n_ids != b->n_ids || a->n_keys != b->n_keys)
		return 0;
	for (i = 0; i < a->n_ids; i++)
		if (strcmp(a->ids[i], b->ids[i]))
			return 0;
	return !a->n_keys || !memcmp(a->keys, b->keys, a->n_keys * RELAY_KEY_LEN);
}

static int relay_issuers_equal(const struct relay_issuers *a, const struct relay_issuers *b)
{
	return a->n == b->n && (!a->n || !memcmp(a->keys, b->keys, a->n * RELAY_KEY_LEN));
}

/* Why an open session must end now, or NULL. */
static const char *relay_auth_session_verdict(const struct relay_server *srv,
                                              const struct relay_client *c, uint64_t now,
                                              enum relay_close_reason *reason)
{
	*reason = RELAY_CLOSE_TOKEN_REVOKED;
	if (relay_revoked_has_id(&srv->revoked, c->token_id))
		return "token revoked";
	if (relay_keys_find((const uint8_t(*)[RELAY_KEY_LEN])srv->revoked.keys, srv->revoked.n_keys,
	                    c->token_issuer))
		return "issuer key revoked";
	if (srv->cfg.issuer_path && !relay_issuers_has(&srv->issuers, c->token_issuer))
		return "issuer key no longer trusted";
	*reason = RELAY_CLOSE_TOKEN_EXPIRED;
	if (now && c->token_expiry && c->token_expiry <= now)
		return "token expired";
	return NULL;
}

void relay_auth_sweep(struct relay_server *srv, int check_expiry)
{
	uint64_t now = check_expiry ? relay_now_unix() : 0;
	struct relay_client *c, *next;
	enum relay_close_reason reason;
	const char *why;

	for (c = srv->clients; c; c = next) {
		next = c->next;
		if (c->state != RELAY_CLIENT_ACTIVE || !c->token_id[0])
			continue;
		why = relay_auth_session_verdict(srv, c, now, &reason);
		if (why)
			relay_client_close(c, reason, why);
	}
}

enum relay_close_reason relay_auth_check_new(const struct relay_server *srv, const struct token *t)
{
	if (relay_keys_find((const uint8_t(*)[RELAY_KEY_LEN])srv->revoked.keys, srv->revoked.n_keys,
	                    t->issuer))
		return RELAY_CLOSE_TOKEN_REVOKED;
	if (relay_revoked_has_id(&srv->revoked, t->id))
		return RELAY_CLOSE_TOKEN_REVOKED;
	return RELAY_CLOSE_NONE;
}

static void relay_auth_set_error(struct relay_server *srv, const char *err)
{
	if (err) {
		if (!srv->auth_failed || strcmp(srv->auth_error, err))
			log_warnx("%s: refusing new sessions until it is fixed (open sessions keep "
			          "the last good list)",
			          err);
		srv->auth_failed = 1;
		snprintf(srv->auth_error, sizeof(srv->auth_error), "%s", err);
		return;
	}
	if (srv->auth_failed)
		log_info("issuer keys and revocation list readable again: accepting new sessions");
	srv->auth_failed = 0;
	srv->auth_error[0] = '\0';
}

/* Loads both lists; on failure keeps the old ones and fails closed. Returns 1 if
 * anything changed. */
int relay_auth_reload(struct relay_server *srv)
{
	char err[sizeof(srv->auth_error)] = "";
	struct relay_issuers is;
	struct relay_revoked rv;
	int changed = 0, failed = 0;

	if (srv->cfg.issuer_path) {
		if (relay_issuers_load(srv->cfg.issuer_path, &is, err, sizeof(err)) < 0) {
			failed = 1;
		} else if (relay_issuers_equal(&is, &srv->issuers)) {
			relay_issuers_clear(&is);
		} else {
			relay_issuers_clear(&srv->issuers);
			srv->issuers = is;
			changed = 1;
			log_info("issuer keys \"%s\": %zu keys", srv->cfg.issuer_path, is.n);
		}
	}
	if (srv->cfg.revoked_path && !failed) {
		if (relay_revoked_load(srv->cfg.revoked_path, &rv, err, sizeof(err)) < 0) {
			failed = 1;
		} else if (relay_revoked_equal(&rv, &srv->revoked)) {
			relay_revoked_clear(&rv);
		} else {
			relay_revoked_clear(&srv->revoked);
			srv->revoked = rv;
			changed = 1;
			log_info("revocation file \"%s\": %zu token ids, %zu issuer keys",
			         srv->cfg.revoked_path, rv.n_ids, rv.n_keys);
		}
	}
	relay_auth_set_error(srv, failed ? err : NULL);
	if (changed)
		relay_auth_sweep(srv, 0);
	return changed;
}

static void relay_auth_reload_cb(uv_timer_t *t)
{
	relay_auth_reload(container_of(t, struct relay_server, auth_timer));
}

static void relay_auth_signal_cb(uv_signal_t *s, int signum)
{
	struct relay_server *srv = s->data;
	int on = signum == SIGUSR2;

	if (on && !srv->cfg.issuer_path) {
		log_warnx("SIGUSR2: cannot require tokens, the relay was started without "
		          "--issuer-key");
		return;
	}
	if (srv->auth_on != on)
		log_info("%s: tokens %s for new handshakes; open sessions are kept",
		         on ? "SIGUSR2" : "SIGUSR1", on ? "required" : "no longer required");
	srv->auth_on = on;
}

int relay_auth_start(struct relay_server *srv)
{
	char err[sizeof(srv->auth_error)];

	srv->auth_on = !srv->cfg.no_auth;
	uv_signal_init(srv->loop, &srv->sigusr1);
	uv_signal_init(srv->loop, &srv->sigusr2);
	srv->sigusr1.data = srv->sigusr2.data = srv;
	uv_signal_start(&srv->sigusr1, relay_auth_signal_cb, SIGUSR1);
	uv_signal_start(&srv->sigusr2, relay_auth_signal_cb, SIGUSR2);
	/* Signals alone must not keep the loop alive after the drain. */
	uv_unref((uv_handle_t *)&srv->sigusr1);
	uv_unref((uv_handle_t *)&srv->sigusr2);
	uv_timer_init(srv->loop, &srv->auth_timer);
	srv->auth_timer_on = 1;
	/* At startup an unusable key set is an error for the operator to fix now. */
	if (srv->cfg.issuer_path) {
		if (relay_issuers_load(srv->cfg.issuer_path, &srv->issuers, err, sizeof(err)) < 0) {
			log_warnx("%s (natlab-relay keygen FILE writes one)", err);
			return -EINVAL;
		}
		if (!srv->issuers.n) {
			log_warnx(
			    "issuer keys \"%s\": no key in it (natlab-relay keygen FILE writes "
			    "one)",
			    srv->cfg.issuer_path);
			return -EINVAL;
		}
	}
	relay_auth_reload(srv);
	if (srv->cfg.issuer_path || srv->cfg.revoked_path)
		uv_timer_start(&srv->auth_timer, relay_auth_reload_cb, srv->cfg.revoked_poll_ms,
		               srv->cfg.revoked_poll_ms);
	return 0;
}

static void relay_auth_close_noop_cb(uv_handle_t *h)
{
}

void relay_auth_stop(struct relay_server *srv)
{
	if (!srv->auth_timer_on)
		return;
	srv->auth_timer_on = 0;
	uv_close((uv_handle_t *)&srv->auth_timer, relay_auth_close_noop_cb);
}

/* After the loop has ended, with SIGUSR1 and SIGUSR2 blocked (relay_server_run). */
void relay_auth_close_signals(struct relay_server *srv)
{
	uv_close((uv_handle_t *)&srv->sigusr1, relay_auth_close_noop_cb);
	uv_close((uv_handle_t *)&srv->sigusr2, relay_auth_close_noop_cb);
}

void relay_auth_free(struct relay_server *srv)
{
	relay_issuers_clear(&srv->issuers);
	relay_revoked_clear(&srv->revoked);
}
