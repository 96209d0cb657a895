/* SPDX-License-Identifier: MIT */
/*
 * Relay benchmark client. Two clients A and B exchange 1200-byte packets through a
 * relay on loopback:
 *   natlab HOST:PORT  both are natlab-relay clients (TCP), A -> relay -> B
 *   turn HOST:PORT    A holds a TURN allocation (UDP, ChannelData), B is its peer:
 *                     A -> turnserver -> B and back, the same one relay hop each way
 *   natlab-tls HOST:PORT SECONDS CERT   the same over natlab-relay's TLS port (CERT pinned)
 *   turn-tls HOST:PORT SECONDS CERT     A's allocation over TLS (TURN over TLS, RFC 8656:
 *                     STUN and ChannelData framed on the stream), B plain UDP
 *   direct            A and B talk over UDP directly: the latency baseline
 *   idle HOST:PORT N PID  N authenticated idle natlab clients; prints relay RSS per client
 * Throughput: A sends as fast as the transport lets it for --seconds, B counts what
 * arrives (delivered pps); SECONDS 0 skips it. Latency: A sends one packet, B echoes it,
 * 5000 times (RTT).
 * Output: one line "key=value ..." for bench/relay_vs_coturn.sh to compare.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
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
#include <sys/socket.h>

#include "natlab/relay_proto.h"
#include "natlab/stun.h"
#include "natlab/tls.h"

#define PKT         1200
#define RTT_SAMPLES 5000

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
	uint8_t *plain;        /* TLS modes: one record's plaintext */
};

static enum mode mode;
static struct tls_ctx *tls_ctx; /* TLS modes: pins the relay's certificate */
static struct end A, B;
static struct sockaddr_in relay_addr, relayed; /* TURN: A's relayed address */
static volatile int sending;
static long long received;

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
 * TURN over a stream (TLS): the next STUN message or ChannelData (padded to 4 bytes on
 * streams, RFC 8656 section 12.5) from A into msg; returns its length (ChannelData: the
 * 4-byte header and data, padding dropped), or -1.
 */
static int turn_stream_recv(uint8_t *msg, size_t cap, int timeout_ms)
{
	size_t have = 0, want = 4;

	for (;;) {
		while (A.n && have < want) {
			size_t k = want - have < A.n ? want - have : A.n;

			if (have + k > cap)
				return -1;
			memcpy(msg + have, A.p, k);
			have += k;
			A.p += k;
			A.n -= k;
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
		if (stream_fill(&A, timeout_ms) < 0)
			return -1;
	}
}

/* TURN: one request/response on A's socket; returns the response length. */
static int turn_transact(uint8_t *msg, int len, uint8_t *resp, size_t cap)
{
	ssize_t n;
	struct pollfd pfd = { .fd = A.fd, .events = POLLIN };

	if (A.tls) {
		if (write_all(&A, msg, (size_t)len) < 0)
			return -1;
		return turn_stream_recv(resp, cap, 3000);
	}
	if (sendto(A.fd, msg, (size_t)len, 0, (struct sockaddr *)&relay_addr, sizeof(relay_addr)) <
	    0)
		return -1;
	if (poll(&pfd, 1, 3000) <= 0)
		return -1;
	n = recv(A.fd, resp, cap, 0);
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
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	return fd;
}

static int turn_setup(void)
{
	struct stun_writer w;
	uint8_t msg[512], resp[1500], txid[STUN_TXID_SIZE];
	struct sockaddr_in baddr;
	socklen_t blen = sizeof(baddr);
	int len;

	if (tls_ctx) {
		/* A's control and data go over TLS to the server; the relayed side stays UDP. */
		A.fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(A.fd, (struct sockaddr *)&relay_addr, sizeof(relay_addr)) < 0 ||
		    tls_start(&A) < 0) {
			fprintf(stderr, "relay_bench: TLS to turnserver failed\n");
			return -1;
		}
	} else {
		A.fd = udp_socket();
	}
	B.fd = udp_socket();
	getsockname(B.fd, (struct sockaddr *)&baddr, &blen);
	stun_txid_new(txid);
	stun_writer_init(&w, msg, sizeof(msg), 0x0003, txid); /* Allocate */
	stun_writer_add_u32(&w, 0x0019, 17u << 24);           /* REQUESTED-TRANSPORT UDP */
	len = stun_writer_finish(&w, true);
	len = turn_transact(msg, len, resp, sizeof(resp));
	if (len < 0 || turn_relayed(resp, len, &relayed) < 0) {
		fprintf(
		    stderr,
		    "relay_bench: TURN Allocate failed (is turnserver running with --no-auth?)\n");
		return -1;
	}
	stun_txid_new(txid);
	stun_writer_init(&w, msg, sizeof(msg), 0x0009, txid); /* ChannelBind */
	stun_writer_add_u32(&w, 0x000C, 0x4000u << 16);
	stun_writer_add_addr(&w, 0x0012, (struct sockaddr *)&baddr, true); /* XOR-PEER-ADDRESS */
	len = stun_writer_finish(&w, true);
	len = turn_transact(msg, len, resp, sizeof(resp));
	if (len < 0 || ((resp[0] << 8) | resp[1]) != 0x0109) {
		fprintf(stderr,
		        "relay_bench: TURN ChannelBind failed (needs --allow-loopback-peers)\n");
		return -1;
	}
	A.to = relay_addr;
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
		if (e == &A) {
			out[0] = 0x40, out[1] = 0x00, out[2] = PKT >> 8, out[3] = PKT & 0xff;
			memcpy(out + 4, data, PKT);
			/* PKT is a multiple of 4: no stream padding. */
			if (e->tls)
				return write_all(e, out, PKT + 4);
			return sendto(e->fd, out, PKT + 4, 0, (struct sockaddr *)&e->to,
			              sizeof(e->to)) < 0
			           ? -1
			           : 0;
		}
		/* B, the TURN peer, sends plain UDP */
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
	if (mode == MODE_TURN && e->tls) {
		do {
			n = turn_stream_recv(in, sizeof(in), timeout_ms);
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

static double throughput(double seconds)
{
	uint8_t data[PKT] = { 0 };
	long long t0, t_end, t_last;
	pthread_t th;
	long long sent = 0;

	sending = 1;
	received = 0;
	pthread_create(&th, NULL, receiver_main, NULL);
	t0 = now_ns();
	t_end = t0 + (long long)(seconds * 1e9);
	while ((t_last = now_ns()) < t_end) {
		memcpy(data, &sent, sizeof(sent));
		if (send_pkt(&A, data) < 0 && mode == MODE_NATLAB)
			break;
		sent++;
	}
	sending = 0;
	pthread_join(th, NULL);
	fprintf(stderr, "relay_bench: sent %lld, delivered %lld\n", sent, received);
	return (double)received / ((double)(t_last - t0) / 1e9);
}

static void *echo_main(void *arg)
{
	uint8_t data[PKT];
	int i;

	for (i = 0; i < RTT_SAMPLES; i++) {
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

static int latency(double *p50_us, double *p99_us)
{
	static long long rtt[RTT_SAMPLES];
	uint8_t data[PKT] = { 0 }, back[PKT];
	pthread_t th;
	int i, n = 0;

	pthread_create(&th, NULL, echo_main, NULL);
	for (i = 0; i < RTT_SAMPLES; i++) {
		long long t = now_ns();

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
	pthread_join(th, NULL);
	if (n < RTT_SAMPLES / 2)
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

static int idle(int count, int pid)
{
	struct end *ends = calloc((size_t)count, sizeof(*ends));
	long before, after;
	int i;

	if (!ends)
		die("calloc");
	before = rss_kib(pid);
	for (i = 0; i < count; i++) {
		if (nl_connect(&ends[i]) < 0) {
			fprintf(stderr, "relay_bench: idle client %d failed to connect\n", i);
			return 1;
		}
	}
	usleep(500000);
	after = rss_kib(pid);
	printf("idle_clients=%d rss_before_kib=%ld rss_after_kib=%ld bytes_per_client=%.0f\n",
	       count, before, after, (after - before) * 1024.0 / count);
	for (i = 0; i < count; i++)
		close(ends[i].fd);
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

int main(int argc, char **argv)
{
	double seconds = 3, pps, p50, p99;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: relay_bench natlab|turn HOST:PORT [SECONDS]\n"
		                "       relay_bench natlab-tls|turn-tls HOST:PORT SECONDS CERT\n"
		                "       relay_bench direct\n"
		                "       relay_bench idle HOST:PORT COUNT RELAY_PID\n");
		return argc < 2 ? 2 : 0;
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
		if (!strcmp(argv[1], "idle"))
			return idle(argc > 3 ? atoi(argv[3]) : 10000, argc > 4 ? atoi(argv[4]) : 0);
		mode = !strncmp(argv[1], "turn", 4) ? MODE_TURN : MODE_NATLAB;
		if (argc > 3)
			seconds = atof(argv[3]);
		if (strstr(argv[1], "-tls")) {
			uint8_t fp[TLS_FP_LEN];
			char pin[TLS_FP_TEXT_LEN + 1], err[TLS_ERR_MAX];
			struct tls_config cfg = { .role = TLS_ROLE_CLIENT, .pin = pin };

			if (argc < 5 || tls_cert_fp(argv[4], fp, err, sizeof(err)) < 0) {
				fprintf(stderr,
				        "relay_bench: %s needs the server's certificate: %s\n",
				        argv[1], argc < 5 ? "missing" : err);
				return 2;
			}
			tls_fp_format(fp, pin);
			if (tls_ctx_new(&tls_ctx, &cfg, err, sizeof(err)) < 0) {
				fprintf(stderr, "relay_bench: %s\n", err);
				return 2;
			}
		}
		rc = mode == MODE_TURN ? turn_setup() : (nl_connect(&A) || nl_connect(&B));
		if (rc) {
			fprintf(stderr, "relay_bench: setup failed\n");
			return 1;
		}
	}
	if (latency(&p50, &p99) < 0) {
		fprintf(stderr, "relay_bench: latency phase lost too many packets\n");
		return 1;
	}
	pps = mode == MODE_DIRECT || seconds <= 0 ? 0 : throughput(seconds);
	printf("pps=%.0f rtt_p50_us=%.1f rtt_p99_us=%.1f\n", pps, p50, p99);
	return 0;
}
