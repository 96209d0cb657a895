/* SPDX-License-Identifier: MIT */
/* One direction of a wire: the seeded PRNG, the per-frame decisions, the knob parsers. */
#include "natlab/units.h"
#include "natlab/wire.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void wire_prng_seed(struct wire_prng *r, uint64_t seed)
{
	/* splitmix64 never yields four zero words, the one state xoshiro cannot leave. */
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t wire_prng_next(struct wire_prng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double wire_prng_double(struct wire_prng *r)
{
	return (double)(wire_prng_next(r) >> 11) * 0x1.0p-53;
}

void wire_path_init(struct wire_path *p, uint64_t seed, enum wire_dir dir)
{
	memset(p, 0, sizeof(*p));
	/* The two directions get unrelated streams from one seed. */
	wire_prng_seed(&p->prng, seed ^ (dir == WIRE_A_TO_B ? 0 : 0xa5a5a5a5deadbeefULL));
	p->up = true;
}

static bool fraction_ok(double f)
{
	return isfinite(f) && f >= 0 && f <= 1;
}

int wire_path_set(struct wire_path *p, const struct wire_impairment *imp)
{
	if (!fraction_ok(imp->loss) || !fraction_ok(imp->duplicate) || !fraction_ok(imp->reorder))
		return -EINVAL;
	p->imp = *imp;
	return 0;
}

void wire_path_set_up(struct wire_path *p, bool up)
{
	p->up = up;
	if (!up) {
		p->link_free_ns = 0;
		p->last_depart_ns = 0;
	}
}

/* Uniform in [-jitter, +jitter] added to the delay, never below zero. */
static uint64_t propagation(const struct wire_impairment *imp, double u)
{
	double d = (double)imp->delay_ns + (2 * u - 1) * (double)imp->jitter_ns;

	return d > 0 ? (uint64_t)d : 0;
}

static uint64_t serialization(const struct wire_impairment *imp, size_t len)
{
	if (!imp->rate_bps)
		return 0;
	return (uint64_t)((double)len * 8 * 1e9 / (double)imp->rate_bps);
}

int wire_path_admit(struct wire_path *p, uint64_t now_ns, size_t len, size_t queued,
                    uint64_t depart[2])
{
	const struct wire_impairment *imp = &p->imp;
	size_t limit = imp->limit ? imp->limit : WIRE_LIMIT_DEFAULT;
	double u_loss, u_dup, u_reorder, u_jit[2];
	int copies, n = 0;

	/* Always the same draws per frame: a frame's fate depends on its index alone. */
	u_loss = wire_prng_double(&p->prng);
	u_dup = wire_prng_double(&p->prng);
	u_reorder = wire_prng_double(&p->prng);
	u_jit[0] = wire_prng_double(&p->prng);
	u_jit[1] = wire_prng_double(&p->prng);

	p->st.rx_frames++;
	p->st.rx_bytes += len;
	if (!p->up) {
		p->st.dropped_down++;
		return 0;
	}
	if (u_loss < imp->loss) {
		p->st.lost++;
		return 0;
	}
	copies = u_dup < imp->duplicate ? 2 : 1;
	for (int i = 0; i < copies; i++) {
		uint64_t sent, t;

		if (queued + (size_t)n >= limit) {
			p->st.dropped_full++;
			continue;
		}
		/* Serialization: after whatever the link is still sending. */
		sent =
		    (p->link_free_ns > now_ns ? p->link_free_ns : now_ns) + serialization(imp, len);
		p->link_free_ns = sent;
		if (i == 0 && u_reorder < imp->reorder) {
			p->st.reordered++;
			depart[n++] = sent;
			continue;
		}
		t = sent + propagation(imp, u_jit[i]);
		if (t < p->last_depart_ns)
			t = p->last_depart_ns;
		p->last_depart_ns = t;
		depart[n++] = t;
		if (i == 1)
			p->st.duplicated++;
	}
	return n;
}

static const struct lab_unit rate_units[] = {
	{ "bit", 1 },    { "kbit", 1e3 },  { "mbit", 1e6 },
	{ "gbit", 1e9 }, { "tbit", 1e12 }, { "", 1 },
};

int wire_rate_parse(const char *s, uint64_t *bps)
{
	double v;

	if (lab_scaled_parse(s, rate_units, sizeof(rate_units) / sizeof(rate_units[0]), 1, &v) <
	        0 ||
	    v >= 1.8e19 || (v > 0 && v < 1))
		return -EINVAL;
	*bps = (uint64_t)v;
	return 0;
}

int wire_share_parse(const char *s, double *fraction)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v))
		return -EINVAL;
	if (strcmp(end, "%") == 0)
		v /= 100;
	else if (*end)
		return -EINVAL;
	if (!fraction_ok(v))
		return -EINVAL;
	*fraction = v;
	return 0;
}

static int duration_ns(const char *s, uint64_t *ns)
{
	double sec;
	int rc = lab_duration_parse(s, &sec);

	if (rc < 0)
		return rc;
	if (sec * 1e9 >= 1.8e19)
		return -EINVAL;
	*ns = (uint64_t)(sec * 1e9 + 0.5); /* rounded: "0.3ms" is 300000 ns */
	return 0;
}

int wire_impairment_set(struct wire_impairment *imp, const char *key, const char *value)
{
	if (strcmp(key, "delay") == 0)
		return duration_ns(value, &imp->delay_ns);
	if (strcmp(key, "jitter") == 0)
		return duration_ns(value, &imp->jitter_ns);
	if (strcmp(key, "loss") == 0)
		return wire_share_parse(value, &imp->loss);
	if (strcmp(key, "duplicate") == 0)
		return wire_share_parse(value, &imp->duplicate);
	if (strcmp(key, "reorder") == 0)
		return wire_share_parse(value, &imp->reorder);
	if (strcmp(key, "rate") == 0)
		return wire_rate_parse(value, &imp->rate_bps);
	if (strcmp(key, "limit") == 0) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(value, &end, 10);
		if (end == value || *end || errno || v > UINT32_MAX || value[0] == '-')
			return -EINVAL;
		imp->limit = (uint32_t)v;
		return 0;
	}
	return -ENOENT;
}
