/* SPDX-License-Identifier: MIT */
/*
 * natlab-peer's TURN client (turn.h says how the TURN path fits the peer's paths).
 *
 * One request is in flight at a time; when it ends, the next one needed is chosen:
 * Allocate, then Refresh at half the lifetime, CreatePermission and ChannelBind for the
 * other peer's relayed address and their refreshes. Over UDP requests are retransmitted
 * (RFC 8489 section 6.2.1, with a shorter total so a vanished server is reported within
 * seconds); over TCP a request unanswered in PEER_TURN_TCP_WAIT_MS is a lost server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natlab/addr.h"
#include "natlab/log.h"
#include "peer.h"

#define PEER_TURN_RTO_MS      200 /* first UDP retransmission; doubles each time */
#define PEER_TURN_TRIES       5   /* 200+400+800+1600+3200 ms: 6.2 s to give up */
#define PEER_TURN_TCP_WAIT_MS 5000
#define PEER_TURN_LIFETIME    600 /* requested allocation lifetime, seconds */
#define PEER_TURN_PERM_S      240 /* permissions last 300 s: refresh before */
#define PEER_TURN_CHAN_S      300 /* channels last 600 s */
#define PEER_TURN_PROBE_MS    300 /* until the path is validated */
#define PEER_TURN_CHANNEL     0x4000
#define PEER_TURN_MAX_QUEUE   (1u << 20) /* TCP write queue: beyond it sends fail */
#define PEER_TURN_STALE_TRIES 3
#define PEER_TURN_SOFTWARE    "natlab-peer"
/* Nothing from the peer through TURN this long while we probe it every
 * PEER_TURN_PROBE_MS: the path is not trusted until something comes back (traffic moves
 * to natlab-relay), and a Refresh checks that the server is still there. */
#define PEER_TURN_SILENT_MS 1500
#define PEER_TURN_IDLE_MS   500 /* nothing from the peer this long: probe it */

static const char *transport_name(const struct peer_turn *t)
{
	return t->o->transport == PEER_TURN_TLS   ? "tls"
	       : t->o->transport == PEER_TURN_TCP ? "tcp"
	                                          : "udp";
}

/* TCP or TLS: messages on a byte stream, ChannelData padded. */
static bool stream(const struct peer_turn *t)
{
	return t->o->transport != PEER_TURN_UDP;
}

/* --- credentials --- */

/* REST credentials minted now (a secret given), else the explicit ones. */
static int credentials_make(struct peer_turn *t)
{
	char username[TURN_TEXT_MAX + 1];
	uint64_t expiry;
	int rc;

	if (!t->o->secret) {
		if (strlen(t->o->user) > TURN_TEXT_MAX || strlen(t->o->password) > TURN_TEXT_MAX)
			return -ENAMETOOLONG;
		strcpy(t->auth.username, t->o->user);
		strcpy(t->password, t->o->password);
		return 0;
	}
	expiry = (uint64_t)((long long)time(NULL) + t->o->ttl_s);
	/* Minted again within the same second: still a username the server has not seen. */
	t->cred_expiry = t->cred_expiry && expiry <= t->cred_expiry ? t->cred_expiry + 1 : expiry;
	rc = turn_rest_credentials(t->o->secret, t->o->user ? t->o->user : "", t->cred_expiry,
	                           username, sizeof(username), t->password, sizeof(t->password));
	if (rc < 0)
		return rc;
	strcpy(t->auth.username, username);
	return 0;
}

/*
 * The expiry a REST username carries ("expiry" or "expiry:user"), or 0 when it is no
 * REST username: a 401 to expired credentials is then told from one to wrong ones.
 */
static long long rest_expiry(const char *username)
{
	long long v = 0;
	const char *s;

	for (s = username; *s >= '0' && *s <= '9' && s - username < 18; s++)
		v = v * 10 + (*s - '0');
	return s > username && (*s == ':' || !*s) ? v : 0;
}

/* The key for the realm the server named (RFC 8489 section 9.2.2). */
static int credentials_key(struct peer_turn *t)
{
	return turn_auth_set(&t->auth, t->auth.username, t->auth.realm, t->password);
}

/* --- the wire --- */

struct write_req {
	uv_write_t req;
	uint8_t data[];
};

static void write_cb(uv_write_t *req, int status)
{
	free(req);
}

/* Queues len bytes on the TCP connection (copied). */
static int tcp_send(struct peer_turn *t, const uint8_t *buf, size_t len)
{
	struct write_req *w;
	uv_buf_t b;
	int rc;

	w = malloc(sizeof(*w) + len);
	if (!w)
		return -ENOMEM;
	memcpy(w->data, buf, len);
	b = uv_buf_init((char *)w->data, (unsigned)len);
	rc = uv_write(&w->req, (uv_stream_t *)&t->tcp, &b, 1, write_cb);
	if (rc < 0)
		free(w);
	return rc;
}

/* Sends what TLS has pending (handshake, records, alerts). */
static int tls_flush(struct peer_turn *t)
{
	uint8_t buf[16384];
	size_t n;
	int rc;

	while ((n = tls_conn_take(t->tls, buf, sizeof(buf))) > 0)
		if ((rc = tcp_send(t, buf, n)) < 0)
			return rc;
	return 0;
}

static int wire_send(struct peer_turn *t, const uint8_t *buf, size_t len)
{
	uv_buf_t b;
	int rc;

	if (t->o->transport == PEER_TURN_UDP) {
		b = uv_buf_init((char *)buf, (unsigned)len);
		rc = uv_udp_try_send(&t->udp, &b, 1, (const struct sockaddr *)&t->server);
		return rc < 0 ? rc : 0;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&t->tcp) > PEER_TURN_MAX_QUEUE)
		return -ENOBUFS;
	if (!t->tls)
		return tcp_send(t, buf, len);
	rc = tls_conn_write(t->tls, buf, len);
	return rc < 0 ? rc : tls_flush(t);
}

static const char *method_name(uint16_t type)
{
	switch (TURN_METHOD(type)) {
	case TURN_ALLOCATE:
		return "Allocate";
	case TURN_REFRESH:
		return "Refresh";
	case TURN_CREATE_PERMISSION:
		return "CreatePermission";
	case TURN_CHANNEL_BIND:
		return "ChannelBind";
	default:
		return "request";
	}
}

/*
 * Permissions are per IP address (RFC 8656 section 9). Until the peer's relayed address
 * is known we permit our own relay address: every allocation on this server shares it,
 * so a peer on the same server reaches us before either has the other's offer.
 */
static const union peer_sa *perm_target(const struct peer_turn *t)
{
	return t->have_peer ? &t->peer_addr : &t->relayed;
}

/* (Re)sends the request in flight, built afresh: credentials may have changed. */
static int tx_write(struct peer_turn *t, uint32_t lifetime)
{
	uint8_t buf[STUN_MAX_MESSAGE];
	struct turn_request r = {
		.type = t->tx_type,
		.txid = t->txid,
		.auth = t->have_auth ? &t->auth : NULL,
		.software = PEER_TURN_SOFTWARE,
	};
	int n;

	if (t->tx_type == TURN_ALLOCATE || t->tx_type == TURN_REFRESH) {
		r.has_lifetime = true;
		r.lifetime = lifetime;
	}
	if (t->tx_type == TURN_CREATE_PERMISSION || t->tx_type == TURN_CHANNEL_BIND)
		r.peer = (const struct sockaddr *)perm_target(t);
	r.channel = PEER_TURN_CHANNEL;
	n = turn_request_encode(buf, sizeof(buf), &r);
	if (n < 0)
		return n;
	t->tx_sent_ns = peer_now_ns();
	log_debug("TURN %s to %s (try %d)", method_name(t->tx_type), t->text, t->tx_tries);
	return wire_send(t, buf, (size_t)n);
}

static void tx_start(struct peer_turn *t, uint16_t type)
{
	t->tx_active = 1;
	t->tx_type = type;
	t->tx_tries = 1;
	stun_txid_new(t->txid);
	tx_write(t, PEER_TURN_LIFETIME);
	t->tx_first_ns = t->tx_sent_ns;
}

/*
 * Sealed bytes through TURN, both ways. At --turn-byte-cap the session stops relaying
 * through TURN (reported once): traffic moves to natlab-relay or, with --turn-only,
 * nowhere (no_turn_path).
 */
static void count_bytes(struct peer_turn *t, size_t len)
{
	t->bytes += len;
	if (!t->o->byte_cap || t->capped || t->bytes < t->o->byte_cap)
		return;
	t->capped = 1;
	peer_error(t->p, 0, "turn_byte_cap",
	           "TURN server %s: %llu bytes relayed, --turn-byte-cap %llu reached: TURN is no "
	           "longer used",
	           t->text, (unsigned long long)t->bytes, (unsigned long long)t->o->byte_cap);
	peer_path_report(t->p);
}

/* --- failures --- */

/*
 * Before the allocation exists a failure ends the peer (exit 3, as a relay that refuses
 * us); afterwards it is reported and TURN is no longer used: the path falls back.
 */
static void turn_fail(struct peer_turn *t, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void turn_fail(struct peer_turn *t, const char *reason, const char *fmt, ...)
{
	struct peer *p = t->p;
	int fatal = t->state != PEER_TURN_READY;
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->state = PEER_TURN_DOWN;
	t->tx_active = 0;
	peer_error(p, fatal ? PEER_EXIT_REFUSED : 0, reason, "TURN server %s (%s): %s", t->text,
	           transport_name(t), msg);
	if (!fatal)
		peer_path_report(p);
}

static void error_answer(struct peer_turn *t, const struct turn_msg *m, int had_auth)
{
	int code = m->stun.error_code;
	long long expiry;
	const char *what = method_name(t->tx_type), *why = m->stun.error_reason;

	switch (code) {
	case 401:
		if (!had_auth && turn_auth_challenge(&t->auth, m) == 0 && credentials_key(t) == 0) {
			t->have_auth = 1;
			tx_start(t, t->tx_type); /* a new transaction (RFC 8489 9.2.3) */
			return;
		}
		/* Refused with credentials: minted ones may have expired mid-session. */
		if (t->o->secret && t->state == PEER_TURN_READY && !t->renewed &&
		    credentials_make(t) == 0 && credentials_key(t) == 0) {
			t->renewed = 1;
			event_emit("turn_credentials", "{s:s, s:s, s:I}", "server", t->text,
			           "username", t->auth.username, "expiry",
			           (json_int_t)t->cred_expiry);
			tx_start(t, t->tx_type);
			return;
		}
		expiry = rest_expiry(t->auth.username);
		if (t->state == PEER_TURN_READY || (expiry && expiry < (long long)time(NULL))) {
			turn_fail(t, "turn_credentials_expired",
			          "%s refused: 401 %s (username \"%s\" expired %lld s ago%s)", what,
			          why, t->auth.username, (long long)time(NULL) - expiry,
			          t->o->secret ? "" : ": mint new ones, or give --turn-secret");
			return;
		}
		turn_fail(t, "turn_unauthorized",
		          "%s refused: 401 %s (wrong credentials for user \"%s\"%s)", what, why,
		          t->auth.username,
		          t->o->secret ? ": check --turn-secret against coturn's static-auth-secret"
		                       : "");
		return;
	case 438:
		if (++t->stale_tries <= PEER_TURN_STALE_TRIES &&
		    turn_auth_challenge(&t->auth, m) == 0 && credentials_key(t) == 0) {
			tx_start(t, t->tx_type);
			return;
		}
		turn_fail(t, "turn_stale_nonce", "%s refused: 438 %s, %d times", what, why,
		          t->stale_tries);
		return;
	case 486:
		turn_fail(t, "turn_quota",
		          "%s refused: 486 %s (allocation quota of this user reached)", what, why);
		return;
	case 508:
		turn_fail(t, "turn_capacity",
		          "%s refused: 508 %s (the server is out of relay ports)", what, why);
		return;
	case 403:
		turn_fail(t, "turn_forbidden",
		          "%s refused: 403 %s (the server denies this peer address)", what, why);
		return;
	case 437:
		turn_fail(t, "turn_allocation_mismatch", "%s refused: 437 %s", what, why);
		return;
	default:
		turn_fail(t, "turn_error", "%s refused: %d %s", what, code, why);
	}
}

/* The next request the allocation needs, if any (none while one is in flight). */
static void next_request(struct peer_turn *t, uint64_t now)
{
	if (t->tx_active || t->state != PEER_TURN_READY)
		return;
	if (now >= t->refresh_at_ns)
		tx_start(t, TURN_REFRESH);
	else if (!t->perm_ok || now >= t->perm_at_ns)
		tx_start(t, TURN_CREATE_PERMISSION);
	else if (t->have_peer && (!t->chan_ok || now >= t->chan_at_ns))
		tx_start(t, TURN_CHANNEL_BIND);
}

static void learn_peer(struct peer_turn *t);

/* --- answers --- */

static void on_allocated(struct peer_turn *t, const struct turn_msg *m, uint64_t now)
{
	struct peer *p = t->p;
	char r[ADDR_TEXT_MAX], x[ADDR_TEXT_MAX];

	if (!(m->present & TURN_HAS_RELAYED) || m->relayed.ss_family != AF_INET) {
		turn_fail(t, "turn_error", "Allocate answered without an IPv4 XOR-RELAYED-ADDRESS");
		return;
	}
	memcpy(&t->relayed, &m->relayed, sizeof(t->relayed));
	if ((m->stun.present & STUN_HAS_XOR_MAPPED) && m->stun.xor_mapped.ss_family == AF_INET)
		memcpy(&t->mapped, &m->stun.xor_mapped, sizeof(t->mapped));
	t->lifetime = (m->present & TURN_HAS_LIFETIME) ? m->lifetime : PEER_TURN_LIFETIME;
	t->refresh_at_ns = now + (uint64_t)t->lifetime * 1000 / 2 * PEER_MS;
	t->state = PEER_TURN_READY;
	t->allocated_ns = now;
	peer_addr_text(&t->relayed, r, sizeof(r));
	peer_addr_text(&t->mapped, x, sizeof(x));
	event_emit("turn_allocated", "{s:s, s:s, s:s, s:s, s:i, s:f}", "server", t->text,
	           "transport", transport_name(t), "relayed", r, "mapped", x, "lifetime",
	           (int)t->lifetime, "ms", (double)(now - t->start_ns) / 1e6);
	peer_cand_add(p->local, &p->n_local, PEER_CAND_RELAYED, &t->relayed);
	peer_cands_turn_done(p);
}

static void success_answer(struct peer_turn *t, const struct turn_msg *m, uint64_t now)
{
	switch (t->tx_type) {
	case TURN_ALLOCATE:
		on_allocated(t, m, now);
		break;
	case TURN_REFRESH:
		if (m->present & TURN_HAS_LIFETIME)
			t->lifetime = m->lifetime;
		t->refresh_at_ns = now + (uint64_t)t->lifetime * 1000 / 2 * PEER_MS;
		break;
	case TURN_CREATE_PERMISSION:
		t->perm_ok = 1;
		t->perm_ip = perm_target(t)->in.sin_addr;
		t->perm_at_ns = now + PEER_TURN_PERM_S * 1000 * PEER_MS;
		break;
	case TURN_CHANNEL_BIND:
		t->chan_ok = 1;
		t->chan_at_ns = now + PEER_TURN_CHAN_S * 1000 * PEER_MS;
		t->perm_at_ns = now + PEER_TURN_PERM_S * 1000 * PEER_MS;
		break;
	}
}

static void on_response(struct peer_turn *t, const uint8_t *buf, size_t len,
                        const struct turn_msg *m)
{
	int had_auth = t->have_auth;
	uint64_t now = peer_now_ns();

	if (!t->tx_active || memcmp(m->stun.txid, t->txid, STUN_TXID_SIZE) != 0 ||
	    TURN_METHOD(m->stun.type) != t->tx_type)
		return;
	/* Answers to authenticated requests carry integrity under our key (RFC 8489 9.2.4). */
	if (had_auth && (m->present & TURN_HAS_INTEGRITY) &&
	    turn_msg_integrity_check(buf, len, m, t->auth.key) < 0) {
		log_warnx("TURN server %s: %s answer with a bad MESSAGE-INTEGRITY: dropped",
		          t->text, method_name(t->tx_type));
		return;
	}
	log_debug("TURN %s answered: %d %s", method_name(t->tx_type), m->stun.error_code,
	          m->stun.error_reason);
	if (STUN_CLASS(m->stun.type) == STUN_CLASS_ERROR) {
		error_answer(t, m, had_auth);
		return;
	}
	t->tx_active = 0;
	t->stale_tries = 0;
	t->renewed = 0;
	success_answer(t, m, now);
	/* At once rather than on the next tick: the path waits for these. */
	if (t->state == PEER_TURN_READY)
		learn_peer(t);
	next_request(t, now);
}

/*
 * Bytes from from (an address on the TURN server) through our allocation. Only what
 * opens under the session counts; the first such packet tells us the peer's relayed
 * address if no offer did yet, and validates the path.
 */
static void on_peer_data(struct peer_turn *t, const uint8_t *data, size_t len,
                         const union peer_sa *from)
{
	struct peer *p = t->p;
	uint64_t before = p->last_peer_rx_ns;

	if (!p->have_peer || len < 1 || data[0] != SEAL_MAGIC)
		return;
	peer_on_sealed(p, data, len, NULL);
	if (p->last_peer_rx_ns == before || p->stopping)
		return; /* did not open: not from our peer */
	count_bytes(t, len);
	t->last_rx_ns = peer_now_ns();
	if (!t->have_peer) {
		t->peer_addr = *from;
		t->have_peer = 1;
		t->chan_ok = 0;
		t->perm_ok = t->perm_ok && t->perm_ip.s_addr == from->in.sin_addr.s_addr;
	}
	if (!t->validated && peer_addr_equal(from, &t->peer_addr)) {
		t->validated = 1;
		log_info("TURN path through %s validated", t->text);
		peer_path_report(p);
	}
}

/* One STUN message or ChannelData from the server. */
static void on_message(struct peer_turn *t, const uint8_t *buf, size_t len)
{
	struct turn_msg m;
	const uint8_t *d;
	size_t n;
	uint16_t ch;

	if (turn_is_channel_data(buf, len)) {
		if (turn_channel_data_decode(buf, len, &ch, &d, &n) == 0 &&
		    ch == PEER_TURN_CHANNEL && t->chan_ok)
			on_peer_data(t, d, n, &t->peer_addr);
		return;
	}
	if (turn_msg_decode(buf, len, &m) < 0)
		return;
	if (m.stun.type == (TURN_DATA | STUN_CLASS_INDICATION)) {
		/* Our permission let it in; the seal says whether it is the peer's. */
		if ((m.present & TURN_HAS_DATA) && (m.present & TURN_HAS_PEER) &&
		    m.peer.ss_family == AF_INET)
			on_peer_data(t, m.data, m.data_len, (const union peer_sa *)&m.peer);
		return;
	}
	if (STUN_CLASS(m.stun.type) == STUN_CLASS_SUCCESS ||
	    STUN_CLASS(m.stun.type) == STUN_CLASS_ERROR)
		on_response(t, buf, len, &m);
}

/* --- UDP and TCP --- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[65536];

	*buf = uv_buf_init(slab, sizeof(slab));
}

static void udp_recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags)
{
	struct peer_turn *t = container_of(u, struct peer_turn, udp);

	if (nread <= 0 || !addr || (flags & UV_UDP_PARTIAL) ||
	    !addr_equal(addr, (const struct sockaddr *)&t->server))
		return;
	on_message(t, (const uint8_t *)buf->base, (size_t)nread);
}

static void tcp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct peer_turn *t = container_of(h, struct peer_turn, tcp);
	static char cipher[65536];

	/* TCP reads straight into the message buffer; TLS records go through the wrapper. */
	if (t->tls)
		*buf = uv_buf_init(cipher, sizeof(cipher));
	else
		*buf =
		    uv_buf_init((char *)t->rbuf + t->rlen, (unsigned)(sizeof(t->rbuf) - t->rlen));
}

static void allocate_start(struct peer_turn *t)
{
	t->state = PEER_TURN_ALLOCATING;
	tx_start(t, TURN_ALLOCATE);
}

static void tls_fail(struct peer_turn *t, int rc)
{
	turn_fail(t, rc == -EKEYREJECTED ? "turn_tls_refused" : "turn_unreachable", "TLS: %s",
	          tls_conn_error(t->tls)[0] ? tls_conn_error(t->tls) : strerror(-rc));
}

/* Ciphertext in: the handshake moves on. 0, or -1 once failed. */
static int tls_feed(struct peer_turn *t, const uv_buf_t *buf, size_t nread)
{
	int rc = tls_conn_feed(t->tls, buf->base, nread);

	if (rc == 0 && !tls_conn_established(t->tls)) {
		rc = tls_conn_handshake(t->tls);
		if (rc == 1) {
			log_info("TURN server %s: %s", t->text, tls_conn_version(t->tls));
			tls_flush(t);
			allocate_start(t);
		}
	}
	tls_flush(t);
	if (rc < 0) {
		tls_fail(t, rc);
		return -1;
	}
	return 0;
}

/* Plaintext into rbuf: 1 when rbuf filled up (more may wait), 0 when drained, -1 failed. */
static int tls_pull(struct peer_turn *t)
{
	int rc = 0;

	while (tls_conn_established(t->tls) && t->rlen < sizeof(t->rbuf)) {
		rc = tls_conn_read(t->tls, t->rbuf + t->rlen, sizeof(t->rbuf) - t->rlen);
		if (rc <= 0)
			break;
		t->rlen += (size_t)rc;
	}
	tls_flush(t);
	if (rc < 0) {
		tls_fail(t, rc);
		return -1;
	}
	return t->rlen == sizeof(t->rbuf);
}

/* The whole messages at the start of rbuf, each handled. 0, or -1 once failed. */
static int take_frames(struct peer_turn *t)
{
	size_t off = 0;
	int n;

	while (t->state != PEER_TURN_DOWN) {
		n = turn_frame_size(t->rbuf + off, t->rlen - off);
		if (n == -EAGAIN || (n > 0 && (size_t)n > t->rlen - off))
			break;
		if (n < 0) {
			turn_fail(t, "turn_error", "the server sent neither STUN nor ChannelData");
			return -1;
		}
		on_message(t, t->rbuf + off, (size_t)n);
		off += (size_t)n;
	}
	memmove(t->rbuf, t->rbuf + off, t->rlen - off);
	t->rlen -= off;
	return 0;
}

static void tcp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct peer_turn *t = container_of(s, struct peer_turn, tcp);
	int more = 0;

	if (nread < 0) {
		uv_read_stop(s);
		turn_fail(t, t->state == PEER_TURN_READY ? "turn_lost" : "turn_unreachable",
		          "connection %s",
		          nread == UV_EOF ? "closed by the server" : uv_strerror((int)nread));
		return;
	}
	if (!t->tls)
		t->rlen += (size_t)nread;
	else if (tls_feed(t, buf, (size_t)nread) < 0)
		return;
	/* With TLS, plaintext beyond what rbuf holds waits in the wrapper: drain it all. */
	do {
		if (t->tls && (more = tls_pull(t)) < 0)
			return;
		if (take_frames(t) < 0)
			return;
	} while (more && t->state != PEER_TURN_DOWN);
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct peer_turn *t = container_of(req, struct peer_turn, connect_req);
	char host[INET_ADDRSTRLEN];
	int rc;

	if (status == UV_ECANCELED || t->state != PEER_TURN_CONNECTING)
		return;
	if (status < 0) {
		turn_fail(t, "turn_unreachable", "TCP connect: %s", uv_strerror(status));
		return;
	}
	uv_read_start((uv_stream_t *)&t->tcp, tcp_alloc_cb, tcp_read_cb);
	if (t->o->transport != PEER_TURN_TLS) {
		allocate_start(t);
		return;
	}
	/* The certificate must name the address we dialled (CA mode) or match the pin. */
	inet_ntop(AF_INET, &t->server.in.sin_addr, host, sizeof(host));
	rc = tls_conn_new(&t->tls, t->tls_ctx, host);
	if (rc < 0) {
		turn_fail(t, "turn_unreachable", "TLS: %s", strerror(-rc));
		return;
	}
	tls_flush(t);
}

static int open_udp(struct peer_turn *t)
{
	const struct peer *p = t->p;
	struct sockaddr_in any = { .sin_family = AF_INET };
	int rc;

	rc = uv_udp_init(p->loop, &t->udp);
	if (rc < 0)
		return rc;
	rc = uv_udp_bind(&t->udp, (const struct sockaddr *)&any, 0);
	if (rc < 0)
		return rc;
	peer_udp_buffers(&t->udp);
	rc = uv_udp_recv_start(&t->udp, alloc_cb, udp_recv_cb);
	if (rc < 0)
		return rc;
	t->state = PEER_TURN_ALLOCATING;
	tx_start(t, TURN_ALLOCATE);
	return 0;
}

static int open_tcp(struct peer_turn *t)
{
	int rc = uv_tcp_init(t->p->loop, &t->tcp);

	if (rc < 0)
		return rc;
	uv_tcp_nodelay(&t->tcp, 1);
	t->state = PEER_TURN_CONNECTING;
	return uv_tcp_connect(&t->connect_req, &t->tcp, (const struct sockaddr *)&t->server,
	                      connect_cb);
}

int peer_turn_start(struct peer *p, struct peer_turn *t, const struct peer_turn_opts *o)
{
	struct sockaddr_storage ss;
	int rc;

	memset(t, 0, sizeof(*t));
	t->p = p;
	t->o = o;
	if (!o->server)
		return 0;
	t->start_ns = peer_now_ns();
	if ((size_t)snprintf(t->text, sizeof(t->text), "%s", o->server) >= sizeof(t->text) ||
	    addr_parse(o->server, &ss, ADDR_PORT_REQUIRED) < 0 || ss.ss_family != AF_INET) {
		peer_error(p, PEER_EXIT_USAGE, "bad_turn", "--turn %s: expected IPv4ADDR:PORT",
		           o->server);
		return -1;
	}
	memcpy(&t->server, &ss, sizeof(t->server));
	rc = credentials_make(t);
	if (rc < 0) {
		peer_error(p, PEER_EXIT_USAGE, "bad_turn",
		           "--turn-user/--turn-secret: cannot make credentials: %s",
		           rc == -EINVAL ? "the user must not contain ':'" : strerror(-rc));
		return -1;
	}
	if (o->transport == PEER_TURN_TLS) {
		struct tls_config cfg = { .role = TLS_ROLE_CLIENT,
			                  .ca_file = o->ca,
			                  .pin = o->pin };
		char err[TLS_ERR_MAX];

		if (tls_ctx_new(&t->tls_ctx, &cfg, err, sizeof(err)) < 0) {
			peer_error(p, PEER_EXIT_USAGE, "bad_turn", "--turn-transport tls: %s", err);
			return -1;
		}
	}
	rc = o->transport == PEER_TURN_UDP ? open_udp(t) : open_tcp(t);
	if (rc < 0) {
		peer_error(p, PEER_EXIT_REFUSED, "turn_unreachable", "TURN server %s (%s): %s",
		           t->text, transport_name(t), uv_strerror(rc));
		return -1;
	}
	return 0;
}

int peer_turn_gathering(const struct peer *p)
{
	const struct peer_turn *t = &p->turn;

	return t->state == PEER_TURN_CONNECTING || t->state == PEER_TURN_ALLOCATING;
}

/* --- the tick --- */

static void retransmit(struct peer_turn *t, uint64_t now)
{
	uint64_t wait = stream(t) ? PEER_TURN_TCP_WAIT_MS * PEER_MS
	                          : ((uint64_t)PEER_TURN_RTO_MS << (t->tx_tries - 1)) * PEER_MS;

	if (now - t->tx_sent_ns < wait)
		return;
	if (t->o->transport == PEER_TURN_UDP && t->tx_tries < PEER_TURN_TRIES) {
		t->tx_tries++;
		tx_write(t, PEER_TURN_LIFETIME);
		return;
	}
	turn_fail(t, t->state == PEER_TURN_READY ? "turn_lost" : "turn_unreachable",
	          "no answer to %s within %.1f s", method_name(t->tx_type),
	          (double)(now - t->tx_first_ns) / 1e9);
}

/* The other peer's relayed candidate, once its offer named one. */
static void learn_peer(struct peer_turn *t)
{
	const struct peer *p = t->p;
	int i;

	for (i = 0; i < p->n_remote; i++) {
		if (p->remote[i].kind != PEER_CAND_RELAYED)
			continue;
		if (t->have_peer && peer_addr_equal(&t->peer_addr, &p->remote[i].addr))
			return;
		t->peer_addr = p->remote[i].addr;
		t->have_peer = 1;
		t->perm_ok = t->perm_ok && t->perm_ip.s_addr == t->peer_addr.in.sin_addr.s_addr;
		t->chan_ok = t->validated = 0;
		return;
	}
}

/*
 * While no direct path exists: probe the peer through TURN (punch 0, a keepalive it
 * answers on its own path) until something comes back, and when it has been quiet a
 * while; a silent TURN path is no longer used, and a Refresh checks the server.
 */
static void watch_path(struct peer_turn *t, uint64_t now)
{
	struct peer *p = t->p;
	uint8_t m[PEER_STAMP_LEN];

	if (t->validated && now - t->last_rx_ns > PEER_TURN_SILENT_MS * PEER_MS) {
		log_info("TURN path through %s silent for %d ms: back to the relay", t->text,
		         PEER_TURN_SILENT_MS);
		t->validated = 0;
		if (!t->tx_active)
			t->refresh_at_ns = now;
		peer_path_report(p);
	}
	if (t->perm_ok && p->established && !p->direct && !p->o->no_relay && !t->capped &&
	    (!t->validated || now - t->last_rx_ns > PEER_TURN_IDLE_MS * PEER_MS) &&
	    now - t->last_probe_ns >= PEER_TURN_PROBE_MS * PEER_MS) {
		t->last_probe_ns = now;
		peer_stamp_build(m, PEER_MSG_PROBE, 0, now);
		peer_send_via(p, PEER_VIA_TURN, NULL, m, sizeof(m));
	}
}

void peer_turn_tick(struct peer *p, uint64_t now)
{
	struct peer_turn *t = &p->turn;

	if (t->state == PEER_TURN_CONNECTING &&
	    now - t->start_ns > PEER_TURN_TCP_WAIT_MS * PEER_MS) {
		turn_fail(t, "turn_unreachable", "TCP connect: no answer within %d s",
		          PEER_TURN_TCP_WAIT_MS / 1000);
		return;
	}
	if (t->state == PEER_TURN_READY) {
		learn_peer(t);
		watch_path(t, now);
	}
	if (t->tx_active) {
		retransmit(t, now);
		return;
	}
	next_request(t, now);
}

/* --- data --- */

int peer_turn_usable(const struct peer *p)
{
	const struct peer_turn *t = &p->turn;

	return t->state == PEER_TURN_READY && t->have_peer && t->perm_ok && t->validated &&
	       !t->capped;
}

int peer_turn_send(struct peer *p, const uint8_t *pkt, size_t len)
{
	struct peer_turn *t = &p->turn;
	uint8_t buf[PEER_MAX_PKT + 64];
	int n, rc;

	if (t->state != PEER_TURN_READY || !t->have_peer || !t->perm_ok)
		return -ENOTCONN;
	if (t->chan_ok)
		n = turn_channel_data_encode(buf, sizeof(buf), PEER_TURN_CHANNEL, pkt, len,
		                             stream(t));
	else
		n = turn_send_encode(buf, sizeof(buf), (const struct sockaddr *)&t->peer_addr, pkt,
		                     len);
	if (n < 0)
		return n;
	rc = wire_send(t, buf, (size_t)n);
	if (rc == 0)
		count_bytes(t, len);
	return rc;
}

int peer_turn_path_report(struct peer *p)
{
	struct peer_turn *t = &p->turn;
	char a[ADDR_TEXT_MAX];

	if (!peer_turn_usable(p)) {
		t->reported = 0;
		return 0;
	}
	if (t->reported && p->reported == PEER_PATH_RELAY)
		return 1;
	t->reported = 1;
	p->reported = PEER_PATH_RELAY;
	p->reported_relay = -1;
	peer_addr_text(&t->peer_addr, a, sizeof(a));
	event_emit("path", "{s:s, s:s, s:s, s:s, s:s}", "kind", "relay", "remote", a, "relay_kind",
	           "turn", "server", t->text, "transport", transport_name(t));
	return 1;
}

uint64_t peer_turn_bytes(const struct peer *p)
{
	return p->turn.bytes;
}

void peer_turn_close(struct peer *p)
{
	struct peer_turn *t = &p->turn;

	if (t->state == PEER_TURN_READY) {
		/* Free the allocation now rather than at its lifetime's end (best effort). */
		t->tx_type = TURN_REFRESH;
		stun_txid_new(t->txid);
		tx_write(t, 0);
	}
	t->state = PEER_TURN_DOWN;
}

void peer_turn_free(struct peer *p)
{
	tls_conn_free(p->turn.tls);
	tls_ctx_free(p->turn.tls_ctx);
	p->turn.tls = NULL;
	p->turn.tls_ctx = NULL;
}
