/* SPDX-License-Identifier: MIT */
/*
 * The peer on two address families. Without --bind the peer has an IPv4 socket and,
 * next to it on the same port, an IPv6 one (IPv6-only, so both can hold the port); with
 * --bind it has the one socket of that address's family. Its IPv6 candidates (global
 * interface addresses, and the reflexive address a STUN server on IPv6 reports) travel in
 * offers as a TLV after the IPv4 list, which older peers skip. Probing follows RFC 8305
 * and RFC 8421: IPv6 first, IPv4 after a short stagger, then both every burst.
 */
#include <errno.h>
#include <string.h>

#include "natlab/addr.h"
#include "natlab/log.h"
#include "peer.h"

/* A v6 candidate in PEER_TLV_CANDS6: u8 kind | ip[16] | u16 port. */
#define CAND6_LEN 19

/*
 * RFC 8305 section 5 recommends 250 ms between connection attempts of the two families,
 * 100 ms at least. Probes here are bursts every PUNCH_PROBE_INTERVAL_MS within rounds
 * that both sides start together, so a lost IPv6 race costs IPv4 this much per round: the
 * recommended minimum, 4 bursts.
 */
#define PEER_FAMILY_STAGGER_MS 100

int peer_sa_set(union peer_sa *out, const struct sockaddr *sa)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET)
		memcpy(&out->in, sa, sizeof(out->in));
	else if (sa->sa_family == AF_INET6)
		memcpy(&out->in6, sa, sizeof(out->in6));
	else
		return -EAFNOSUPPORT;
	return 0;
}

const char *peer_sa_family_name(const union peer_sa *a)
{
	return a->sa.sa_family == AF_INET6 ? "ipv6" : "ipv4";
}

void peer_udp6_open(struct peer *p)
{
	struct sockaddr_in6 any = { .sin6_family = AF_INET6,
		                    .sin6_port = p->udp_local.in.sin_port };
	int rc;

	if (p->udp_local.sa.sa_family != AF_INET || uv_udp_init(p->loop, &p->udp6) < 0)
		return;
	p->udp6_open = 1;
	rc = uv_udp_bind(&p->udp6, (const struct sockaddr *)&any, UV_UDP_IPV6ONLY);
	if (rc == 0)
		rc = peer_udp_recv_start(p, &p->udp6);
	if (rc < 0) {
		/* A host without IPv6 (disabled in its namespace) is an IPv4-only peer. */
		log_debug("no IPv6 socket on port %u: %s", ntohs(any.sin6_port), uv_strerror(rc));
		uv_close((uv_handle_t *)&p->udp6, NULL);
		p->udp6_open = 0;
		return;
	}
	peer_udp_buffers(&p->udp6);
}

uv_udp_t *peer_udp_sock(struct peer *p, const union peer_sa *to)
{
	if (to->sa.sa_family == AF_INET6 && p->udp6_open)
		return &p->udp6;
	return peer_hardnat_sock_for(p, to);
}

bool peer_family_usable(const struct peer *p, int family)
{
	if (p->udp6_open)
		return family == AF_INET || family == AF_INET6;
	return p->udp_open && family == p->udp_local.sa.sa_family;
}

/* Global unicast only: link-local needs a scope the other side cannot use. */
static bool v6_candidate_ok(const struct in6_addr *a)
{
	return !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_UNSPECIFIED(a) &&
	       !IN6_IS_ADDR_V4MAPPED(a) && !IN6_IS_ADDR_MULTICAST(a);
}

void peer_cands6_gather(struct peer *p)
{
	uv_interface_address_t *ifs;
	union peer_sa a;
	int i, n;

	if (!p->udp6_open || uv_interface_addresses(&ifs, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (ifs[i].is_internal || ifs[i].address.address6.sin6_family != AF_INET6 ||
		    !v6_candidate_ok(&ifs[i].address.address6.sin6_addr))
			continue;
		memset(&a, 0, sizeof(a));
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = ifs[i].address.address6.sin6_addr;
		a.in6.sin6_port = p->udp_local.in.sin_port;
		peer_cand_add(p->local, &p->n_local, PEER_CAND_LOCAL, &a);
	}
	uv_free_interface_addresses(ifs, n);
}

size_t peer_cands6_offer_put(const struct peer *p, uint8_t *out, size_t cap)
{
	size_t off = 2;
	int i;

	for (i = 0; i < p->n_local; i++) {
		const struct sockaddr_in6 *a = &p->local[i].addr.in6;

		if (a->sin6_family != AF_INET6)
			continue;
		if (off + CAND6_LEN > cap || off + CAND6_LEN - 2 > 255)
			break;
		out[off] = p->local[i].kind;
		memcpy(out + off + 1, &a->sin6_addr, 16);
		memcpy(out + off + 17, &a->sin6_port, 2);
		off += CAND6_LEN;
	}
	if (off == 2)
		return 0;
	out[0] = PEER_TLV_CANDS6;
	out[1] = (uint8_t)(off - 2);
	return off;
}

void peer_cands6_offer_parse(struct peer *p, const uint8_t *m, size_t len)
{
	union peer_sa a;
	size_t i;

	/* Others' TLVs (hardnat's, the relays) are skipped, as a later version's would be. */
	while (len >= 2 && (size_t)m[1] + 2 <= len && m[0] != PEER_TLV_CANDS6) {
		len -= (size_t)m[1] + 2;
		m += (size_t)m[1] + 2;
	}
	if (len < 2 || (size_t)m[1] + 2 > len)
		return;
	for (i = 0; i + CAND6_LEN <= m[1]; i += CAND6_LEN) {
		const uint8_t *c = m + 2 + i;

		memset(&a, 0, sizeof(a));
		a.in6.sin6_family = AF_INET6;
		memcpy(&a.in6.sin6_addr, c + 1, 16);
		memcpy(&a.in6.sin6_port, c + 17, 2);
		if (a.in6.sin6_port == 0 || !v6_candidate_ok(&a.in6.sin6_addr))
			continue;
		if (c[0] == PEER_CAND_LOCAL || c[0] == PEER_CAND_REFLEXIVE)
			peer_cand_add(p->remote, &p->n_remote, c[0], &a);
	}
}

bool peer_family_probe_now(const struct peer *p, const union peer_sa *to, int burst)
{
	int i;

	if (!peer_family_usable(p, to->sa.sa_family))
		return false;
	if (to->sa.sa_family == AF_INET6 ||
	    burst * PUNCH_PROBE_INTERVAL_MS >= PEER_FAMILY_STAGGER_MS || !p->udp6_open)
		return true;
	/* IPv4 waits for the stagger only when there is an IPv6 target to race. */
	for (i = 0; i < p->n_remote; i++)
		if (p->remote[i].addr.sa.sa_family == AF_INET6 &&
		    p->remote[i].kind != PEER_CAND_RELAYED)
			return false;
	return true;
}
