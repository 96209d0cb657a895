/* SPDX-License-Identifier: MIT */
/*
 * Relay benchmark client. Two clients A and B exchange 1200-byte packets through a
 * relay on loopback:
 *   natlab HOST:PORT     both are natlab-relay clients (TCP), A -> relay -> B
 *   natlab-tls HOST:PORT the same over natlab-relay's TLS port (--cert pinned)
 *   turn HOST:PORT       A holds a TURN allocation (UDP, ChannelData), B is its peer:
 *                        A -> turnserver -> B and back, the same one relay hop each way
 *   turn-tcp HOST:PORT   TURN over TCP (RFC 8656: STUN and ChannelData framed on the
 *                        stream, ChannelData padded to 4 bytes): A and B each hold an
 *                        allocation over a connection of their own, each with a channel
 *                        to the other's relayed address (like natlab's two clients);
 *                        --udp-peer: B is A's plain UDP peer instead
 *   turn-tls HOST:PORT   the same inside TLS (--cert pinned)
 *   direct               A and B talk over UDP directly: the latency baseline
 *   idle HOST:PORT --clients N --pid PID [--sources S] [--issuer FILE] [--cert FILE]
 *                        N authenticated idle natlab clients from S source addresses
 *                        (127.1.0.0 up), with tokens of FILE's issuer when given, on
 *                        the TLS port with --cert; prints the relay's RSS growth per
 *                        client and the setup time
 * Latency: A sends one packet, B echoes it, 5000 times (--pings N; 0 skips it): RTT;
 * --baton pairs this phase with another relay_bench, turn by turn (see baton_wait).
 * Throughput (--seconds S, 0 skips it): A sends at --rate PPS (0: as fast as the
 * transport lets it) for S seconds and B counts what arrives; --search finds the highest
 * rate delivered with no loss (steps of S seconds: doubling, then bisecting between the
 * last clean and the first lossy rate; a step where A could not even offer the rate,
 * held back by the stream, ends the search with its clean delivered rate).
 * Output: one line "key=value ..." for bench/relay_vs_coturn.sh to compare.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "natlab/relay_proto.h"
#include "natlab/stun.h"
#include "natlab/tls.h"
#include "natlab/token.h"

#define PKT         1200
#define RTT_SAMPLES 5000 /* at most; --pings */

enum mode { MODE_NATLAB, MODE_TURN, MODE_DIRECT };

struct end {
	int fd;
	struct identity id;
	struct frame_reader r;
	uint8_t buf[FRAME_MAX_PAYLOAD + 64];
	const uint8_t *p;
	size_t n;
	struct sockaddr_in to; /* UDP: where packets go */
	struct tls_conn *tls;  /* TLS modes: the stream goes through it */
	int stream;            /* TURN over TCP or TLS: A's messages are framed on a stream */
	uint8_t *plain;        /* TLS modes: one record's plaintext */
};

static enum mode mode;
static struct tls_ctx *tls_ctx; /* TLS modes: pins the relay's certificate */
static struct end A, B;
static struct sockaddr_in relay_addr, relayed; /* TURN: A's relayed address */
static volatile int sending;
static long long received;
static int pings = RTT_SAMPLES; /* round trips timed (--pings); 0 skips the latency phase */
static int turn_tcp;            /* turn-tcp: allocations over plain TCP */
static int udp_peer;            /* --udp-peer: B is A's plain UDP peer, not a TURN client */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "relay_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int send_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends what TLS has pending on e's socket. */
static int tls_flush(struct end *e)
{
	static __thread uint8_t out[1 << 17];
	size_t n;

	while ((n = tls_conn_take(e->tls, out, sizeof(out))) > 0)
		if (send_all(e->fd, out, n) < 0)
			return -1;
	return 0;
}

/* Writes a whole message on e's stream: in TLS records when e has TLS. */
static int write_all(struct end *e, const void *data, size_t len)
{
	if (!e->tls)
		return send_all(e->fd, data, len);
	if (tls_conn_write(e->tls, data, len) < 0)
		return -1;
	return tls_flush(e);
}

/*
 * The next bytes of e's stream into e->p/e->n within timeout_ms: plaintext TLS holds
 * first, then the socket. 0, or -1 on timeout, EOF or a TLS failure.
 */
static int stream_fill(struct end *e, int timeout_ms)
{
	for (;;) {
		struct pollfd pfd = { .fd = e->fd, .events = POLLIN };
		ssize_t n;

		if (e->tls) {
			int k = tls_conn_read(e->tls, e->plain, FRAME_MAX_PAYLOAD);

			tls_flush(e);
			if (k < 0)
				return -1;
			if (k > 0) {
				e->p = e->plain;
				e->n = (size_t)k;
				return 0;
			}
		}
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		n = recv(e->fd, e->buf, sizeof(e->buf), 0);
		if (n <= 0)
			return -1;
		if (!e->tls) {
			e->p = e->buf;
			e->n = (size_t)n;
			return 0;
		}
		tls_conn_feed(e->tls, e->buf, (size_t)n);
	}
}

/* TLS on e's connected socket, the handshake done. */
static int tls_start(struct end *e)
{
	e->plain = malloc(FRAME_MAX_PAYLOAD);
	if (!e->plain || tls_conn_new(&e->tls, tls_ctx, NULL) < 0)
		return -1;
	while (tls_conn_handshake(e->tls) == 0) {
		struct pollfd pfd = { .fd = e->fd, .events = POLLIN };
		ssize_t n;

		tls_flush(e);
		if (poll(&pfd, 1, 5000) <= 0)
			return -1;
		n = recv(e->fd, e->buf, sizeof(e->buf), 0);
		if (n <= 0)
			return -1;
		tls_conn_feed(e->tls, e->buf, (size_t)n);
	}
	if (!tls_conn_established(e->tls)) {
		fprintf(stderr, "relay_bench: TLS: %s\n", tls_conn_error(e->tls));
		return -1;
	}
	return tls_flush(e);
}

/* natlab: next frame of type want (others skipped); returns payload length or -1. */
static int nl_recv(struct end *e, uint8_t type, struct frame *f, int timeout_ms)
{
	for (;;) {
		int rc = frame_reader_next(&e->r, &e->p, &e->n, f);

		if (rc < 0)
			return -1;
		if (rc == 1) {
			if (f->type == type)
				return (int)f->len;
			continue;
		}
		if (stream_fill(e, timeout_ms) < 0)
			return -1;
	}
}

static int nl_connect(struct end *e)
{
	struct relay_challenge ch;
	uint8_t out[256];
	struct frame f;
	int one = 1, len;

	identity_generate(&e->id);
	frame_reader_init(&e->r, 0);
	e->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(e->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(e->fd, (struct sockaddr *)&relay_addr, sizeof(relay_addr)) < 0)
		return -1;
	if (tls_ctx && tls_start(e) < 0)
		return -1;
	if (nl_recv(e, RELAY_FRAME_CHALLENGE, &f, 5000) < 0 ||
	    relay_challenge_decode(&ch, f.payload, f.len) < 0)
		return -1;
	len = relay_auth_build(out, sizeof(out), &e->id, &ch, NULL);
	if (len < 0 || write_all(e, out, (size_t)len) < 0)
		return -1;
	return nl_recv(e, RELAY_FRAME_SERVER_INFO, &f, 5000) < 0 ? -1 : 0;
}

/*
 * TURN over a stream (TCP or TLS): the next STUN message or ChannelData (padded to 4
 * bytes on streams, RFC 8656 section 12.5) from e's server into msg; returns its
 * length (ChannelData: the 4-byte header and data, padding dropped), or -1.
 */
static int turn_stream_recv(struct end *e, uint8_t *msg, size_t cap, int timeout_ms)
{
	size_t have = 0, want = 4;

	for (;;) {
		while (e->n && have < want) {
			size_t k = want - have < e->n ? want - have : e->n;

			if (have + k > cap)
				return -1;
			memcpy(msg + have, e->p, k);
			have += k;
			e->p += k;
			e->n -= k;
		}
		if (have == want) {
			size_t body = (size_t)(msg[2] << 8 | msg[3]);

			if (want == 4) {
				/* ChannelData: 0b01 first bits; STUN: 0b00, 20-byte header. */
				want = (msg[0] & 0xc0) == 0x40 ? 4 + ((body + 3) & ~(size_t)3)
				                               : 20 + body;
				if (want > 4)
					continue;
			}
			return (msg[0] & 0xc0) == 0x40 ? (int)(4 + body) : (int)want;
		}
		if (stream_fill(e, timeout_ms) < 0)
			return -1;
	}
}

/* TURN: one request/response on e's connection to the server; the response length. */
static int turn_transact(struct end *e, uint8_t *msg, int len, uint8_t *resp, size_t cap)
{
	ssize_t n;
	struct pollfd pfd = { .fd = e->fd, .events = POLLIN };

	if (e->stream) {
		if (write_all(e, msg, (size_t)len) < 0)
			return -1;
		return turn_stream_recv(e, resp, cap, 3000);
	}
	if (sendto(e->fd, msg, (size_t)len, 0, (struct sockaddr *)&relay_addr, sizeof(relay_addr)) <
	    0)
		return -1;
	if (poll(&pfd, 1, 3000) <= 0)
		return -1;
	n = recv(e->fd, resp, cap, 0);
	return n < 20 ? -1 : (int)n;
}

/* Finds XOR-RELAYED-ADDRESS (0x0016) in a TURN success response. */
static int turn_relayed(const uint8_t *m, int len, struct sockaddr_in *out)
{
	int off = 20;

	if (((m[0] << 8) | m[1]) != 0x0103)
		return -1;
	while (off + 4 <= len) {
		int type = m[off] << 8 | m[off + 1], alen = m[off + 2] << 8 | m[off + 3];

		if (type == 0x0016 && alen == 8) {
			uint16_t port = (uint16_t)((m[off + 6] << 8 | m[off + 7]) ^ 0x2112);
			uint32_t ip;

			memcpy(&ip, m + off + 8, 4);
			out->sin_family = AF_INET;
			out->sin_port = htons(port);
			out->sin_addr.s_addr = ip ^ htonl(STUN_MAGIC_COOKIE);
			return 0;
		}
		off += 4 + ((alen + 3) & ~3);
	}
	return -1;
}

static int udp_socket(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 4 << 20;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* FORCE: past net.core.rmem_max, which this bench does not touch (we are root). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	return fd;
}

/* e's connection to the TURN server (UDP, TCP or TLS) and an allocation; its relayed
 * address into *relayed_out. */
static int turn_allocate(struct end *e, struct sockaddr_in *relayed_out)
{
	struct stun_writer w;
	uint8_t msg[512], resp[1500], txid[STUN_TXID_SIZE];
	int len;

	if (tls_ctx || turn_tcp) {
		int one = 1;

		e->fd = socket(AF_INET, SOCK_STREAM, 0);
		e->stream = 1;
		setsockopt(e->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(e->fd, (struct sockaddr *)&relay_addr, sizeof(relay_addr)) < 0 ||
		    (tls_ctx && tls_start(e) < 0)) {
			fprintf(stderr, "relay_bench: %s to turnserver failed\n",
			        tls_ctx ? "TLS" : "TCP");
			return -1;
		}
	} else {
		e->fd = udp_socket();
	}
	stun_txid_new(txid);
	stun_writer_init(&w, msg, sizeof(msg), 0x0003, txid); /* Allocate */
	stun_writer_add_u32(&w, 0x0019, 17u << 24);           /* REQUESTED-TRANSPORT UDP */
	len = stun_writer_finish(&w, true);
	len = turn_transact(e, msg, len, resp, sizeof(resp));
	if (len < 0 || turn_relayed(resp, len, relayed_out) < 0) {
		fprintf(
		    stderr,
		    "relay_bench: TURN Allocate failed (is turnserver running with --no-auth?)\n");
		return -1;
	}
	e->to = relay_addr;
	return 0;
}

/* Binds channel 0x4000 on e's allocation to peer (which also installs a permission). */
static int turn_channel_bind(struct end *e, struct sockaddr_in *peer)
{
	struct stun_writer w;
	uint8_t msg[512], resp[1500], txid[STUN_TXID_SIZE];
	int len;

	stun_txid_new(txid);
	stun_writer_init(&w, msg, sizeof(msg), 0x0009, txid); /* ChannelBind */
	stun_writer_add_u32(&w, 0x000C, 0x4000u << 16);
	stun_writer_add_addr(&w, 0x0012, (struct sockaddr *)peer, true); /* XOR-PEER-ADDRESS */
	len = stun_writer_finish(&w, true);
	len = turn_transact(e, msg, len, resp, sizeof(resp));
	if (len < 0 || ((resp[0] << 8) | resp[1]) != 0x0109) {
		fprintf(stderr,
		        "relay_bench: TURN ChannelBind failed (needs --allow-loopback-peers)\n");
		return -1;
	}
	return 0;
}

/*
 * TURN over UDP, or with --udp-peer: A's allocation, B its plain UDP peer. TURN over
 * TCP or TLS: A and B each hold an allocation over their own connection, each with a
 * channel to the other's relayed address, so both clients' transports are what
 * natlab-relay's clients use (one stream each); the server carries A's packets from
 * A's allocation to B's over UDP, as TURN does between two of its clients.
 */
static int turn_setup(void)
{
	struct sockaddr_in baddr;
	socklen_t blen = sizeof(baddr);

	if (turn_allocate(&A, &relayed) < 0)
		return -1;
	if (A.stream && !udp_peer) {
		if (turn_allocate(&B, &baddr) < 0 || turn_channel_bind(&B, &relayed) < 0)
			return -1;
		return turn_channel_bind(&A, &baddr);
	}
	B.fd = udp_socket();
	getsockname(B.fd, (struct sockaddr *)&baddr, &blen);
	if (turn_channel_bind(&A, &baddr) < 0)
		return -1;
	B.to = relayed;
	return 0;
}

static int direct_setup(void)
{
	socklen_t len = sizeof(A.to);

	A.fd = udp_socket();
	B.fd = udp_socket();
	getsockname(B.fd, (struct sockaddr *)&A.to, &len);
	len = sizeof(B.to);
	getsockname(A.fd, (struct sockaddr *)&B.to, &len);
	return 0;
}

/* Sends one packet from e to its partner. */
static int send_pkt(struct end *e, const uint8_t *data)
{
	static __thread uint8_t out[FRAME_HEADER_LEN + RELAY_KEY_LEN + PKT + 8];
	struct end *other = e == &A ? &B : &A;
	int len;

	switch (mode) {
	case MODE_NATLAB:
		len = relay_packet_encode(out, sizeof(out), RELAY_FRAME_SEND, other->id.pub, data,
		                          PKT);
		return write_all(e, out, (size_t)len);
	case MODE_TURN:
		if (e == &A || e->stream) {
			out[0] = 0x40, out[1] = 0x00, out[2] = PKT >> 8, out[3] = PKT & 0xff;
			memcpy(out + 4, data, PKT);
			/* PKT is a multiple of 4: no stream padding. */
			if (e->stream)
				return write_all(e, out, PKT + 4);
			return sendto(e->fd, out, PKT + 4, 0, (struct sockaddr *)&e->to,
			              sizeof(e->to)) < 0
			           ? -1
			           : 0;
		}
		/* B, A's plain UDP peer */
		__attribute__((fallthrough));
	case MODE_DIRECT:
		return sendto(e->fd, data, PKT, 0, (struct sockaddr *)&e->to, sizeof(e->to)) < 0
		           ? -1
		           : 0;
	}
	return -1;
}

/* Receives one packet at e into data; returns 0, or -1 on timeout. */
static int recv_pkt(struct end *e, uint8_t *data, int timeout_ms)
{
	static __thread uint8_t in[2048];
	struct pollfd pfd = { .fd = e->fd, .events = POLLIN };
	struct frame f;
	ssize_t n;

	if (mode == MODE_NATLAB) {
		if (nl_recv(e, RELAY_FRAME_RECV, &f, timeout_ms) != RELAY_KEY_LEN + PKT)
			return -1;
		memcpy(data, f.payload + RELAY_KEY_LEN, PKT);
		return 0;
	}
	if (mode == MODE_TURN && e->stream) {
		do {
			n = turn_stream_recv(e, in, sizeof(in), timeout_ms);
			if (n < 0)
				return -1;
		} while (n != PKT + 4 || in[0] != 0x40);
		memcpy(data, in + 4, PKT);
		return 0;
	}
	for (;;) {
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		n = recv(e->fd, in, sizeof(in), 0);
		if (mode == MODE_TURN && e == &A && n == PKT + 4 && in[0] == 0x40) {
			memcpy(data, in + 4, PKT);
			return 0;
		}
		if (n == PKT) {
			memcpy(data, in, PKT);
			return 0;
		}
	}
}

static void *receiver_main(void *arg)
{
	uint8_t data[PKT];

	while (recv_pkt(&B, data, sending ? 1000 : 300) == 0)
		received++;
	return NULL;
}

struct step {
	long long sent, delivered;
	double seconds; /* from the first packet sent to the last */
};

/*
 * A sends for seconds at rate packets per second (0: as fast as it can), in bursts due
 * every 50 us; B counts until 300 ms pass without a packet after the last one is sent.
 */
static struct step throughput(double seconds, double rate)
{
	uint8_t data[PKT] = { 0 };
	struct timespec pause = { .tv_nsec = 50000 };
	struct step st = { 0 };
	long long t0, t_end, t_last;
	pthread_t th;

	sending = 1;
	received = 0;
	pthread_create(&th, NULL, receiver_main, NULL);
	t0 = now_ns();
	t_end = t0 + (long long)(seconds * 1e9);
	while ((t_last = now_ns()) < t_end) {
		long long due =
		    rate > 0 ? (long long)((double)(t_last - t0) * rate / 1e9) + 1 : st.sent + 64;

		if (st.sent >= due) {
			nanosleep(&pause, NULL);
			continue;
		}
		while (st.sent < due) {
			memcpy(data, &st.sent, sizeof(st.sent));
			if (send_pkt(&A, data) < 0 && A.stream)
				goto out; /* a broken stream: nothing more arrives */
			st.sent++;
		}
	}
out:
	sending = 0;
	pthread_join(th, NULL);
	st.delivered = received;
	st.seconds = (double)(t_last - t0) / 1e9;
	fprintf(stderr, "relay_bench: rate %.0f: sent %lld, delivered %lld in %.2f s\n", rate,
	        st.sent, st.delivered, st.seconds);
	return st;
}

/*
 * The highest rate delivered with no loss: doubling from 20,000 pps while clean, then
 * bisecting between the last clean and the first lossy offered rate to within 5%. A
 * clean step where A could not offer 90% of the rate (the stream held it back) is the
 * transport's limit: its delivered rate is the answer. Returns delivered pps.
 */
static double search(double seconds, int *steps_out)
{
	double lo = 0, hi = 0, rate = 20000, best = 0;
	int steps;

	for (steps = 1; steps <= 14; steps++) {
		struct step st = throughput(seconds, rate);
		double offered = (double)st.sent / st.seconds;

		if (st.sent > 0 && st.delivered >= st.sent) {
			double got = (double)st.delivered / st.seconds;

			if (got > best)
				best = got;
			if (offered < 0.9 * rate)
				break;
			lo = rate;
		} else {
			hi = rate;
		}
		if (hi > 0 && hi - lo <= 0.05 * hi)
			break;
		rate = hi > 0 ? (lo + hi) / 2 : rate * 2;
	}
	*steps_out = steps;
	return best;
}

static void *echo_main(void *arg)
{
	uint8_t data[PKT];
	int i;

	for (i = 0; i < pings; i++) {
		if (recv_pkt(&B, data, 2000) < 0)
			break;
		send_pkt(&B, data);
	}
	return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/*
 * --baton IN,OUT (two FIFOs): the latency phase runs in turns with another relay_bench
 * holding the other ends, BATON_CHUNK round trips per turn (one: strict alternation),
 * so that load from the rest of a shared machine falls on both systems alike. A turn
 * starts when a byte arrives on IN and ends by writing one to OUT.
 */
#define BATON_CHUNK 1
static int baton_in = -1, baton_out = -1;

static int baton_wait(void)
{
	struct pollfd pfd = { .fd = baton_in, .events = POLLIN };
	char b;

	if (baton_in < 0)
		return 0;
	if (poll(&pfd, 1, 30000) <= 0 || read(baton_in, &b, 1) != 1) {
		fprintf(stderr, "relay_bench: the other side of --baton did not pass it back\n");
		return -1;
	}
	return 0;
}

static void baton_pass(void)
{
	if (baton_out >= 0 && write(baton_out, "b", 1) != 1)
		fprintf(stderr, "relay_bench: --baton: %s\n", strerror(errno));
}

static int latency(double *p50_us, double *p99_us)
{
	static long long rtt[RTT_SAMPLES];
	uint8_t data[PKT] = { 0 }, back[PKT];
	pthread_t th;
	int i, n = 0;

	pthread_create(&th, NULL, echo_main, NULL);
	for (i = 0; i < pings; i++) {
		long long t;

		if (i % BATON_CHUNK == 0) {
			if (i)
				baton_pass();
			if (baton_wait() < 0)
				break;
		}
		t = now_ns();

		memcpy(data, &t, sizeof(t));
		if (send_pkt(&A, data) < 0)
			break;
		do {
			if (recv_pkt(&A, back, 2000) < 0)
				goto out;
		} while (memcmp(back, &t, sizeof(t)) != 0);
		rtt[n++] = now_ns() - t;
	}
out:
	baton_pass(); /* the last turn: the other side may finish */
	pthread_join(th, NULL);
	if (n < pings / 2 || n == 0)
		return -1;
	qsort(rtt, (size_t)n, sizeof(rtt[0]), cmp_ll);
	*p50_us = rtt[n / 2] / 1000.0;
	*p99_us = rtt[(n * 99) / 100] / 1000.0;
	return 0;
}

static long rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* One idle client during its handshake; afterwards only its socket stays open. */
struct idle_client {
	int fd;
	struct frame_reader r;
	struct tls_conn *tls; /* on the TLS port (--cert) */
};

static struct identity idle_issuer;
static int idle_tokens; /* AUTH carries a token of idle_issuer */

/* Sends what c's TLS session has for the relay. */
static int idle_tls_flush(struct idle_client *c)
{
	uint8_t out[4096];
	size_t n;

	while ((n = tls_conn_take(c->tls, out, sizeof(out))) > 0)
		if (send(c->fd, out, n, MSG_NOSIGNAL) != (ssize_t)n)
			return -1;
	return 0;
}

/* Sends an AUTH answering ch, with a fresh key (and a token when idle_tokens). */
static int idle_auth(struct idle_client *c, const struct relay_challenge *ch)
{
	uint8_t out[512];
	char text[TOKEN_TEXT_MAX + 1];
	struct identity id;
	struct token t;
	int len;

	identity_generate(&id);
	if (idle_tokens &&
	    (token_issue(&t, &idle_issuer, id.pub, (uint64_t)time(NULL) + 3600, "bench") < 0 ||
	     token_encode_text(&t, text, sizeof(text)) < 0))
		return -1;
	len = relay_auth_build(out, sizeof(out), &id, ch, idle_tokens ? text : NULL);
	if (len < 0)
		return -1;
	if (c->tls)
		return tls_conn_write(c->tls, out, (size_t)len) < 0 ? -1 : idle_tls_flush(c);
	return send(c->fd, out, (size_t)len, MSG_NOSIGNAL) == len ? 0 : -1;
}

/* Frames in p/n: AUTH for a CHALLENGE; 1 at SERVER_INFO, 0 for more, -1. */
static int idle_frames(struct idle_client *c, const uint8_t *p, size_t n)
{
	struct relay_challenge ch;
	struct frame f;
	int rc;

	while ((rc = frame_reader_next(&c->r, &p, &n, &f)) == 1) {
		uint8_t why;
		char text[256];

		if (f.type == RELAY_FRAME_SERVER_INFO)
			return 1;
		if (f.type == RELAY_FRAME_CLOSE &&
		    relay_close_decode(&why, text, sizeof(text), f.payload, f.len) == 0) {
			fprintf(stderr, "relay_bench: relay closed an idle client: %s: %s\n",
			        relay_close_reason_str(why), text);
			return -1;
		}
		if (f.type != RELAY_FRAME_CHALLENGE ||
		    relay_challenge_decode(&ch, f.payload, f.len) < 0 || idle_auth(c, &ch) < 0)
			return -1;
	}
	return rc < 0 ? -1 : 0;
}

/* Next step of c's handshake on readable input: 1 once authenticated, 0 for more, -1. */
static int idle_step(struct idle_client *c)
{
	uint8_t in[4096], plain[1024];
	ssize_t got = recv(c->fd, in, sizeof(in), 0);
	int rc = 0, k;

	if (got <= 0)
		return got < 0 && errno == EAGAIN ? 0 : -1;
	if (!c->tls)
		return idle_frames(c, in, (size_t)got);
	if (tls_conn_feed(c->tls, in, (size_t)got) < 0)
		return -1;
	while (rc == 0 && (k = tls_conn_read(c->tls, plain, sizeof(plain))) != 0)
		rc = k < 0 ? -1 : idle_frames(c, plain, (size_t)k);
	return rc < 0 || idle_tls_flush(c) < 0 ? -1 : rc;
}

/* Opens c's connection from source address number src (127.1.0.0 + src), non-blocking. */
static int idle_open(struct idle_client *c, int ep, int src)
{
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1;

	from.sin_addr.s_addr = htonl(0x7f010000u + (uint32_t)src);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	/* The port is picked at connect, per destination: no early ephemeral-port limit. */
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	/* Blocking connect: on loopback the kernel answers it, not the relay. */
	if (bind(c->fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&relay_addr, sizeof(relay_addr)) < 0 ||
	    fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	frame_reader_init(&c->r, 1024);
	if (tls_ctx && (tls_conn_new(&c->tls, tls_ctx, NULL) < 0 || idle_tls_flush(c) < 0))
		return -1;
	ev.data.ptr = c;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/*
 * count clients from sources addresses, at most window handshakes at once (below the
 * relay's --max-handshakes), each authenticated (SERVER_INFO received) and then left
 * idle; prints the relay's RSS growth per client and the time it took.
 */
static int idle(int count, int pid, int sources, int window)
{
	struct idle_client *cs = calloc((size_t)count, sizeof(*cs));
	struct epoll_event evs[256];
	int ep = epoll_create1(0), opened = 0, done = 0, open_now = 0, i;
	long before, after;
	long long t0;

	if (!cs || ep < 0)
		die("idle setup");
	before = rss_kib(pid);
	t0 = now_ns();
	while (done < count) {
		int k;

		while (opened < count && open_now < window) {
			if (idle_open(&cs[opened], ep, opened % sources) < 0) {
				fprintf(stderr, "relay_bench: idle client %d: %s\n", opened,
				        strerror(errno));
				return 1;
			}
			opened++;
			open_now++;
		}
		k = epoll_wait(ep, evs, 256, 10000);
		if (k <= 0) {
			fprintf(stderr, "relay_bench: idle: no progress for 10 s at %d of %d\n",
			        done, count);
			return 1;
		}
		for (i = 0; i < k; i++) {
			struct idle_client *c = evs[i].data.ptr;
			int rc = idle_step(c);

			if (rc < 0) {
				fprintf(
				    stderr,
				    "relay_bench: idle client %ld refused or cut (%d of %d done)\n",
				    (long)(c - cs), done, count);
				return 1;
			}
			if (rc == 1) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				frame_reader_close(&c->r);
				done++;
				open_now--;
			}
		}
	}
	{
		double secs = (double)(now_ns() - t0) / 1e9;

		usleep(500000);
		after = rss_kib(pid);
		printf(
		    "idle_clients=%d tls=%d sources=%d tokens=%d setup_s=%.2f clients_per_s=%.0f "
		    "rss_before_kib=%ld rss_after_kib=%ld bytes_per_client=%.0f\n",
		    count, tls_ctx != NULL, sources, idle_tokens, secs, count / secs, before, after,
		    (after - before) * 1024.0 / count);
	}
	for (i = 0; i < count; i++) {
		close(cs[i].fd);
		tls_conn_free(cs[i].tls);
	}
	free(cs);
	close(ep);
	return 0;
}

static int parse_addr(const char *text, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(text, ':');

	if (!colon || colon - text >= (int)sizeof(host))
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

/* Options with a value: each sets one of these. */
static double seconds = 3, rate;
static const char *cert, *issuer, *baton;
static int clients = 10000, pid, sources = 1, window = 512;

static const struct option {
	const char *name;
	char kind; /* 'd' double, 'i' int, 's' string */
	void *to;
} options[] = {
	{ "--seconds", 'd', &seconds }, { "--rate", 'd', &rate }, { "--pings", 'i', &pings },
	{ "--clients", 'i', &clients }, { "--pid", 'i', &pid },   { "--sources", 'i', &sources },
	{ "--window", 'i', &window },   { "--cert", 's', &cert }, { "--issuer", 's', &issuer },
	{ "--baton", 's', &baton },
};

static int set_option(const char *name, const char *v)
{
	size_t i;

	for (i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (strcmp(name, options[i].name) != 0)
			continue;
		if (options[i].kind == 'd')
			*(double *)options[i].to = atof(v);
		else if (options[i].kind == 'i')
			*(int *)options[i].to = atoi(v);
		else
			*(const char **)options[i].to = v;
		return 0;
	}
	return -1;
}

static int usage(int rc)
{
	fprintf(rc ? stderr : stdout,
	        "usage: relay_bench natlab|turn|turn-tcp HOST:PORT [--seconds S] [--rate PPS | "
	        "--search] [--udp-peer] [--pings N] [--baton IN,OUT]\n"
	        "       relay_bench natlab-tls|turn-tls HOST:PORT --cert FILE [same options]\n"
	        "       relay_bench direct\n"
	        "       relay_bench idle HOST:PORT --clients N --pid RELAY_PID [--sources S] "
	        "[--window W] [--issuer SECRET_KEY_FILE] [--cert FILE: the TLS port]\n");
	return rc;
}

int main(int argc, char **argv)
{
	double p50 = 0, p99 = 0;
	int do_search = 0, i, rc;
	struct step st = { 0 };

	if (argc < 2 || !strcmp(argv[1], "--help"))
		return usage(argc < 2 ? 2 : 0);
	for (i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--search") || !strcmp(argv[i], "--udp-peer")) {
			*(argv[i][2] == 's' ? &do_search : &udp_peer) = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "relay_bench: %s needs a value or is unknown\n", argv[i]);
			return usage(2);
		}
		if (set_option(argv[i], v) < 0) {
			fprintf(stderr, "relay_bench: unknown option %s\n", argv[i]);
			return usage(2);
		}
		i++;
	}
	identity_init();
	if (!strcmp(argv[1], "direct")) {
		mode = MODE_DIRECT;
		direct_setup();
	} else {
		if (argc < 3 || parse_addr(argv[2], &relay_addr) < 0) {
			fprintf(stderr, "relay_bench: need HOST:PORT (e.g. 127.0.0.1:3340)\n");
			return 2;
		}
		if (strstr(argv[1], "-tls") || (!strcmp(argv[1], "idle") && cert)) {
			uint8_t fp[TLS_FP_LEN];
			char pin[TLS_FP_TEXT_LEN + 1], err[TLS_ERR_MAX];
			struct tls_config cfg = { .role = TLS_ROLE_CLIENT, .pin = pin };

			if (!cert || tls_cert_fp(cert, fp, err, sizeof(err)) < 0) {
				fprintf(
				    stderr,
				    "relay_bench: %s needs the server's certificate (--cert): %s\n",
				    argv[1], cert ? err : "missing");
				return 2;
			}
			tls_fp_format(fp, pin);
			if (tls_ctx_new(&tls_ctx, &cfg, err, sizeof(err)) < 0) {
				fprintf(stderr, "relay_bench: %s\n", err);
				return 2;
			}
		}
		if (!strcmp(argv[1], "idle")) {
			if (clients < 1 || sources < 1 || sources > 65535 || window < 1) {
				fprintf(stderr, "relay_bench: idle needs --clients >= 1, --sources "
				                "1..65535, --window >= 1\n");
				return 2;
			}
			if (issuer) {
				rc = identity_load(&idle_issuer, issuer);
				if (rc < 0) {
					fprintf(stderr, "relay_bench: issuer key %s: %s\n", issuer,
					        strerror(-rc));
					return 2;
				}
				idle_tokens = 1;
			}
			return idle(clients, pid, sources, window);
		}
		mode = !strncmp(argv[1], "turn", 4) ? MODE_TURN : MODE_NATLAB;
		turn_tcp = !strcmp(argv[1], "turn-tcp");
		rc = mode == MODE_TURN ? turn_setup() : (nl_connect(&A) || nl_connect(&B));
		if (rc) {
			fprintf(stderr, "relay_bench: setup failed\n");
			return 1;
		}
		A.stream |= mode == MODE_NATLAB;
		B.stream |= mode == MODE_NATLAB;
	}
	if (baton) {
		char in[256];
		const char *comma = strchr(baton, ',');

		/* Read-write: opening a FIFO so never blocks, and a write never fails for
		 * want of a reader. */
		if (comma && comma - baton < (int)sizeof(in)) {
			memcpy(in, baton, (size_t)(comma - baton));
			in[comma - baton] = '\0';
			baton_in = open(in, O_RDWR);
			baton_out = open(comma + 1, O_RDWR);
		}
		if (baton_in < 0 || baton_out < 0) {
			fprintf(stderr,
			        "relay_bench: --baton IN,OUT needs two FIFOs (mkfifo): %s\n",
			        comma ? strerror(errno) : "no comma");
			return 2;
		}
	}
	if (pings < 0 || pings > RTT_SAMPLES) {
		fprintf(stderr, "relay_bench: --pings must be 0..%d\n", RTT_SAMPLES);
		return 2;
	}
	if (pings > 0 && latency(&p50, &p99) < 0) {
		fprintf(stderr, "relay_bench: latency phase lost too many packets\n");
		return 1;
	}
	if (mode != MODE_DIRECT && seconds > 0 && do_search) {
		int steps;
		double best = search(seconds, &steps);

		printf("pps=%.0f steps=%d rtt_p50_us=%.1f rtt_p99_us=%.1f\n", best, steps, p50,
		       p99);
		return 0;
	}
	if (mode != MODE_DIRECT && seconds > 0)
		st = throughput(seconds, rate);
	printf("pps=%.0f sent=%lld delivered=%lld rtt_p50_us=%.1f rtt_p99_us=%.1f\n",
	       st.seconds > 0 ? (double)st.delivered / st.seconds : 0, st.sent, st.delivered, p50,
	       p99);
	return 0;
}
