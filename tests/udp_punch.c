/* SPDX-License-Identifier: MIT */
/*
 * Test tool for reachability across NATs, run inside lab hosts:
 *   udp_punch stun LOCALPORT SERVER:PORT     prints the mapped address ("a.b.c.d:port")
 *   udp_punch punch LOCALPORT PEER:PORT SECS  sends to PEER (and to whoever it hears from,
 *                                              as ICE does with peer-reflexive candidates)
 *                                              every 20 ms; exits 0 if the peer's packets
 *                                              arrived, 1 if none did
 *   udp_punch listen LOCALPORT SECS           only receives; exits 0 if a punch arrived
 *   udp_punch answer PORT TEXT SECS           answers every datagram with TEXT at once
 *                                              (a gateway speaking garbage: no process
 *                                              forked per datagram, so it is never late)
 *   udp_punch tcp-listen PORT SECS            accepts one TCP connection, prints the
 *                                              peer's address; exits 1 if none came
 *   udp_punch tcp-connect ADDR:PORT SECS      exits 0 if the connection is established,
 *                                              1 if refused (a RST or an ICMP error; prints
 *                                              "refused after S s"), 3 if it timed out
 * Both ends of a pair run `punch` at the same time; the pair is reachable both ways when
 * both exit 0.
 */
#include "natlab/addr.h"
#include "natlab/stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* An IPv4 ADDR:PORT (the one address parser, proto/addr.c). */
static int parse_endpoint(const char *s, struct sockaddr_in *sin)
{
	struct sockaddr_storage ss;

	if (addr_parse(s, &ss, ADDR_PORT_REQUIRED) < 0 || ss.ss_family != AF_INET)
		return -1;
	memcpy(sin, &ss, sizeof(*sin));
	return 0;
}

static int bound_socket(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("udp_punch: bind");
		exit(2);
	}
	return fd;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_stun(int fd, const struct sockaddr_in *server)
{
	uint8_t txid[STUN_TXID_SIZE], buf[STUN_MAX_MESSAGE];
	struct stun_msg msg;
	char addr[INET_ADDRSTRLEN];

	stun_txid_new(txid);
	/* 16 tries, 250 ms apart: a NAT may drop first packets on purpose (EIM port clash). */
	for (int attempt = 0; attempt < 16; attempt++) {
		int n = stun_binding_request_encode(buf, sizeof(buf), txid, 0, true);
		struct pollfd p = { .fd = fd, .events = POLLIN };

		sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)server, sizeof(*server));
		if (poll(&p, 1, 250) <= 0)
			continue;
		n = (int)recv(fd, buf, sizeof(buf), 0);
		if (n > 0 && stun_msg_decode(buf, (size_t)n, &msg) == 0 &&
		    memcmp(msg.txid, txid, sizeof(txid)) == 0 &&
		    (msg.present & STUN_HAS_XOR_MAPPED)) {
			struct sockaddr_in *m = (struct sockaddr_in *)&msg.xor_mapped;

			inet_ntop(AF_INET, &m->sin_addr, addr, sizeof(addr));
			printf("%s:%u\n", addr, ntohs(m->sin_port));
			return 0;
		}
	}
	fprintf(stderr, "udp_punch: no STUN answer\n");
	return 1;
}

static int do_punch(int fd, const struct sockaddr_in *peer, double secs)
{
	struct sockaddr_in heard = { 0 };
	double end = now() + secs, next = 0;
	int received = 0;
	char addr[INET_ADDRSTRLEN];

	while (now() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (now() >= next) {
			sendto(fd, "punch", 5, 0, (const struct sockaddr *)peer, sizeof(*peer));
			if (heard.sin_family)
				sendto(fd, "punch", 5, 0, (struct sockaddr *)&heard, sizeof(heard));
			next = now() + 0.02;
		}
		if (poll(&p, 1, 20) > 0) {
			struct sockaddr_in from;
			socklen_t len = sizeof(from);
			char buf[64];

			if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len) ==
			        5 &&
			    memcmp(buf, "punch", 5) == 0) {
				heard = from;
				received++;
			}
		}
	}
	if (received) {
		inet_ntop(AF_INET, &heard.sin_addr, addr, sizeof(addr));
		printf("received %d from %s:%u\n", received, addr, ntohs(heard.sin_port));
	} else {
		printf("received 0\n");
	}
	return received ? 0 : 1;
}

static int do_listen(int fd, double secs)
{
	double end = now() + secs;
	int received = 0;

	while (now() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[64];

		if (poll(&p, 1, 20) > 0 && recv(fd, buf, sizeof(buf), 0) == 5 &&
		    memcmp(buf, "punch", 5) == 0)
			received++;
	}
	printf("received %d\n", received);
	return received ? 0 : 1;
}

static int do_answer(int fd, const char *text, double secs)
{
	double end = now() + secs;
	int answered = 0;

	while (now() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_in from;
		socklen_t len = sizeof(from);
		char buf[1500];

		if (poll(&p, 1, 100) > 0 &&
		    recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len) >= 0 &&
		    sendto(fd, text, strlen(text), 0, (struct sockaddr *)&from, len) >= 0)
			answered++;
	}
	printf("answered %d\n", answered);
	return 0;
}

static int do_tcp_listen(int port, int secs)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd p = { .events = POLLIN };
	socklen_t len = sizeof(sin);
	char addr[INET_ADDRSTRLEN];
	int one = 1, c;

	p.fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(p.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(p.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(p.fd, 1) < 0) {
		perror("udp_punch: tcp listen");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	if (poll(&p, 1, secs * 1000) <= 0 ||
	    (c = accept(p.fd, (struct sockaddr *)&sin, &len)) < 0) {
		printf("no connection\n");
		return 1;
	}
	inet_ntop(AF_INET, &sin.sin_addr, addr, sizeof(addr));
	printf("connection from %s\n", addr);
	close(c);
	return 0;
}

static int do_tcp_connect(const struct sockaddr_in *to, int secs)
{
	struct pollfd p = { .events = POLLOUT };
	double start = now();
	int err = 0;
	socklen_t len = sizeof(err);

	p.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (connect(p.fd, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != EINPROGRESS)
		err = errno;
	else if (poll(&p, 1, secs * 1000) <= 0) {
		printf("timeout after %.2f s\n", now() - start);
		return 3;
	} else {
		getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
	}
	if (err) {
		printf("%s after %.2f s\n", err == ECONNREFUSED ? "refused" : strerror(err),
		       now() - start);
		return 1;
	}
	printf("connected after %.2f s\n", now() - start);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in target;

	if (argc == 4 && strcmp(argv[1], "listen") == 0)
		return do_listen(bound_socket(atoi(argv[2])), atof(argv[3]));
	if (argc == 5 && strcmp(argv[1], "answer") == 0)
		return do_answer(bound_socket(atoi(argv[2])), argv[3], atof(argv[4]));
	if (argc == 4 && strcmp(argv[1], "tcp-listen") == 0)
		return do_tcp_listen(atoi(argv[2]), atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "tcp-connect") == 0)
		return parse_endpoint(argv[2], &target) < 0
		           ? 2
		           : do_tcp_connect(&target, atoi(argv[3]));
	if (argc < 4 || parse_endpoint(argv[3], &target) < 0) {
		fprintf(stderr, "usage: udp_punch stun LOCALPORT SERVER:PORT\n"
		                "       udp_punch punch LOCALPORT PEER:PORT SECONDS\n"
		                "       udp_punch listen LOCALPORT SECONDS\n"
		                "       udp_punch answer PORT TEXT SECONDS\n"
		                "       udp_punch tcp-listen PORT SECONDS\n"
		                "       udp_punch tcp-connect ADDR:PORT SECONDS\n");
		return 2;
	}
	if (strcmp(argv[1], "stun") == 0)
		return do_stun(bound_socket(atoi(argv[2])), &target);
	if (strcmp(argv[1], "punch") == 0 && argc == 5)
		return do_punch(bound_socket(atoi(argv[2])), &target, atof(argv[4]));
	fprintf(stderr, "udp_punch: unknown mode \"%s\"\n", argv[1]);
	return 2;
}
