/* SPDX-License-Identifier: MIT */
/*
 * Port mapping, in the order Tailscale's net/portmapper uses (docs/events.md, "Port
 * mapping"):
 *
 * 1. Probe, in parallel with STUN: a NAT-PMP external address request and a PCP ANNOUNCE
 *    to the gateway's UDP port 5351, and UPnP discovery (SSDP) in the thread pool. The
 *    probe ends at the first NAT-PMP or PCP answer, at an ICMP unreachable for port 5351
 *    (a gateway without a daemon: nothing is waited for), or after PEER_PORTMAP_PROBE_MS
 *    (Tailscale's portMapServiceTimeout).
 * 2. Map: NAT-PMP if it answered (Tailscale's default), else PCP if it answered, else
 *    UPnP-IGD if discovery found one at the gateway; a protocol that refuses or stays
 *    silent hands over to the next (Tailscale falls back to UPnP only; trying PCP after
 *    a refusing NAT-PMP costs one round trip). Requests are retried at 250 ms, then
 *    500 ms (RFC 6886 3.1's doubling, shortened).
 * 3. Hold: the mapped address is a candidate of its own kind; the lease is renewed at
 *    half its life (RFC 6886 3.3, RFC 6887 11.2.1), and checked at once when the direct
 *    path dies, since a router that rebooted forgot it: PCP and NAT-PMP say so by their
 *    epoch going back (RFC 6887 8.5), UPnP by the entry missing. A lost mapping is
 *    asked for again, then retried with a backoff until the gateway answers. A gateway
 *    that gave none is probed again (4 s, doubling to 32 s): it may have been slow,
 *    booting, or had its daemon off.
 * 4. Delete on exit (lifetime 0; DeletePortMapping), and also what a NAT-PMP or PCP
 *    request we never heard back from may have made: a gateway that granted it while
 *    its answer was lost would hold it for the lease, two hours. Best effort: the
 *    deletes' answers are not waited for.
 *
 * NAT-PMP and PCP go on a socket of their own, connected to the gateway, so that an ICMP
 * unreachable comes back as an error and answers never mix with the peer's traffic. The
 * mapping is asked for the peer's UDP socket, whose port is in the request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "natlab/addr.h"
#include "natlab/log.h"
#include "natlab/natpmp.h"
#include "natlab/pcp.h"
#include "peer.h"
#include "portmap.h"

#define PEER_PORTMAP_PROBE_MS       250 /* Tailscale's portMapServiceTimeout */
#define PEER_PORTMAP_TRY_MS         250 /* a request's first wait, doubled once */
#define PEER_PORTMAP_TRIES          2
#define PEER_PORTMAP_RETRY_MS       1000 /* after a loss, the first new attempt; doubles */
#define PEER_PORTMAP_RETRY_MAX_MS   16000
#define PEER_PORTMAP_REPROBE_MS     4000  /* no mapping yet: the next probe; doubles */
#define PEER_PORTMAP_REPROBE_MAX_MS 32000 /* about Tailscale's and iroh's netcheck period */
#define PEER_PORTMAP_MIN_RENEW_S    1
#define PEER_PORTMAP_CHECK_MS       1000 /* checks on path loss at most this often */

enum pm_proto { PM_NATPMP, PM_PCP, PM_UPNP, PM_NPROTO };

enum pm_state {
	PM_IDLE,      /* nothing asked: no mapping, a retry may be due (timer) */
	PM_PROBING,   /* NAT-PMP and PCP probes out (and UPnP discovery) */
	PM_MAPPING,   /* a NAT-PMP or PCP mapping request out */
	PM_PCP_WAIT,  /* PCP waits for our reflexive port to suggest it (below) */
	PM_UPNP_WAIT, /* waiting for the UPnP thread (discovery or mapping) */
	PM_MAPPED,    /* a mapping held, the timer renews it */
	PM_RENEWING,  /* a renewal or check out (same protocol) */
	PM_STOPPED,
};

struct peer_portmap {
	struct peer *p;
	enum pm_state state;
	uv_udp_t udp;
	int udp_open;
	int udp_closing; /* closed at the end of an attempt, its callback still to come */
	uv_timer_t timer;
	struct in_addr gw, self;
	uint16_t internal_port;
	uint32_t lease;
	/* the probe */
	int saw[PM_NPROTO];   /* answered (UPnP: discovery found an IGD) */
	int tried[PM_NPROTO]; /* asked for a mapping this attempt */
	int discovering;      /* UPnP discovery still runs */
	int refused_icmp;     /* port 5351 unreachable */
	int garbage;          /* datagrams on the socket that decoded as neither */
	int settled;          /* the first attempt ended: our candidates stop waiting */
	int answered;         /* some protocol answered this attempt (even to refuse) */
	struct in_addr pmp_external;
	/* a request in flight */
	enum pm_proto proto;
	int tries;
	uint8_t nonce[PCP_NONCE_LEN]; /* PCP's, one for the peer's life (RFC 6887 11.1) */
	/* Per protocol, whether the gateway may hold a mapping of ours: one it granted, or
	 * one asked for whose answer we never heard (lost, or late). Deleted on exit. */
	int may_hold[PM_NPROTO];
	/* the mapping */
	int mapped;
	struct sockaddr_in external;
	uint32_t lifetime;
	uint64_t granted_ns;
	uint32_t epoch;                  /* the gateway's, at granted_ns (NAT-PMP, PCP) */
	uint32_t retry_ms;               /* after a loss: the next attempt (0: none lost) */
	uint32_t reprobe_ms;             /* before any mapping: the next probe */
	const char *last_none;           /* the reason portmap_none said last */
	char last_failed[PM_NPROTO][96]; /* what portmap_failed said last, per protocol */
	uint64_t last_check_ns;
	struct peer_upnp *upnp;
};

static const char *const proto_names[PM_NPROTO] = { "natpmp", "pcp", "upnp" };

static void next_protocol(struct peer_portmap *pm);
static void attempt_start(struct peer_portmap *pm);
static int sock_open(struct peer_portmap *pm);

static uint64_t now_ns(void)
{
	return peer_now_ns();
}

/* Port mapping is IPv4 (NAT-PMP, PCP's IPv4 MAP, UPnP-IGD v1): the peer's addresses
 * are union peer_sa, the gateway's answers sockaddr_in. */
static union peer_sa sa_of(const struct sockaddr_in *a)
{
	union peer_sa u = { .in = *a };

	return u;
}

static void addr_text(const struct sockaddr_in *a, char *buf, size_t cap)
{
	union peer_sa u = sa_of(a);

	peer_addr_text(&u, buf, cap);
}

static void in_text(struct in_addr a, char *buf, size_t cap)
{
	if (!inet_ntop(AF_INET, &a, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
}

/* The default route's gateway, from the kernel's table in this network namespace. */
static int default_gateway(struct in_addr *gw)
{
	char line[256], iface[64];
	unsigned dst, via, flags;
	FILE *f = fopen("/proc/net/route", "r");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %x %x %x", iface, &dst, &via, &flags) == 4 && dst == 0 &&
		    (flags & 0x2) && via) { /* RTF_GATEWAY */
			gw->s_addr = via;
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

/* --- the candidate --- */

static void cand_remove(struct peer *p)
{
	int i, j;

	for (i = j = 0; i < p->n_local; i++)
		if (p->local[i].kind != PEER_CAND_MAPPED)
			p->local[j++] = p->local[i];
	p->n_local = j;
}

/* Our candidates changed after they were settled: say so and offer them again. */
static void cands_changed(struct peer_portmap *pm)
{
	struct peer *p = pm->p;

	if (!p->stun_done || p->stopping)
		return;
	peer_cands_event(p, "local");
	peer_punch_on_cands_changed(p);
}

/* The first attempt is over (mapped or not): the candidates may be complete. */
static void settle(struct peer_portmap *pm)
{
	if (pm->settled)
		return;
	pm->settled = 1;
	peer_cands_turn_done(pm->p);
}

static void lost(struct peer_portmap *pm, const char *reason, const char *detail)
{
	char a[ADDR_TEXT_MAX];

	if (!pm->mapped)
		return;
	addr_text(&pm->external, a, sizeof(a));
	event_emit("portmap_lost", "{s:s, s:s, s:s, s:s}", "protocol", proto_names[pm->proto],
	           "external", a, "reason", reason, "detail", detail);
	log_warnx("port mapping %s (%s) lost: %s: %s", a, proto_names[pm->proto], reason, detail);
	pm->mapped = 0;
	cand_remove(pm->p);
	cands_changed(pm);
}

static void renew_timer_cb(uv_timer_t *t);
static void retry_timer_cb(uv_timer_t *t);

static void granted(struct peer_portmap *pm, const struct sockaddr_in *ext, uint32_t lifetime,
                    uint32_t epoch)
{
	struct peer *p = pm->p;
	char a[ADDR_TEXT_MAX], in[ADDR_TEXT_MAX], g[INET_ADDRSTRLEN];
	struct sockaddr_in internal = { .sin_family = AF_INET,
		                        .sin_addr = pm->self,
		                        .sin_port = htons(pm->internal_port) };
	union peer_sa ext_sa = sa_of(ext), held = sa_of(&pm->external);
	int renewal = pm->mapped && peer_addr_equal(&held, &ext_sa);
	uint64_t renew_ms;

	if (pm->mapped && !renewal)
		lost(pm, "external_changed", "the gateway granted another address");
	pm->mapped = 1;
	pm->external = *ext;
	pm->lifetime = lifetime;
	pm->epoch = epoch;
	pm->granted_ns = now_ns();
	pm->retry_ms = 0;
	pm->last_none = NULL;
	memset(pm->last_failed, 0, sizeof(pm->last_failed));
	pm->state = PM_MAPPED;
	addr_text(ext, a, sizeof(a));
	addr_text(&internal, in, sizeof(in));
	in_text(pm->gw, g, sizeof(g));
	event_emit("portmap", "{s:s, s:s, s:s, s:s, s:i, s:b}", "protocol", proto_names[pm->proto],
	           "external", a, "internal", in, "gateway", g, "lifetime_s", (int)lifetime,
	           "renewal", renewal);
	renew_ms = (uint64_t)(lifetime / 2 > PEER_PORTMAP_MIN_RENEW_S ? lifetime / 2
	                                                              : PEER_PORTMAP_MIN_RENEW_S) *
	           1000;
	uv_timer_start(&pm->timer, renew_timer_cb, renew_ms, 0);
	if (renewal)
		return;
	peer_cand_add(p->local, &p->n_local, PEER_CAND_MAPPED, &ext_sa);
	if (pm->settled)
		cands_changed(pm);
	else
		settle(pm); /* the candidates are complete now, the mapped one with them */
}

static void sock_closed_cb(uv_handle_t *h)
{
	container_of((uv_udp_t *)h, struct peer_portmap, udp)->udp_closing = 0;
}

/* Between attempts no socket is held (Tailscale opens one per probe). */
static void sock_close(struct peer_portmap *pm)
{
	if (pm->udp_open) {
		pm->udp_closing = 1;
		uv_close((uv_handle_t *)&pm->udp, sock_closed_cb);
	}
	pm->udp_open = 0;
}

/* Waits ms, then doubles *ms up to max: the next attempt's backoff. */
static void attempt_later(struct peer_portmap *pm, uint32_t *ms, uint32_t max)
{
	uv_timer_start(&pm->timer, retry_timer_cb, *ms, 0);
	*ms = *ms * 2 > max ? max : *ms * 2;
}

/*
 * No protocol gave a mapping this attempt: say why (again only when the reason changed:
 * the retries after a loss and the probes again would repeat it), and ask again later.
 * After a loss the gateway may come back (a reboot): soon, backing off. A gateway that
 * never granted one is probed again too, as Tailscale and iroh do at each netcheck: a
 * router that was slow, booting, or had its daemon off may answer now.
 */
static void none(struct peer_portmap *pm, const char *reason)
{
	char g[INET_ADDRSTRLEN];

	if (!pm->last_none || strcmp(pm->last_none, reason) != 0) {
		in_text(pm->gw, g, sizeof(g));
		event_emit("portmap_none", "{s:s, s:s, s:i}", "reason", reason, "gateway", g,
		           "garbage", pm->garbage);
	}
	pm->last_none = reason;
	pm->state = PM_IDLE;
	sock_close(pm);
	settle(pm);
	if (pm->retry_ms)
		attempt_later(pm, &pm->retry_ms, PEER_PORTMAP_RETRY_MAX_MS);
	else
		attempt_later(pm, &pm->reprobe_ms, PEER_PORTMAP_REPROBE_MAX_MS);
}

/* One protocol gave none; said as an event unless it said the same last time (each
 * probe again of a gateway that gives none would repeat it). */
static void failed(struct peer_portmap *pm, const char *reason, const char *detail)
{
	char said[sizeof(pm->last_failed[0])];

	snprintf(said, sizeof(said), "%s %s", reason, detail);
	if (strcmp(said, pm->last_failed[pm->proto]) != 0) {
		event_emit("portmap_failed", "{s:s, s:s, s:s}", "protocol", proto_names[pm->proto],
		           "reason", reason, "detail", detail);
		memcpy(pm->last_failed[pm->proto], said, sizeof(said));
	}
	log_info("port mapping by %s failed: %s: %s", proto_names[pm->proto], reason, detail);
}

/* --- NAT-PMP and PCP on the wire --- */

static int send_bytes(struct peer_portmap *pm, const uint8_t *b, int n)
{
	uv_buf_t buf = uv_buf_init((char *)b, (unsigned)n);
	int rc;

	if (n < 0)
		return n;
	if (!pm->udp_open)
		return -EBADF;
	rc = uv_udp_try_send(&pm->udp, &buf, 1, NULL);
	if (rc == UV_ECONNREFUSED)
		pm->refused_icmp = 1;
	return rc < 0 ? rc : 0;
}

/* A mapping request of protocol proto for lifetime (0: delete), suggesting port, in b. */
static int map_encode(const struct peer_portmap *pm, enum pm_proto proto, uint32_t lifetime,
                      uint16_t port, uint8_t b[PCP_MAP_LEN])
{
	struct pcp_map m = { .protocol = IPPROTO_UDP,
		             .internal_port = pm->internal_port,
		             .external_port = port };

	if (proto == PM_PCP) {
		memcpy(m.nonce, pm->nonce, sizeof(m.nonce));
		if (pm->mapped && pm->proto == PM_PCP)
			m.external_addr = pm->external.sin_addr;
		return pcp_map_request_encode(b, PCP_MAP_LEN, pm->self, lifetime, &m);
	}
	return natpmp_map_request_encode(b, PCP_MAP_LEN, NATPMP_OP_MAP_UDP, pm->internal_port,
	                                 lifetime ? port : 0, lifetime);
}

/* A request of our protocol: from one that asks for a mapping on, the gateway may hold it. */
static int send_map(struct peer_portmap *pm, uint32_t lifetime, uint16_t port)
{
	uint8_t b[PCP_MAP_LEN];

	if (lifetime)
		pm->may_hold[pm->proto] = 1;
	return send_bytes(pm, b, map_encode(pm, pm->proto, lifetime, port, b));
}

/*
 * On exit: deletes (lifetime 0: RFC 6886 3.4, RFC 6887 15) what the gateway may hold of
 * ours by NAT-PMP and PCP, from our address to its port 5351 on a socket of its own: the
 * attempt's may be closed or closing by now.
 */
static void delete_held(struct peer_portmap *pm)
{
	struct sockaddr_in gw = { .sin_family = AF_INET,
		                  .sin_port = htons(PCP_PORT),
		                  .sin_addr = pm->gw };
	struct sockaddr_in self = { .sin_family = AF_INET, .sin_addr = pm->self };
	uint8_t b[PCP_MAP_LEN];
	int fd = -1, n;

	for (enum pm_proto proto = PM_NATPMP; proto <= PM_PCP; proto++) {
		if (!pm->may_hold[proto])
			continue;
		if (fd < 0 && ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
		               bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0)) {
			log_info("port mapping: no socket to delete our mappings (%s): they end "
			         "with their lease",
			         strerror(errno));
			break;
		}
		n = map_encode(pm, proto, 0, 0, b);
		if (n > 0 && sendto(fd, b, (size_t)n, 0, (struct sockaddr *)&gw, sizeof(gw)) == n)
			log_debug("port mapping: %s delete sent", proto_names[proto]);
		pm->may_hold[proto] = 0;
	}
	if (fd >= 0)
		close(fd);
}

static void request_timer_cb(uv_timer_t *t);

/*
 * The external port a request suggests: the one we hold; else, for PCP, the port of our
 * reflexive address when STUN found one, else our internal port (home routers map one
 * to one). PCP's servers include carriers' CGNs, which may grant only a subscriber's
 * port block: the reflexive port is in it, the internal port rarely is, and miniupnpd
 * then walks the ports one by one for a minute before it answers.
 */
static uint16_t suggested_port(const struct peer_portmap *pm)
{
	const struct peer *p = pm->p;
	int i;

	if (pm->mapped)
		return ntohs(pm->external.sin_port);
	for (i = 0; pm->proto == PM_PCP && i < p->n_local; i++)
		if (p->local[i].kind == PEER_CAND_REFLEXIVE &&
		    p->local[i].addr.sa.sa_family == AF_INET)
			return ntohs(p->local[i].addr.in.sin_port);
	return pm->internal_port;
}

static void request(struct peer_portmap *pm, enum pm_state state)
{
	pm->state = state;
	pm->tries = 1;
	send_map(pm, pm->lease, suggested_port(pm));
	uv_timer_start(&pm->timer, request_timer_cb, PEER_PORTMAP_TRY_MS, 0);
}

static void renewal_failed(struct peer_portmap *pm, const char *detail)
{
	pm->retry_ms = PEER_PORTMAP_RETRY_MS;
	lost(pm, "renewal_failed", detail);
	attempt_start(pm);
}

static void request_timer_cb(uv_timer_t *t)
{
	struct peer_portmap *pm = container_of(t, struct peer_portmap, timer);
	char why[64];

	if (pm->tries < PEER_PORTMAP_TRIES && !pm->refused_icmp) {
		send_map(pm, pm->lease, suggested_port(pm));
		uv_timer_start(&pm->timer, request_timer_cb, PEER_PORTMAP_TRY_MS << pm->tries++, 0);
		return;
	}
	snprintf(why, sizeof(why), "%s after %d tries%s",
	         pm->refused_icmp ? "unreachable" : "no answer", pm->tries,
	         pm->garbage ? " (garbage answers)" : "");
	if (pm->state == PM_RENEWING) {
		renewal_failed(pm, why);
		return;
	}
	failed(pm, pm->garbage ? "bad_answer" : "no_answer", why);
	next_protocol(pm);
}

/*
 * The gateway's epoch (seconds since it started, or lost its state) at a renewal: a
 * clock that went back, or moved much less than ours, means it rebooted and forgot our
 * mapping (RFC 6887 8.5: 7/8 of our elapsed time allows for clock drift). Each epoch is
 * truncated to the second, so the gateway's clock may have moved up to one second more
 * than the difference says: a reboot a few seconds into a session is caught too.
 */
static int gateway_restarted(const struct peer_portmap *pm, uint32_t epoch)
{
	int64_t elapsed_ms = (int64_t)((now_ns() - pm->granted_ns) / PEER_MS);
	int64_t moved_ms = ((int64_t)epoch - (int64_t)pm->epoch + 1) * 1000;

	return epoch < pm->epoch || moved_ms < elapsed_ms * 7 / 8;
}

/* A mapping answer (ours: PCP's nonce checked by the caller). */
static void on_map_answer(struct peer_portmap *pm, unsigned result, const char *result_name,
                          struct in_addr ext_addr, uint16_t ext_port, uint32_t lifetime,
                          uint32_t epoch)
{
	struct sockaddr_in ext = { .sin_family = AF_INET,
		                   .sin_addr = ext_addr,
		                   .sin_port = htons(ext_port) };

	uv_timer_stop(&pm->timer);
	pm->answered = 1;
	if (result != 0 || !ext_port || !lifetime) {
		if (pm->state == PM_RENEWING) {
			renewal_failed(pm, result_name);
			return;
		}
		pm->may_hold[pm->proto] = 0; /* a fresh request refused: nothing was made */
		failed(pm, "refused", result_name);
		next_protocol(pm);
		return;
	}
	if (pm->state == PM_RENEWING && gateway_restarted(pm, epoch))
		lost(pm, "gateway_restarted", "its epoch started again");
	granted(pm, &ext, lifetime, epoch);
}

static void on_pcp(struct peer_portmap *pm, const struct pcp_response *r)
{
	if (r->opcode == PCP_OP_ANNOUNCE) {
		if (pm->state == PM_PROBING && !pm->saw[PM_PCP]) {
			pm->saw[PM_PCP] = 1;
			next_protocol(pm);
		}
		return;
	}
	if ((pm->state != PM_MAPPING && pm->state != PM_RENEWING) || pm->proto != PM_PCP ||
	    memcmp(r->map.nonce, pm->nonce, PCP_NONCE_LEN) != 0 ||
	    r->map.internal_port != pm->internal_port || r->map.protocol != IPPROTO_UDP)
		return;
	on_map_answer(pm, r->result, pcp_result_name(r->result), r->map.external_addr,
	              r->map.external_port, r->lifetime, r->epoch);
}

static void on_natpmp(struct peer_portmap *pm, const struct natpmp_response *r)
{
	if (r->opcode == NATPMP_OP_ADDR) {
		if (r->result == NATPMP_SUCCESS)
			pm->pmp_external = r->external_addr;
		if (pm->state == PM_PROBING && !pm->saw[PM_NATPMP]) {
			/* Even a refusal (no public address) is an answer: the map request says
			 * why. */
			pm->saw[PM_NATPMP] = 1;
			next_protocol(pm);
		}
		return;
	}
	if ((pm->state != PM_MAPPING && pm->state != PM_RENEWING) || pm->proto != PM_NATPMP ||
	    r->opcode != NATPMP_OP_MAP_UDP || r->internal_port != pm->internal_port)
		return;
	if (r->result == NATPMP_SUCCESS && pm->pmp_external.s_addr == 0) {
		on_map_answer(pm, NATPMP_NETWORK_FAILURE, "no external address", pm->pmp_external,
		              0, 0, r->epoch);
		/* The gateway made it all the same: deleted on exit. */
		pm->may_hold[PM_NATPMP] = 1;
		return;
	}
	on_map_answer(pm, r->result, natpmp_result_name(r->result), pm->pmp_external,
	              r->external_port, r->lifetime, r->epoch);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[PCP_MAX_LEN + 4];

	*buf = uv_buf_init(slab, sizeof(slab));
}

static void recv_cb(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
	struct peer_portmap *pm = container_of(u, struct peer_portmap, udp);
	struct pcp_response pr;
	struct natpmp_response nr;
	const uint8_t *d = (const uint8_t *)buf->base;

	if (n == UV_ECONNREFUSED) {
		/* ICMP port unreachable: no NAT-PMP or PCP daemon on the gateway. */
		pm->refused_icmp = 1;
		if (pm->state == PM_PROBING)
			next_protocol(pm);
		return;
	}
	if (n <= 0 || (flags & UV_UDP_PARTIAL) || pm->state == PM_STOPPED)
		return;
	if (pcp_response_decode(d, (size_t)n, &pr) == 0)
		on_pcp(pm, &pr);
	else if (natpmp_response_decode(d, (size_t)n, &nr) == 0)
		on_natpmp(pm, &nr);
	else if (pm->garbage++ == 0)
		log_warnx("port mapping: %zd bytes from the gateway are neither NAT-PMP nor PCP",
		          n);
}

/* --- UPnP --- */

static void upnp_cb(struct peer_portmap *pm, const struct peer_upnp_result *r)
{
	if (r->op == PEER_UPNP_DISCOVER) {
		pm->discovering = 0;
		pm->saw[PM_UPNP] = r->ok;
		if (!r->ok)
			log_info("UPnP: %s", r->why);
		if (pm->state == PM_UPNP_WAIT)
			next_protocol(pm);
		return;
	}
	if (r->op == PEER_UPNP_DELETE || pm->state == PM_STOPPED) {
		/* A mapping made while we were stopping is deleted at once. */
		if (pm->state == PM_STOPPED && r->ok && r->op != PEER_UPNP_DELETE)
			peer_upnp_run(pm->upnp, PEER_UPNP_DELETE, upnp_cb, pm);
		return;
	}
	if (!r->ok) {
		if (pm->state == PM_RENEWING) {
			renewal_failed(pm, r->why);
			return;
		}
		pm->answered = 1; /* the IGD was found: it refused */
		failed(pm, "refused", r->why);
		next_protocol(pm);
		return;
	}
	pm->answered = 1;
	if (r->missing)
		lost(pm, "gateway_forgot", "UPnP: the gateway no longer lists it");
	granted(pm, &r->external, pm->lease, 0);
}

static void upnp_start(struct peer_portmap *pm, enum peer_upnp_op op)
{
	int rc = peer_upnp_run(pm->upnp, op, upnp_cb, pm);

	if (rc < 0) {
		failed(pm, "error", uv_strerror(rc));
		next_protocol(pm);
		return;
	}
	pm->state = PM_UPNP_WAIT;
}

/* --- the attempt --- */

/* The probe is over, or the protocol tried last gave nothing: the next one in order. */
static void next_protocol(struct peer_portmap *pm)
{
	enum pm_proto order[] = { PM_NATPMP, PM_PCP };
	size_t i;

	uv_timer_stop(&pm->timer);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!pm->saw[order[i]] || pm->tried[order[i]])
			continue;
		pm->tried[order[i]] = 1;
		pm->proto = order[i];
		if (pm->proto == PM_PCP && !pm->mapped && !pm->p->stun_ended) {
			pm->state = PM_PCP_WAIT; /* peer_portmap_on_stun() goes on */
			return;
		}
		request(pm, PM_MAPPING);
		return;
	}
	/* NAT-PMP and PCP are done: the candidates wait no longer, UPnP goes on. */
	settle(pm);
	if (pm->discovering) {
		pm->state = PM_UPNP_WAIT;
		return;
	}
	if (pm->saw[PM_UPNP] && !pm->tried[PM_UPNP]) {
		pm->tried[PM_UPNP] = 1;
		pm->proto = PM_UPNP;
		upnp_start(pm, PEER_UPNP_MAP);
		return;
	}
	none(pm, pm->answered                            ? "refused"
	         : pm->garbage                           ? "bad_answer"
	         : pm->refused_icmp && !pm->saw[PM_UPNP] ? "no_service"
	                                                 : "no_answer");
}

static void probe_timer_cb(uv_timer_t *t)
{
	struct peer_portmap *pm = container_of(t, struct peer_portmap, timer);

	next_protocol(pm);
}

static void attempt_start(struct peer_portmap *pm)
{
	uint8_t b[PCP_HEADER_LEN];

	/* The last attempt's socket closes on the next turn of the loop: a new one after. */
	if (!pm->udp_open && (pm->udp_closing || sock_open(pm) < 0)) {
		sock_close(pm);
		log_info("port mapping: no socket to the gateway now: asking later");
		none(pm, "socket");
		return;
	}
	memset(pm->saw, 0, sizeof(pm->saw));
	memset(pm->tried, 0, sizeof(pm->tried));
	pm->refused_icmp = pm->garbage = pm->answered = 0;
	pm->state = PM_PROBING;
	pm->last_check_ns = now_ns();
	send_bytes(pm, b, natpmp_addr_request_encode(b, sizeof(b)));
	send_bytes(pm, b, pcp_announce_request_encode(b, sizeof(b), pm->self));
	if (!peer_upnp_busy(pm->upnp)) {
		pm->discovering = 1;
		peer_upnp_run(pm->upnp, PEER_UPNP_DISCOVER, upnp_cb, pm);
	}
	if (pm->refused_icmp)
		next_protocol(pm);
	else
		uv_timer_start(&pm->timer, probe_timer_cb, PEER_PORTMAP_PROBE_MS, 0);
}

static void retry_timer_cb(uv_timer_t *t)
{
	struct peer_portmap *pm = container_of(t, struct peer_portmap, timer);

	if (pm->state == PM_IDLE)
		attempt_start(pm);
}

/* A renewal, or a check that the gateway still has it. */
static void renew(struct peer_portmap *pm)
{
	pm->last_check_ns = now_ns();
	if (pm->proto == PM_UPNP) {
		if (peer_upnp_run(pm->upnp, PEER_UPNP_CHECK, upnp_cb, pm) == 0)
			pm->state = PM_RENEWING;
		return;
	}
	pm->refused_icmp = pm->garbage = 0;
	request(pm, PM_RENEWING);
}

static void renew_timer_cb(uv_timer_t *t)
{
	struct peer_portmap *pm = container_of(t, struct peer_portmap, timer);

	if (pm->state == PM_MAPPED)
		renew(pm);
}

/* --- the peer's side --- */

static int loopback(struct in_addr a)
{
	return (ntohl(a.s_addr) >> 24) == 127;
}

/*
 * Whether a gateway stands between us and the relays: not when our socket or the first
 * STUN server (a relay's host) is on loopback. A peer talking to a relay on this machine
 * has no use for a mapping, and must not send NAT-PMP, PCP or SSDP to the machine's
 * own network (the tests run such peers outside any lab).
 */
static int gateway_on_path(const struct peer *p)
{
	return p->n_stun > 0 && p->stun_srv[0].sa.sa_family == AF_INET &&
	       p->udp_local.sa.sa_family == AF_INET && !loopback(p->stun_srv[0].in.sin_addr) &&
	       !loopback(p->udp_local.in.sin_addr);
}

/* The socket to the gateway's port 5351, connected: ICMP errors come back as errors. */
static int sock_open(struct peer_portmap *pm)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PCP_PORT) };
	struct sockaddr_in self;
	int rc, len = sizeof(self);

	to.sin_addr = pm->gw;
	rc = uv_udp_init(pm->p->loop, &pm->udp);
	if (rc < 0)
		return rc;
	pm->udp_open = 1;
	rc = uv_udp_connect(&pm->udp, (const struct sockaddr *)&to);
	if (rc == 0)
		rc = uv_udp_getsockname(&pm->udp, (struct sockaddr *)&self, &len);
	if (rc == 0)
		rc = uv_udp_recv_start(&pm->udp, alloc_cb, recv_cb);
	if (rc == 0)
		pm->self = self.sin_addr;
	return rc;
}

static void unavailable(struct peer_portmap *pm, const char *reason)
{
	event_emit("portmap_none", "{s:s, s:n, s:i}", "reason", reason, "gateway", "garbage", 0);
	pm->state = PM_STOPPED;
	pm->settled = 1;
}

int peer_portmap_start(struct peer *p)
{
	struct peer_portmap *pm;
	int rc;

	if (p->o->no_portmap || !p->udp_open)
		return 0;
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	p->portmap = pm;
	pm->p = p;
	pm->internal_port = ntohs(p->udp_local.in.sin_port);
	pm->lease = p->o->portmap_lease ? p->o->portmap_lease : PEER_PORTMAP_LEASE_S;
	pm->reprobe_ms = PEER_PORTMAP_REPROBE_MS;
	randombytes_buf(pm->nonce, sizeof(pm->nonce));
	uv_timer_init(p->loop, &pm->timer);
	if (!gateway_on_path(p)) {
		unavailable(pm, "local_relay");
		return 0;
	}
	pm->gw = p->o->portmap_gateway;
	if (!pm->gw.s_addr && default_gateway(&pm->gw) < 0) {
		unavailable(pm, "no_gateway");
		return 0;
	}
	rc = sock_open(pm);
	if (rc == 0) {
		pm->upnp = peer_upnp_new(p->loop, pm->gw, pm->self, pm->internal_port, pm->lease);
		if (!pm->upnp)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		log_warnx("port mapping: socket to the gateway: %s", uv_strerror(rc));
		unavailable(pm, "socket");
		return rc == -ENOMEM ? rc : 0;
	}
	attempt_start(pm);
	return 0;
}

void peer_portmap_on_stun(struct peer *p)
{
	struct peer_portmap *pm = p->portmap;

	if (pm && pm->state == PM_PCP_WAIT)
		request(pm, PM_MAPPING);
}

bool peer_portmap_gathering(const struct peer *p)
{
	const struct peer_portmap *pm = p->portmap;

	return pm && !pm->settled;
}

void peer_portmap_on_path_lost(struct peer *p)
{
	struct peer_portmap *pm = p->portmap;
	uint64_t since_ms;

	if (!pm || p->stopping)
		return;
	/* At most once a second: a flapping path must not flood the gateway. A check asked
	 * for sooner is put off until then, not dropped (a renewal just before a reboot
	 * would hide the loss until the next one). */
	since_ms = (now_ns() - pm->last_check_ns) / PEER_MS;
	if (since_ms < PEER_PORTMAP_CHECK_MS) {
		if (pm->state == PM_MAPPED)
			uv_timer_start(&pm->timer, renew_timer_cb, PEER_PORTMAP_CHECK_MS - since_ms,
			               0);
		else if (pm->state == PM_IDLE && pm->retry_ms)
			uv_timer_start(&pm->timer, retry_timer_cb, PEER_PORTMAP_CHECK_MS - since_ms,
			               0);
		return;
	}
	if (pm->state == PM_MAPPED)
		renew(pm);
	else if (pm->state == PM_IDLE && pm->retry_ms)
		attempt_start(pm);
}

void peer_portmap_stop(struct peer *p)
{
	struct peer_portmap *pm = p->portmap;
	char a[ADDR_TEXT_MAX];

	if (!pm || pm->state == PM_STOPPED)
		return;
	uv_timer_stop(&pm->timer);
	if (pm->mapped) {
		addr_text(&pm->external, a, sizeof(a));
		event_emit("portmap_deleted", "{s:s, s:s}", "protocol", proto_names[pm->proto],
		           "external", a);
		/* NAT-PMP's and PCP's go with what may be held (below). */
		if (pm->proto == PM_UPNP && !peer_upnp_busy(pm->upnp))
			peer_upnp_run(pm->upnp, PEER_UPNP_DELETE, upnp_cb, pm);
		/* else: upnp_cb deletes what the running job made */
	}
	delete_held(pm);
	pm->state = PM_STOPPED;
}

void peer_portmap_free(struct peer *p)
{
	if (!p->portmap)
		return;
	peer_upnp_free(p->portmap->upnp);
	free(p->portmap);
	p->portmap = NULL;
}
