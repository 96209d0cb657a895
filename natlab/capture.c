/* SPDX-License-Identifier: MIT */
#include "natlab/capture.h"
#include "natlab/log.h"
#include "natlab/netns.h"
#include "natlab/outdir.h"
#include "natlab/path.h"
#include "natlab/pcapng.h"
#include "natlab/util.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define CAPTURE_SNAPLEN 65535
#define CAPTURE_BUFFER  (512 * 1024) /* kernel ring per interface; labs have hundreds */

struct capture {
	struct runtime_child child;
	uv_poll_t poll;
	pcap_t *pcap;
	pcap_dumper_t *dump;           /* the classic per-interface file, or NULL */
	struct pcapng *ng;             /* the lab's one capture, or NULL */
	int ng_if;                     /* this interface's id in it */
	const struct capture_set *set; /* for on_packet; NULL for the core */
	int node;
	const char *ifname; /* one of the static names of capture_set_start */
	unsigned long packets;
	int polling;
};

static void dump_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)user;

	if (c->dump)
		pcap_dump((u_char *)c->dump, h, bytes);
	if (c->ng)
		pcapng_packet(c->ng, c->ng_if, &h->ts, bytes, h->caplen, h->len, NULL);
	if (c->set && c->set->on_packet)
		c->set->on_packet(c->set->on_packet_arg, c->node, c->ifname, &h->ts, bytes,
		                  h->caplen);
	c->packets++;
}

static void drain(struct capture *c)
{
	/* Non-blocking: returns as soon as the ring is empty. */
	while (pcap_dispatch(c->pcap, 1024, dump_cb, (u_char *)c) > 0)
		;
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	struct capture *c = container_of(p, struct capture, poll);

	if (status < 0) {
		/* The interface went away (its namespace was removed): stop reading. */
		uv_poll_stop(p);
		return;
	}
	drain(c);
}

static void capture_free(struct capture *c)
{
	if (c->dump)
		pcap_dump_close(c->dump);
	if (c->pcap)
		pcap_close(c->pcap);
	free(c);
}

static void close_cb(uv_handle_t *h)
{
	capture_free(container_of((uv_poll_t *)h, struct capture, poll));
}

void capture_stop(struct capture *c)
{
	if (!c)
		return;
	runtime_child_remove(&c->child);
	drain(c);
	if (c->dump)
		pcap_dump_flush(c->dump);
	if (c->polling)
		uv_close((uv_handle_t *)&c->poll, close_cb);
	else
		capture_free(c);
}

static void child_close(struct runtime_child *child)
{
	capture_stop(container_of(child, struct capture, child));
}

void capture_attach(struct capture *c, struct runtime *rt)
{
	runtime_child_add(rt, &c->child);
}

/* Names the capture's interface in the lab's pcapng ("home/wan"). */
static int capture_name(struct capture_set *set, struct capture *c, const char *node,
                        const char *ifname, char *err, size_t errlen)
{
	char name[64];

	snprintf(name, sizeof(name), "%s/%s", node, ifname);
	c->ng = set->ng;
	c->ng_if = pcapng_interface(set->ng, name, pcap_datalink(c->pcap), CAPTURE_SNAPLEN);
	if (c->ng_if < 0) {
		snprintf(err, errlen, "%s: %s", CAPTURE_PCAPNG, strerror(-c->ng_if));
		c->ng = NULL;
		return c->ng_if;
	}
	return 0;
}

int capture_set_start(uv_loop_t *loop, const struct lab_model *m, const char *dir,
                      struct capture_set *set, char *err, size_t errlen)
{
	static const char *const nat_ifs[] = { "wan", "lan", NULL };
	static const char *const host_ifs[] = { "eth0", NULL };
	/* The internet's core: every packet between attachments crosses its bridge. */
	static const char *const core_ifs[] = { "core", NULL };
	char path[4200];
	int rc = 0;

	rc = outdir_make(dir, err, errlen);
	if (rc < 0)
		return rc;
	set->v = calloc((size_t)m->nnodes * 2, sizeof(*set->v));
	if (!set->v)
		return -ENOMEM;
	rc = lab_pathf(path, sizeof(path), "%s/%s", dir, CAPTURE_PCAPNG);
	if (rc == 0)
		rc = pcapng_open(path, "natlab " NATLAB_VERSION, &set->ng);
	if (rc == 0)
		rc = set->events_if = pcapng_interface(set->ng, CAPTURE_EVENTS_IF,
		                                       PCAPNG_LINKTYPE_USER0, CAPTURE_SNAPLEN);
	if (rc < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, CAPTURE_PCAPNG, strerror(-rc));
		return rc;
	}
	for (int i = 0; i < m->nnodes && rc == 0; i++) {
		const struct lab_node *n = &m->nodes[i];
		const char *const *ifs = n->kind == LAB_NODE_NAT    ? nat_ifs
		                         : n->kind == LAB_NODE_HOST ? host_ifs
		                                                    : core_ifs;
		int fd;

		rc = lab_node_netns_open(m->name, n->name, &fd);
		if (rc < 0)
			snprintf(err, errlen, "namespace of \"%s\": %s", n->name, strerror(-rc));
		for (int k = 0; rc == 0 && ifs[k]; k++) {
			/* The core is in the lab's pcapng only: the classic files stay as they
			 * were. */
			if (n->kind == LAB_NODE_INTERNET)
				rc = capture_start(loop, fd, ifs[k], NULL, &set->v[set->n], err,
				                   errlen);
			else if ((rc = lab_pathf(path, sizeof(path), "%s/%s-%s.pcap", dir, n->name,
			                         ifs[k])) < 0)
				snprintf(err, errlen, "%s: path too long for %s-%s.pcap", dir,
				         n->name, ifs[k]);
			else
				rc = capture_start(loop, fd, ifs[k], path, &set->v[set->n], err,
				                   errlen);
			if (rc == 0 && n->kind != LAB_NODE_INTERNET) {
				set->v[set->n]->set = set;
				set->v[set->n]->node = i;
				set->v[set->n]->ifname = ifs[k];
			}
			if (rc == 0)
				rc = capture_name(set, set->v[set->n++], n->name, ifs[k], err,
				                  errlen);
		}
		if (fd >= 0)
			close(fd);
	}
	return rc;
}

void capture_set_comment(struct capture_set *set, const char *text)
{
	struct timeval now;

	if (!set->ng)
		return;
	gettimeofday(&now, NULL);
	pcapng_packet(set->ng, set->events_if, &now, (const uint8_t *)text, (uint32_t)strlen(text),
	              (uint32_t)strlen(text), text);
}

void capture_set_stop(struct capture_set *set)
{
	for (int i = 0; i < set->n; i++)
		capture_stop(set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
	pcapng_close(set->ng);
	set->ng = NULL;
}

void capture_set_flush(struct capture_set *set)
{
	for (int i = 0; i < set->n; i++) {
		drain(set->v[i]);
		if (set->v[i]->dump)
			pcap_dump_flush(set->v[i]->dump);
	}
	pcapng_flush(set->ng);
}

void capture_set_release(struct capture_set *set)
{
	for (int i = 0; i < set->n; i++) {
		struct capture *c = set->v[i];

		runtime_child_remove(&c->child);
		if (c->polling)
			uv_close((uv_handle_t *)&c->poll, close_cb);
		else
			capture_free(c);
	}
	free(set->v);
	set->v = NULL;
	set->n = 0;
	/* Flushed before the fork: closing writes nothing the other process writes too. */
	pcapng_close(set->ng);
	set->ng = NULL;
}

unsigned long capture_packets(const struct capture *c)
{
	return c->packets;
}

/* pcap binds its packet socket to the namespace of the thread that activates it. */
static int open_in_ns(struct capture *c, int nsfd, const char *ifname, int promisc, char *err,
                      size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	int rc = lab_netns_enter(nsfd);

	if (rc < 0) {
		snprintf(err, errlen, "setns: %s", strerror(-rc));
		return rc;
	}
	c->pcap = pcap_create(ifname, ebuf);
	if (c->pcap) {
		pcap_set_snaplen(c->pcap, CAPTURE_SNAPLEN);
		pcap_set_buffer_size(c->pcap, CAPTURE_BUFFER);
		pcap_set_immediate_mode(c->pcap, 1);
		/* A bridge passes up what it forwards between its ports only when promiscuous. */
		pcap_set_promisc(c->pcap, promisc);
		if (pcap_activate(c->pcap) < 0) {
			snprintf(ebuf, sizeof(ebuf), "%s", pcap_geterr(c->pcap));
			rc = -EIO;
		}
	} else {
		rc = -EIO;
	}
	lab_netns_leave();
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", ifname, ebuf[0] ? ebuf : strerror(-rc));
	return rc;
}

int capture_start(uv_loop_t *loop, int nsfd, const char *ifname, const char *path,
                  struct capture **out, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct capture *c = calloc(1, sizeof(*c));
	FILE *f;
	int rc, fd;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	/* Without a file of its own it is the core's bridge: see what it forwards too. */
	rc = open_in_ns(c, nsfd, ifname, !path, err, errlen);
	if (rc < 0)
		goto fail;
	rc = -EIO;
	if (pcap_setnonblock(c->pcap, 1, ebuf) < 0) {
		snprintf(err, errlen, "%s: %s", ifname, ebuf);
		goto fail;
	}
	if (path) {
		f = outdir_fopen(path, "w");
		if (!f) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		c->dump = pcap_dump_fopen(c->pcap, f);
		if (!c->dump) {
			snprintf(err, errlen, "%s: %s", path, pcap_geterr(c->pcap));
			fclose(f);
			goto fail;
		}
	}
	fd = pcap_get_selectable_fd(c->pcap);
	rc = fd < 0 ? -EIO : uv_poll_init(loop, &c->poll, fd);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot poll the capture", ifname);
		goto fail;
	}
	c->polling = 1;
	uv_poll_start(&c->poll, UV_READABLE, poll_cb);
	/* Captures must not keep the loop alive: only the scenario's waits do. */
	uv_unref((uv_handle_t *)&c->poll);
	c->child.close = child_close;
	*out = c;
	return 0;
fail:
	capture_free(c);
	return rc;
}
