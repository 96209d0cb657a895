/* SPDX-License-Identifier: MIT */
/*
 * natlab-peer internals, one concern per file:
 *   peer.c        the peer's life: start, the tick, relays' callbacks, stop
 *   session.c     sealed messages: sending on a path, receiving, the HELLO handshake
 *   candidates.c  our candidates (local addresses, STUN) and the peer's, as events
 *   punch.c       the punching rounds' decisions, pure (punch.h, tests/t_punch.c)
 *   punch_io.c    punching on the wire: offers, probes, the round's timer
 *   path.c        the path messages take: direct validated, lost, relay failover
 *   workloads.c   ping, transfer, hold, then BYE; xfer.c is the transfer
 *   relay_conn.c  the relay connections; events.c JSON Lines; main.c the CLI
 *   hardnat.c     hard NATs: type detection, birthday probing, port prediction
 *                 (hardnat_plan.c decides, pure: tests/t_hardnat_plan.c)
 *   home.c        the home relay (nearest by RTT), relay addresses, relays dialled on demand
 *   portmap.c     the gateway's port mapping: NAT-PMP, PCP, UPnP (portmap_upnp.c); portmap.h
 */
#ifndef NATLAB_PEER_PEER_H
#define NATLAB_PEER_PEER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

#include "natlab/frame.h"
#include "natlab/identity.h"
#include "natlab/relay_proto.h"
#include "natlab/seal.h"
#include "natlab/tls.h"

#include "natlab/stun.h"
#include "natlab/util.h"

#include "sa.h"

#include "hardnat_plan.h"
#include "punch.h"
#include "turn.h"

#define PEER_MAX_RELAYS   8
#define PEER_MAX_SLOTS    16   /* relay connections: --relay, on demand, from a directory */
#define PEER_MAX_CANDS    12   /* of both families: the IPv4 ones alone stay at most 8 */
#define PEER_CHUNK        1216 /* transfer payload per packet: 19 ChaCha20 blocks */
#define PEER_MAX_MSG      (PEER_CHUNK + 64)
#define PEER_MAX_PKT      (PEER_MAX_MSG + SEAL_OVERHEAD)
#define PEER_DEFAULT_STUN 3478
#define PEER_MS           1000000ull /* nanoseconds per millisecond */

/* Exit codes (docs/events.md). */
enum peer_exit {
	PEER_EXIT_OK = 0,
	PEER_EXIT_FAILED = 1,   /* a workload failed: bad checksum, no direct path, peer lost */
	PEER_EXIT_USAGE = 2,    /* bad arguments or key file */
	PEER_EXIT_REFUSED = 3,  /* relay unreachable, token refused, unknown peer */
	PEER_EXIT_SIGNAL = 128, /* plus the signal's number: SIGINT or SIGTERM stopped the run */
};

/* Messages inside the seal: a 1-byte type then the fields (big-endian). */
enum peer_msg_type {
	PEER_MSG_HELLO = 1,   /* (empty), or an offer as in CONNECT */
	PEER_MSG_CONNECT = 2, /* u32 punch | u8 flags | u32 relay_rtt_us | u8 n |
	                       * n x (u8 kind | ip[4] | u16 port) */
	/* 3 was SYNC (the connector's start signal before the listener probed at once). */
	PEER_MSG_PROBE = 4,     /* u32 punch (0: keepalive) | u64 sent_ns (echoed): a stamp */
	PEER_MSG_PROBE_ACK = 5, /* same as PROBE */
	PEER_MSG_PING = 6,      /* u32 seq | u64 sent_ns: a stamp */
	PEER_MSG_PONG = 7,      /* same as PING */
	PEER_MSG_DATA = 8,      /* u64 total | u64 offset | data */
	PEER_MSG_ACK = 9,       /* u64 next expected offset | u64 bitmap: chunks held after it */
	PEER_MSG_END = 10,      /* u64 total | blake2b-256 checksum[32] */
	PEER_MSG_RESULT = 11,   /* u8 ok | u64 bytes received */
	PEER_MSG_BYE = 12,      /* (empty): my workloads are done */
	PEER_MSG_BYE_ACK = 13,  /* (empty) */
	PEER_MSG_HARDNAT = 14,  /* TLVs: our NAT type, our prediction port (hardnat.c) */
	PEER_MSG_ABORT = 15,    /* u8 exit code | reason (text, at most 32 bytes): I failed */
};

#define PEER_ABORT_REASON_MAX 32

/*
 * After an offer's candidates (and in a HARDNAT message): TLVs, u8 tag | u8 len | value,
 * in any order. A peer skips a tag it does not know, and a value longer than it expects
 * (later fields are appended); a TLV that runs past the end ends the list.
 */
enum peer_tlv_tag {
	PEER_TLV_HARDNAT_TYPE = 1,    /* u8 kind | i8 step | u16 last port (hardnat.c) */
	PEER_TLV_HARDNAT_PREDICT = 2, /* u16 prediction port | i8 step (HARDNAT only) */
	PEER_TLV_RELAYS = 3,          /* n x (ip[4] | u16 port), home first; len 0: none (home.c) */
	PEER_TLV_CANDS6 = 4,          /* n x (u8 kind | ip[16] | u16 port): IPv6 (family.c) */
};

/* PROBE, PROBE_ACK, PING and PONG: the type, a u32 and the send time (u64 ns). */
#define PEER_STAMP_LEN 13

/* Peer-reflexive: where the peer's probes came from (learnt, never sent in CONNECT). */
/* Relayed: our TURN allocation's address (turn.h); offered, never probed. */
enum peer_cand_kind {
	PEER_CAND_LOCAL = 1,
	PEER_CAND_REFLEXIVE = 2,
	PEER_CAND_PEER_REFLEXIVE = 3,
	PEER_CAND_RELAYED = 4,
	PEER_CAND_MAPPED = 5, /* the gateway forwards it to our socket: portmap.h */
};

struct peer_cand {
	uint8_t kind;
	union peer_sa addr;
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
	int failures;             /* consecutive failed attempts */
	int auth_sent;            /* HANDSHAKE with AUTH written: early data may follow */
	int ever_ready;
	char close_reason[RELAY_CLOSE_TEXT_MAX + 64];
	struct relay_challenge challenge; /* this connection's, for token renewals */
	/* relay_tls.c, relay_proxy.c */
	char host[64];        /* the host part of text: TLS server name, CONNECT target */
	struct tls_conn *tls; /* this connection's TLS (--relay-ca/--relay-pin), else NULL */
	int proxy_wait;       /* CONNECT sent, the proxy's answer not complete yet */
	char proxy_buf[1024]; /* the proxy's answer so far */
	size_t proxy_len;
	int capped;              /* closed by the relay's byte cap: not reconnected */
	int source;              /* enum peer_relay_source */
	uint64_t peer_absent_ns; /* when it last said PEER_GONE not_here for the peer; 0: never */
	int dropped;             /* closed for good (a directory stopped listing it) */
	uint64_t auth_sent_ns;   /* AUTH went out: SERVER_INFO back is an RTT sample */
	uint64_t dropped_ns;     /* when it was dropped: its slot is reused a while later */
	uint64_t srtt_ns;        /* smoothed rtt_ns (home.c) */
};

/* Why a relay connection exists (the relay_connected event's `source`). */
enum peer_relay_source {
	PEER_RELAY_CONFIG,    /* --relay */
	PEER_RELAY_ADDRESS,   /* the relay of a --connect relay address */
	PEER_RELAY_PEER,      /* the peer announced it as its home relay: dialled on demand */
	PEER_RELAY_DIRECTORY, /* one of the nearest relays a --directory listed */
};

struct peer_opts {
	const char *key_path;
	const char *token;
	const char *token_cmd; /* --token-cmd: prints a token; run again before it expires */
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
	uint32_t hold_direct_ms; /* --hold-direct: the hold ends once direct this long; 0: never */
	int no_relay;
	int relay_only;
	int first_punch_sync; /* --first-punch sync: the listener delays round 1's start */
	double timeout_s;     /* to reach the peer (and a direct path with --no-relay) */
	int verbose;
	struct peer_turn_opts turn; /* --turn* */
	int hard_nat_off;      /* --hard-nat off: no detection, no technique (the textbook floor) */
	uint32_t hn_sockets;   /* --hard-nat-sockets: the hard side's K */
	uint32_t hn_rate;      /* --hard-nat-rate: the easy side's probes per second */
	uint32_t hn_probes;    /* --hard-nat-probes: the easy side's probes at most */
	double hn_time_s;      /* --hard-nat-time: an attempt gives up after this */
	const char *relay_ca;  /* TLS to every relay, verified by this CA file */
	const char *relay_pin; /* ... or by this certificate fingerprint (or both) */
	const char *proxy;     /* HTTP CONNECT proxy HOST:PORT for relay connections */
	const char *connect_relay; /* --connect relay://HOST:PORT/KEY: HOST:PORT; else NULL */
	const char *directory;     /* --directory ADDR:PORT */
	int directory_relays;      /* --directory-relays: how many of its relays to hold */
	uint32_t directory_poll_ms;
	int have_accept; /* --accept: a listener serves only this key */
	uint8_t accept_key[IDENTITY_PUB_LEN];
	int no_portmap;         /* --no-portmap: never ask the gateway for a mapping */
	uint32_t portmap_lease; /* --portmap-lease: seconds asked for; 0: PEER_PORTMAP_LEASE_S */
	struct in_addr portmap_gateway; /* --portmap-gateway; 0: the default route's */
	int no_addr_record; /* --no-addr-record: neither publish nor look up address records */
};

/* The last `path` event: none yet (or kind none), relay (reported_relay), direct. */
enum peer_path { PEER_PATH_NONE, PEER_PATH_RELAY, PEER_PATH_DIRECT };

/* How a message goes out: on the current path, through the relay, or by UDP to an address. */
enum peer_via { PEER_VIA_PATH, PEER_VIA_RELAY, PEER_VIA_UDP, PEER_VIA_TURN };

enum peer_phase {
	PEER_PHASE_WAIT,
	PEER_PHASE_PING,
	PEER_PHASE_TRANSFER,
	PEER_PHASE_HOLD,
	PEER_PHASE_DONE
};

/* --- xfer.c: the transfer workload (selective repeat over whichever path is current) --- */
#define PEER_XFER_WINDOW 64 /* chunks in flight, and chunks the receiver holds out of order */

struct peer_xfer_slot {
	uint64_t sent_ns; /* last time this chunk went out */
	uint8_t sacked;   /* the receiver holds it (out of order) */
	uint8_t lost;     /* to be sent again */
};

struct peer_xfer_tx {
	int active, done, ok;
	uint64_t total, acked, next;
	uint64_t rack_ns; /* newest send time among chunks the receiver acknowledged */
	uint64_t last_progress_ns, last_end_ns, start_ns, rto_ns;
	uint64_t sent, retransmitted; /* payload bytes sent, all and again */
	uint32_t timeouts;
	struct peer_xfer_slot slot[PEER_XFER_WINDOW]; /* chunk i in slot i % window */
	uint8_t sum[32];
	const char *pattern;
};

struct peer_xfer_rx {
	int active, done;
	uint64_t total, next;
	uint64_t start_ns;
	uint64_t duplicates; /* payload bytes that arrived again or outside the window */
	void *hash;          /* crypto_generichash_state, allocated */
	uint8_t *buf;        /* PEER_XFER_WINDOW chunks held out of order, allocated */
	uint8_t have[PEER_XFER_WINDOW];
	uint8_t sum[32];
};

struct peer {
	const struct peer_opts *o;
	struct identity id;
	uv_loop_t *loop;
	int exit_code;
	int stopping;
	uint64_t start_ns;

	struct peer_relay relays[PEER_MAX_SLOTS];
	int n_relays;
	int cur_relay; /* -1: none ready */
	int refused;

	/* session.c */
	int have_peer;
	uint8_t peer_key[IDENTITY_PUB_LEN];
	char peer_text[IDENTITY_PUB_TEXT_LEN + 1];
	struct seal_ctx seal;
	int established;
	int peer_not_here;
	uint64_t last_hello_ns, last_peer_rx_ns, last_relay_tx_ns;
	uint64_t bytes_direct, bytes_relay; /* sealed bytes sent and received, probes aside */

	uv_udp_t udp;
	int udp_open;
	union peer_sa udp_local;

	/* candidates.c */
	union peer_sa stun_srv[PEER_MAX_RELAYS];
	int n_stun;
	uint8_t stun_txid[STUN_TXID_SIZE];
	int stun_tries;
	int stun_done;
	uv_timer_t stun_timer;
	struct peer_cand local[PEER_MAX_CANDS], remote[PEER_MAX_CANDS];
	int n_local, n_remote;

	/* punch_io.c */
	struct punch punch;
	uv_timer_t punch_timer;
	uint64_t punch_armed_ns; /* the deadline punch_timer is set for; 0: stopped */

	/* path.c */
	int direct;
	union peer_sa direct_addr;
	uint64_t last_direct_rx_ns, last_keepalive_ns, nodirect_since_ns;
	enum peer_path reported;
	int reported_relay;

	uv_timer_t tick;
	uv_signal_t sigint, sigterm;

	/* workloads.c */
	enum peer_phase phase;
	int ping_sent, ping_recv;
	uint64_t last_ping_ns;
	struct peer_xfer_tx tx;
	struct peer_xfer_rx rx;
	uint64_t hold_until_ns;
	uint64_t direct_since_ns; /* when the path last went direct (path.c) */
	int my_done, peer_done, bye_acked;
	uint64_t my_done_ns, last_bye_ns;

	/* turn.c */
	struct peer_turn turn;

	/* token_cmd.c */
	struct peer_token_cmd *token_cmd;
	/* hardnat.c: the socket a packet being handled came in on (NULL: the main one, or
	 * none), and the socket the direct path uses (NULL: the main one). */
	struct peer_hardnat *hardnat;
	uv_udp_t *rx_sock;
	const union peer_sa *rx_from;
	uv_udp_t *direct_sock;
	/* relay_tls.c, relay_proxy.c */
	struct tls_ctx *tls; /* NULL: relays in plain TCP */
	struct sockaddr_storage proxy_addr;
	int have_proxy;
	/* home.c; relay indexes, -1: none */
	int home;       /* our home relay: the nearest ready one of our own */
	int peer_home;  /* the peer's home relay (its relay address, or its offer), if dialled */
	int peer_heard; /* the relay the peer's last relayed packet came through */
	uint32_t advertised; /* bit i: relay i was in the last home_relay event's addrs */
	union peer_sa peer_relays[PEER_MAX_CANDS]; /* the peer's, from its last offer */
	int n_peer_relays;
	/* family.c: the IPv6 socket next to the IPv4 one (no --bind), on the same port */
	uv_udp_t udp6;
	int udp6_open;
	/* candidates.c: reflexive addresses learnt, per family (bit 0 IPv4, bit 1 IPv6);
	 * hardnat.c's detection took the IPv4 answer, and is over; the other family is
	 * waited for no longer; when the first family answered */
	int stun_families;
	int stun_by_hardnat, stun_hardnat_over;
	int stun_family_waited;
	uint64_t stun_first_ns;
	/* portmap.c: the gateway's port mapping, NULL with --no-portmap */
	struct peer_portmap *portmap;
	int stun_ended; /* the first STUN answer came, or STUN gave up (candidates.c) */
	/* path.c: keepalives sent on the direct path since the last packet from it */
	int direct_unanswered;
	/* records.c: a listener's own seal session, published in its address record; a
	 * connector's view of the listener's record (its session: where probes are bound
	 * until the listener's answer names the session) */
	int rec_own;
	uint8_t rec_session[SEAL_SESSION_LEN];
	uint64_t rec_seq, rec_published_ns;
	int rec_hint;
	uint8_t rec_peer_session[SEAL_SESSION_LEN];
	uint64_t rec_peer_seq;
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
void event_error_v(const char *reason, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* --- relay_conn.c --- */
/* Parses "host:port" and starts connecting. 0 or -errno (nothing started then). */
int peer_relay_init(struct peer_relay *r, struct peer *p, int index, const char *text);
/*
 * Sends one packet to key. -ENOTCONN unless ready (or AUTH is sent: early data, see
 * relay_conn.c), -ENOBUFS when the write queue is full.
 */
int peer_relay_send(struct peer_relay *r, const uint8_t key[RELAY_KEY_LEN], const void *data,
                    size_t len);
/* Writes a whole frame (same conditions as peer_relay_send). */
int peer_relay_write_frame(struct peer_relay *r, const uint8_t *frame, size_t len);
/* Closes everything; the relay's handles are closed once the loop runs. */
void peer_relay_close(struct peer_relay *r);
/* Writes bytes as they are onto the relay's TCP stream (TLS records, proxy request). */
int peer_relay_write_raw(struct peer_relay *r, const uint8_t *data, size_t len);
/* The relay protocol's bytes arrived (plaintext): frames are handled. */
void peer_relay_on_bytes(struct peer_relay *r, const uint8_t *p, size_t n);
/* Drops the connection with reason and reconnects after the backoff. */
void peer_relay_fail(struct peer_relay *r, const char *reason);

/* --- relay_tls.c: TLS to the relays (proto/tls.c) --- */
/* The TLS context from --relay-ca/--relay-pin: 0, or -1 once reported (exit 2). */
int peer_tls_setup(struct peer *p);
/* TLS on a new connection: the ClientHello goes out. 0 or -errno (reason in r). */
int peer_relay_tls_start(struct peer_relay *r);
/* Plaintext frames out through TLS. */
int peer_relay_tls_write(struct peer_relay *r, const uint8_t *data, size_t len);
/* Ciphertext in: frames to peer_relay_on_bytes; a refused certificate ends the run. */
void peer_relay_tls_on_read(struct peer_relay *r, const uint8_t *buf, size_t n);

/* --- relay_proxy.c: HTTP CONNECT to reach relays through a proxy --- */
/* Resolves --proxy: 0, or -1 once reported (exit 2). */
int peer_proxy_setup(struct peer *p);
/* Sends CONNECT host:port for r. */
int peer_relay_proxy_request(struct peer_relay *r);
/*
 * The proxy's answer so far: 1 when it accepted (*p, *n advanced past its headers to
 * what the relay sent behind them), 0 when more is needed, -1 when it refused (reason
 * in r->close_reason).
 */
int peer_relay_proxy_on_read(struct peer_relay *r, const uint8_t **p, size_t *n);

/* Called by relay_conn.c. */
/* AUTH went out: the relay forwards what we send from now on unless it refuses us. */
void peer_on_relay_auth_sent(struct peer *p, struct peer_relay *r);
void peer_on_relay_ready(struct peer *p, struct peer_relay *r);
void peer_on_relay_down(struct peer *p, struct peer_relay *r, const char *reason);
void peer_on_relay_refused(struct peer *p, struct peer_relay *r, uint8_t reason, const char *text);
/* The relay closed our session at its byte cap: reported, and that relay is not retried. */
void peer_on_relay_capped(struct peer *p, struct peer_relay *r, const char *text);
void peer_on_relay_packet(struct peer *p, struct peer_relay *r, const uint8_t *key,
                          const uint8_t *data, size_t len);
void peer_on_relay_peer_gone(struct peer *p, struct peer_relay *r, const uint8_t *key,
                             uint8_t reason);
const struct identity *peer_identity(const struct peer *p);
const char *peer_token(const struct peer *p);
/* Presents the current token again on a ready connection (a second AUTH): -errno or 0. */
int peer_relay_renew(struct peer_relay *r);
/* The relay accepted a renewal: r->info.token_expiry is the new expiry. */
void peer_on_relay_renewed(struct peer *p, struct peer_relay *r);

/* --- token_cmd.c: --token-cmd --- */
/*
 * Runs o->token_cmd once and waits for its token (bounded): 0, or -1 after an error
 * event. Then keeps renewing it on p->loop: at half the time left to its expiry, the
 * command runs again and the new token is presented on every ready relay.
 */
int peer_token_cmd_start(struct peer *p);
/* The current token text, or NULL before the first one. */
const char *peer_token_cmd_token(const struct peer *p);
void peer_token_cmd_stop(struct peer *p);

/* --- home.c: home relay, relay addresses, relays dialled on demand --- */
/* Adds a relay connection (text is "host:port") and starts it: its index, or -errno
 * (-EINVAL: does not parse or resolve, -ENOSPC: no slot left). */
int peer_relay_add(struct peer *p, const char *text, enum peer_relay_source source);
/* The same into slot i (n_relays, or a dropped relay's slot whose handles are closed). */
int peer_relay_add_at(struct peer *p, int i, const char *text, enum peer_relay_source source);
/* The relay connection to this address, or -1. */
int peer_relay_find(const struct peer *p, const union peer_sa *a);
/* Chooses the home relay again (after an RTT sample, a relay ready or lost): the
 * `home_relay` event when it or the set of advertised relays changed. */
void peer_home_update(struct peer *p);
/* A keepalive's PONG gave r a fresh rtt_ns: smooth it, choose the home again. */
void peer_home_on_rtt(struct peer_relay *r);
/* The relay to carry traffic to the peer (docs/events.md, "Relays"); -1: none ready. */
int peer_home_pick(const struct peer *p);
/* Appends our relays (home first) to an offer as a PEER_TLV_RELAYS: bytes written (0 if
 * it does not fit). */
size_t peer_home_offer_tail(const struct peer *p, uint8_t *out, size_t cap);
/* The TLVs after the candidates of the peer's offer or answer: its PEER_TLV_RELAYS, if
 * any; connector: dials the peer's home relay if we have no connection to it. */
void peer_home_on_offer_tail(struct peer *p, const uint8_t *m, size_t len);
/* The peer's relay addresses, home first, as a JSON array (new reference), or NULL. */
json_t *peer_home_peer_relays_json(const struct peer *p);
/* A packet from the peer came through r; r said the peer is not there. */
void peer_home_on_heard(struct peer *p, struct peer_relay *r);
void peer_home_on_not_here(struct peer *p, struct peer_relay *r);
/* The name of a source, for events. */
const char *peer_relay_source_name(int source);

/* --- directory.c: relays from a --directory --- */
/* Starts polling the directory: 0, or -EINVAL (its address does not parse). */
int peer_dir_start(struct peer *p);
/* Abandons requests and probes in flight (the peer stops). */
void peer_dir_stop(struct peer *p);

/* --- peer.c --- */
/* Runs the peer until it is done; returns a peer_exit code. */
int peer_run(const struct peer_opts *o, const struct identity *id);
uint64_t peer_now_ns(void);
/* Ends the run with code: the exit event, every handle closed. Idempotent. */
void peer_stop(struct peer *p, int code);
/* A datagram from on socket u (ours, or one of hardnat.c's): STUN, or sealed for the
 * session. */
void peer_on_udp(struct peer *p, uv_udp_t *u, const uint8_t *d, size_t n,
                 const union peer_sa *from);
/* An error event, a log line, and (if exit_code is not 0) the exit. */
void peer_error(struct peer *p, int exit_code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Receiving on one of our sockets (the IPv4 one, the IPv6 one): peer_on_udp() gets it. */
int peer_udp_recv_start(struct peer *p, uv_udp_t *u);
/* 1 MiB socket buffers on a UDP socket that carries transfers (best effort). */
void peer_udp_buffers(uv_udp_t *u);
/* An address as text for events and logs. */
void peer_addr_text(const union peer_sa *a, char *buf, size_t cap);
/* Whether two candidate addresses are the same (family, address, port). */
bool peer_addr_equal(const union peer_sa *a, const union peer_sa *b);

/* --- session.c: sealed messages --- */
/* Tells the peer we are ending the run with code for reason (an error reason word). */
void peer_send_abort(struct peer *p, int code, const char *reason);
/* Sends one sealed message on the current path (direct if valid, else relay). */
int peer_send(struct peer *p, const void *msg, size_t len);
/* Sends one sealed message via a path; to is the address for PEER_VIA_UDP. */
int peer_send_via(struct peer *p, enum peer_via via, const union peer_sa *to, const void *msg,
                  size_t len);
/* A message that is its type alone (HELLO, BYE, BYE_ACK). */
void peer_send_type(struct peer *p, enum peer_via via, uint8_t type);
/* Unsealed bytes by UDP (STUN). */
int peer_send_udp(struct peer *p, const union peer_sa *to, const uint8_t *pkt, size_t len);
/* Builds a PROBE, PROBE_ACK, PING or PONG: type, value (punch id or seq), send time. */
void peer_stamp_build(uint8_t m[PEER_STAMP_LEN], uint8_t type, uint32_t value, uint64_t sent_ns);
/* The relay to send through: the current one, else one that took our AUTH; -1: none. */
int peer_relay_out(const struct peer *p);
/* Connector: the first HELLO goes out as soon as a relay can carry it (then every 300 ms). */
void peer_hello_maybe(struct peer *p);
/*
 * The peer was not at relay r yet: in the first PEER_HELLO_SOON_MS of our run (a connector
 * started beside its listener), the next HELLO goes after one round trip to r instead of
 * PEER_HELLO_MS after the last.
 */
void peer_hello_soon(struct peer *p, const struct peer_relay *r);
/* A sealed packet from the peer; from is its UDP source, NULL through the relay. */
void peer_on_sealed(struct peer *p, const uint8_t *pkt, size_t len, const union peer_sa *from);

/* --- candidates.c --- */
/* Adds a to list unless it is there already or the list is full. */
void peer_cand_add(struct peer_cand *list, int *n, uint8_t kind, const union peer_sa *a);
/* The `candidates` event for our list ("local") or the peer's ("remote"). */
void peer_cands_event(const struct peer *p, const char *side);
/* The candidates as a JSON array of {kind, addr} (new reference). */
json_t *peer_cands_json(const struct peer_cand *list, int n);
/* Our local candidates: the bound address, or every interface's with our port. */
void peer_cands_gather(struct peer *p);
/* Starts asking the STUN servers (--stun, or each relay's host on the STUN port). */
int peer_stun_start(struct peer *p);
/* TURN's allocation ended (made or failed): the candidates may be complete. */
void peer_cands_turn_done(struct peer *p);
/* A STUN message arrived on our socket. */
void peer_on_stun(struct peer *p, const uint8_t *buf, size_t len, const union peer_sa *from);
/* hardnat.c's NAT type detection is over: the reflexive candidates are settled unless
 * another family's STUN answer is still awaited (briefly). */
void peer_stun_finish(struct peer *p);

/* --- punch_io.c: punching on the wire, driven by punch.c --- */
void peer_punch_init(struct peer *p);
/* Connector: a new round when none runs, the path is not direct and the backoff is over. */
void peer_punch_maybe(struct peer *p);
/* Connector, until the session is up: the HELLO, with our offer when we can punch. */
void peer_punch_hello(struct peer *p);
/* STUN finished: an offer that lacked the reflexive candidate goes out again. */
void peer_punch_on_stun_done(struct peer *p);
/* Connector: the listener's address record came: probe its candidates at once. */
void peer_punch_on_record(struct peer *p);
/* An offer or an answer, in a HELLO or a CONNECT (type): m is what follows the type. */
void peer_punch_on_offer_msg(struct peer *p, uint8_t type, const uint8_t *m, size_t len);
/* A sealed PROBE (m, n bytes, type included) arrived by UDP from an address we are not
 * direct with: probe it back (peer-reflexive), and start our round if it is its round. */
void peer_punch_on_probe(struct peer *p, const uint8_t *m, size_t n, const union peer_sa *from);
/* The path went direct or was lost: the round ends, or the connector punches again. */
void peer_punch_on_direct(struct peer *p);
void peer_punch_on_path_lost(struct peer *p);
/* Our candidates changed after STUN finished (a port mapping came or went): an
 * outstanding offer goes out again with them. */
void peer_punch_on_cands_changed(struct peer *p);

/* --- hardnat.c: hard NATs (docs/events.md, "Hard NATs") --- */
void peer_hardnat_init(struct peer *p);
/* After the loop ended: frees what the sockets used (their handles are closed by then). */
void peer_hardnat_free(struct peer *p);
/* The first STUN answer (msg from server from): 1 if detection goes on and will call
 * peer_stun_finish(), 0 if the caller finishes now (--hard-nat off). */
int peer_hardnat_on_reflexive(struct peer *p, const struct stun_msg *msg,
                              const union peer_sa *from);
/* A STUN answer: 1 if it was detection's or prediction's (consumed), else 0. */
int peer_hardnat_on_stun(struct peer *p, const struct stun_msg *msg, const union peer_sa *from);
/* Our NAT type as TLVs for an offer (after its candidates) into m; returns the bytes. */
size_t peer_hardnat_offer_put(const struct peer *p, uint8_t *m, size_t cap);
/* An offer's bytes after its candidates, and a HARDNAT message (m after the type). */
void peer_hardnat_offer_parse(struct peer *p, const uint8_t *m, size_t len);
void peer_hardnat_on_msg(struct peer *p, const uint8_t *m, size_t len);
/* Per tick: detection retries, the technique's start and its pacing. */
void peer_hardnat_tick(struct peer *p, uint64_t now);
/* Whether an attempt is under way (started, not over): the workloads wait for it. */
bool peer_hardnat_busy(const struct peer *p);
/* A direct path was validated (p->direct_sock set): the attempt ends, sockets close. */
void peer_hardnat_on_direct(struct peer *p);
/* The socket a UDP packet to to goes out on: the one a packet from to came in on while
 * it is handled, the direct path's for its address, else the main one. */
uv_udp_t *peer_hardnat_sock_for(struct peer *p, const union peer_sa *to);

/* --- family.c: IPv4 and IPv6 --- */
/* *out from an IPv4 or IPv6 sockaddr: 0, or -EAFNOSUPPORT. */
int peer_sa_set(union peer_sa *out, const struct sockaddr *sa);
/* "ipv4" or "ipv6", for events. */
const char *peer_sa_family_name(const union peer_sa *a);
/* After the IPv4 socket is bound to a wildcard: the IPv6 one on its port, if the host
 * has IPv6 (else none, quietly). */
void peer_udp6_open(struct peer *p);
/* The socket a datagram to to goes out on. */
uv_udp_t *peer_udp_sock(struct peer *p, const union peer_sa *to);
/* Whether we have a socket for family. */
bool peer_family_usable(const struct peer *p, int family);
/* Our global IPv6 interface addresses, on our port, as local candidates. */
void peer_cands6_gather(struct peer *p);
/* Our IPv6 candidates as a PEER_TLV_CANDS6 (bytes written; 0: none, or no room). */
size_t peer_cands6_offer_put(const struct peer *p, uint8_t *out, size_t cap);
/* The IPv6 candidates of the TLVs after an offer's IPv4 list, into p->remote. */
void peer_cands6_offer_parse(struct peer *p, const uint8_t *m, size_t len);
/* Whether burst (0: the round's first) of a round probes to: IPv6 at once, IPv4 after
 * the stagger when an IPv6 target races it (RFC 8305, RFC 8421). */
bool peer_family_probe_now(const struct peer *p, const union peer_sa *to, int burst);

/* --- records.c: signed address records through the relay (docs/events.md) --- */
/* At start: a listener picks the session it publishes. */
void peer_records_init(struct peer *p);
/* AUTH went out on r: a listener publishes (once STUN is done), a connector looks up. */
void peer_records_on_auth_sent(struct peer *p, struct peer_relay *r);
/* Our candidates changed (STUN done, a mapping): publish again on every relay. */
void peer_records_publish_all(struct peer *p);
/* Before the session: looks the peer up on the relay we send through (once per relay
 * connection while no record is known). */
void peer_records_lookup(struct peer *p);
/* A RECORD frame's payload (key | record). */
void peer_records_on_frame(struct peer *p, struct peer_relay *r, const uint8_t *m, size_t len);
/* Per tick: the record is published again before it expires. */
void peer_records_tick(struct peer *p, uint64_t now);
/* The listener adopted the peer (seal_init done): its session is the published one. */
void peer_records_on_adopt(struct peer *p);
/* Seals msg as seal_seal, bound to the record's session while the peer's is unknown. */
int peer_records_seal(struct peer *p, const void *msg, size_t len, uint8_t *out, size_t cap);

/* --- path.c --- */
/* "direct" or "relay": the path messages go out on now. */
const char *peer_path_name(const struct peer *p);
/* The `path` event when the path changed since the last one. */
void peer_path_report(struct peer *p);
/* The first ready relay becomes the current one. */
void peer_path_pick_relay(struct peer *p);
/* A sealed PROBE_ACK (m after the type) arrived; from: its UDP source, NULL via relay. */
void peer_path_on_probe_ack(struct peer *p, const uint8_t *m, size_t len,
                            const union peer_sa *from);
/* Per tick: keepalives on the path, a silent direct path falls back to the relay. */
void peer_path_tick(struct peer *p, uint64_t now);

/* --- workloads.c --- */
/* Moves the workloads on: pings, transfer, hold, BYE; stops the peer when both are done. */
void peer_workloads_step(struct peer *p, uint64_t now);
/* A PING (m, n bytes, type included) to answer; a PONG (m after the type) received. */
void peer_on_ping(struct peer *p, uint8_t *m, size_t n, const union peer_sa *from);
void peer_on_pong(struct peer *p, const uint8_t *m, size_t len, const union peer_sa *from);

/* --- xfer.c --- */
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
