/* SPDX-License-Identifier: MIT */
/*
 * The relay server: listener, key table, signals, token expiry sweep, revocation
 * reload and the drain after SIGTERM. Per-connection logic lives in client.c.
 */
#include "natlab/addr.h"
#include "natlab/relay.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <jansson.h>
#include <sodium.h>

#include "natlab/log.h"

#define RELAY_TABLE_MIN 1024

uint64_t relay_now_unix(void)
{
	return (uint64_t)time(NULL);
}

/* Keys are chosen by clients; a keyed hash keeps them from aiming at one bucket. */
static size_t relay_key_slot(const struct relay_server *srv, const uint8_t key[RELAY_KEY_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, RELAY_KEY_LEN, srv->hash_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (srv->table_size - 1));
}

struct relay_client *relay_server_lookup(struct relay_server *srv, const uint8_t key[RELAY_KEY_LEN])
{
	struct relay_client *c;

	for (c = srv->table[relay_key_slot(srv, key)]; c; c = c->hnext)
		if (memcmp(c->key, key, RELAY_KEY_LEN) == 0)
			return c;
	return NULL;
}

int relay_server_register(struct relay_server *srv, struct relay_client *c)
{
	size_t slot = relay_key_slot(srv, c->key);

	c->hnext = srv->table[slot];
	srv->table[slot] = c;
	srv->n_active++;
	return 0;
}

void relay_server_unregister(struct relay_server *srv, struct relay_client *c)
{
	struct relay_client **pp = &srv->table[relay_key_slot(srv, c->key)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			c->hnext = NULL;
			srv->n_active--;
			return;
		}
	}
}

static void relay_server_finish(struct relay_server *srv);

/* Called by client.c once a connection's handles are closed, before it is freed. */
void relay_server_client_gone(struct relay_server *srv, struct relay_client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_conns--;
	if (srv->draining && srv->n_conns == 0)
		relay_server_finish(srv);
}

void relay_server_handshake_end(struct relay_server *srv, struct relay_client *c)
{
	if (c->handshaking) {
		c->handshaking = 0;
		srv->n_handshakes--;
	}
	relay_sources_release(c);
}

/* The per-address limits; NULL when admitted. */
static const char *relay_server_source_check(struct relay_server *srv, struct relay_client *c)
{
	struct sockaddr_storage peer;
	int len = sizeof(peer);

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &len) < 0)
		return NULL; /* gone already: the first read will say so */
	return relay_sources_admit(srv, c, &peer);
}

struct relay_client *relay_server_accept(struct relay_server *srv, uv_stream_t *listener)
{
	struct relay_client *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c) {
		log_warnx("accept: out of memory");
		return NULL;
	}
	c->srv = srv;
	uv_tcp_init(srv->loop, &c->tcp);
	uv_timer_init(srv->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->next = srv->clients;
	if (srv->clients)
		srv->clients->prev = c;
	srv->clients = c;
	srv->n_conns++;
	rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
	if (rc < 0) {
		log_warnx("accept: %s", uv_strerror(rc));
		relay_client_close(c, RELAY_CLOSE_NONE, NULL);
		return NULL;
	}
	srv->counters[RELAY_C_ACCEPTED]++;
	return c;
}

void relay_server_admit(struct relay_server *srv, struct relay_client *c)
{
	const char *why;

	if (srv->draining) {
		relay_client_close(c, RELAY_CLOSE_SHUTDOWN, "relay is restarting");
		return;
	}
	/* Handshakes have their own slots: a storm of them cannot fill --max-clients. */
	if (srv->n_handshakes >= srv->cfg.max_handshakes) {
		relay_client_close(c, RELAY_CLOSE_SERVER_FULL,
		                   "too many handshakes in progress, try again or another relay");
		return;
	}
	why = relay_server_source_check(srv, c);
	if (why) {
		srv->counters[RELAY_C_SOURCE_REFUSALS]++;
		relay_client_close(c, RELAY_CLOSE_SERVER_FULL, why);
		return;
	}
	c->handshaking = 1;
	srv->n_handshakes++;
	relay_client_start(c);
}

static void relay_accept_cb(uv_stream_t *listener, int status)
{
	struct relay_server *srv = container_of(listener, struct relay_server, listener);
	struct relay_client *c;

	if (status < 0) {
		log_warnx("accept: %s", uv_strerror(status));
		return;
	}
	c = relay_server_accept(srv, listener);
	if (c)
		relay_server_admit(srv, c);
}

/*
 * Closes every active client that completed no frame for the idle timeout: gone without
 * a FIN, or holding a partly sent frame (up to 64 KiB of our memory) forever.
 */
static void relay_server_sweep_idle(struct relay_server *srv)
{
	uint64_t now = uv_now(srv->loop);
	struct relay_client *c, *next;
	char why[64];

	for (c = srv->clients; c; c = next) {
		next = c->next;
		/* A client we paused (rate limit) cannot complete a frame: not its fault. */
		if (c->state != RELAY_CLIENT_ACTIVE || c->paused ||
		    now - c->last_frame_ms <= srv->cfg.idle_timeout_ms)
			continue;
		snprintf(why, sizeof(why), "no complete frame for %u ms", srv->cfg.idle_timeout_ms);
		relay_client_close(c, RELAY_CLOSE_IDLE, why);
	}
}

/*
 * Every RELAY_SWEEP_MS; a sweep later than RELAY_SWEEP_LATE_MS after that found the relay
 * stopped or starved meanwhile. libuv runs timers before it polls, so what clients sent
 * during the stall is still unread, and the idle verdict would close clients that did
 * send: such a sweep waits for this turn's poll (1 ms).
 */
#define RELAY_SWEEP_MS      1000
#define RELAY_SWEEP_LATE_MS 250

static void relay_sweep_cb(uv_timer_t *t)
{
	struct relay_server *srv = container_of(t, struct relay_server, sweep);
	uint64_t now = uv_now(srv->loop);
	uint64_t since = now - srv->last_sweep_ms;

	srv->last_sweep_ms = now;
	/* Once: a relay whose every turn takes that long still sweeps. */
	if (since > RELAY_SWEEP_MS + RELAY_SWEEP_LATE_MS && !srv->sweep_put_off) {
		srv->sweep_put_off = true;
		log_debug("sweep %llu ms late: after the poll",
		          (unsigned long long)(since - RELAY_SWEEP_MS));
		uv_timer_start(&srv->sweep, relay_sweep_cb, 1, RELAY_SWEEP_MS);
		return;
	}
	srv->sweep_put_off = false;
	relay_auth_sweep(srv, 1);
	relay_server_sweep_idle(srv);
	relay_sources_sweep(srv);
}

static void relay_handle_close_noop_cb(uv_handle_t *h)
{
}

static void relay_server_close_handles(struct relay_server *srv)
{
	/* Signal handlers stay installed (unreferenced) until the loop has ended, so a
	 * late SIGTERM cannot kill the process with the default action mid-exit. */
	uv_unref((uv_handle_t *)&srv->sigterm);
	uv_unref((uv_handle_t *)&srv->sigint);
	uv_close((uv_handle_t *)&srv->sweep, relay_handle_close_noop_cb);
	uv_close((uv_handle_t *)&srv->drain, relay_handle_close_noop_cb);
	relay_auth_stop(srv);
	relay_batch_stop(srv);
	relay_stun_stop(srv);
	relay_metrics_stop(srv);
	relay_tls_stop(srv);
	relay_listen2_stop(srv);
}

/* The drain is over: everything still open is closed and the loop runs dry. */
static void relay_server_finish(struct relay_server *srv)
{
	struct relay_client *c, *next;

	if (srv->draining == 2)
		return;
	srv->draining = 2;
	for (c = srv->clients; c; c = next) {
		next = c->next;
		relay_client_close(c, RELAY_CLOSE_SHUTDOWN, "relay is restarting");
	}
	relay_server_close_handles(srv);
	log_info("drain finished");
}

static void relay_drain_cb(uv_timer_t *t)
{
	relay_server_finish(container_of(t, struct relay_server, drain));
}

/* SIGTERM: stop accepting, tell clients to reconnect elsewhere, drain for a bounded time. */
static void relay_signal_cb(uv_signal_t *s, int signum)
{
	struct relay_server *srv = s->data;
	uint8_t frame[FRAME_HEADER_LEN + 8];
	struct relay_client *c, *next;
	int len;

	if (srv->draining) {
		log_info("signal %d during drain: closing now", signum);
		relay_server_finish(srv);
		return;
	}
	srv->draining = 1;
	log_info("signal %d: restarting, draining for at most %u ms", signum, srv->cfg.drain_ms);
	uv_close((uv_handle_t *)&srv->listener, relay_handle_close_noop_cb);
	relay_tls_stop(srv);
	relay_listen2_stop(srv);
	len = relay_restarting_encode(frame, sizeof(frame), srv->cfg.reconnect_in_ms,
	                              srv->cfg.drain_ms);
	for (c = srv->clients; c; c = next) {
		next = c->next;
		if (c->state == RELAY_CLIENT_ACTIVE)
			relay_client_send(c, frame, (size_t)len);
		else if (c->state == RELAY_CLIENT_HANDSHAKE)
			relay_client_close(c, RELAY_CLOSE_SHUTDOWN, "relay is restarting");
	}
	if (srv->n_conns == 0)
		relay_server_finish(srv);
	else
		uv_timer_start(&srv->drain, relay_drain_cb, srv->cfg.drain_ms, 0);
}

static int relay_server_listen(struct relay_server *srv)
{
	int len = sizeof(srv->bound), rc;

	rc = uv_tcp_init(srv->loop, &srv->listener);
	if (rc < 0)
		return rc;
	rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&srv->cfg.listen, 0);
	if (rc < 0)
		goto out;
	/* A deep accept queue (the kernel caps it at net.core.somaxconn): while a storm
	 * fills it, honest SYNs are dropped and wait a second for their retransmission. */
	rc = uv_listen((uv_stream_t *)&srv->listener, RELAY_LISTEN_BACKLOG, relay_accept_cb);
	if (rc < 0)
		goto out;
	rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&srv->bound, &len);
out:
	return rc;
}

static void relay_server_start_timers(struct relay_server *srv)
{
	uv_signal_init(srv->loop, &srv->sigterm);
	uv_signal_init(srv->loop, &srv->sigint);
	srv->sigterm.data = srv->sigint.data = srv;
	uv_signal_start(&srv->sigterm, relay_signal_cb, SIGTERM);
	uv_signal_start(&srv->sigint, relay_signal_cb, SIGINT);
	uv_timer_init(srv->loop, &srv->sweep);
	uv_timer_init(srv->loop, &srv->drain);
	srv->last_sweep_ms = uv_now(srv->loop);
	uv_timer_start(&srv->sweep, relay_sweep_cb, RELAY_SWEEP_MS, RELAY_SWEEP_MS);
}

int relay_server_init(struct relay_server *srv, uv_loop_t *loop, const struct relay_config *cfg)
{
	char addr[64];
	int rc;

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = *cfg;
	randombytes_buf(srv->hash_key, sizeof(srv->hash_key));
	for (srv->table_size = RELAY_TABLE_MIN; srv->table_size < cfg->max_clients;)
		srv->table_size *= 2;
	srv->table = calloc(srv->table_size, sizeof(*srv->table));
	if (!srv->table || relay_sources_init(&srv->sources) < 0)
		return -ENOMEM;
	rc = relay_server_listen(srv);
	if (rc < 0) {
		addr_format((const struct sockaddr *)&cfg->listen, addr, sizeof(addr));
		log_warnx("listen on %s: %s (is another relay on that port?)", addr,
		          uv_strerror(rc));
		return rc;
	}
	relay_server_start_timers(srv);
	rc = relay_batch_start(srv);
	if (rc == 0)
		rc = relay_auth_start(srv);
	if (rc == 0)
		rc = relay_stun_start(srv);
	if (rc == 0)
		rc = relay_metrics_start(srv);
	if (rc == 0)
		rc = relay_tls_start(srv);
	if (rc == 0)
		rc = relay_listen2_start(srv);
	return rc;
}

static void relay_print_ready(struct relay_server *srv)
{
	char listen[64], addr[64];
	json_t *o = json_object();

	json_object_set_new(o, "event", json_string("ready"));
	addr_format((const struct sockaddr *)&srv->bound, listen, sizeof(listen));
	json_object_set_new(o, "listen", json_string(listen));
	if (srv->cfg.stun.ss_family != AF_UNSPEC) {
		addr_format((const struct sockaddr *)&srv->cfg.stun, addr, sizeof(addr));
		json_object_set_new(o, "stun", json_string(addr));
	}
	if (srv->cfg.metrics.ss_family != AF_UNSPEC) {
		addr_format((const struct sockaddr *)&srv->cfg.metrics, addr, sizeof(addr));
		json_object_set_new(o, "metrics", json_string(addr));
	}
	json_object_set_new(o, "auth", json_boolean(srv->auth_on));
	if (srv->tls_listening) {
		addr_format((const struct sockaddr *)&srv->tls_bound, addr, sizeof(addr));
		json_object_set_new(o, "tls_listen", json_string(addr));
	}
	if (relay_listen2_bound(srv)) {
		addr_format(relay_listen2_bound(srv), addr, sizeof(addr));
		json_object_set_new(o, "listen2", json_string(addr));
	}
	if (srv->cfg.stun2.ss_family != AF_UNSPEC) {
		addr_format((const struct sockaddr *)&srv->cfg.stun2, addr, sizeof(addr));
		json_object_set_new(o, "stun2", json_string(addr));
	}
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(o);
	log_info("listening on %s (%s)", listen, srv->auth_on ? "tokens required" : "no auth");
}

int relay_server_run(struct relay_server *srv)
{
	sigset_t late;
	int rc;

	relay_print_ready(srv);
	rc = uv_run(srv->loop, UV_RUN_DEFAULT);
	/* The drain is done: a late signal must not turn a clean exit into a kill. */
	sigemptyset(&late);
	sigaddset(&late, SIGTERM);
	sigaddset(&late, SIGINT);
	sigaddset(&late, SIGUSR1);
	sigaddset(&late, SIGUSR2);
	sigprocmask(SIG_BLOCK, &late, NULL);
	uv_close((uv_handle_t *)&srv->sigterm, relay_handle_close_noop_cb);
	uv_close((uv_handle_t *)&srv->sigint, relay_handle_close_noop_cb);
	relay_auth_close_signals(srv);
	uv_run(srv->loop, UV_RUN_DEFAULT);
	return rc;
}

void relay_server_free(struct relay_server *srv)
{
	relay_auth_free(srv);
	relay_sources_free(&srv->sources);
	free(srv->table);
	srv->table = NULL;
	tls_ctx_free(srv->tls);
	srv->tls = NULL;
}
