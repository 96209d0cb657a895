/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay on loopback without auth: forwarding between two clients, peer gone,
 * ping/pong, bad input before and after the handshake, a stalled handshake, the
 * metrics endpoint and SIGTERM's restarting frame.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay_harness.h"
#include "tap.h"

static struct rh_relay relay;

static void test_forwarding(void)
{
	struct rh_client *a = rh_client_new(relay.port, 0), *b = rh_client_new(relay.port, 0);
	struct relay_packet pkt;
	uint8_t data[1200], big[RELAY_MAX_PACKET];
	int i, got = 0;

	is_int(rh_client_handshake(a, NULL, 0, 2000), 0, "a authenticates (no-auth relay)");
	is_int(rh_client_handshake(b, NULL, 0, 2000), 0, "b authenticates");
	for (i = 0; i < (int)sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	is_int(rh_client_send_packet(a, b->id.pub, data, sizeof(data)), 0,
	       "a sends 1200 bytes to b");
	is_int(rh_client_expect(b, RELAY_FRAME_RECV, 2000), 1, "b receives a packet");
	relay_packet_decode(&pkt, b->f.payload, b->f.len);
	ok(pkt.len == sizeof(data) && memcmp(pkt.data, data, sizeof(data)) == 0, "same bytes");
	ok(memcmp(pkt.key, a->id.pub, 32) == 0, "from a's key");

	memset(big, 0xab, sizeof(big));
	is_int(rh_client_send_packet(b, a->id.pub, big, sizeof(big)), 0,
	       "b sends the largest packet");
	is_int(rh_client_expect(a, RELAY_FRAME_RECV, 2000), 1, "a receives it");
	relay_packet_decode(&pkt, a->f.payload, a->f.len);
	ok(pkt.len == sizeof(big) && pkt.data[pkt.len - 1] == 0xab, "intact, 65504 bytes");

	for (i = 0; i < 100; i++)
		rh_client_send_packet(a, b->id.pub, &i, sizeof(i));
	for (i = 0; i < 100; i++) {
		if (rh_client_expect(b, RELAY_FRAME_RECV, 2000) != 1)
			break;
		relay_packet_decode(&pkt, b->f.payload, b->f.len);
		if (pkt.len == sizeof(i) && !memcmp(pkt.data, &i, sizeof(i)))
			got++;
	}
	is_int(got, 100, "100 packets in order");

	/* b leaves: a, which sent to b, is told. */
	rh_client_free(b);
	is_int(rh_client_expect(a, RELAY_FRAME_PEER_GONE, 2000), 1,
	       "a gets peer gone when b leaves");
	ok(a->f.len == 33 && a->f.payload[32] == RELAY_PEER_GONE_DISCONNECTED,
	   "reason: disconnected");
	rh_client_free(a);
}

static void test_peer_unknown_and_ping(void)
{
	struct rh_client *a = rh_client_new(relay.port, 0);
	uint8_t nobody[32] = { 1, 2, 3 }, frame[16];
	long long before = rh_metric(relay.metrics_port, "drops_total{reason=\"peer_not_here\"}");

	is_int(rh_client_handshake(a, NULL, 0, 2000), 0, "handshake");
	rh_client_send_packet(a, nobody, "x", 1);
	is_int(rh_client_expect(a, RELAY_FRAME_PEER_GONE, 2000), 1,
	       "send to unknown key: peer gone");
	ok(a->f.len == 33 && !memcmp(a->f.payload, nobody, 32) &&
	       a->f.payload[32] == RELAY_PEER_GONE_NOT_HERE,
	   "names the key, reason: not here");
	is_int(rh_metric(relay.metrics_port, "drops_total{reason=\"peer_not_here\"}"), before + 1,
	       "counted as a drop");
	relay_ping_encode(frame, sizeof(frame), RELAY_FRAME_PING, (const uint8_t *)"12345678");
	rh_client_write(a, frame, 13);
	is_int(rh_client_expect(a, RELAY_FRAME_PONG, 2000), 1, "ping answered by pong");
	ok(a->f.len == 8 && !memcmp(a->f.payload, "12345678", 8), "pong echoes the data");
	rh_client_free(a);
}

/* Sends raw bytes on a fresh connection and returns the CLOSE reason the relay gave. */
static int close_reason_for(const void *bytes, size_t len, int handshake_first)
{
	struct rh_client *c = rh_client_new(relay.port, 0);
	int reason;

	if (handshake_first && rh_client_handshake(c, NULL, 0, 2000) != 0) {
		rh_client_free(c);
		return -1;
	}
	rh_client_write(c, bytes, len);
	reason = rh_client_wait_closed(c, 3000);
	rh_client_free(c);
	return reason;
}

static void test_bad_input(void)
{
	const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	const uint8_t oversized[] = { RELAY_FRAME_SEND, 0x00, 0x01, 0x00, 0x01 };
	const uint8_t ping_long[] = { RELAY_FRAME_PING, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	const uint8_t send_short[] = { RELAY_FRAME_SEND, 0, 0, 0, 2, 1, 2 };
	const uint8_t server_frame[] = { RELAY_FRAME_SERVER_INFO, 0, 0, 0, 0 };
	const uint8_t auth_early_big[] = { RELAY_FRAME_AUTH, 0, 0, 0x08, 0x00 };
	const uint8_t auth_bad[] = { RELAY_FRAME_AUTH, 0, 0, 0, 3, 1, 2, 3 };
	long long before = rh_metric(relay.metrics_port, "closes_total{reason=\"oversized\"}");

	is_int(close_reason_for(http, strlen(http), 0), RELAY_CLOSE_OVERSIZED,
	       "HTTP garbage before the handshake: oversized ('G' type, huge length)");
	is_int(close_reason_for(server_frame, sizeof(server_frame), 0), RELAY_CLOSE_UNEXPECTED,
	       "non-auth frame before the handshake: unexpected");
	is_int(close_reason_for(auth_early_big, sizeof(auth_early_big), 0), RELAY_CLOSE_OVERSIZED,
	       "2 KiB frame before auth: oversized (handshake limit 1 KiB)");
	is_int(close_reason_for(auth_bad, sizeof(auth_bad), 0), RELAY_CLOSE_PROTOCOL,
	       "truncated auth: malformed");
	is_int(close_reason_for(oversized, sizeof(oversized), 1), RELAY_CLOSE_OVERSIZED,
	       "64 KiB + 1 frame after auth: oversized");
	is_int(close_reason_for(ping_long, sizeof(ping_long), 1), RELAY_CLOSE_PROTOCOL,
	       "9-byte ping: malformed");
	is_int(close_reason_for(send_short, sizeof(send_short), 1), RELAY_CLOSE_PROTOCOL,
	       "send shorter than a key: malformed");
	is_int(close_reason_for(server_frame, sizeof(server_frame), 1), RELAY_CLOSE_UNEXPECTED,
	       "server-only frame from a client: unexpected");
	is_int(rh_metric(relay.metrics_port, "closes_total{reason=\"oversized\"}"), before + 3,
	       "three oversized closes counted");
}

static void test_stalled_handshake(void)
{
	struct rh_client *c = rh_client_new(relay.port, 0);
	long long t0 = rh_now_ms(), dt;
	int reason;

	is_int(rh_client_recv(c, 2000), 1, "challenge arrives");
	is_int(c->f.type, RELAY_FRAME_CHALLENGE, "it is a challenge");
	reason = rh_client_wait_closed(c, 3000);
	dt = rh_now_ms() - t0;
	is_int(reason, RELAY_CLOSE_HANDSHAKE_TIMEOUT, "silent client closed: handshake timeout");
	ok(dt >= 250 && dt < 1500, "after about the 300 ms timeout (%lld ms)", dt);
	rh_client_free(c);
	ok(rh_metric(relay.metrics_port, "closes_total{reason=\"handshake_timeout\"}") >= 1,
	   "counted");
}

static void test_replaced(void)
{
	struct rh_client *a = rh_client_new(relay.port, 0), *a2 = rh_client_new(relay.port, 0);

	is_int(rh_client_handshake(a, NULL, 0, 2000), 0, "first connection");
	a2->id = a->id;
	is_int(rh_client_handshake(a2, NULL, 0, 2000), 0, "second connection with the same key");
	is_int(rh_client_wait_closed(a, 2000), RELAY_CLOSE_REPLACED, "first one closed: replaced");
	rh_client_free(a);
	rh_client_free(a2);
}

static void test_http(void)
{
	char body[64];

	is_int(rh_http_get(relay.metrics_port, "/healthz", body, sizeof(body)), 200,
	       "/healthz 200");
	is_str(body, "ok\n", "/healthz says ok");
	is_int(rh_http_get(relay.metrics_port, "/nope", NULL, 0), 404, "unknown path 404");
	ok(rh_metric(relay.metrics_port, "clients") >= 0, "/metrics has the clients gauge");
	ok(rh_metric(relay.metrics_port, "frames_forwarded_total") >= 101,
	   "frames forwarded counted");
}

static void test_restarting(void)
{
	struct rh_client *a = rh_client_new(relay.port, 0);
	uint32_t in_ms = 0, try_ms = 0;
	long long t0;
	int status;

	is_int(rh_client_handshake(a, NULL, 0, 2000), 0, "handshake before SIGTERM");
	kill(relay.pid, SIGTERM);
	is_int(rh_client_expect(a, RELAY_FRAME_RESTARTING, 2000), 1, "SIGTERM: restarting frame");
	relay_restarting_decode(&in_ms, &try_ms, a->f.payload, a->f.len);
	is_int(try_ms, 800, "says how long the drain lasts");
	is_int(rh_http_get(relay.metrics_port, "/healthz", NULL, 0), 503,
	       "/healthz 503 while draining");
	/* We stay connected: the relay must end the drain by itself. */
	t0 = rh_now_ms();
	is_int(rh_client_wait_closed(a, 3000), RELAY_CLOSE_SHUTDOWN,
	       "closed at the end of the drain");
	ok(rh_now_ms() - t0 < 1500, "drain bounded (%lld ms)", rh_now_ms() - t0);
	status = rh_relay_stop(&relay, 2000);
	is_int(status, 0, "relay exits 0 after the drain");
	rh_client_free(a);
}

int main(void)
{
	const char *args[] = { "--no-auth", "--handshake-timeout", "300", "--drain", "800", NULL };

	if (rh_relay_start(&relay, args) < 0) {
		ok(0, "relay starts");
		return tap_done();
	}
	test_forwarding();
	test_peer_unknown_and_ping();
	test_bad_input();
	test_stalled_handshake();
	test_replaced();
	test_http();
	test_restarting();
	if (relay.pid)
		rh_relay_stop(&relay, 2000);
	return tap_done();
}
