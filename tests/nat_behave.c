/* SPDX-License-Identifier: MIT */
/*
 * Measures what a NAT does to UDP and TCP, for lab_nat_combinations: a server on a
 * public host with two addresses A and B, a client on a host behind the NAT.
 *
 *   nat_behave server A B SECS   serves for SECS seconds
 *   nat_behave client A B PORT   prints two lines, from local port PORT (and PORT + 1):
 *     udp m1=ADDR m2=ADDR m3=ADDR port=0|1 addr=0|1 hairpin=0|1 m4=ADDR (or "udp blocked")
 *     tcp m1=... m2=... m3=... port=0|1 addr=0|1 hairpin=0|1 probe_port=R probe_addr=R m4=...
 *
 * m1 is the mapping seen by A:3478 (UDP) or A:443 (TCP), m2 by B on the same port, m3
 * by B on another (3479, 80), m4 by A on that other port, asked last: equal for
 * endpoint-independent mapping (three of them equal by chance, random ports in a
 * 64-port block, 1 in 4096; four, 1 in 262144). Right after m1,
 * the server sends to it from A on another port (port=1 if that arrived) and from B
 * (addr=1), over UDP from port 3480 of each, which no mapping check asks:
 * endpoint-independent filtering lets both in, address-dependent the first.
 * For TCP these are SYNs from A:444 and B:444 to m1, and R says what the server's
 * connect() saw: connected, refused (a RST or ICMP error came back) or timeout (the
 * NAT dropped the SYN silently). hairpin=1 if PORT + 1 reached PORT through m1. TCP
 * uses ports 443 and 80 so that a web-only firewall lets it out.
 *
 *   nat_behave map PORT SERVER:PORT         asks the server, over TCP from PORT, for the
 *                                            mapping and prints it
 *   nat_behave punch PORT PEER:PORT SECS    TCP simultaneous open from PORT, which also
 *                                            listens (a SYN through a NAT that filters by
 *                                            address only arrives as a new connection);
 *                                            dials again 100 ms after each failure; exits
 *                                            0 once a connection carried "punch" both
 *                                            ways, 1 if none did
 */
#include "natlab/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UDP_P 3478
#define UDP_Q 3479
/*
 * The unsolicited packets of the filtering checks come from A and B on this port, which
 * no mapping check asks: an endpoint-independent filter lets them in, and the session
 * each opens would carry a later request to its sender through the same mapping (as on
 * a real NAT), so a mapping check asking A:3479 and B:3479 saw m1 there whatever the
 * mapping was.
 */
#define UDP_R     3480
#define TCP_P     443
#define TCP_Q     80
#define TCP_PROBE 444
#define SLOTS     1024

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in endpoint(const char *addr, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "nat_behave: bad address %s\n", addr);
		exit(2);
	}
	return sin;
}

/* An IPv4 "a.b.c.d:port" (the one address parser, proto/addr.c); exits if it is not. */
static struct sockaddr_in parse(const char *s)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;

	if (addr_parse(s, &ss, ADDR_PORT_REQUIRED) < 0 || ss.ss_family != AF_INET) {
		fprintf(stderr, "nat_behave: \"%s\" is not an IPv4 address:port\n", s);
		exit(2);
	}
	memcpy(&sin, &ss, sizeof(sin));
	return sin;
}

static void format(const struct sockaddr_in *sin, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
	snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
}

/* A socket bound to addr:port that others may share (a listener and connectors). */
static int bound(int type, struct sockaddr_in at, int nonblock)
{
	int one = 1, fd = socket(AF_INET, type | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&at, sizeof(at)) < 0) {
		perror("nat_behave: bind");
		exit(2);
	}
	return fd;
}

/* ---- server ---- */

/* SLOT_WAIT: a connection that asked for probes and waits for their results. */
enum slot_kind { SLOT_FREE, SLOT_UDP, SLOT_LISTEN, SLOT_CONN, SLOT_PROBE, SLOT_WAIT };

struct slot {
	enum slot_kind kind;
	int fd;
	int udp_main;       /* SLOT_UDP: A:3478, whose "map" triggers the probes */
	int owner;          /* SLOT_PROBE: the SLOT_CONN it reports to */
	const char *tag;    /* SLOT_PROBE: "port" or "addr" */
	double deadline;    /* SLOT_PROBE */
	char result[2][16]; /* SLOT_CONN: what its two probes saw */
	int pending;        /* SLOT_CONN: probes not finished */
};

static struct slot slots[SLOTS];
static struct sockaddr_in srv_a, srv_b;
static int udp_other_a, udp_other_b;

static int slot_add(enum slot_kind kind, int fd)
{
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].kind == SLOT_FREE) {
			memset(&slots[i], 0, sizeof(slots[i]));
			slots[i].kind = kind;
			slots[i].fd = fd;
			return i;
		}
	close(fd);
	return -1;
}

static void slot_close(int i)
{
	close(slots[i].fd);
	slots[i].kind = SLOT_FREE;
}

static void conn_finish(int c)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "probe port %s\nprobe addr %s\n", slots[c].result[0],
	                 slots[c].result[1]);

	if (write(slots[c].fd, buf, (size_t)n) < 0)
		perror("nat_behave: write");
	slot_close(c);
}

static void probe_done(int p, const char *result)
{
	int c = slots[p].owner, which = strcmp(slots[p].tag, "addr") == 0;

	snprintf(slots[c].result[which], sizeof(slots[c].result[which]), "%s", result);
	if (strcmp(result, "connected") == 0 && write(slots[p].fd, slots[p].tag, 4) < 0)
		perror("nat_behave: write");
	slot_close(p);
	if (--slots[c].pending == 0)
		conn_finish(c);
}

static void probe_start(int c, struct sockaddr_in from, const char *tag,
                        const struct sockaddr_in *to)
{
	int fd, p;

	from.sin_port = htons(TCP_PROBE);
	fd = bound(SOCK_STREAM, from, 1);
	p = slot_add(SLOT_PROBE, fd);
	if (p < 0)
		return;
	slots[p].owner = c;
	slots[p].tag = tag;
	slots[p].deadline = now() + 2.5;
	slots[c].pending++;
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != EINPROGRESS)
		probe_done(p, errno == ECONNREFUSED ? "refused" : "error");
}

static void serve_udp(int i)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	char buf[64], reply[72];
	ssize_t n = recvfrom(slots[i].fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &len);

	if (n < 3 || memcmp(buf, "map", 3) != 0)
		return;
	format(&from, buf, sizeof(buf));
	snprintf(reply, sizeof(reply), "m %s", buf);
	sendto(slots[i].fd, reply, strlen(reply), 0, (struct sockaddr *)&from, len);
	if (slots[i].udp_main && n == 3) {
		sendto(udp_other_a, "port", 4, 0, (struct sockaddr *)&from, len);
		sendto(udp_other_b, "addr", 4, 0, (struct sockaddr *)&from, len);
	}
}

static void serve_conn(int c)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	char buf[64], reply[80];
	ssize_t n = read(slots[c].fd, buf, sizeof(buf) - 1);

	if (n <= 0 || getpeername(slots[c].fd, (struct sockaddr *)&peer, &len) < 0) {
		slot_close(c);
		return;
	}
	format(&peer, buf + 32, 32);
	snprintf(reply, sizeof(reply), "m %s\n", buf + 32);
	if (write(slots[c].fd, reply, strlen(reply)) < 0 || memcmp(buf, "map\n", 4) != 0) {
		slot_close(c);
		return;
	}
	slots[c].kind = SLOT_WAIT;
	strcpy(slots[c].result[0], "none");
	strcpy(slots[c].result[1], "none");
	probe_start(c, srv_a, "port", &peer);
	probe_start(c, srv_b, "addr", &peer);
}

static int do_server(const char *a, const char *b, double secs)
{
	struct pollfd pfd[SLOTS];
	int map[SLOTS];
	double end = now() + secs;

	srv_a = endpoint(a, 0);
	srv_b = endpoint(b, 0);
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in at = i < 2 ? srv_a : srv_b;
		int s;

		at.sin_port = htons(i % 2 ? UDP_Q : UDP_P);
		s = slot_add(SLOT_UDP, bound(SOCK_DGRAM, at, 0));
		slots[s].udp_main = i == 0;
	}
	/* Senders only: what comes back to them (a port-restricted NAT's nothing) is unread. */
	srv_a.sin_port = srv_b.sin_port = htons(UDP_R);
	udp_other_a = bound(SOCK_DGRAM, srv_a, 0);
	udp_other_b = bound(SOCK_DGRAM, srv_b, 0);
	srv_a.sin_port = srv_b.sin_port = 0;
	/* A:443, B:443, B:80, A:80 */
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in at = i == 0 || i == 3 ? srv_a : srv_b;
		int fd;

		at.sin_port = htons(i >= 2 ? TCP_Q : TCP_P);
		fd = bound(SOCK_STREAM, at, 0);
		if (listen(fd, 256) < 0) {
			perror("nat_behave: listen");
			return 2;
		}
		slot_add(SLOT_LISTEN, fd);
	}
	printf("serving\n");
	fflush(stdout);
	while (now() < end) {
		int n = 0;

		for (int i = 0; i < SLOTS; i++) {
			if (slots[i].kind == SLOT_PROBE && now() > slots[i].deadline)
				probe_done(i, "timeout");
			if (slots[i].kind == SLOT_FREE || slots[i].kind == SLOT_WAIT)
				continue;
			pfd[n].fd = slots[i].fd;
			pfd[n].events = slots[i].kind == SLOT_PROBE ? POLLOUT : POLLIN;
			map[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, 50) <= 0)
			continue;
		for (int j = 0; j < n; j++) {
			int i = map[j], err = 0, fd;
			socklen_t len = sizeof(err);

			if (!pfd[j].revents)
				continue;
			switch (slots[i].kind) {
			case SLOT_UDP:
				serve_udp(i);
				break;
			case SLOT_LISTEN:
				fd = accept(slots[i].fd, NULL, NULL);
				if (fd >= 0)
					slot_add(SLOT_CONN, fd);
				break;
			case SLOT_CONN:
				serve_conn(i);
				break;
			case SLOT_PROBE:
				getsockopt(slots[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
				probe_done(i, err == 0              ? "connected"
				              : err == ECONNREFUSED ? "refused"
				                                    : "error");
				break;
			default:
				break;
			}
		}
	}
	return 0;
}

/* ---- client ---- */

/* Sends msg to to until a "m ADDR" answer comes (8 tries, 250 ms apart); "" if none. */
static void udp_ask(int fd, const struct sockaddr_in *to, const char *msg, char *out, size_t len)
{
	char buf[64];

	out[0] = '\0';
	for (int i = 0; i < 8; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double end = now() + 0.25;

		sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)to, sizeof(*to));
		while (now() < end && poll(&p, 1, (int)((end - now()) * 1000) + 1) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

			if (n > 2 && memcmp(buf, "m ", 2) == 0) {
				buf[n] = '\0';
				snprintf(out, len, "%s", buf + 2);
				return;
			}
		}
	}
}

/* Receives on fd for secs; sets *port, *addr, *hair for the tags that arrived. */
static void udp_collect(int fd, double secs, int *port, int *addr, int *hair)
{
	double end = now() + secs;
	char buf[64];

	while (now() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 20) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 4 && memcmp(buf, "port", 4) == 0)
			*port = 1;
		else if (n == 4 && memcmp(buf, "addr", 4) == 0)
			*addr = 1;
		else if (n == 4 && memcmp(buf, "hair", 4) == 0)
			*hair = 1;
	}
}

static void client_udp(const char *a, const char *b, int lport)
{
	struct sockaddr_in any = { .sin_family = AF_INET }, ap = endpoint(a, UDP_P),
	                   bp = endpoint(b, UDP_P), bq = endpoint(b, UDP_Q),
	                   aq = endpoint(a, UDP_Q), m1a;
	char m1[64], m2[64], m3[64], m4[64];
	int u1, u2, port = 0, addr = 0, hair = 0, junk = 0;

	any.sin_port = htons((uint16_t)lport);
	u1 = bound(SOCK_DGRAM, any, 0);
	any.sin_port = htons((uint16_t)(lport + 1));
	u2 = bound(SOCK_DGRAM, any, 0);
	udp_ask(u1, &ap, "map", m1, sizeof(m1));
	if (!*m1) {
		printf("udp blocked\n");
		return;
	}
	udp_collect(u1, 0.6, &port, &addr, &junk);
	udp_ask(u1, &bp, "map0", m2, sizeof(m2));
	udp_ask(u1, &bq, "map0", m3, sizeof(m3));
	m1a = parse(m1);
	for (int i = 0; i < 5; i++) {
		sendto(u2, "hair", 4, 0, (struct sockaddr *)&m1a, sizeof(m1a));
		udp_collect(u1, 0.06, &junk, &junk, &hair);
	}
	udp_collect(u1, 0.3, &junk, &junk, &hair);
	/* A fourth destination, last (the filtering checks are done): a NAT allocating random
	 * ports in a 64-port block gives three destinations one port by chance once in 4096
	 * (seen once in the suite); four, once in 262,144. */
	udp_ask(u1, &aq, "map0", m4, sizeof(m4));
	printf("udp m1=%s m2=%s m3=%s port=%d addr=%d hairpin=%d m4=%s\n", m1, m2, m3, port, addr,
	       hair, m4);
	close(u1);
	close(u2);
}

/* Connects from `from` to `to` within secs; the socket, or -1. */
static int tcp_dial(struct sockaddr_in from, const struct sockaddr_in *to, double secs)
{
	int fd = bound(SOCK_STREAM, from, 1), err = 0;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(err);

	if ((connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != EINPROGRESS) ||
	    poll(&p, 1, (int)(secs * 1000)) <= 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, 0);
	return fd;
}

/* Reads what arrives on fd within secs into buf (NUL-terminated); stops at EOF. */
static void tcp_read(int fd, double secs, char *buf, size_t len)
{
	double end = now() + secs;
	size_t got = 0;

	while (got + 1 < len && now() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, (int)((end - now()) * 1000) + 1) <= 0)
			break;
		n = read(fd, buf + got, len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
}

/*
 * Asks the server at `to` for the mapping, from `from`, into out ("" if unreachable);
 * text gets everything read so far (the probe results may follow at once).
 */
static int tcp_map(struct sockaddr_in from, const struct sockaddr_in *to, const char *msg,
                   char *out, size_t len, char *text, size_t textlen)
{
	int fd = tcp_dial(from, to, 4);

	out[0] = text[0] = '\0';
	if (fd < 0)
		return -1;
	if (write(fd, msg, strlen(msg)) < 0)
		perror("nat_behave: write");
	tcp_read(fd, 0.5, text, textlen);
	if (sscanf(text, "m %63s", out) != 1)
		out[0] = '\0';
	return fd;
}

static void client_tcp(const char *a, const char *b, int lport)
{
	struct sockaddr_in any = { .sin_family = AF_INET }, ap = endpoint(a, TCP_P),
	                   bp = endpoint(b, TCP_P), bq = endpoint(b, TCP_Q),
	                   aq = endpoint(a, TCP_Q), m1a;
	char m1[64], m2[64], m3[64], m4[64], rest[256], tag[8], pp[16] = "none", pa[16] = "none",
	                                                        *s;
	int lis, c1, c2, port = 0, addr = 0, hair = 0;
	double end;

	any.sin_port = htons((uint16_t)lport);
	lis = bound(SOCK_STREAM, any, 1);
	if (listen(lis, 8) < 0) {
		perror("nat_behave: listen");
		exit(2);
	}
	c1 = tcp_map(any, &ap, "map\n", m1, sizeof(m1), rest, 64);
	if (c1 < 0 || !*m1) {
		printf("tcp blocked\n");
		return;
	}
	/* The server's SYNs to m1 arrive on the listener within its 2.5 s probe timeout. */
	end = now() + 3;
	while (now() < end) {
		struct pollfd p = { .fd = lis, .events = POLLIN };
		int c;

		if (poll(&p, 1, 50) <= 0 || (c = accept(lis, NULL, NULL)) < 0)
			continue;
		tcp_read(c, 0.5, tag, sizeof(tag));
		port |= strcmp(tag, "port") == 0;
		addr |= strcmp(tag, "addr") == 0;
		close(c);
	}
	tcp_read(c1, 1, rest + strlen(rest), sizeof(rest) - strlen(rest));
	if ((s = strstr(rest, "probe port ")))
		sscanf(s, "probe port %15s", pp);
	if ((s = strstr(rest, "probe addr ")))
		sscanf(s, "probe addr %15s", pa);
	close(c1);
	c2 = tcp_map(any, &bp, "map0\n", m2, sizeof(m2), rest, sizeof(rest));
	if (c2 >= 0)
		close(c2);
	c2 = tcp_map(any, &bq, "map0\n", m3, sizeof(m3), rest, sizeof(rest));
	if (c2 >= 0)
		close(c2);
	c2 = tcp_map(any, &aq, "map0\n", m4, sizeof(m4), rest, sizeof(rest));
	if (c2 >= 0)
		close(c2);
	m1a = parse(m1);
	any.sin_port = htons((uint16_t)(lport + 1));
	c2 = tcp_dial(any, &m1a, 2);
	if (c2 >= 0) {
		struct pollfd p = { .fd = lis, .events = POLLIN };
		int c = poll(&p, 1, 500) > 0 ? accept(lis, NULL, NULL) : -1;

		hair = c >= 0;
		if (c >= 0)
			close(c);
		close(c2);
	}
	printf(
	    "tcp m1=%s m2=%s m3=%s port=%d addr=%d hairpin=%d probe_port=%s probe_addr=%s m4=%s\n",
	    m1, m2, m3, port, addr, hair, pp, pa, m4);
}

static int do_map(int port, const struct sockaddr_in *server)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char mapped[64], text[128];
	int fd = tcp_map(any, server, "map0\n", mapped, sizeof(mapped), text, sizeof(text));

	if (fd < 0 || !*mapped) {
		fprintf(stderr, "nat_behave: map: no answer from the server\n");
		return 1;
	}
	printf("%s\n", mapped);
	close(fd);
	return 0;
}

/* Both sides say "punch" on the connection: it is really open end to end. */
static int punch_check(int fd, const char *how)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	char buf[8], addr[64];

	fcntl(fd, F_SETFL, 0);
	if (write(fd, "punch", 5) != 5)
		return 1;
	tcp_read(fd, 2, buf, 6);
	if (strcmp(buf, "punch") != 0 || getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
		return 1;
	format(&peer, addr, sizeof(addr));
	printf("connected (%s) with %s\n", how, addr);
	return 0;
}

static int do_punch(int port, const struct sockaddr_in *peer, double secs)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd p[2] = { { .fd = bound(SOCK_STREAM, any, 1), .events = POLLIN },
		               { .fd = -1, .events = POLLOUT } };
	double end = now() + secs, next_dial = 0;

	if (listen(p[0].fd, 4) < 0) {
		perror("nat_behave: listen");
		return 2;
	}
	while (now() < end) {
		int err = 0, c;
		socklen_t len = sizeof(err);

		/* Dial (again, 100 ms after a failure, as punching stacks do). */
		if (p[1].fd < 0 && now() >= next_dial) {
			p[1].fd = bound(SOCK_STREAM, any, 1);
			if (connect(p[1].fd, (const struct sockaddr *)peer, sizeof(*peer)) < 0 &&
			    errno != EINPROGRESS) {
				close(p[1].fd);
				p[1].fd = -1;
				next_dial = now() + 0.1;
			}
		}
		if (poll(p, 2, 50) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && (c = accept(p[0].fd, NULL, NULL)) >= 0) {
			if (punch_check(c, "accepted") == 0)
				return 0;
			close(c);
		}
		if (p[1].fd >= 0 && p[1].revents) {
			getsockopt(p[1].fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (!err && punch_check(p[1].fd, "connect") == 0)
				return 0;
			close(p[1].fd);
			p[1].fd = -1;
			next_dial = now() + 0.1;
		}
	}
	printf("no connection\n");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "server") == 0)
		return do_server(argv[2], argv[3], atof(argv[4]));
	if (argc == 5 && strcmp(argv[1], "client") == 0) {
		client_udp(argv[2], argv[3], atoi(argv[4]));
		fflush(stdout);
		client_tcp(argv[2], argv[3], atoi(argv[4]));
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "map") == 0) {
		struct sockaddr_in server = parse(argv[3]);

		return do_map(atoi(argv[2]), &server);
	}
	if (argc == 5 && strcmp(argv[1], "punch") == 0) {
		struct sockaddr_in peer = parse(argv[3]);

		return do_punch(atoi(argv[2]), &peer, atof(argv[4]));
	}
	fprintf(stderr, "usage: nat_behave server A B SECS | client A B PORT | map PORT SERVER:PORT"
	                " | punch PORT PEER:PORT SECS\n");
	return 2;
}
