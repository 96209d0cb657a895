/* SPDX-License-Identifier: MIT */
/*
 * The timeline's key packets (natlab/timeline.c): a packet that repeats one kept on the
 * same interface (same direction, kind, source and destination) less than
 * TIMELINE_REPEAT_MS before is left out, so a transfer's stream becomes one tick per
 * interval while every new flow, kind or direction keeps its first packet; the cap per
 * interface still holds. No privileges needed.
 */
#include "natlab/timeline.h"
#include "tap.h"

#include <arpa/inet.h>
#include <string.h>

static struct lab_node node = { .name = "h", .kind = LAB_NODE_HOST, .parent = -1, .naddrs = 1 };
static struct lab_model model = { .name = "t", .nodes = &node, .nnodes = 1 };

/* An Ethernet frame with an IPv4 UDP datagram whose payload starts with first. */
static void send_udp(struct timeline *t, double ms, const char *src, const char *dst, uint8_t first)
{
	uint8_t f[14 + 20 + 8 + 20] = { 0 };
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((long)(ms * 1000) % 1000000) };

	f[12] = 0x08;
	f[14] = 0x45;
	f[14 + 9] = 17;
	inet_pton(AF_INET, src, f + 14 + 12);
	inet_pton(AF_INET, dst, f + 14 + 16);
	f[14 + 20 + 8] = first;
	timeline_packet_cb(t, 0, "eth0", &tv, f, sizeof(f));
}

static int count(const struct timeline *t, const char *kind, const char *detail)
{
	const json_t *it;
	size_t i;
	int n = 0;

	json_array_foreach(t->items, i, it)
	{
		if (!strcmp(json_string_value(json_object_get(it, "kind")), kind) &&
		    (!detail || !strcmp(json_string_value(json_object_get(it, "detail")), detail)))
			n++;
	}
	return n;
}

int main(void)
{
	struct timeline t;
	const char *me = "10.0.0.2", *a = "198.18.0.9", *b = "198.18.0.10";
	double last = -1;
	int spaced = 1;

	inet_pton(AF_INET, me, &node.addrs[0]);
	timeline_init(&t);
	t.m = &model;
	t.real0_ms = 0;

	/* One second of a transfer to a, a datagram every 10 ms, and its answers. */
	for (int k = 0; k < 100; k++) {
		send_udp(&t, 1000 + k * 10, me, a, 0xA1);
		send_udp(&t, 1000 + k * 10 + 1, a, me, 0xA1);
	}
	is_int(count(&t, "out", "10.0.0.2 > 198.18.0.9"), 1000 / TIMELINE_REPEAT_MS,
	       "a stream out: one tick per TIMELINE_REPEAT_MS");
	is_int(count(&t, "in", "198.18.0.9 > 10.0.0.2"), 1000 / TIMELINE_REPEAT_MS,
	       "its answers in: as many, direction apart");
	{
		const json_t *it;
		size_t i;

		json_array_foreach(t.items, i, it)
		{
			double ms = json_real_value(json_object_get(it, "t_ms"));

			if (strcmp(json_string_value(json_object_get(it, "kind")), "out"))
				continue;
			spaced &= last < 0 || ms - last >= TIMELINE_REPEAT_MS;
			last = ms;
		}
	}
	ok(spaced, "kept ticks of one flow are at least %d ms apart", TIMELINE_REPEAT_MS);

	/* A new destination, a new kind (any UDP, not sealed) at once: each is kept. */
	send_udp(&t, 1995, me, b, 0xA1);
	send_udp(&t, 1996, me, a, 0x00);
	is_int(count(&t, "out", "10.0.0.2 > 198.18.0.10"), 1, "a new destination's first packet");
	ok(json_array_size(t.items) == 2 * 1000 / TIMELINE_REPEAT_MS + 2,
	   "a new kind's first packet (%zu items)", json_array_size(t.items));

	/* The cap per interface still holds over a long run. */
	for (int k = 0; k < 5000; k++)
		send_udp(&t, 3000 + k * TIMELINE_REPEAT_MS, me, a, 0xA1);
	is_int(count(&t, "out", NULL) + count(&t, "in", NULL), TIMELINE_LANE_PACKETS_MAX,
	       "at most TIMELINE_LANE_PACKETS_MAX packets per interface");
	timeline_close(&t);
	return tap_done();
}
