/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay's server internals: one libuv loop, one struct relay_server that owns
 * the TCP listener, the clients, the STUN sockets, the metrics endpoint, and the
 * counters. Shared between the files of relay/ only; clients use relay_proto.h.
 */
#ifndef NATLAB_RELAY_H
#define NATLAB_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <uv.h>

#include "natlab/frame.h"
#include "natlab/relay_proto.h"

struct relay_config {
	struct sockaddr_storage listen;
	struct sockaddr_storage stun;     /* AF_UNSPEC when no --stun */
	struct sockaddr_storage stun_alt; /* AF_UNSPEC when no --stun-alt */
	struct sockaddr_storage metrics;  /* AF_UNSPEC when no --metrics */
	int no_auth;
	uint8_t issuer[RELAY_KEY_LEN];
	const char *revoked_path; /* NULL: no revocation list */
	uint32_t max_clients;
	uint32_t handshake_timeout_ms;
	uint32_t queue_frames;
	uint32_t queue_bytes;
	uint32_t rate_bytes_per_sec; /* 0: unlimited */
	uint32_t burst_bytes;
	uint32_t keepalive_ms;
	uint32_t idle_timeout_ms; /* no complete frame from an active client for this long */
	uint32_t drain_ms;
	uint32_t reconnect_in_ms;
	uint32_t revoked_poll_ms;
};

/* Counters exported by /metrics. Each drop or refusal reason has its own. */
enum relay_counter {
	RELAY_C_ACCEPTED,
	RELAY_C_AUTH_OK,
	RELAY_C_FRAMES_IN,
	RELAY_C_BYTES_IN,
	RELAY_C_FRAMES_FORWARDED,
	RELAY_C_BYTES_FORWARDED,
	RELAY_C_DROP_QUEUE_FULL,   /* oldest queued frame dropped for a slow receiver */
	RELAY_C_DROP_NO_PEER,      /* SEND to a key not connected here */
	RELAY_C_RATE_LIMIT_PAUSES, /* reads paused by the token bucket */
	RELAY_C_PINGS,
	RELAY_C_DISCONNECT_EOF,   /* client closed */
	RELAY_C_DISCONNECT_ERROR, /* read or write error */
	RELAY_C_STUN_REQUESTS,
	RELAY_C_STUN_RESPONSES,
	RELAY_C_STUN_DROPPED,
	RELAY_C_HTTP_REQUESTS,
	RELAY_C_COUNT
};

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#define RELAY_WATCHERS 4

/* One outgoing frame (or the rest of one) waiting in a client's queue. */
struct relay_out {
	struct relay_out *next;
	uint32_t len;
	uint8_t data[];
};

enum relay_client_state {
	RELAY_CLIENT_HANDSHAKE,
	RELAY_CLIENT_ACTIVE,
	RELAY_CLIENT_CLOSING,
};

struct relay_server;

struct relay_client {
	uv_tcp_t tcp;     /* first: the close callback frees the client */
	uv_timer_t timer; /* handshake timeout, later the rate-limit resume */
	uv_write_t wreq;
	struct relay_server *srv;
	struct relay_client *next, *prev; /* every connection */
	struct relay_client *hnext;       /* key table chain, ACTIVE only */
	struct frame_reader reader;
	enum relay_client_state state;
	uint8_t key[RELAY_KEY_LEN];
	uint8_t nonce[RELAY_NONCE_LEN];
	char token_id[TOKEN_ID_MAX + 1];   /* empty without a token */
	uint64_t token_expiry;             /* 0: none */
	struct relay_out *q_head, *q_tail; /* not yet handed to libuv */
	uint32_t q_len;
	uint32_t q_bytes;
	struct relay_out *inflight; /* handed to libuv in wreq */
	int writing;
	int paused;
	int pending_closes; /* handles still closing */
	double tokens;
	uint64_t refill_ms;
	uint64_t last_frame_ms; /* uv_now when the last whole frame arrived (or auth) */
	/* The last few keys that sent to this client: told PEER_GONE when it leaves. */
	uint8_t watchers[RELAY_WATCHERS][RELAY_KEY_LEN];
	uint8_t n_watchers;
	uint8_t watcher_next;
};

struct relay_server {
	uv_loop_t *loop;
	struct relay_config cfg;
	uv_tcp_t listener;
	uv_signal_t sigterm, sigint;
	uv_timer_t sweep; /* token expiry */
	uv_timer_t drain; /* ends the drain after SIGTERM */
	uv_fs_poll_t revoked_poll;
	int revoked_polling;
	char **revoked; /* sorted token ids */
	size_t n_revoked;
	struct relay_client **table; /* ACTIVE clients by key */
	size_t table_size;
	uint8_t hash_key[16];
	struct relay_client *clients; /* all connections */
	uint32_t n_conns;             /* all connections, handshaking included */
	uint32_t n_active;
	int draining;
	uint64_t counters[RELAY_C_COUNT];
	uint64_t closes[RELAY_CLOSE_REASON_COUNT];
	struct relay_stun *stun;
	struct relay_metrics *metrics;
	/* One read buffer for all clients: read_cb consumes it before the next read, and
	 * idle clients then hold no buffer at all. */
	uint8_t readbuf[FRAME_MAX_PAYLOAD + FRAME_HEADER_LEN];
	struct sockaddr_storage bound; /* the listener's actual address */
};

/* server.c */
int relay_server_init(struct relay_server *srv, uv_loop_t *loop, const struct relay_config *cfg);
/* Runs until the drain after SIGTERM/SIGINT ends. Prints the ready line on stdout. */
int relay_server_run(struct relay_server *srv);
void relay_server_free(struct relay_server *srv);
struct relay_client *relay_server_lookup(struct relay_server *srv,
                                         const uint8_t key[RELAY_KEY_LEN]);
int relay_server_register(struct relay_server *srv, struct relay_client *c);
void relay_server_unregister(struct relay_server *srv, struct relay_client *c);
void relay_server_client_gone(struct relay_server *srv, struct relay_client *c);
int relay_server_is_revoked(const struct relay_server *srv, const char *token_id);
uint64_t relay_now_unix(void);

/* client.c */
void relay_client_start(struct relay_client *c);
/* Sends CLOSE with reason (best effort), counts it, and closes the connection. */
void relay_client_close(struct relay_client *c, enum relay_close_reason reason, const char *text);
/* Queues a whole frame (copied). Drops the oldest queued frame if the queue is full. */
int relay_client_send(struct relay_client *c, const uint8_t *frame, size_t len);
/* Forwards data from src to c as a RECV frame without an intermediate copy if it can. */
int relay_client_forward(struct relay_client *c, const uint8_t src[RELAY_KEY_LEN],
                         const uint8_t *data, size_t len);

/* revoked.c: loads path into a sorted list; a missing file is an empty list. */
int relay_revoked_load(const char *path, char ***ids, size_t *n);
void relay_revoked_free(char **ids, size_t n);

/* metrics.c */
int relay_metrics_start(struct relay_server *srv);
void relay_metrics_stop(struct relay_server *srv);

/* stun.c */
int relay_stun_start(struct relay_server *srv);
void relay_stun_stop(struct relay_server *srv);

#endif
