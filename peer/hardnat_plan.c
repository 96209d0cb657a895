/* SPDX-License-Identifier: MIT */
/* Hard-NAT traversal decisions, pure: hardnat_plan.h says what and why. */
#include "hardnat_plan.h"

#include <stddef.h>

#define NS_PER_S 1000000000ull

/* Signed distance from a to b on the 16-bit port circle. */
static int port_delta(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(b - a);
}

void hardnat_classify(const struct hardnat_obs *obs, int n, struct hardnat_type *out)
{
	int i, d, step = 0, same = 1, seq = 1;

	out->kind = HARDNAT_UNKNOWN;
	out->step = 0;
	out->last_port = n > 0 ? obs[n - 1].port : 0;
	if (n < 2)
		return;
	for (i = 1; i < n; i++) {
		if (obs[i].ip != obs[0].ip || obs[i].port != obs[0].port)
			same = 0;
		/* A NAT that changes address per destination pools addresses: as random. */
		d = obs[i].ip == obs[i - 1].ip ? port_delta(obs[i - 1].port, obs[i].port) : 0;
		if (d < 1 || d > HARDNAT_SEQ_MAX_STEP)
			seq = 0;
		/* Other subscribers' mappings in between only widen a gap: the least is ours. */
		else if (!step || d < step)
			step = d;
	}
	if (same) {
		out->kind = HARDNAT_EASY;
	} else if (seq) {
		out->kind = HARDNAT_HARD_SEQ;
		out->step = step;
	} else {
		out->kind = HARDNAT_HARD_RAND;
	}
}

const char *hardnat_kind_name(enum hardnat_kind k)
{
	switch (k) {
	case HARDNAT_EASY:
		return "easy";
	case HARDNAT_HARD_SEQ:
		return "hard-sequential";
	case HARDNAT_HARD_RAND:
		return "hard-random";
	default:
		return "unknown";
	}
}

static bool is_hard(enum hardnat_kind k)
{
	return k == HARDNAT_HARD_SEQ || k == HARDNAT_HARD_RAND;
}

enum hardnat_technique hardnat_choose(enum hardnat_kind self, enum hardnat_kind peer,
                                      const char **reason)
{
	*reason = NULL;
	if (!is_hard(self) && !is_hard(peer))
		return HARDNAT_TECH_NONE;
	if (self == HARDNAT_UNKNOWN || peer == HARDNAT_UNKNOWN) {
		*reason = "one side's NAT kind is unknown (fewer than two STUN endpoints "
		          "answered): no hard-NAT technique";
		return HARDNAT_TECH_NONE;
	}
	if (self == HARDNAT_EASY) {
		*reason = "the peer's NAT maps per destination, ours does not: we probe random "
		          "ports of its address";
		return HARDNAT_TECH_BIRTHDAY_EASY;
	}
	if (peer == HARDNAT_EASY) {
		*reason = "our NAT maps per destination, the peer's does not: we open many "
		          "sockets towards its address";
		return HARDNAT_TECH_BIRTHDAY_HARD;
	}
	if (self == HARDNAT_HARD_SEQ && peer == HARDNAT_HARD_SEQ) {
		*reason = "both NATs map per destination on successive ports: we predict each "
		          "other's next ports";
		return HARDNAT_TECH_PREDICT;
	}
	*reason = "both NATs map per destination and at least one picks random ports: no "
	          "4-tuple can be found in bounded time, the relay stays";
	return HARDNAT_TECH_NONE;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

void hardnat_perm_init(struct hardnat_perm *pm, uint32_t r1, uint32_t r2)
{
	pm->start = r1 % HARDNAT_PORT_COUNT;
	/*
	 * Any stride coprime with the count walks every port once. The count/golden-ratio
	 * stride (or its mirror, count minus it) also spreads every prefix of the walk
	 * evenly (three-gap theorem): after 2000 probes no run of unprobed ports is longer
	 * than 70, so a sequential allocator's block of 256 mappings is always hit (within
	 * 380 probes). A random stride bunched the probes for some values: 2.5% of runs
	 * missed such a block in 2000 probes (t_hardnat_plan).
	 */
	pm->stride = (uint32_t)(HARDNAT_PORT_COUNT * 0.6180339887498949 + 0.5);
	if (r2 & 1)
		pm->stride = HARDNAT_PORT_COUNT - pm->stride;
	while (gcd(pm->stride, HARDNAT_PORT_COUNT) != 1)
		pm->stride++;
}

uint16_t hardnat_perm_port(const struct hardnat_perm *pm, uint32_t i)
{
	uint64_t x = (pm->start + (uint64_t)i * pm->stride) % HARDNAT_PORT_COUNT;

	return (uint16_t)(HARDNAT_PORT_LO + x);
}

uint32_t hardnat_due(uint64_t start_ns, uint64_t now, uint32_t rate, uint32_t max, uint64_t time_ns,
                     uint32_t sent)
{
	uint64_t el = now > start_ns ? now - start_ns : 0, total;

	if (el > time_ns)
		return 0;
	total = 1 + el * rate / NS_PER_S;
	if (total > max)
		total = max;
	return total > sent ? (uint32_t)(total - sent) : 0;
}

bool hardnat_over(uint64_t start_ns, uint64_t now, uint32_t max, uint64_t time_ns, uint32_t sent)
{
	return sent >= max || (now > start_ns && now - start_ns > time_ns);
}

double hardnat_birthday_p(uint32_t k, uint32_t ports, uint32_t n)
{
	double miss = 1.0;
	uint32_t i;

	if (k >= ports)
		return n ? 1.0 : 0.0;
	for (i = 0; i < n && i < ports; i++) {
		if (ports - i <= k)
			return 1.0;
		miss *= 1.0 - (double)k / (double)(ports - i);
	}
	return 1.0 - miss;
}

uint16_t hardnat_predict_port(uint16_t last, int step, int j)
{
	return (uint16_t)(last + step * j);
}

uint16_t hardnat_predict_target(bool sweep, uint16_t peer_port, int step, int i)
{
	return hardnat_predict_port(peer_port, step > 0 ? step : 1,
	                            sweep ? i + 1 : HARDNAT_PREDICT_SPAN);
}
