/* SPDX-License-Identifier: MIT */
/*
 * Relays from a relay directory (--directory; libp2p's autorelay): every
 * --directory-poll ms the peer asks the directory for its healthy relays (GET /relays),
 * measures the round trip to each one it does not hold yet (a TCP connect), and holds
 * long-lived connections to the nearest --directory-relays (default 3), which it
 * advertises as its relay addresses (home.c). A relay the directory stops listing (it
 * went unhealthy) is dropped and the next nearest taken, so peers move off a dying relay
 * even before their own connection to it notices.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "natlab/addr.h"
#include "natlab/http_client.h"
#include "natlab/log.h"
#include "peer.h"

#define DIR_PROBE_WAIT_MS 1000 /* a probe round ends after this long, answered or not */
#define DIR_LISTED_MAX    64   /* relays considered from one answer */
#define DIR_REUSE_MS      1000 /* a dropped relay's slot is free again (handles closed) */

struct dir_listed {
	char relay[ADDR_TEXT_MAX];
	union peer_sa addr;
	uint64_t rtt_ns; /* 0: not measured (yet) */
};

struct dir_probe {
	uv_tcp_t tcp;
	uv_connect_t req;
	struct peer_dir *d;
	union peer_sa addr;
	uint64_t start_ns;
	struct dir_probe *next;
};

struct peer_dir {
	struct peer *p;
	struct sockaddr_storage addr;
	uv_timer_t poll, round;
	struct http_client *req;
	struct dir_listed listed[DIR_LISTED_MAX];
	int n_listed;
	struct dir_probe *probes; /* in flight */
	int failing;              /* the last answer was bad: reported once */
	uint64_t reported;        /* hash of the listed and held relays in the last event */
};

static struct peer_dir dir;

/* The slot of a dropped relay whose handles are surely closed, or a new one. */
static int dir_slot(struct peer *p)
{
	uint64_t now = peer_now_ns();
	int i;

	for (i = 0; i < p->n_relays; i++)
		if (p->relays[i].dropped && now - p->relays[i].dropped_ns > DIR_REUSE_MS * PEER_MS)
			return i;
	return p->n_relays < PEER_MAX_SLOTS ? p->n_relays : -1;
}

static void dir_drop(struct peer *p, int i, const char *why)
{
	struct peer_relay *r = &p->relays[i];

	event_emit("relay_dropped", "{s:s, s:i, s:s}", "relay", r->text, "index", i, "reason", why);
	peer_relay_close(r);
	r->dropped = 1;
	r->dropped_ns = peer_now_ns();
	if (p->home == i)
		p->home = -1;
	if (p->peer_heard == i)
		p->peer_heard = -1;
	if (p->peer_home == i)
		p->peer_home = -1;
	peer_path_pick_relay(p);
}

static struct dir_listed *dir_find(struct peer_dir *d, const union peer_sa *a)
{
	int i;

	for (i = 0; i < d->n_listed; i++)
		if (peer_addr_equal(&d->listed[i].addr, a))
			return &d->listed[i];
	return NULL;
}

/* The listed relays' round trips: held ones from their live connection. */
static void dir_rtts(struct peer_dir *d)
{
	struct peer *p = d->p;
	int i, j;

	for (i = 0; i < d->n_listed; i++) {
		j = peer_relay_find(p, &d->listed[i].addr);
		if (j >= 0 && p->relays[j].rtt_ns)
			d->listed[i].rtt_ns = p->relays[j].rtt_ns;
	}
}

static int dir_held(const struct peer *p)
{
	int i, n = 0;

	for (i = 0; i < p->n_relays; i++)
		n += !p->relays[i].dropped && p->relays[i].source == PEER_RELAY_DIRECTORY;
	return n;
}

/* The `directory` event, when the relays listed or held changed since the last one. */
static void dir_event(struct peer_dir *d)
{
	json_t *arr;
	uint64_t h = 1469598103934665603ull;
	int i;

	for (i = 0; i < d->n_listed; i++)
		h = (h ^ (d->listed[i].addr.in.sin_addr.s_addr +
		          65537ull * d->listed[i].addr.in.sin_port +
		          (peer_relay_find(d->p, &d->listed[i].addr) >= 0 ? 1ull << 40 : 0))) *
		    1099511628211ull;
	if (h == d->reported)
		return;
	d->reported = h;
	arr = json_array();
	for (i = 0; i < d->n_listed; i++) {
		json_t *o = json_pack("{s:s, s:b}", "relay", d->listed[i].relay, "held",
		                      peer_relay_find(d->p, &d->listed[i].addr) >= 0);

		json_object_set_new(o, "rtt_ms",
		                    d->listed[i].rtt_ns
		                        ? json_real((double)d->listed[i].rtt_ns / 1e6)
		                        : json_null());
		json_array_append_new(arr, o);
	}
	event_emit_obj("directory", json_pack("{s:o}", "relays", arr));
}

/* Holds the nearest measured relays, up to --directory-relays. */
static void dir_choose(struct peer_dir *d)
{
	struct peer *p = d->p;
	int i, best, slot;

	dir_rtts(d);
	while (dir_held(p) < p->o->directory_relays) {
		best = -1;
		for (i = 0; i < d->n_listed; i++)
			if (d->listed[i].rtt_ns && peer_relay_find(p, &d->listed[i].addr) < 0 &&
			    (best < 0 || d->listed[i].rtt_ns < d->listed[best].rtt_ns))
				best = i;
		if (best < 0 || (slot = dir_slot(p)) < 0)
			break;
		if (peer_relay_add_at(p, slot, d->listed[best].relay, PEER_RELAY_DIRECTORY) < 0)
			break;
		/* Our STUN servers, unless --stun named them: the relays' hosts. */
		if (!p->o->n_stun && !p->stun_done && p->n_stun < PEER_MAX_RELAYS) {
			p->stun_srv[p->n_stun] = d->listed[best].addr;
			p->stun_srv[p->n_stun++].in.sin_port = htons(PEER_DEFAULT_STUN);
		}
	}
	dir_event(d);
}

static void dir_probe_closed_cb(uv_handle_t *h)
{
	free(container_of((uv_tcp_t *)h, struct dir_probe, tcp));
}

static void dir_probe_end(struct dir_probe *pr)
{
	struct dir_probe **pp;

	for (pp = &pr->d->probes; *pp; pp = &(*pp)->next)
		if (*pp == pr) {
			*pp = pr->next;
			break;
		}
	uv_close((uv_handle_t *)&pr->tcp, dir_probe_closed_cb);
}

static void dir_probe_cb(uv_connect_t *req, int status)
{
	struct dir_probe *pr = container_of(req, struct dir_probe, req);
	struct peer_dir *d = pr->d;
	struct dir_listed *l;

	if (status == UV_ECANCELED)
		return; /* closed at the end of the round */
	l = status == 0 ? dir_find(d, &pr->addr) : NULL;
	if (l)
		l->rtt_ns = peer_now_ns() - pr->start_ns;
	dir_probe_end(pr);
	if (!d->probes && !d->p->stopping) {
		uv_timer_stop(&d->round);
		dir_choose(d);
	}
}

static void dir_round_cb(uv_timer_t *t)
{
	struct peer_dir *d = container_of(t, struct peer_dir, round);

	while (d->probes)
		dir_probe_end(d->probes);
	dir_choose(d);
}

static void dir_probe_start(struct peer_dir *d, struct dir_listed *l)
{
	struct dir_probe *pr = calloc(1, sizeof(*pr));

	if (!pr)
		return;
	pr->d = d;
	pr->addr = l->addr;
	uv_tcp_init(d->p->loop, &pr->tcp);
	pr->start_ns = peer_now_ns();
	if (uv_tcp_connect(&pr->req, &pr->tcp, (const struct sockaddr *)&l->addr, dir_probe_cb) <
	    0) {
		uv_close((uv_handle_t *)&pr->tcp, dir_probe_closed_cb);
		return;
	}
	pr->next = d->probes;
	d->probes = pr;
}

/* Reported once until an answer is good again: the peer keeps asking. */
static void dir_failed(struct peer_dir *d, const char *detail)
{
	if (!d->failing)
		peer_error(d->p, 0, "bad_directory", "directory %s: %s", d->p->o->directory,
		           detail);
	d->failing = 1;
}

/* The answer: {"relays":[{"id","relay":"a.b.c.d:port"}...]}. */
static int dir_parse(struct peer_dir *d, const char *body, size_t len)
{
	struct dir_listed old[DIR_LISTED_MAX], *prev;
	struct sockaddr_storage ss;
	json_error_t err;
	json_t *o = json_loadb(body, len, 0, &err), *arr, *e;
	const char *relay;
	int n_old = d->n_listed;
	size_t i;

	arr = o ? json_object_get(o, "relays") : NULL;
	if (!json_is_array(arr)) {
		dir_failed(d, "its answer is not {\"relays\":[...]}");
		json_decref(o);
		return -EBADMSG;
	}
	memcpy(old, d->listed, sizeof(old));
	d->n_listed = 0;
	json_array_foreach(arr, i, e)
	{
		relay = json_string_value(json_object_get(e, "relay"));
		if (!relay || addr_parse(relay, &ss, ADDR_PORT_REQUIRED) < 0 ||
		    ss.ss_family != AF_INET) {
			dir_failed(d, "a listed relay is not an IPv4 ADDR:PORT");
			continue;
		}
		if (d->n_listed == DIR_LISTED_MAX)
			break;
		snprintf(d->listed[d->n_listed].relay, ADDR_TEXT_MAX, "%s", relay);
		d->listed[d->n_listed].addr = *(union peer_sa *)&ss;
		d->listed[d->n_listed].rtt_ns = 0;
		/* Keep what we measured of relays listed before. */
		for (prev = old; prev < old + n_old; prev++)
			if (peer_addr_equal(&prev->addr, &d->listed[d->n_listed].addr))
				d->listed[d->n_listed].rtt_ns = prev->rtt_ns;
		d->n_listed++;
	}
	json_decref(o);
	return 0;
}

static void dir_answer_cb(void *arg, int status, const char *body, size_t len)
{
	struct peer_dir *d = arg;
	struct peer *p = d->p;
	char detail[96];
	int i;

	d->req = NULL;
	if (p->stopping)
		return;
	if (status != 200) {
		if (status > 0)
			snprintf(detail, sizeof(detail), "no list of relays: HTTP %d", status);
		else
			snprintf(detail, sizeof(detail), "no list of relays: %s",
			         strerror(-status));
		dir_failed(d, detail);
		return;
	}
	if (dir_parse(d, body, len) < 0)
		return;
	d->failing = 0;
	/* Held relays the directory no longer lists went unhealthy: move off them. */
	for (i = 0; i < p->n_relays; i++)
		if (!p->relays[i].dropped && p->relays[i].source == PEER_RELAY_DIRECTORY &&
		    p->relays[i].addr.ss_family == AF_INET &&
		    !dir_find(d, (const union peer_sa *)&p->relays[i].addr))
			dir_drop(p, i, "unlisted");
	dir_rtts(d);
	for (i = 0; i < d->n_listed; i++)
		if (!d->listed[i].rtt_ns && peer_relay_find(p, &d->listed[i].addr) < 0)
			dir_probe_start(d, &d->listed[i]);
	if (d->probes)
		uv_timer_start(&d->round, dir_round_cb, DIR_PROBE_WAIT_MS, 0);
	else
		dir_choose(d);
}

static void dir_poll_cb(uv_timer_t *t)
{
	struct peer_dir *d = container_of(t, struct peer_dir, poll);

	if (d->req || d->probes || d->p->stopping)
		return; /* the last round is still going */
	d->req = http_client_request(d->p->loop, (const struct sockaddr *)&d->addr, "GET",
	                             "/relays", NULL, 2000, dir_answer_cb, d);
}

int peer_dir_start(struct peer *p)
{
	struct peer_dir *d = &dir;
	int rc;

	memset(d, 0, sizeof(*d));
	d->p = p;
	rc = addr_parse(p->o->directory, &d->addr, ADDR_PORT_REQUIRED);
	if (rc < 0)
		return rc;
	uv_timer_init(p->loop, &d->poll);
	uv_timer_init(p->loop, &d->round);
	return uv_timer_start(&d->poll, dir_poll_cb, 0, p->o->directory_poll_ms);
}

void peer_dir_stop(struct peer *p)
{
	if (!dir.p)
		return;
	http_client_cancel(dir.req);
	dir.req = NULL;
	while (dir.probes)
		dir_probe_end(dir.probes);
}
