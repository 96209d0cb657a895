/* SPDX-License-Identifier: MIT */
/*
 * natlab-peer internals: the peer (session, candidates, punching, path selection,
 * workloads) in peer.c, its relay connections in relay_conn.c, the reliable transfer
 * in xfer.c, JSON Lines events in events.c, the CLI in main.c.
 */
#ifndef NATLAB_PEER_PEER_H
#define NATLAB_PEER_PEER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

#include "natlab/frame.h"
#include "natlab/identity.h"
#include "natlab/relay_proto.h"
#include "natlab/seal.h"

#include "natlab/util.h"

#define PEER_MAX_RELAYS	    8
#define PEER_MAX_CANDS	    8
#define PEER_CHUNK	    1216 /* transfer payload per packet: 19 ChaCha20 blocks */
#define PEER_MAX_MSG	    (PEER_CHUNK + 64)
#define PEER_MAX_PKT	    (PEER_MAX_MSG + SEAL_OVERHEAD)
#define PEER_DEFAULT_STUN   3478

/* Exit codes (docs/events.md). */
enum peer_exit {
	PEER_EXIT_OK = 0,
	PEER_EXIT_FAILED = 1, /* a workload failed: bad checksum, no direct path, peer lost */
	PEER_EXIT_USAGE = 2,  /* bad arguments or key file */
	PEER_EXIT_REFUSED = 3, /* relay unreachable, token refused, unknown peer */
};

/* Messages inside the seal: a 1-byte type then the fields (big-endian). */
enum peer_msg_type {
	PEER_MSG_HELLO = 1,	/* (empty), or an offer as in CONNECT */
	PEER_MSG_CONNECT = 2,	/* u32 punch | u8 flags | u32 relay_rtt_us | u8 n |
				 * n x (u8 kind | ip[4] | u16 port) */
	/* 3 was SYNC (the connector's start signal before the listener probed at once). */
	PEER_MSG_PROBE = 4,	/* u32 punch (0: keepalive) | u64 sent_ns (echoed) */
	PEER_MSG_PROBE_ACK = 5, /* same as PROBE */
	PEER_MSG_PING = 6,	/* u32 seq | u64 sent_ns */
	PEER_MSG_PONG = 7,	/* same as PING */
	PEER_MSG_DATA = 8,	/* u64 total | u64 offset | data */
	PEER_MSG_ACK = 9,	/* u64 next expected offset */
	PEER_MSG_END = 10,	/* u64 total | blake2b-256 checksum[32] */
	PEER_MSG_RESULT = 11,	/* u8 ok | u64 bytes received */
	PEER_MSG_BYE = 12,	/* (empty): my workloads are done */
	PEER_MSG_BYE_ACK = 13,	/* (empty) */
};

/* Offer flags. SYNC: the listener starts probing one relay leg (estimated from both
 * sides' relay round trips, relay_rtt_us being the sender's) after it answers. */
enum peer_offer_flag { PEER_OFFER_ANSWER = 1, PEER_OFFER_SYNC = 2 };

/* Peer-reflexive: where the peer's probes came from (learnt, never sent in CONNECT). */
enum peer_cand_kind { PEER_CAND_LOCAL = 1, PEER_CAND_REFLEXIVE = 2, PEER_CAND_PEER_REFLEXIVE = 3 };

struct peer_cand {
	uint8_t kind;
	struct sockaddr_in addr;
};

struct peer;

enum peer_relay_state {
	PEER_RELAY_IDLE,       /* waiting to (re)connect */
	PEER_RELAY_CONNECTING, /* TCP connect in flight */
	PEER_RELAY_HANDSHAKE,  /* waiting for CHALLENGE, then SERVER_INFO */
	PEER_RELAY_READY,
	PEER_RELAY_CLOSING, /* uv_close in flight */
};

struct peer_relay {
	struct peer *peer;
	int index;
	char text[64]; /* "host:port" as given */
	struct sockaddr_storage addr;
	enum peer_relay_state state;
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_timer_t timer; /* reconnect backoff and keepalive pings */
	struct frame_reader reader;
	struct relay_server_info info;
	uint64_t last_rx_ns;
	uint64_t last_ping_ns;
	uint64_t connect_start_ns;
	uint64_t rtt_ns; /* to the relay: TCP connect, then each keepalive ping; 0: unknown */
	uint32_t backoff_ms;
	uint32_t reconnect_in_ms; /* from RESTARTING, 0 if none */
	int failures;		  /* consecutive failed attempts */
	int auth_sent;		  /* HANDSHAKE with AUTH written: early data may follow */
	int ever_ready;
	char close_reason[RELAY_CLOSE_TEXT_MAX + 64];
};

struct peer_opts {
	const char *key_path;
	const char *token;
	const char *relays[PEER_MAX_RELAYS];
	int n_relays;
	const char *stun[PEER_MAX_RELAYS];
	int n_stun;
	const char *bind;
	int listen;
	int have_peer_key;
	uint8_t peer_key[IDENTITY_PUB_LEN];
	int ping;
	uint32_t ping_interval_ms;
	uint64_t transfer;
	const char *pattern; /* transfer payload: this text repeated; NULL: a ChaCha20 stream */
	double hold_s;
	int no_relay;
	int relay_only;
	int first_punch_sync; /* --first-punch sync: the listener delays round 1's start */
	double timeout_s; /* to reach the peer (and a direct path with --no-relay) */
	int verbose;
};

/* --- events.c --- */
void event_init(void);
/* CLOCK_MONOTONIC (uv_hrtime) at event_init(), in milliseconds: t_ms 0 on the shared
 * clock, so events of several peers on one machine can be put on one time line. */
double event_t0_ms(void);
/* Milliseconds since event_init(), monotonic. */
double event_now_ms(void);
/* Prints {"t_ms":..,"event":name, fields...} on stdout; fmt/... as json_pack(). */
void event_emit(const char *name, const char *fmt, ...);
/* As event_emit() with the fields of obj (stolen). */
void event_emit_obj(const char *name, json_t *obj);
/* An error event with reason and the formatted message, which also goes to the log. */
void event_error_v(const char *reason, const char *fmt, va_list ap);

/* --- relay_conn.c --- */
/* Parses "host:port" and starts connecting. 0 or -errno (nothing started then). */
int peer_relay_init(struct peer_relay *r, struct peer *p, int index, const char *text);
/*
 * Sends one packet to key. -ENOTCONN unless ready (or AUTH is sent: early data, see
 * relay_conn.c), -ENOBUFS when the write queue is full.
 */
int peer_relay_send(struct peer_relay *r, const uint8_t key[RELAY_KEY_LEN], const void *data,
		    size_t len);
/* Closes everything; the relay's handles are closed once the loop runs. */
void peer_relay_close(struct peer_relay *r);

/* Called by relay_conn.c. */
/* AUTH went out: the relay forwards what we send from now on unless it refuses us. */
void peer_on_relay_auth_sent(struct peer *p, struct peer_relay *r);
void peer_on_relay_ready(struct peer *p, struct peer_relay *r);
void peer_on_relay_down(struct peer *p, struct peer_relay *r, const char *reason);
void peer_on_relay_refused(struct peer *p, struct peer_relay *r, uint8_t reason, const char *text);
void peer_on_relay_packet(struct peer *p, struct peer_relay *r, const uint8_t *key,
			  const uint8_t *data, size_t len);
void peer_on_relay_peer_gone(struct peer *p, struct peer_relay *r, const uint8_t *key,
			     uint8_t reason);
const struct identity *peer_identity(const struct peer *p);
const char *peer_token(const struct peer *p);

/* --- peer.c --- */
/* Runs the peer until it is done; returns a peer_exit code. */
int peer_run(const struct peer_opts *o, const struct identity *id);
/* Sends one sealed message on the current path (direct if valid, else relay). */
int peer_send(struct peer *p, const void *msg, size_t len);
uint64_t peer_now_ns(void);
/* "direct" or "relay": the path messages go out on now. */
const char *peer_path_name(const struct peer *p);

/* --- xfer.c: the transfer workload (go-back-N over whichever path is current) --- */
struct peer_xfer_tx {
	int active, done, ok;
	uint64_t total, acked, next;
	int dupacks, rewound;
	uint64_t last_progress_ns, last_end_ns, start_ns;
	uint8_t sum[32];
	const char *pattern;
};

struct peer_xfer_rx {
	int active, done;
	uint64_t total, next;
	uint64_t start_ns;
	void *hash; /* crypto_generichash_state, allocated */
	uint8_t sum[32];
};

int peer_xfer_tx_start(struct peer_xfer_tx *t, uint64_t total, const char *pattern);
/* Sends what the window allows; retransmits after a timeout. */
void peer_xfer_tx_pump(struct peer *p, struct peer_xfer_tx *t);
void peer_xfer_tx_on_ack(struct peer *p, struct peer_xfer_tx *t, const uint8_t *m, size_t len);
/* Returns 1 when the RESULT made the transfer done. */
int peer_xfer_tx_on_result(struct peer *p, struct peer_xfer_tx *t, const uint8_t *m, size_t len);
void peer_xfer_rx_on_data(struct peer *p, struct peer_xfer_rx *x, const uint8_t *m, size_t len);
void peer_xfer_rx_on_end(struct peer *p, struct peer_xfer_rx *x, const uint8_t *m, size_t len);
void peer_xfer_rx_free(struct peer_xfer_rx *x);
/* Fills out with the transfer bytes at offset (pattern or ChaCha20 stream). */
void peer_xfer_fill(uint8_t *out, size_t len, uint64_t offset, const char *pattern);

#endif
