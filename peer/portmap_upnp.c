/* SPDX-License-Identifier: MIT */
/*
 * UPnP-IGD through miniupnpc (Debian's libminiupnpc), the field's client library: the
 * only file that calls it. Its calls block (SSDP waits, HTTP to the gateway), so each
 * runs in libuv's thread pool, one at a time, and reports back on the loop.
 *
 * Discovery sends SSDP M-SEARCHes and reads the gateway's description; only an IGD at
 * our gateway's address is used (a LAN may have other UPnP devices). MAP asks for the
 * external port equal to our internal port first, as upnpc and Tailscale do, then a few
 * others when that one is taken (ConflictInMappingEntry, 718).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

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

static const char *const igd_types[] = {
	"urn:schemas-upnp-org:device:InternetGatewayDevice:1",
	"urn:schemas-upnp-org:device:InternetGatewayDevice:2",
	NULL,
};

static void discover(struct peer_upnp *u)
{
	struct UPNPDev *devs, *d;
	char lan[INET_ADDRSTRLEN];
	int err = 0, rc;

	/* "/dev/null" as minissdpd's socket: ask the LAN, never a daemon on the machine. Only
	 * for gateways, as Tailscale does (some devices answer ssdp:all with another device
	 * first); upnpDiscover() would wait for five types in turn when none answers. */
	devs = upnpDiscoverDevices(igd_types, UPNP_DISCOVER_MS, NULL, "/dev/null",
	                           UPNP_LOCAL_PORT_ANY, 0, 2, &err, 0);
	for (d = devs; d && !at_gateway(u, d->descURL); d = d->pNext)
		;
	if (!d) {
		snprintf(u->res.why, sizeof(u->res.why), "no UPnP IGD at %s answered SSDP", u->gw);
		goto out;
	}
	/* Only our gateway's device: the list from here on. */
	rc = UPNP_GetIGDFromUrl(d->descURL, &u->urls, &u->data, lan, sizeof(lan));
	if (rc != 1) {
		snprintf(u->res.why, sizeof(u->res.why), "%s: not a usable IGD", d->descURL);
		goto out;
	}
	u->have_igd = u->res.ok = 1;
out:
	freeUPNPDevlist(devs);
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
