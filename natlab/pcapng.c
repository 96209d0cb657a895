/* SPDX-License-Identifier: MIT */
#include "natlab/pcapng.h"
#include "natlab/outdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SHB     0x0A0D0D0AU
#define BLOCK_IDB     0x00000001U
#define BLOCK_EPB     0x00000006U
#define BYTE_ORDER_ID 0x1A2B3C4DU
#define OPT_END       0
#define OPT_COMMENT   1
#define OPT_IF_NAME   2
#define OPT_SHB_APP   4
#define PAD4(n)       (((n) + 3U) & ~3U)

struct pcapng {
	FILE *f;
	int nifs;
};

static int put(struct pcapng *p, const void *data, size_t len)
{
	static const uint8_t zeros[4];

	if (fwrite(data, 1, len, p->f) != len)
		return -EIO;
	if (PAD4(len) != len && fwrite(zeros, 1, PAD4(len) - len, p->f) != PAD4(len) - len)
		return -EIO;
	return 0;
}

static int put32(struct pcapng *p, uint32_t v)
{
	return put(p, &v, sizeof(v));
}

/* One option (code, length, value padded to 4); its size on disk. */
static size_t opt_size(const char *s)
{
	return s ? 4 + PAD4(strlen(s)) : 0;
}

static int put_opt(struct pcapng *p, uint16_t code, const char *s)
{
	uint16_t hdr[2] = { code, 0 };

	if (!s)
		return 0;
	hdr[1] = (uint16_t)strlen(s);
	return put(p, hdr, sizeof(hdr)) < 0 ? -EIO : put(p, s, strlen(s));
}

int pcapng_open(const char *path, const char *app, struct pcapng **out)
{
	struct pcapng *p = calloc(1, sizeof(*p));
	/* type, length, BOM, version 1.0, section length unknown; options; length. */
	uint32_t len = 28 + (uint32_t)opt_size(app) + 4;
	uint16_t version[2] = { 1, 0 };
	int64_t section = -1;
	int rc = 0;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->f = outdir_fopen(path, "w");
	if (!p->f) {
		rc = -errno;
		free(p);
		return rc;
	}
	if (put32(p, BLOCK_SHB) < 0 || put32(p, len) < 0 || put32(p, BYTE_ORDER_ID) < 0 ||
	    put(p, version, sizeof(version)) < 0 || put(p, &section, sizeof(section)) < 0 ||
	    put_opt(p, OPT_SHB_APP, app) < 0 || put32(p, OPT_END) < 0 || put32(p, len) < 0) {
		pcapng_close(p);
		return -EIO;
	}
	*out = p;
	return 0;
}

int pcapng_interface(struct pcapng *p, const char *name, int linktype, uint32_t snaplen)
{
	uint32_t len = 20 + (uint32_t)opt_size(name) + 4;
	uint16_t lt[2] = { (uint16_t)linktype, 0 };

	if (name && strlen(name) > 0xffff)
		return -ENAMETOOLONG;
	if (put32(p, BLOCK_IDB) < 0 || put32(p, len) < 0 || put(p, lt, sizeof(lt)) < 0 ||
	    put32(p, snaplen) < 0 || put_opt(p, OPT_IF_NAME, name) < 0 || put32(p, OPT_END) < 0 ||
	    put32(p, len) < 0)
		return -EIO;
	return p->nifs++;
}

int pcapng_packet(struct pcapng *p, int id, const struct timeval *ts, const uint8_t *data,
                  uint32_t caplen, uint32_t orig_len, const char *comment)
{
	uint64_t us = (uint64_t)ts->tv_sec * 1000000U + (uint64_t)ts->tv_usec;
	size_t copt = comment && strlen(comment) <= 0xffff ? opt_size(comment) : 0;
	uint32_t len = 32 + PAD4(caplen) + (uint32_t)copt + (copt ? 4 : 0);

	if (id < 0 || id >= p->nifs)
		return -EINVAL;
	if (put32(p, BLOCK_EPB) < 0 || put32(p, len) < 0 || put32(p, (uint32_t)id) < 0 ||
	    put32(p, (uint32_t)(us >> 32)) < 0 || put32(p, (uint32_t)us) < 0 ||
	    put32(p, caplen) < 0 || put32(p, orig_len) < 0 || put(p, data, caplen) < 0)
		return -EIO;
	if (copt && (put_opt(p, OPT_COMMENT, comment) < 0 || put32(p, OPT_END) < 0))
		return -EIO;
	return put32(p, len);
}

int pcapng_flush(struct pcapng *p)
{
	return p && fflush(p->f) != 0 ? -errno : 0;
}

void pcapng_close(struct pcapng *p)
{
	if (!p)
		return;
	fclose(p->f);
	free(p);
}
