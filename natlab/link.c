/* SPDX-License-Identifier: MIT */
#include "natlab/link.h"
#include "natlab/log.h"
#include "natlab/netns.h"

#include <errno.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <stdlib.h>

struct lab_rtnl {
	struct nl_sock *sk;
};

/* libnl's error codes turned into ours (-errno). */
static int nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_INVAL:
	case NLE_RANGE:
		return -EINVAL;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	default:
		log_debug("netlink: %s", nl_geterror(nlerr));
		return -EIO;
	}
}

int lab_rtnl_open(int nsfd, struct lab_rtnl **out)
{
	struct lab_rtnl *r;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->sk = nl_socket_alloc();
	if (!r->sk) {
		free(r);
		return -ENOMEM;
	}
	/* The socket binds to the namespace it is created in; leave at once after. */
	rc = lab_netns_enter(nsfd);
	if (rc == 0) {
		rc = nl_to_errno(nl_connect(r->sk, NETLINK_ROUTE));
		lab_netns_leave();
	}
	if (rc < 0) {
		lab_rtnl_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void lab_rtnl_free(struct lab_rtnl *r)
{
	if (!r)
		return;
	nl_socket_free(r->sk);
	free(r);
}

int lab_link_set_up(struct lab_rtnl *r, int ifindex)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int rc;

	if (!l)
		return -ENOMEM;
	rtnl_link_set_ifindex(l, ifindex);
	rtnl_link_set_flags(l, IFF_UP);
	rc = nl_to_errno(rtnl_link_add(r->sk, l, 0));
	rtnl_link_put(l);
	return rc;
}

int lab_link_set_down(struct lab_rtnl *r, int ifindex)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int rc;

	if (!l)
		return -ENOMEM;
	rtnl_link_set_ifindex(l, ifindex);
	rtnl_link_unset_flags(l, IFF_UP);
	rc = nl_to_errno(rtnl_link_add(r->sk, l, 0));
	rtnl_link_put(l);
	return rc;
}

int lab_link_enslave_up(struct lab_rtnl *r, int ifindex, int master)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int rc;

	if (!l)
		return -ENOMEM;
	rtnl_link_set_ifindex(l, ifindex);
	rtnl_link_set_master(l, master);
	rtnl_link_set_flags(l, IFF_UP);
	rc = nl_to_errno(rtnl_link_add(r->sk, l, 0));
	rtnl_link_put(l);
	return rc;
}

int lab_link_index(struct lab_rtnl *r, const char *name)
{
	struct rtnl_link *l = NULL;
	int rc = nl_to_errno(rtnl_link_get_kernel(r->sk, 0, name, &l));

	if (rc == 0)
		rc = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return rc == -ENOENT ? -ENODEV : rc;
}

int lab_link_bridge_add(struct lab_rtnl *r, const char *name, int ifindex)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int rc;

	if (!l)
		return -ENOMEM;
	rc = nl_to_errno(rtnl_link_set_type(l, "bridge"));
	if (rc == 0) {
		rtnl_link_set_name(l, name);
		rtnl_link_set_ifindex(l, ifindex);
		rtnl_link_set_flags(l, IFF_UP);
		rc = nl_to_errno(rtnl_link_add(r->sk, l, NLM_F_CREATE | NLM_F_EXCL));
	}
	rtnl_link_put(l);
	return rc;
}

int lab_link_veth_add(struct lab_rtnl *r, const struct lab_veth *v)
{
	struct rtnl_link *l = rtnl_link_veth_alloc();
	struct rtnl_link *peer;
	int rc;

	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, v->name);
	rtnl_link_set_ifindex(l, v->ifindex);
	rtnl_link_set_flags(l, IFF_UP);
	if (v->master)
		rtnl_link_set_master(l, v->master);
	peer = rtnl_link_veth_get_peer(l);
	rtnl_link_set_name(peer, v->peer);
	rtnl_link_set_ifindex(peer, v->peer_ifindex);
	rtnl_link_set_ns_fd(peer, v->peer_nsfd);
	rtnl_link_put(peer);
	rc = nl_to_errno(rtnl_link_add(r->sk, l, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_link_put(l);
	return rc;
}

static struct nl_addr *addr_build(struct in_addr a, int len)
{
	struct nl_addr *n = nl_addr_build(AF_INET, &a, sizeof(a));

	if (n)
		nl_addr_set_prefixlen(n, len);
	return n;
}

/* Adds address local (its reference taken) to ifindex with IFA_F_* flags. */
static int addr_commit(struct lab_rtnl *r, int ifindex, struct nl_addr *local, unsigned ifa_flags)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	int rc = -ENOMEM;

	if (ra && local) {
		rtnl_addr_set_ifindex(ra, ifindex);
		if (ifa_flags)
			rtnl_addr_set_flags(ra, ifa_flags);
		rc = nl_to_errno(rtnl_addr_set_local(ra, local));
		if (rc == 0)
			rc = nl_to_errno(rtnl_addr_add(r->sk, ra, 0));
	}
	nl_addr_put(local);
	rtnl_addr_put(ra);
	return rc;
}

int lab_addr_add(struct lab_rtnl *r, int ifindex, struct in_addr a, int prefix_len, unsigned flags)
{
	return addr_commit(r, ifindex, addr_build(a, prefix_len),
	                   (flags & LAB_ADDR_NOPREFIXROUTE) ? IFA_F_NOPREFIXROUTE : 0);
}

int lab_route_add(struct lab_rtnl *r, struct in_addr prefix, int len, struct in_addr gw)
{
	struct lab_route rt = { .dst = prefix, .len = len, .gw = gw };

	return lab_route_add_r(r, &rt);
}

/*
 * Adds a route of family to dst through via (NULL: on the link, scope link for IPv4) with
 * preferred source src (NULL: none). Takes the addresses' references.
 */
static int route_commit(struct lab_rtnl *r, int family, struct nl_addr *dst, struct nl_addr *via,
                        struct nl_addr *src, int oif, int onlink)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	int rc = -ENOMEM;

	if (!rt || !nh || !dst)
		goto out;
	rtnl_route_set_family(rt, family);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	/* Without a gateway the destination is on the link (scope link), as `ip route` says. */
	rtnl_route_set_scope(rt, via || family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	rc = nl_to_errno(rtnl_route_set_dst(rt, dst));
	if (rc == 0 && src)
		rc = nl_to_errno(rtnl_route_set_pref_src(rt, src));
	if (rc < 0)
		goto out;
	if (via)
		rtnl_route_nh_set_gateway(nh, via);
	if (oif)
		rtnl_route_nh_set_ifindex(nh, oif);
	if (onlink)
		rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
	rtnl_route_add_nexthop(rt, nh);
	nh = NULL; /* owned by the route now */
	rc = nl_to_errno(rtnl_route_add(r->sk, rt, NLM_F_CREATE | NLM_F_EXCL));
out:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(dst);
	nl_addr_put(via);
	nl_addr_put(src);
	if (rt)
		rtnl_route_put(rt);
	return rc;
}

/*
 * libnl 3.7 has no setter for IFLA_BRPORT_ISOLATED, so the request is the one
 * "bridge link set dev PORT isolated on" sends: RTM_SETLINK for family AF_BRIDGE with the
 * flag in IFLA_PROTINFO.
 */
int lab_link_bridge_port_isolate(struct lab_rtnl *r, int ifindex, int on)
{
	struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = ifindex };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
	struct nlattr *info;
	int rc = -ENOMEM;

	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
		goto out;
	info = nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED);
	if (!info || nla_put_u8(msg, IFLA_BRPORT_ISOLATED, on ? 1 : 0) < 0)
		goto out;
	nla_nest_end(msg, info);
	rc = nl_send_auto(r->sk, msg);
	rc = rc < 0 ? nl_to_errno(rc) : nl_to_errno(nl_wait_for_ack(r->sk));
out:
	nlmsg_free(msg);
	return rc;
}

int lab_route_add_r(struct lab_rtnl *r, const struct lab_route *lr)
{
	struct nl_addr *via = lr->gw.s_addr ? addr_build(lr->gw, 32) : NULL;
	struct nl_addr *src = lr->src.s_addr ? addr_build(lr->src, 32) : NULL;

	if ((lr->gw.s_addr && !via) || (lr->src.s_addr && !src)) {
		nl_addr_put(via);
		nl_addr_put(src);
		return -ENOMEM;
	}
	return route_commit(r, AF_INET, addr_build(lr->dst, lr->len), via, src, lr->oif,
	                    lr->onlink);
}

static struct nl_addr *addr6_build(const struct in6_addr *a, int len)
{
	struct nl_addr *n = nl_addr_build(AF_INET6, a, sizeof(*a));

	if (n)
		nl_addr_set_prefixlen(n, len);
	return n;
}

int lab_addr6_add(struct lab_rtnl *r, int ifindex, const struct in6_addr *a, int prefix_len,
                  unsigned flags)
{
	return addr_commit(r, ifindex, addr6_build(a, prefix_len),
	                   IFA_F_NODAD |
	                       ((flags & LAB_ADDR_NOPREFIXROUTE) ? IFA_F_NOPREFIXROUTE : 0));
}

int lab_route6_add(struct lab_rtnl *r, const struct lab_route6 *lr)
{
	int has_gw = !IN6_IS_ADDR_UNSPECIFIED(&lr->gw),
	    has_src = !IN6_IS_ADDR_UNSPECIFIED(&lr->src);
	struct nl_addr *via = has_gw ? addr6_build(&lr->gw, 128) : NULL;
	struct nl_addr *src = has_src ? addr6_build(&lr->src, 128) : NULL;

	if ((has_gw && !via) || (has_src && !src)) {
		nl_addr_put(via);
		nl_addr_put(src);
		return -ENOMEM;
	}
	return route_commit(r, AF_INET6, addr6_build(&lr->dst, lr->len), via, src, lr->oif,
	                    lr->onlink);
}
