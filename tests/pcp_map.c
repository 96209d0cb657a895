/* SPDX-License-Identifier: MIT */
/*
 * A minimal PCP client (RFC 6887) for the port-mapping tests, since Debian has none on
 * the command line: one MAP request for UDP or TCP, retried as section 8.1.1 says (3 s,
 * here 250 ms, 4 tries). Prints "result N lifetime L external A:P epoch E"; exits 0 on
 * SUCCESS, 1 on another result code, 2 when nothing answers, 64 on bad usage.
 *   pcp_map SERVER INTERNAL_PORT udp|tcp LIFETIME [SUGGESTED_PORT]
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PCP_PORT    5351
#define PCP_VERSION 2
#define PCP_OP_MAP  1
#define MAP_LEN     (24 + 36)

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* The request: our address as IPv4-mapped IPv6, a random nonce, the wanted port. */
static void build(uint8_t *m, struct in_addr self, int proto, unsigned iport, unsigned eport,
                  uint32_t lifetime)
{
	memset(m, 0, MAP_LEN);
	m[0] = PCP_VERSION;
	m[1] = PCP_OP_MAP;
	put32(m + 4, lifetime);
	m[18] = m[19] = 0xff;
	memcpy(m + 20, &self, 4);
	for (int i = 0; i < 12; i++)
		m[24 + i] = (uint8_t)rand();
	m[36] = (uint8_t)proto;
	m[40] = (uint8_t)(iport >> 8), m[41] = (uint8_t)iport;
	m[42] = (uint8_t)(eport >> 8), m[43] = (uint8_t)eport;
	m[54] = m[55] = 0xff; /* suggested external address ::ffff:0.0.0.0 */
}

int main(int argc, char **argv)
{
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(PCP_PORT) };
	struct sockaddr_in self;
	socklen_t slen = sizeof(self);
	uint8_t req[MAP_LEN], resp[1100];
	int fd, proto;

	if (argc < 5 || inet_pton(AF_INET, argv[1], &srv.sin_addr) != 1 ||
	    (strcmp(argv[3], "udp") && strcmp(argv[3], "tcp"))) {
		fprintf(stderr, "usage: pcp_map SERVER INTERNAL_PORT udp|tcp LIFETIME [PORT]\n");
		return 64;
	}
	proto = strcmp(argv[3], "udp") == 0 ? 17 : 6;
	srand((unsigned)getpid());
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&srv, sizeof(srv)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&self, &slen) < 0) {
		perror("pcp_map: socket");
		return 2;
	}
	build(req, self.sin_addr, proto, (unsigned)atoi(argv[2]),
	      argc > 5 ? (unsigned)atoi(argv[5]) : 0, (uint32_t)strtoul(argv[4], NULL, 10));
	for (int tries = 0; tries < 4; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (send(fd, req, sizeof(req), 0) < 0)
			continue; /* ICMP unreachable from an earlier try: try again */
		if (poll(&p, 1, 250) <= 0)
			continue;
		n = recv(fd, resp, sizeof(resp), 0);
		if (n < MAP_LEN || resp[0] != PCP_VERSION || resp[1] != (0x80 | PCP_OP_MAP) ||
		    memcmp(resp + 24, req + 24, 12) != 0)
			continue;
		char ext[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, resp + 56, ext, sizeof(ext));
		printf("result %u lifetime %u external %s:%u epoch %u\n", resp[3], get32(resp + 4),
		       ext, (unsigned)resp[42] << 8 | resp[43], get32(resp + 8));
		return resp[3] == 0 ? 0 : 1;
	}
	printf("no answer\n");
	return 2;
}
