/* SPDX-License-Identifier: MIT */
/*
 * Measures what an IPv6 firewall lets in, for lab_ipv6: a server on a public host with
 * two IPv6 addresses A and B, a client on a host behind the firewall.
 *
 *   fw6_probe server A B SECS   serves for SECS seconds
 *   fw6_probe client A B PORT   prints two lines:
 *     udp reply=0|1 port=0|1 addr=0|1 unsolicited=0|1 filtering=WORD
 *     tcp reply=0|1 port=0|1 addr=0|1 unsolicited=0|1 filtering=WORD
 *
 * UDP: the client sends from PORT to A:3478; the server answers from A:3478 (reply), from
 * A:3479 (port: another port of the address the client sent to), from B:3478 (addr:
 * another address) and from A:3479 to PORT + 1, where the client never sent from
 * (unsolicited). TCP: the client listens on PORT + 2 and connects from it to A:443; the
 * server, once it accepted, dials the client's PORT + 2 from A:444 (port) and B:444
 * (addr), and PORT + 3, where the client listens without having sent (unsolicited).
 * filtering is the word this adds up to: address-and-port-dependent (replies only),
 * address-dependent (+port), endpoint-independent (+addr), open (+unsolicited), or
 * "blocked" when not even the reply came; "inconsistent" for anything else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UDP_P   3478
#define UDP_Q   3479
#define TCP_P   443
#define TCP_Q   444
#define MAXFD   256
#define WAIT_MS 1500

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in6 sa6(const char *addr, int port)
{
	struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };

	if (addr && inet_pton(AF_INET6, addr, &s.sin6_addr) != 1) {
		fprintf(stderr, "fw6_probe: \"%s\" is not an IPv6 address\n", addr);
		exit(2);
	}
	return s;
}

/* A socket of type bound to addr:port (NULL: any), reusable, optionally non-blocking. */
static int sock_bound(int type, const char *addr, int port, int nonblock)
{
	struct sockaddr_in6 s = sa6(addr, port);
	int one = 1, fd = socket(AF_INET6, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0) {
		fprintf(stderr, "fw6_probe: bind [%s]:%d: %s\n", addr ? addr : "::", port,
		        strerror(errno));
		exit(2);
	}
	return fd;
}

static void send_from(const char *addr, int port, const struct sockaddr_in6 *to, const char *msg)
{
	int fd = sock_bound(SOCK_DGRAM, addr, port, 0);

	sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)to, sizeof(*to));
	close(fd);
}

/* Starts a connection from addr:port to `to`; the socket is left to time out in fds. */
static void dial_from(const char *addr, int port, const struct sockaddr_in6 *to, int *fds, int *n)
{
	int fd = sock_bound(SOCK_STREAM, addr, port, 1);

	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return;
	}
	if (*n < MAXFD)
		fds[(*n)++] = fd;
	else
		close(fd);
}

static int serve(const char *a, const char *b, int secs)
{
	int u = sock_bound(SOCK_DGRAM, a, UDP_P, 0), l = sock_bound(SOCK_STREAM, a, TCP_P, 0);
	int dials[MAXFD], ndials = 0;
	double end = now() + secs;

	if (listen(l, 16) < 0)
		return 2;
	printf("serving\n");
	fflush(stdout);
	while (now() < end) {
		struct pollfd p[2] = { { .fd = u, .events = POLLIN },
			               { .fd = l, .events = POLLIN } };
		struct sockaddr_in6 from;
		socklen_t fl = sizeof(from);
		char buf[64];

		if (poll(p, 2, 200) <= 0)
			continue;
		if (p[0].revents & POLLIN &&
		    recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) > 0) {
			struct sockaddr_in6 next = from;

			sendto(u, "reply", 5, 0, (struct sockaddr *)&from, fl);
			send_from(a, UDP_Q, &from, "port");
			send_from(b, UDP_P, &from, "addr");
			next.sin6_port = htons((uint16_t)(ntohs(from.sin6_port) + 1));
			send_from(a, UDP_Q, &next, "unsolicited");
		}
		if (p[1].revents & POLLIN) {
			int c = accept(l, (struct sockaddr *)&from, &fl);
			struct sockaddr_in6 next = from;

			if (c < 0)
				continue;
			if (write(c, "reply", 5) < 0)
				perror("fw6_probe: write");
			if (ndials + 3 > MAXFD) {
				while (ndials)
					close(dials[--ndials]);
			}
			dials[ndials++] = c;
			dial_from(a, TCP_Q, &from, dials, &ndials);
			dial_from(b, TCP_Q, &from, dials, &ndials);
			next.sin6_port = htons((uint16_t)(ntohs(from.sin6_port) + 1));
			dial_from(a, TCP_Q + 1, &next, dials, &ndials);
		}
	}
	return 0;
}

static const char *verdict(int reply, int port, int addr, int unsol)
{
	if (!reply)
		return "blocked";
	if (unsol)
		return port && addr ? "open" : "inconsistent";
	if (addr)
		return port ? "endpoint-independent" : "inconsistent";
	return port ? "address-dependent" : "address-and-port-dependent";
}

/* Which of A:p, A:q, B:p a source is: 0 reply, 1 port, 2 addr, -1 none of them. */
static int which(const struct sockaddr_in6 *s, const struct in6_addr *a, const struct in6_addr *b,
                 int p, int q)
{
	int port = ntohs(s->sin6_port);

	if (!memcmp(&s->sin6_addr, a, sizeof(*a)))
		return port == p ? 0 : port == q ? 1 : -1;
	return !memcmp(&s->sin6_addr, b, sizeof(*b)) && port == p ? 2 : -1;
}

static int client(const char *a, const char *b, int port)
{
	struct sockaddr_in6 sa = sa6(a, UDP_P), sb = sa6(b, UDP_P), ta = sa6(a, TCP_P);
	int u = sock_bound(SOCK_DGRAM, NULL, port, 0),
	    u2 = sock_bound(SOCK_DGRAM, NULL, port + 1, 0);
	int l = sock_bound(SOCK_STREAM, NULL, port + 2, 0),
	    l2 = sock_bound(SOCK_STREAM, NULL, port + 3, 0);
	int t = sock_bound(SOCK_STREAM, NULL, port + 2, 1);
	int got[2][4] = { { 0 } };
	double end;

	if (listen(l, 8) < 0 || listen(l2, 8) < 0)
		return 2;
	if (connect(t, (struct sockaddr *)&ta, sizeof(ta)) < 0 && errno != EINPROGRESS)
		return 2;
	sendto(u, "probe", 5, 0, (struct sockaddr *)&sa, sizeof(sa));
	end = now() + WAIT_MS / 1000.0;
	while (now() < end) {
		struct pollfd p[5] = { { .fd = u, .events = POLLIN },
			               { .fd = u2, .events = POLLIN },
			               { .fd = l, .events = POLLIN },
			               { .fd = l2, .events = POLLIN },
			               { .fd = t, .events = POLLIN } };
		struct sockaddr_in6 from;
		socklen_t fl = sizeof(from);
		char buf[64];
		int w, c;

		if (poll(p, 5, 100) <= 0)
			continue;
		if (p[0].revents & POLLIN &&
		    recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) > 0 &&
		    (w = which(&from, &sa.sin6_addr, &sb.sin6_addr, UDP_P, UDP_Q)) >= 0)
			got[0][w] = 1;
		if (p[1].revents & POLLIN && recv(u2, buf, sizeof(buf), 0) > 0)
			got[0][3] = 1;
		if (p[2].revents & POLLIN && (c = accept(l, (struct sockaddr *)&from, &fl)) >= 0) {
			if ((w = which(&from, &sa.sin6_addr, &sb.sin6_addr, TCP_Q, -1)) == 0)
				got[1][1] = 1;
			else if (w == 2)
				got[1][2] = 1;
			close(c);
		}
		if (p[3].revents & POLLIN && (c = accept(l2, NULL, NULL)) >= 0) {
			got[1][3] = 1;
			close(c);
		}
		if (p[4].revents & POLLIN && read(t, buf, sizeof(buf)) > 0)
			got[1][0] = 1;
	}
	for (int k = 0; k < 2; k++)
		printf("%s reply=%d port=%d addr=%d unsolicited=%d filtering=%s\n",
		       k ? "tcp" : "udp", got[k][0], got[k][1], got[k][2], got[k][3],
		       verdict(got[k][0], got[k][1], got[k][2], got[k][3]));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "server") == 0)
		return serve(argv[2], argv[3], atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "client") == 0)
		return client(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: fw6_probe server A B SECS | fw6_probe client A B PORT\n");
	return 2;
}
