/* SPDX-License-Identifier: MIT */
/*
 * The one-way timing of a wire, for bench/wire_timing.sh. Two halves, run in two hosts:
 *
 *   wire_timing recv PORT SECONDS   counts datagrams until SECONDS pass without one, and
 *                                   prints the loss and the one-way delays (ms)
 *   wire_timing send ADDR PORT COUNT INTERVAL_US
 *
 * Each datagram carries its sequence number and the sender's CLOCK_REALTIME just before
 * sendto; the receiver takes the kernel's receive timestamp (SO_TIMESTAMPNS), so neither
 * half's own scheduling on a busy machine is counted, only the path's (the namespaces
 * share one clock). The sender runs under SCHED_FIFO when it may, so that it is not
 * preempted between reading the clock and sending.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct probe {
	uint32_t seq;
	uint64_t sent_ns;
} __attribute__((packed));

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ULL + (uint64_t)t->tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double pct(const int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return n ? (double)v[i] / 1e6 : 0;
}

static int do_send(const char *addr, int port, long count, long interval_us)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sched_param sp = { .sched_priority = 10 };
	struct timespec next, now;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || inet_pton(AF_INET, addr, &to.sin_addr) != 1) {
		fprintf(stderr, "wire_timing: send: bad address %s or no socket\n", addr);
		return 2;
	}
	if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
		fprintf(stderr, "wire_timing: send: SCHED_FIFO: %s (timing less exact)\n",
		        strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < count; i++) {
		struct probe p = { .seq = (uint32_t)i };

		next.tv_nsec += interval_us * 1000;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_REALTIME, &now);
		p.sent_ns = ts_ns(&now);
		if (sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			fprintf(stderr, "wire_timing: sendto: %s\n", strerror(errno));
	}
	close(fd);
	return 0;
}

static int do_recv(int port, int idle_s, long expect)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, rcvbuf = 4 << 20;
	int64_t *d = calloc((size_t)expect, sizeof(*d));
	unsigned char *seen = calloc((size_t)expect, 1);
	size_t n = 0, dup = 0;

	if (fd < 0 || !d || !seen || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
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
		struct cmsghdr *c;
		uint64_t rx = 0;

		/* The first datagram may take long (ARP, the lab's start); then SECONDS idle ends
		 * it. */
		if (poll(&pfd, 1, n ? idle_s * 1000 : 60000) <= 0)
			break;
		if (recvmsg(fd, &m, 0) != (ssize_t)sizeof(p))
			continue;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
				rx = ts_ns((const struct timespec *)CMSG_DATA(c));
		if (p.seq >= (uint32_t)expect || !rx)
			continue;
		if (seen[p.seq]++) {
			dup++;
			continue;
		}
		d[n++] = (int64_t)(rx - p.sent_ns);
	}
	qsort(d, n, sizeof(*d), cmp_i64);
	printf("sent %ld received %zu duplicates %zu loss_pct %.3f p50_ms %.3f p99_ms %.3f "
	       "max_ms %.3f min_ms %.3f\n",
	       expect, n, dup, 100.0 * (double)(expect - (long)n) / (double)expect, pct(d, n, 0.5),
	       pct(d, n, 0.99), pct(d, n, 1.0), pct(d, n, 0.0));
	free(d);
	free(seen);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "recv") == 0)
		return do_recv(atoi(argv[2]), atoi(argv[3]), atol(argv[4]));
	if (argc == 6 && strcmp(argv[1], "send") == 0)
		return do_send(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]));
	fprintf(stderr, "usage: wire_timing recv PORT IDLE_SECONDS COUNT\n"
	                "       wire_timing send ADDR PORT COUNT INTERVAL_US\n");
	return 2;
}
