/* SPDX-License-Identifier: MIT */
/*
 * The one-way timing of a wire, for bench/wire_timing.sh. Three steps:
 *
 *   wire_timing recv PORT SECONDS COUNT RECVLOG
 *       counts datagrams until SECONDS pass without one; logs each one's kernel receive
 *       timestamp (SO_TIMESTAMPNS) by sequence number
 *   wire_timing send ADDR PORT COUNT INTERVAL_US SENDLOG
 *       sends COUNT datagrams, one every INTERVAL_US; logs, for each, the clock read just
 *       before sendto and the kernel's transmit timestamp (SO_TIMESTAMPING, software: taken
 *       as the frame enters the wire's TAP device)
 *   wire_timing report DELAY_MS SENDLOG RECVLOG [TRACE PORT]
 *       prints the loss and the one-way delays; with a wire trace (NATLAB_WIRE_TRACE,
 *       natlab/wire_trace.h), where each frame's time went
 *
 * The delay is the kernel's receive timestamp minus the kernel's transmit timestamp, so
 * neither half's own scheduling on a busy machine is counted, only the path's (the
 * namespaces share one clock). Before the COUNT datagrams, the sender sends one warm-up
 * datagram and waits, so that ARP is resolved (its two crossings of the wire would hold
 * the first 40 datagrams in the neighbour queue: not the wire's timing).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "natlab/wire_trace.h"

#define WARMUP_SEQ 0xffffffffu

struct probe {
	uint32_t seq;
	uint64_t sent_ns;
} __attribute__((packed));

/* One datagram's times (CLOCK_REALTIME ns; 0 = not known). */
struct sent {
	uint64_t user_ns, ktx_ns;
};

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ULL + (uint64_t)t->tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The p-quantile of v[0..n) (sorted here), in ms. */
static double pct(int64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	return (double)v[(size_t)(p * (double)(n - 1) + 0.5)] / 1e6;
}

static int log_write(const char *path, const void *v, size_t size)
{
	FILE *f = fopen(path, "w");
	int ok = f && fwrite(v, 1, size, f) == size;

	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "wire_timing: %s: %s\n", path, strerror(errno));
	return ok ? 0 : 2;
}

/* Reads a whole file; *size gets its length. NULL (said) if it cannot. */
static void *log_read(const char *path, size_t *size)
{
	FILE *f = fopen(path, "r");
	char *v = NULL;
	long len;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0 ||
	    !(v = malloc((size_t)len + 1)) || fread(v, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "wire_timing: %s: %s\n", path, errno ? strerror(errno) : "short");
		free(v);
		v = NULL;
	}
	if (f)
		fclose(f);
	*size = v ? (size_t)len : 0;
	return v;
}

/* The kernel's transmit timestamps waiting on fd's error queue, by send index. */
static void drain_tx_stamps(int fd, struct sent *s, long count)
{
	for (;;) {
		char ctl[512];
		struct msghdr m = { .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		struct scm_timestamping *tss = NULL;
		struct sock_extended_err *ee = NULL;

		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING)
				tss = (struct scm_timestamping *)CMSG_DATA(c);
			else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR)
				ee = (struct sock_extended_err *)CMSG_DATA(c);
		}
		/* OPT_ID counts sends from 0: the warm-up is 0, datagram i is i + 1. */
		if (tss && ee && ee->ee_origin == SO_EE_ORIGIN_TIMESTAMPING && ee->ee_data >= 1 &&
		    ee->ee_data <= (uint32_t)count)
			s[ee->ee_data - 1].ktx_ns = ts_ns(&tss->ts[0]);
	}
}

static int do_send(const char *addr, int port, long count, long interval_us, const char *out)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sched_param sp = { .sched_priority = 10 };
	int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
	            SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
	struct sent *s = calloc((size_t)count, sizeof(*s));
	struct timespec next, now;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;
	struct probe p = { .seq = WARMUP_SEQ };

	if (fd < 0 || !s || inet_pton(AF_INET, addr, &to.sin_addr) != 1 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)) < 0) {
		fprintf(stderr, "wire_timing: send: bad address %s, no socket or no timestamps\n",
		        addr);
		return 2;
	}
	if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
		fprintf(stderr, "wire_timing: send: SCHED_FIFO: %s (timing less exact)\n",
		        strerror(errno));
	sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to));
	usleep(300000);
	drain_tx_stamps(fd, s, count);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < count; i++) {
		next.tv_nsec += interval_us * 1000;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_REALTIME, &now);
		p.seq = (uint32_t)i;
		p.sent_ns = s[i].user_ns = ts_ns(&now);
		if (sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			fprintf(stderr, "wire_timing: sendto: %s\n", strerror(errno));
		drain_tx_stamps(fd, s, count);
	}
	usleep(10000);
	drain_tx_stamps(fd, s, count);
	close(fd);
	rc = log_write(out, s, (size_t)count * sizeof(*s));
	free(s);
	return rc;
}

static int do_recv(int port, int idle_s, long expect, const char *out)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, rcvbuf = 4 << 20, rc;
	uint64_t *rx = calloc((size_t)expect, sizeof(*rx));
	size_t n = 0;

	if (fd < 0 || !rx || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) {
		fprintf(stderr, "wire_timing: recv: %s\n", strerror(errno));
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char ctl[CMSG_SPACE(sizeof(struct timespec))];
		struct probe p;
		struct iovec iov = { .iov_base = &p, .iov_len = sizeof(p) };
		struct msghdr m = { .msg_iov = &iov,
			            .msg_iovlen = 1,
			            .msg_control = ctl,
			            .msg_controllen = sizeof(ctl) };
		uint64_t t = 0;

		/* The first datagram may take long (the lab's start); then SECONDS idle ends it. */
		if (poll(&pfd, 1, n ? idle_s * 1000 : 60000) <= 0)
			break;
		if (recvmsg(fd, &m, 0) != (ssize_t)sizeof(p))
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
				t = ts_ns((const struct timespec *)CMSG_DATA(c));
		n++;
		/* A duplicate keeps the first copy's time. */
		if (p.seq < (uint32_t)expect && t && !rx[p.seq])
			rx[p.seq] = t;
	}
	close(fd);
	rc = log_write(out, rx, (size_t)expect * sizeof(*rx));
	free(rx);
	return rc;
}

/* The wire trace's record of datagram seq, matched by UDP destination port. */
struct traced {
	uint64_t read_ns, due_ns, woke_ns, write_ns; /* CLOCK_REALTIME */
};

static void trace_index(const char *buf, size_t size, int port, struct traced *t, long count)
{
	const struct wire_trace_header *h = (const void *)buf;
	const struct wire_trace_rec *r = (const void *)(buf + sizeof(*h));
	size_t n = (size_t)(size - sizeof(*h)) / sizeof(*r);
	uint64_t off = (uint64_t)h->realtime_minus_mono_ns;

	for (size_t i = 0; i < n; i++) {
		const unsigned char *f = r[i].head;
		const struct iphdr *ip = (const void *)(f + 14);
		const struct udphdr *udp;
		struct probe p;
		size_t at;

		if (r[i].len < 14 || f[12] != 0x08 || f[13] != 0x00 || ip->protocol != IPPROTO_UDP)
			continue;
		at = 14 + (size_t)ip->ihl * 4;
		if (at + sizeof(*udp) + sizeof(p.seq) > WIRE_TRACE_HEAD)
			continue;
		udp = (const void *)(f + at);
		if (ntohs(udp->dest) != port)
			continue;
		memcpy(&p.seq, f + at + sizeof(*udp), sizeof(p.seq));
		if (p.seq >= (uint32_t)count || t[p.seq].write_ns)
			continue;
		t[p.seq] = (struct traced){ r[i].read_ns + off, r[i].due_ns + off,
			                    r[i].woke_ns + off, r[i].write_ns + off };
	}
}

/* One line of the breakdown: component name, then p50, p99 and max over v[0..n) in ms. */
static void row(const char *name, int64_t *v, size_t n, double late_ms)
{
	printf("  %-38s p50 %7.3f  p99 %7.3f  max %8.3f  late-frame mean %7.3f\n", name,
	       pct(v, n, 0.5), pct(v, n, 0.99), pct(v, n, 1.0), late_ms);
}

enum part { P_CLIENT, P_INGRESS, P_HELD, P_WAKE, P_LOOP, P_EGRESS, P_N };

static const char *const part_name[P_N] = {
	"client: clock read -> kernel tx",      "ingress: kernel tx -> wire read",
	"held: read -> due, minus delay",       "wake-up: due -> timer callback",
	"loop: callback -> this frame's write", "egress: write -> kernel rx at b",
};

static int do_report(double delay_ms, const char *sendlog, const char *recvlog,
                     const char *tracelog, int port)
{
	size_t ssize, rsize, tsize = 0;
	struct sent *s = log_read(sendlog, &ssize);
	uint64_t *rx = log_read(recvlog, &rsize);
	char *tbuf = tracelog ? log_read(tracelog, &tsize) : NULL;
	long count = (long)(ssize / sizeof(*s));
	int64_t *d = calloc((size_t)count + 1, sizeof(*d)), *dk = calloc((size_t)count + 1, 8);
	int64_t *part[P_N] = { 0 };
	double late_sum[P_N] = { 0 };
	struct traced *t = calloc((size_t)count + 1, sizeof(*t));
	size_t n = 0, nk = 0, np = 0, nlate = 0, noktx = 0;
	int64_t delay_ns = (int64_t)(delay_ms * 1e6);

	if (!s || !rx || !d || !dk || !t || rsize / sizeof(*rx) != (size_t)count ||
	    (tracelog && (!tbuf || tsize < sizeof(struct wire_trace_header)))) {
		fprintf(stderr, "wire_timing: report: logs missing or of different counts\n");
		return 2;
	}
	for (int k = 0; k < P_N; k++)
		part[k] = calloc((size_t)count + 1, sizeof(int64_t));
	if (tbuf)
		trace_index(tbuf, tsize, port, t, count);
	for (long i = 0; i < count; i++) {
		int64_t v[P_N];

		if (!rx[i])
			continue;
		d[n++] = (int64_t)(rx[i] - s[i].user_ns);
		if (!s[i].ktx_ns) {
			noktx++;
			continue;
		}
		dk[nk++] = (int64_t)(rx[i] - s[i].ktx_ns);
		if (!t[i].write_ns)
			continue;
		v[P_CLIENT] = (int64_t)(s[i].ktx_ns - s[i].user_ns);
		v[P_INGRESS] = (int64_t)(t[i].read_ns - s[i].ktx_ns);
		v[P_HELD] = (int64_t)(t[i].due_ns - t[i].read_ns) - delay_ns;
		v[P_WAKE] = (int64_t)(t[i].woke_ns - t[i].due_ns);
		v[P_LOOP] = (int64_t)(t[i].write_ns - t[i].woke_ns);
		v[P_EGRESS] = (int64_t)(rx[i] - t[i].write_ns);
		/* A late frame: more than 1 ms over the delay (issue 18's p99 bound). */
		if ((int64_t)(rx[i] - s[i].ktx_ns) - delay_ns > 1000000) {
			nlate++;
			for (int k = 0; k < P_N; k++)
				late_sum[k] += (double)v[k] / 1e6;
		}
		for (int k = 0; k < P_N; k++)
			part[k][np] = v[k];
		np++;
	}
	/* The headline: kernel tx to kernel rx; the clock read before sendto as a check. */
	printf("sent %ld received %zu loss_pct %.3f p50_ms %.3f p99_ms %.3f max_ms %.3f "
	       "min_ms %.3f user_p50_ms %.3f user_p99_ms %.3f no_ktx %zu\n",
	       count, n, 100.0 * (double)(count - (long)n) / (double)count, pct(dk, nk, 0.5),
	       pct(dk, nk, 0.99), pct(dk, nk, 1.0), pct(dk, nk, 0.0), pct(d, n, 0.5),
	       pct(d, n, 0.99), noktx);
	if (tbuf) {
		printf("  where the time went, %zu traced frames, %zu more than 1 ms late (ms):\n",
		       np, nlate);
		for (int k = 0; k < P_N; k++)
			row(part_name[k], part[k], np, nlate ? late_sum[k] / (double)nlate : 0);
	}
	for (int k = 0; k < P_N; k++)
		free(part[k]);
	free(s);
	free(rx);
	free(tbuf);
	free(d);
	free(dk);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "recv") == 0)
		return do_recv(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), argv[5]);
	if (argc == 7 && strcmp(argv[1], "send") == 0)
		return do_send(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]), argv[6]);
	if ((argc == 5 || argc == 7) && strcmp(argv[1], "report") == 0)
		return do_report(atof(argv[2]), argv[3], argv[4], argc == 7 ? argv[5] : NULL,
		                 argc == 7 ? atoi(argv[6]) : 0);
	fprintf(stderr, "usage: wire_timing recv PORT IDLE_SECONDS COUNT RECVLOG\n"
	                "       wire_timing send ADDR PORT COUNT INTERVAL_US SENDLOG\n"
	                "       wire_timing report DELAY_MS SENDLOG RECVLOG [TRACE PORT]\n");
	return 2;
}
