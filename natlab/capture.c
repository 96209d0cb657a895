/* SPDX-License-Identifier: MIT */
#include "natlab/capture.h"
#include "natlab/fd_close.h"
#include "natlab/log.h"
#include "natlab/netns.h"
#include "natlab/outdir.h"
#include "natlab/path.h"
#include "natlab/pcapng.h"
#include "natlab/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define CAPTURE_SNAPLEN 65535
#define CAPTURE_BUFFER  (512 * 1024) /* kernel ring per interface; labs have hundreds */
#define CAPTURE_THREADS 16           /* captures activated side by side */

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
	if (c->pcap) {
		/*
		 * A packet socket's release waits for RCU grace periods (15-35 ms each here):
		 * a cell's eight captures closed one after the other took 250 ms. Its last
		 * close goes side by side with the others' (fd_close.h); pcap_close closes a
		 * copy.
		 */
		int fd = pcap_get_selectable_fd(c->pcap);
		int last = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;

		pcap_close(c->pcap);
		lab_fd_close_bg(last);
	}
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

/* One interface to capture: where, and what activating it gave. */
struct capture_plan {
	struct capture *c;
	int nsfd;           /* its node's namespace (shared by the node's interfaces) */
	int node;           /* its node's index in the model */
	const char *ifname; /* one of the static names below */
	int promisc;
	int rc;
	char err[PCAP_ERRBUF_SIZE + 64];
};

static int activate(struct capture *c, const char *ifname, int promisc, char *err, size_t errlen);
static int capture_finish(struct capture *c, uv_loop_t *loop, const char *ifname, const char *path,
                          char *err, size_t errlen);

/* A thread of its own: it enters the namespace and ends there, touching nothing else. */
static void *activate_thread(void *arg)
{
	struct capture_plan *pl = arg;

	if (setns(pl->nsfd, CLONE_NEWNET) < 0) {
		pl->rc = -errno;
		snprintf(pl->err, sizeof(pl->err), "%s: setns: %s", pl->ifname, strerror(errno));
		return NULL;
	}
	pl->rc = activate(pl->c, pl->ifname, pl->promisc, pl->err, sizeof(pl->err));
	return NULL;
}

/* Without a thread: here, going back to our namespace after. */
static void activate_here(struct capture_plan *pl)
{
	pl->rc = lab_netns_enter(pl->nsfd);
	if (pl->rc < 0) {
		snprintf(pl->err, sizeof(pl->err), "%s: setns: %s", pl->ifname, strerror(-pl->rc));
		return;
	}
	pl->rc = activate(pl->c, pl->ifname, pl->promisc, pl->err, sizeof(pl->err));
	lab_netns_leave();
}

/*
 * Activates every planned capture, CAPTURE_THREADS at a time: a packet socket's ring
 * setup waits for an RCU grace period (6-23 ms here), which side by side is paid about
 * once. A plan whose thread cannot start is activated here.
 */
static void activate_all(struct capture_plan *pl, int n)
{
	pthread_t t[CAPTURE_THREADS];
	int started[CAPTURE_THREADS];

	for (int base = 0; base < n; base += CAPTURE_THREADS) {
		int batch = n - base < CAPTURE_THREADS ? n - base : CAPTURE_THREADS;

		for (int k = 0; k < batch; k++)
			started[k] =
			    pthread_create(&t[k], NULL, activate_thread, &pl[base + k]) == 0;
		for (int k = 0; k < batch; k++) {
			if (started[k])
				pthread_join(t[k], NULL);
			else
				activate_here(&pl[base + k]);
		}
	}
}

/* Which interfaces of node n are captured. */
static const char *const *node_ifs(const struct lab_node *n)
{
	static const char *const nat_ifs[] = { "wan", "lan", NULL };
	static const char *const host_ifs[] = { "eth0", NULL };
	/* The internet's core: every packet between attachments crosses its bridge. */
	static const char *const core_ifs[] = { "core", NULL };

	return n->kind == LAB_NODE_NAT ? nat_ifs : n->kind == LAB_NODE_HOST ? host_ifs : core_ifs;
}

/* The plans of lab m's interfaces, each node's namespace opened; -errno with err said. */
static int plan_all(const struct lab_model *m, struct capture_plan *pl, int *n, char *err,
                    size_t errlen)
{
	*n = 0;
	for (int i = 0; i < m->nnodes; i++) {
		const char *const *ifs = node_ifs(&m->nodes[i]);
		int fd, rc = lab_node_netns_open(m->name, m->nodes[i].name, &fd);

		if (rc < 0) {
			snprintf(err, errlen, "namespace of \"%s\": %s", m->nodes[i].name,
			         strerror(-rc));
			return rc;
		}
		for (int k = 0; ifs[k]; k++) {
			pl[*n] = (struct capture_plan){ .nsfd = fd, .node = i, .ifname = ifs[k] };
			/* Without a file of its own the core's bridge: see what it forwards too. */
			pl[*n].promisc = m->nodes[i].kind == LAB_NODE_INTERNET;
			if (!(pl[*n].c = calloc(1, sizeof(*pl[*n].c)))) {
				if (k == 0)
					close(fd);
				return -ENOMEM;
			}
			(*n)++;
		}
	}
	return 0;
}

static void plans_free(struct capture_plan *pl, int n)
{
	for (int i = 0; i < n; i++) {
		if (pl[i].c)
			capture_free(pl[i].c);
		if (pl[i].nsfd >= 0 && (i + 1 == n || pl[i + 1].nsfd != pl[i].nsfd))
			close(pl[i].nsfd);
	}
	free(pl);
}

int capture_set_start(uv_loop_t *loop, const struct lab_model *m, const char *dir,
                      struct capture_set *set, char *err, size_t errlen)
{
	struct capture_plan *pl;
	char path[4200];
	int rc = 0, n = 0;

	rc = outdir_make(dir, err, errlen);
	if (rc < 0)
		return rc;
	set->v = calloc((size_t)m->nnodes * 2, sizeof(*set->v));
	pl = calloc((size_t)m->nnodes * 2 + 1, sizeof(*pl));
	if (!set->v || !pl) {
		free(pl);
		return -ENOMEM;
	}
	rc = lab_pathf(path, sizeof(path), "%s/%s", dir, CAPTURE_PCAPNG);
	if (rc == 0)
		rc = pcapng_open(path, "natlab " NATLAB_VERSION, &set->ng);
	if (rc == 0)
		rc = set->events_if = pcapng_interface(set->ng, CAPTURE_EVENTS_IF,
		                                       PCAPNG_LINKTYPE_USER0, CAPTURE_SNAPLEN);
	if (rc < 0)
		snprintf(err, errlen, "%s/%s: %s", dir, CAPTURE_PCAPNG, strerror(-rc));
	if (rc >= 0 && (rc = plan_all(m, pl, &n, err, errlen)) == 0)
		activate_all(pl, n);
	/* In the model's order: the pcapng's interface ids and the set's order as before. */
	for (int i = 0; rc == 0 && i < n; i++) {
		const struct lab_node *node = &m->nodes[pl[i].node];
		struct capture *c = pl[i].c;

		rc = pl[i].rc;
		if (rc < 0)
			snprintf(err, errlen, "%s", pl[i].err);
		/* The core is in the lab's pcapng only: the classic files stay as they were. */
		else if (node->kind == LAB_NODE_INTERNET)
			rc = capture_finish(c, loop, pl[i].ifname, NULL, err, errlen);
		else if ((rc = lab_pathf(path, sizeof(path), "%s/%s-%s.pcap", dir, node->name,
		                         pl[i].ifname)) < 0)
			snprintf(err, errlen, "%s: path too long for %s-%s.pcap", dir, node->name,
			         pl[i].ifname);
		else
			rc = capture_finish(c, loop, pl[i].ifname, path, err, errlen);
		if (rc < 0)
			break;
		pl[i].c = NULL;
		set->v[set->n++] = c;
		if (node->kind != LAB_NODE_INTERNET) {
			c->set = set;
			c->node = pl[i].node;
			c->ifname = pl[i].ifname;
		}
		rc = capture_name(set, c, node->name, pl[i].ifname, err, errlen);
	}
	plans_free(pl, n);
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

/* Activates c's capture of ifname in the calling thread's namespace (pcap binds its packet
 * socket to it). */
static int activate(struct capture *c, const char *ifname, int promisc, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	int rc = 0;

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
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", ifname, ebuf[0] ? ebuf : strerror(-rc));
	return rc;
}

/* Makes an activated capture non-blocking, its pcap file (path, or none) and its poll. */
static int capture_finish(struct capture *c, uv_loop_t *loop, const char *ifname, const char *path,
                          char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	FILE *f;
	int rc, fd;

	if (pcap_setnonblock(c->pcap, 1, ebuf) < 0) {
		snprintf(err, errlen, "%s: %s", ifname, ebuf);
		return -EIO;
	}
	if (path) {
		f = outdir_fopen(path, "w");
		if (!f) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -EIO;
		}
		c->dump = pcap_dump_fopen(c->pcap, f);
		if (!c->dump) {
			snprintf(err, errlen, "%s: %s", path, pcap_geterr(c->pcap));
			fclose(f);
			return -EIO;
		}
	}
	fd = pcap_get_selectable_fd(c->pcap);
	rc = fd < 0 ? -EIO : uv_poll_init(loop, &c->poll, fd);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot poll the capture", ifname);
		return -EIO;
	}
	c->polling = 1;
	uv_poll_start(&c->poll, UV_READABLE, poll_cb);
	/* Captures must not keep the loop alive: only the scenario's waits do. */
	uv_unref((uv_handle_t *)&c->poll);
	c->child.close = child_close;
	return 0;
}
