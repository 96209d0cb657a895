/* SPDX-License-Identifier: MIT */
/*
 * UPnP-IGD through miniupnpc (Debian's libminiupnpc), the field's client library: the
 * only file that calls it. Its calls block (SSDP waits, HTTP to the gateway), so each
 * runs in libuv's thread pool, one at a time, and reports back on the loop.
 *
 * Discovery sends SSDP M-SEARCHes (proto/ssdp.c) and reads the gateway's description;
 * only an IGD at our gateway's address is used (a LAN may have other UPnP devices). MAP asks for
 * the external port equal to our internal port first, as upnpc and Tailscale do, then a few others
 * when that one is taken (ConflictInMappingEntry, 718).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include "natlab/ssdp.h"
#include "natlab/util.h"
#include "portmap.h"

#define UPNP_DISCOVER_MS 250 /* SSDP answers on a LAN come in milliseconds */
#define UPNP_PORT_TRIES  4
#define UPNP_DESC        "natlab-peer"

struct peer_upnp {
	uv_loop_t *loop;
	uv_work_t work;
	int busy;
	enum peer_upnp_op op;
	peer_upnp_cb cb;
	struct peer_portmap *pm;
	char gw[INET_ADDRSTRLEN], self[INET_ADDRSTRLEN];
	uint16_t internal_port;
	uint32_t lifetime;
	/* The IGD found by DISCOVER (only the worker thread touches these while busy). */
	int have_igd;
	struct UPNPUrls urls;
	struct IGDdatas data;
	uint16_t external_port; /* of our mapping, 0: none */
	struct peer_upnp_result res;
};

static void why(struct peer_upnp *u, const char *what, int rc)
{
	const char *s = strupnperror(rc);

	snprintf(u->res.why, sizeof(u->res.why), "%s: %d %s", what, rc, s ? s : "");
}

/* Whether the description's URL names our gateway (http://GW:PORT/...). */
static int at_gateway(const struct peer_upnp *u, const char *url)
{
	size_t n = strlen(u->gw);

	return url && strncmp(url, "http://", 7) == 0 && strncmp(url + 7, u->gw, n) == 0 &&
	       url[7 + n] == ':';
}

/*
 * SSDP as Tailscale does it: an M-SEARCH for an IGD to the gateway itself first (many
 * routers answer unicast, and it teaches a host firewall to expect the answer), then to
 * the multicast group; the first answer from the gateway naming a description on it
 * wins. miniupnpc's own discovery waits out its whole delay for every search type (a
 * second in the lab where the gateway answers in 60 ms).
 */
static int ssdp_find(struct peer_upnp *u, char *url, size_t cap)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(SSDP_PORT) }, from;
	socklen_t flen;
	char req[256], buf[2048];
	uint64_t deadline = uv_hrtime() + UPNP_DISCOVER_MS * 1000000ull, now;
	int fd, n, rc = -ETIMEDOUT;

	n = ssdp_search_encode(req, sizeof(req));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || n < 0)
		goto out;
	inet_pton(AF_INET, u->gw, &to.sin_addr);
	sendto(fd, req, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to));
	inet_pton(AF_INET, SSDP_MULTICAST, &to.sin_addr);
	sendto(fd, req, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to));
	while ((now = uv_hrtime()) < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
			continue;
		flen = sizeof(from);
		n = (int)recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (n > 0 && ssdp_location_parse(buf, (size_t)n, url, cap) > 0 &&
		    at_gateway(u, url)) {
			rc = 0;
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static void discover(struct peer_upnp *u)
{
	char lan[INET_ADDRSTRLEN], url[512];

	if (ssdp_find(u, url, sizeof(url)) < 0) {
		snprintf(u->res.why, sizeof(u->res.why), "no UPnP IGD at %s answered SSDP", u->gw);
		return;
	}
	if (UPNP_GetIGDFromUrl(url, &u->urls, &u->data, lan, sizeof(lan)) != 1) {
		snprintf(u->res.why, sizeof(u->res.why), "%.120s: not a usable IGD", url);
		return;
	}
	u->have_igd = u->res.ok = 1;
}

static int external_addr(struct peer_upnp *u, uint16_t port)
{
	char ip[40] = "";
	int rc = UPNP_GetExternalIPAddress(u->urls.controlURL, u->data.first.servicetype, ip);

	if (rc != UPNPCOMMAND_SUCCESS) {
		why(u, "GetExternalIPAddress", rc);
		return -1;
	}
	memset(&u->res.external, 0, sizeof(u->res.external));
	u->res.external.sin_family = AF_INET;
	u->res.external.sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &u->res.external.sin_addr) != 1) {
		snprintf(u->res.why, sizeof(u->res.why), "GetExternalIPAddress: \"%.40s\"", ip);
		return -1;
	}
	return 0;
}

static void map(struct peer_upnp *u)
{
	char in[8], ext[8], lease[16];
	uint16_t port = u->external_port ? u->external_port : u->internal_port;
	int i, rc = 0;

	snprintf(in, sizeof(in), "%u", u->internal_port);
	snprintf(lease, sizeof(lease), "%u", u->lifetime);
	for (i = 0; i < UPNP_PORT_TRIES; i++, port = (uint16_t)(1024 + (port * 7919u) % 64511)) {
		snprintf(ext, sizeof(ext), "%u", port);
		rc = UPNP_AddPortMapping(u->urls.controlURL, u->data.first.servicetype, ext, in,
		                         u->self, UPNP_DESC, "UDP", NULL, lease);
		if (rc != 718) /* ConflictInMappingEntry: another host has it, try another */
			break;
	}
	if (rc != UPNPCOMMAND_SUCCESS) {
		why(u, "AddPortMapping", rc);
		return;
	}
	if (external_addr(u, port) == 0) {
		u->external_port = port;
		u->res.ok = 1;
	}
}

static void check(struct peer_upnp *u)
{
	char ext[8], client[40], iport[8], desc[80], enabled[8], lease[16];
	int rc;

	snprintf(ext, sizeof(ext), "%u", u->external_port);
	rc = UPNP_GetSpecificPortMappingEntry(u->urls.controlURL, u->data.first.servicetype, ext,
	                                      "UDP", NULL, client, iport, desc, enabled, lease);
	if (rc == UPNPCOMMAND_SUCCESS && strcmp(client, u->self) == 0 &&
	    (unsigned)atoi(iport) == u->internal_port) {
		/* Still there: renew its lease (AddPortMapping of the same entry). */
		map(u);
		return;
	}
	u->res.missing = 1;
	map(u);
}

static void work_cb(uv_work_t *w)
{
	struct peer_upnp *u = container_of(w, struct peer_upnp, work);
	char ext[8];
	int rc;

	switch (u->op) {
	case PEER_UPNP_DISCOVER:
		if (!u->have_igd)
			discover(u);
		else
			u->res.ok = 1;
		break;
	case PEER_UPNP_MAP:
		map(u);
		break;
	case PEER_UPNP_CHECK:
		check(u);
		break;
	case PEER_UPNP_DELETE:
		snprintf(ext, sizeof(ext), "%u", u->external_port);
		rc = UPNP_DeletePortMapping(u->urls.controlURL, u->data.first.servicetype, ext,
		                            "UDP", NULL);
		if (rc == UPNPCOMMAND_SUCCESS)
			u->res.ok = 1;
		else
			why(u, "DeletePortMapping", rc);
		u->external_port = 0;
		break;
	}
}

static void after_cb(uv_work_t *w, int status)
{
	struct peer_upnp *u = container_of(w, struct peer_upnp, work);

	u->busy = 0;
	if (status < 0)
		snprintf(u->res.why, sizeof(u->res.why), "cancelled");
	u->cb(u->pm, &u->res);
}

struct peer_upnp *peer_upnp_new(uv_loop_t *loop, struct in_addr gw, struct in_addr self,
                                uint16_t internal_port, uint32_t lifetime)
{
	struct peer_upnp *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->loop = loop;
	inet_ntop(AF_INET, &gw, u->gw, sizeof(u->gw));
	inet_ntop(AF_INET, &self, u->self, sizeof(u->self));
	u->internal_port = internal_port;
	u->lifetime = lifetime;
	return u;
}

int peer_upnp_run(struct peer_upnp *u, enum peer_upnp_op op, peer_upnp_cb cb,
                  struct peer_portmap *pm)
{
	int rc;

	if (u->busy)
		return -EBUSY;
	if (op != PEER_UPNP_DISCOVER && !u->have_igd)
		return -ENOENT;
	memset(&u->res, 0, sizeof(u->res));
	u->res.op = u->op = op;
	u->cb = cb;
	u->pm = pm;
	rc = uv_queue_work(u->loop, &u->work, work_cb, after_cb);
	if (rc == 0)
		u->busy = 1;
	return rc;
}

bool peer_upnp_busy(const struct peer_upnp *u)
{
	return u && u->busy;
}

void peer_upnp_free(struct peer_upnp *u)
{
	if (!u)
		return;
	if (u->have_igd)
		FreeUPNPUrls(&u->urls);
	free(u);
}
