/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay's server internals: one libuv loop, one struct relay_server that owns
 * the TCP listener, the clients, the STUN sockets, the metrics endpoint, and the
 * counters. Shared between the files of relay/ only; clients use relay_proto.h.
 */
#ifndef NATLAB_RELAY_H
#define NATLAB_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <uv.h>

#include "natlab/frame.h"
#include "natlab/relay_proto.h"
#include "natlab/token.h"
#include "natlab/tls.h"

struct relay_config {
	struct sockaddr_storage listen;
	struct sockaddr_storage stun;     /* AF_UNSPEC when no --stun */
	struct sockaddr_storage stun_alt; /* AF_UNSPEC when no --stun-alt */
	struct sockaddr_storage metrics;  /* AF_UNSPEC when no --metrics */
	int no_auth;                      /* at start; SIGUSR1/SIGUSR2 change it live */
	const char *issuer_path;          /* file or directory of issuer public keys, or NULL */
	const char *revoked_path;         /* NULL: no revocation list */
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
	uint32_t max_handshakes;    /* connections not yet authenticated, at once */
	uint32_t source_handshakes; /* of those, from one address */
	uint32_t source_rate;       /* new connections per second from one address; 0: off */
	uint32_t frame_cost;        /* bytes charged to the rate limit at least, per frame */
	/* TLS on a second protocol port (tls.c); AF_UNSPEC when no --tls-listen. */
	struct sockaddr_storage tls_listen;
	const char *tls_cert;
	const char *tls_key;
	uint64_t byte_cap; /* relayed data bytes per session, both ways; 0: no cap */
	/* The other address family (a second --listen, --stun, --stun-alt: listen2.c and
	 * stun.c); AF_UNSPEC when not given. */
	struct sockaddr_storage listen2;
	struct sockaddr_storage stun2;
	struct sockaddr_storage stun2_alt;
	int no_records; /* --no-records: no address records, as a relay before them */
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
	RELAY_C_TOKEN_RENEWALS,  /* a second AUTH on a session accepted */
	RELAY_C_SOURCE_REFUSALS, /* connections refused by the per-address limits */
	RELAY_C_TLS_HANDSHAKES,  /* TLS handshakes completed */
	RELAY_C_TLS_FAILURES,    /* TLS connections that failed (handshake or records) */
	RELAY_C_RECORDS_KEPT,    /* address records accepted (records.c) */
	RELAY_C_LOOKUPS_FOUND,   /* LOOKUPs answered with a record */
	RELAY_C_LOOKUPS_NONE,    /* LOOKUPs answered with none */
	RELAY_C_RECORDS_PUSHED,  /* records sent to a client that looked up before they came */
	RELAY_C_COUNT
};

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#define RELAY_WATCHERS 4
/* Clients that looked this client's key up before it published: sent its record. */
#define RELAY_RECORD_WAITERS 4

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

/* Sorted lists, for bsearch. */
struct relay_revoked {
	char **ids;
	size_t n_ids;
	uint8_t (*keys)[RELAY_KEY_LEN]; /* revoked issuer keys */
	size_t n_keys;
};

struct relay_issuers {
	uint8_t (*keys)[RELAY_KEY_LEN];
	size_t n;
};

/* sources.c: per-address handshake counts and connection rate. */
#define RELAY_SOURCES_SLOTS 4096
#define RELAY_SOURCES_MAX   65536
struct relay_source;
struct relay_sources {
	struct relay_source **slots;
	size_t size, n;
	uint8_t hash_key[16];
};

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
	uint8_t token_issuer[RELAY_KEY_LEN]; /* the issuer of token_id */
	int auth_required;                   /* as announced in this connection's CHALLENGE */
	struct relay_source *source;         /* while handshaking: its address's entry */
	int handshaking;                     /* counted in n_handshakes */
	struct relay_client *batch_next;     /* batch.c: waiting for the end of the iteration */
	int batched;
	/* The last few keys that sent to this client: told PEER_GONE when it leaves. */
	uint8_t watchers[RELAY_WATCHERS][RELAY_KEY_LEN];
	uint8_t n_watchers;
	uint8_t watcher_next;
	struct tls_conn *tls; /* NULL on the plain TCP port */
	uint64_t relayed;     /* data bytes relayed from and to this session */
	uint8_t *record;      /* records.c: its last published address record, or NULL */
	uint16_t record_len;
	uint64_t record_seq;
	/* keys that looked this client up while it had no record (NULL until one did) */
	uint8_t (*record_waiters)[RELAY_KEY_LEN];
	uint8_t n_record_waiters;
};

struct relay_server {
	uv_loop_t *loop;
	struct relay_config cfg;
	uv_tcp_t listener;
	uv_signal_t sigterm, sigint;
	uv_timer_t sweep;            /* token expiry, idle clients, sources */
	uint64_t last_sweep_ms;      /* loop time of the last sweep (or the start) */
	bool sweep_put_off;          /* the last one came late: put off until after a poll */
	uv_timer_t drain;            /* ends the drain after SIGTERM */
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
	/* auth.c: the live lists, the live auth switch, and why new sessions are refused */
	struct relay_issuers issuers;
	struct relay_revoked revoked;
	int auth_on;
	int auth_failed;
	char auth_error[512];
	uv_timer_t auth_timer;
	int auth_timer_on;
	uv_signal_t sigusr1, sigusr2;
	/* sources.c and the handshake cap */
	struct relay_sources sources;
	uint32_t n_handshakes;
	/* batch.c */
	uv_check_t batch_check;
	struct relay_client *batch_head;
	int batch_on;
	uv_tcp_t tls_listener; /* --tls-listen (tls.c) */
	int tls_listening;
	struct tls_ctx *tls;
	struct sockaddr_storage tls_bound;
	struct relay_listen2 *listen2; /* the second family's listener (listen2.c) */
	struct relay_stun *stun2;      /* the second family's STUN endpoints (stun.c) */
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
/* c's handshake is over (authenticated or closed): frees its handshake slots. */
void relay_server_handshake_end(struct relay_server *srv, struct relay_client *c);
uint64_t relay_now_unix(void);
/* A new connection on listener, counted and linked in; NULL if it failed (logged). */
struct relay_client *relay_server_accept(struct relay_server *srv, uv_stream_t *listener);
/* Refuses it while draining or full, else starts its handshake. */
void relay_server_admit(struct relay_server *srv, struct relay_client *c);

/* client.c */
void relay_client_start(struct relay_client *c);
/* Sends CLOSE with reason (best effort), counts it, and closes the connection. */
void relay_client_close(struct relay_client *c, enum relay_close_reason reason, const char *text);
/* Queues a whole frame (copied). Drops the oldest queued frame if the queue is full. */
int relay_client_send(struct relay_client *c, const uint8_t *frame, size_t len);

/* records.c: address records (docs/relay.md, "Address records"). */
/* Whether key sent to c lately (one of its last RELAY_WATCHERS senders). */
int relay_client_heard_from(const struct relay_client *c, const uint8_t key[RELAY_KEY_LEN]);
void relay_records_on_publish(struct relay_client *c, const struct frame *f);
void relay_records_on_lookup(struct relay_client *c, const struct frame *f);
/* Frees the first n bytes of c's queued frames (written or sealed): whole frames go, a
 * partly written one keeps its rest at the front. */
void relay_client_consume(struct relay_client *c, size_t n);
/* Writes c's queued frames now (batched, as much as the socket takes; TLS: sealed). */
void relay_client_flush(struct relay_client *c);
/* Forwards data from src to c as a RECV frame without an intermediate copy if it can. */
int relay_client_forward(struct relay_client *c, const uint8_t src[RELAY_KEY_LEN],
                         const uint8_t *data, size_t len);

/* listfile.c: reads a regular file of at most max bytes into *out (NUL-terminated,
 * caller frees). -EISDIR, -ENOTSUP (not a regular file: /dev/zero, a FIFO), -EFBIG, or
 * the open/read error. */
#define RELAY_LISTFILE_MAX      (1024 * 1024)
#define RELAY_LISTFILE_MAX_TEXT "1 MiB"
int relay_listfile_read(const char *path, size_t max, char **out, size_t *out_len);
const char *relay_listfile_strerror(int rc);
/* Reads path as above and calls line_cb with each line that is not blank or a '#'
 * comment, stripped, and its number; a negative return (with the cause in why) stops
 * and becomes the error, written to err as: what "path" line N: why. */
int relay_listfile_each(const char *path, const char *what,
                        int (*line_cb)(void *arg, char *word, size_t lineno, char *why,
                                       size_t whylen),
                        void *arg, char *err, size_t errlen);

/* revoked.c: loads path into *out (sorted ids and keys); on error fills err with a
 * message naming the file (and line) and returns -errno. A missing file is an error. */
int relay_revoked_load(const char *path, struct relay_revoked *out, char *err, size_t errlen);
void relay_revoked_clear(struct relay_revoked *r);
int relay_revoked_has_id(const struct relay_revoked *r, const char *token_id);
/* Strips surrounding blanks (and a trailing CR) in place; returns the start. */
char *relay_strip(char *s);
/* A growable sorted key array, shared by the issuer set and the revoked keys. */
int relay_keys_add(uint8_t (**keys)[RELAY_KEY_LEN], size_t *n, size_t *cap,
                   const uint8_t key[RELAY_KEY_LEN]);
void relay_keys_sort(uint8_t (*keys)[RELAY_KEY_LEN], size_t n);
int relay_keys_find(const uint8_t (*keys)[RELAY_KEY_LEN], size_t n,
                    const uint8_t key[RELAY_KEY_LEN]);

/* issuers.c: loads a key file or a directory of *.pub files (see docs/relay.md). */
int relay_issuers_load(const char *path, struct relay_issuers *out, char *err, size_t errlen);
void relay_issuers_clear(struct relay_issuers *is);
int relay_issuers_has(const struct relay_issuers *is, const uint8_t key[RELAY_KEY_LEN]);

/* sources.c */
int relay_sources_init(struct relay_sources *s);
void relay_sources_free(struct relay_sources *s);
/* Charges a new connection from peer to its address: NULL if admitted (c->source is
 * set), else why it is refused. */
const char *relay_sources_admit(struct relay_server *srv, struct relay_client *c,
                                const struct sockaddr_storage *peer);
/* The connection's handshake is over (authenticated or closed). Idempotent. */
void relay_sources_release(struct relay_client *c);
/* Frees entries with no handshake open and a full bucket. */
void relay_sources_sweep(struct relay_server *srv);

/* batch.c: clients whose queued frames are written at the end of the iteration. */
int relay_batch_start(struct relay_server *srv);
void relay_batch_stop(struct relay_server *srv);
void relay_batch_add(struct relay_server *srv, struct relay_client *c);
/* Before c is freed. */
void relay_batch_forget(struct relay_server *srv, struct relay_client *c);

/* auth.c */
int relay_auth_start(struct relay_server *srv);
void relay_auth_stop(struct relay_server *srv);
void relay_auth_close_signals(struct relay_server *srv);
void relay_auth_free(struct relay_server *srv);
/* Re-reads the lists now; returns 1 if they changed (sessions were swept). */
int relay_auth_reload(struct relay_server *srv);
/* Closes sessions whose token or issuer is revoked (and expired ones if check_expiry). */
void relay_auth_sweep(struct relay_server *srv, int check_expiry);
/* Revocation verdict for a token presented in a new handshake. */
enum relay_close_reason relay_auth_check_new(const struct relay_server *srv, const struct token *t);

/* Runs the frames in n bytes of plaintext p from the client (both ports); returns the
 * bytes they are charged to the rate limit beyond their size (--frame-cost). */
size_t relay_client_on_plain(struct relay_client *c, const uint8_t *p, size_t n);

/* tls.c: the TLS port. Starts it if --tls-listen was given; 0 or -errno (logged). */
int relay_tls_start(struct relay_server *srv);
void relay_tls_stop(struct relay_server *srv);
/* Ciphertext read from c: decrypts it and consumes the frames; may close c. Returns
 * what relay_client_on_plain returned for them, summed. */
size_t relay_tls_on_read(struct relay_client *c, const uint8_t *buf, size_t n);
/*
 * Seals c's queued frames (all of them once the handshake is done; none before) and
 * returns the ciphertext waiting to go out, handshake bytes included, as one
 * relay_out the caller owns; NULL when there is nothing to send (or c was closed).
 */
struct relay_out *relay_tls_seal(struct relay_client *c);
/* Best effort, as for plain CLOSE: seals frame, adds close_notify, tries to write it. */
void relay_tls_try_close(struct relay_client *c, const uint8_t *frame, size_t len);

/* metrics.c */
int relay_metrics_start(struct relay_server *srv);
void relay_metrics_stop(struct relay_server *srv);

/* listen2.c: the listener of a second --listen (the other family); 0 or -errno (logged). */
#define RELAY_LISTEN_BACKLOG 4096
int relay_listen2_start(struct relay_server *srv);
/* Its bound address, NULL when there is none. */
const struct sockaddr *relay_listen2_bound(const struct relay_server *srv);
void relay_listen2_stop(struct relay_server *srv);

/* stun.c: --stun, and a second --stun of the other family */
int relay_stun_start(struct relay_server *srv);
void relay_stun_stop(struct relay_server *srv);

#endif
