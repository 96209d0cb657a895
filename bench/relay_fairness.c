/* SPDX-License-Identifier: MIT */
/*
 * Relay fairness benchmark client (bench/relay_fairness.sh builds it with the tests'
 * relay client, tests/relay_harness.c). Two honest pairs A1 -> B1 and A2 -> B2 send
 * 1280-byte packets through natlab-relay as fast as the relay lets them (its per-client
 * rate limit) while one flooder of KIND runs:
 *   none   no flooder: the baseline
 *   send   one authenticated client sending 38-byte SENDs (1 data byte) to B1
 *   ping   one authenticated client sending 13-byte PINGs (reading its PONGs)
 *   auth   AUTH churn: 4 threads connecting, authenticating (16 random keys each, in
 *          turn) and closing, again and again
 * The honest clients connect from 127.0.0.1, the flooder from 127.0.0.2.
 * Usage: relay_fairness PORT SECONDS KIND   (the relay on 127.0.0.1)
 * Output: "kind=K pair1_mbit=X pair2_mbit=Y flood_ops=N" (goodput counted at B1 and B2
 * after a 0.5 s warm-up; flood_ops = frames written by the flooder, or handshakes).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "relay_harness.h"

#define PKT                1280
#define FLOODER_ADDR       "127.0.0.2"
#define FLOOD_AUTH_THREADS 4

static uint16_t port;
static atomic_int running = 1, counting;
static atomic_llong got[2], flood_ops;
static struct rh_client ends[5]; /* A1 B1 A2 B2 flooder */

static void *sender_main(void *arg)
{
	int pair = (int)(long)arg;
	static __thread uint8_t data[PKT], out[FRAME_HEADER_LEN + RELAY_KEY_LEN + PKT];
	int len = relay_packet_encode(out, sizeof(out), RELAY_FRAME_SEND, ends[2 * pair + 1].id.pub,
	                              data, PKT);

	while (running && rh_client_write(&ends[2 * pair], out, (size_t)len) == 0)
		;
	return NULL;
}

/* Drains a client's socket (STATUS, PONG, PEER_GONE) so the relay never blocks on it. */
static void *drain_main(void *arg)
{
	struct rh_client *c = arg;
	char buf[65536];

	while (running && recv(c->fd, buf, sizeof(buf), 0) > 0)
		;
	return NULL;
}

static void *receiver_main(void *arg)
{
	int pair = (int)(long)arg;
	struct rh_client *b = &ends[2 * pair + 1];

	while (running)
		if (rh_client_recv(b, 200) == 1 && b->f.type == RELAY_FRAME_RECV &&
		    b->f.len == RELAY_KEY_LEN + PKT && counting)
			got[pair] += PKT;
	return NULL;
}

/* Writes frames of len bytes each (one buffer of many) for as long as the run lasts. */
static void flood_frames(const uint8_t *one, size_t len)
{
	uint8_t out[4096];
	size_t n = 0;
	pthread_t drain;

	while (n + len <= sizeof(out)) {
		memcpy(out + n, one, len);
		n += len;
	}
	pthread_create(&drain, NULL, drain_main, &ends[4]);
	while (running && rh_client_write(&ends[4], out, n) == 0)
		flood_ops += (long long)(n / len);
	pthread_join(drain, NULL);
}

static void *flood_send_main(void *arg)
{
	uint8_t one[64], data = 0;
	int len = relay_packet_encode(one, sizeof(one), RELAY_FRAME_SEND, ends[1].id.pub, &data, 1);

	flood_frames(one, (size_t)len);
	return NULL;
}

static void *flood_ping_main(void *arg)
{
	uint8_t one[16], data[RELAY_PING_LEN] = { 0 };
	int len = relay_ping_encode(one, sizeof(one), RELAY_FRAME_PING, data);

	flood_frames(one, (size_t)len);
	return NULL;
}

static void *flood_auth_main(void *arg)
{
	struct rh_client *c = calloc(1, sizeof(*c));
	struct identity keys[16];
	unsigned i;

	for (i = 0; i < 16; i++)
		identity_generate(&keys[i]);
	for (i = 0; c && running; i++) {
		if (rh_client_connect_from(c, port, 0, FLOODER_ADDR) == 0) {
			c->id = keys[i % 16];
			if (rh_client_handshake(c, NULL, 0, 2000) == 0)
				flood_ops++;
		}
		rh_client_close(c);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[16];
	const char *kind;
	double secs;
	int i, nth = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: relay_fairness PORT SECONDS none|send|ping|auth\n");
		return 2;
	}
	port = (uint16_t)atoi(argv[1]);
	secs = atof(argv[2]);
	kind = argv[3];
	for (i = 0; i < 5; i++) {
		if (i == 4 && (!strcmp(kind, "none") || !strcmp(kind, "auth")))
			break;
		if (rh_client_connect_from(&ends[i], port, 0, i == 4 ? FLOODER_ADDR : NULL) < 0 ||
		    rh_client_handshake(&ends[i], NULL, 0, 5000) != 0) {
			fprintf(stderr, "relay_fairness: client %d cannot connect\n", i);
			return 1;
		}
	}
	for (i = 0; i < 2; i++) {
		pthread_create(&th[nth++], NULL, receiver_main, (void *)(long)i);
		pthread_create(&th[nth++], NULL, sender_main, (void *)(long)i);
		pthread_create(&th[nth++], NULL, drain_main, &ends[2 * i]);
	}
	if (!strcmp(kind, "send"))
		pthread_create(&th[nth++], NULL, flood_send_main, NULL);
	else if (!strcmp(kind, "ping"))
		pthread_create(&th[nth++], NULL, flood_ping_main, NULL);
	else if (!strcmp(kind, "auth"))
		for (i = 0; i < FLOOD_AUTH_THREADS; i++)
			pthread_create(&th[nth++], NULL, flood_auth_main, NULL);
	usleep(500000);
	counting = 1;
	usleep((useconds_t)(secs * 1e6));
	counting = 0;
	printf("kind=%s pair1_mbit=%.1f pair2_mbit=%.1f flood_ops=%lld\n", kind,
	       (double)got[0] * 8 / secs / 1e6, (double)got[1] * 8 / secs / 1e6,
	       (long long)flood_ops);
	fflush(stdout);
	/* Threads blocked in send/recv: exit without joining. */
	_exit(0);
}
