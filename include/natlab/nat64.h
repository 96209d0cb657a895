/* SPDX-License-Identifier: MIT */
/*
 * IPv6-only access with NAT64 and DNS64 (knob nat64 of a NAT box, whose LAN is then
 * IPv6-only) and 464XLAT (host option clat). The translator is TAYGA (Debian's tayga),
 * stateless, on a TUN device `nat64` in the box: each IPv6 host gets an IPv4 address of
 * TAYGA's dynamic pool, the box's (unconfigured) IPv4 LAN prefix, and the box's IPv4
 * ruleset, every RFC 4787 knob, translates those onward out of its WAN as it would the
 * LAN's own hosts. The resolver is unbound, in the box on its LAN's ::1, serving the
 * lab's names (zone NAT64_ZONE) and synthesising AAAA records from A records (RFC 6147).
 * Hosts behind the box get it as their /etc/resolv.conf.
 */
#ifndef NATLAB_NAT64_H
#define NATLAB_NAT64_H

#include <netinet/in.h>
#include <stddef.h>

/* RFC 6052's well-known prefix. */
#define NAT64_WELL_KNOWN "64:ff9b::"
#define NAT64_PREFIX_LEN 96
/* Names of lab nodes: NODE.test (RFC 6761 keeps .test for testing). */
#define NAT64_ZONE "test"
/* RFC 7050: ipv4only.arpa has these two A records; a client learns the prefix from them. */
#define NAT64_IPV4ONLY_A1 "192.0.0.170"
#define NAT64_IPV4ONLY_A2 "192.0.0.171"
/* 464XLAT (RFC 6877): the CLAT's IPv4 side, RFC 7335's 192.0.0.0/29. */
#define NAT64_CLAT_HOST  "192.0.0.1" /* the host's own IPv4 address */
#define NAT64_CLAT_TAYGA "192.0.0.2" /* the CLAT's (source of its ICMP errors) */
#define NAT64_CLAT_IF    "clat"

/*
 * Whether TAYGA 0.9.2 refuses to translate IPv4 addresses of net/len behind the
 * well-known prefix (RFC 6052 section 3.1 forbids non-global ones; TAYGA's list is
 * RFC 1918, the documentation ranges and the benchmarking range 198.18.0.0/15, the lab's
 * default internet). 1 if any address of the network is one, else 0.
 */
int nat64_well_known_refused(struct in_addr net, int len);

/* What TAYGA in one box is configured from. */
struct nat64_tayga {
	const char *tun;        /* its TUN device */
	struct in6_addr prefix; /* the /96 IPv4 addresses are mapped into */
	struct in_addr addr4;   /* its own IPv4 address (source of its ICMPv4 errors) */
	struct in6_addr addr6;  /* its own IPv6 address (source of its ICMPv6 errors) */
	struct in_addr pool;    /* the dynamic pool: one IPv4 address per IPv6 host */
	int pool_len;           /* 0: no pool, only the static map below (a CLAT) */
	struct in_addr map4;    /* a static map4 <-> map6 when map4 is not 0 (a CLAT) */
	struct in6_addr map6;
};

/* tayga.conf(5) text. *out is malloc'd; 0 or -errno. */
int nat64_tayga_conf_render(const struct nat64_tayga *t, char **out);

/* A record of the lab's zone: name's address (AF_INET or AF_INET6 in addr). */
struct nat64_record {
	const char *name; /* a node name; "" for the zone's apex */
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

/*
 * The root zone unbound serves from a file (RFC 1035 master format): the SOA, the
 * records of NAT64_ZONE (each node, NODE.test), and ipv4only.arpa (RFC 7050). Names
 * outside it do not exist, so no query ever leaves the lab. *out malloc'd; 0 or -errno.
 */
int nat64_zone_render(const struct nat64_record *r, size_t n, char **out);

/*
 * unbound.conf(5) text: listens on listen (port 53, UDP and TCP), answers from the zone
 * file zone (as the iterator's upstream, so the dns64 module synthesises AAAA records in
 * prefix from A records), runs in the foreground as the user it is started as, with no
 * chroot, control socket, pid file or trust anchor; dir is its working directory.
 */
int nat64_unbound_conf_render(const struct in6_addr *listen, const struct in6_addr *prefix,
                              const char *zone, const char *dir, char **out);

struct lab_model;
struct lab_node;

/*
 * The /96 box n maps IPv4 into (knob nat64_prefix): well-known 64:ff9b::/96; network-
 * specific, the first /96 of the internet's IPv6 subnet whose 16 bits after the prefix
 * are all ones (2001:db8:ffff::/96 in 2001:db8::/32; LANs count up from subnet 2); auto,
 * well-known unless TAYGA refuses the lab's internet behind it. -EINVAL with a sentence
 * in err for well-known with such an internet.
 */
int nat64_prefix_of(const struct lab_model *m, const struct lab_node *n, struct in6_addr *out,
                    char *err, size_t errlen);

/*
 * Checks node i once its addresses are assigned: a nat64 box needs a lab with IPv6, an
 * IPv6-only LAN (its default) and no nptv6, and a prefix that can work; a host with clat
 * a nat64 box as its network; no LAN may take the network-specific prefix's /64. 0 or
 * -EINVAL with a sentence naming the node in err. Pure: called by lab_model_assign.
 */
int nat64_model_check(struct lab_model *m, int i, char *err, size_t errlen);

struct lua_State;
struct scenario;

/*
 * After lab:up() under `natlab run`: in every box with nat64 on, creates TAYGA's TUN
 * device with its routes, writes the configurations to logs/ (NAT-tayga.conf,
 * NAT-unbound.conf, NAT-zone, NAT-resolv.conf), starts TAYGA and unbound and waits until
 * they serve; then the CLAT of every host with clat = true. Raises a Lua error naming
 * the node on failure.
 */
void nat64_start_all(struct lua_State *L, struct scenario *s);

/*
 * Fields of a node in Lua: nat.nat64_prefix ("2001:db8:ffff::/96") of a nat64 box, and
 * host.clat, the IPv6 address its CLAT translates the host's IPv4 to. Pushes the value
 * and returns 1, or 0 if k is neither (or does not apply to n).
 */
int nat64_lua_field(struct lua_State *L, const struct lab_model *m, const struct lab_node *n,
                    const char *k);

/* The nat64 box host node sits behind (its index), or -ENOENT. */
int nat64_box_of(const struct lab_model *m, int node);

/* The resolv.conf of hosts behind box (its unbound, search NAT64_ZONE). *out malloc'd. */
int nat64_resolv_text(const struct lab_node *box, char **out);

/*
 * The resolv.conf a process spawned in node gets (out dir, logs/NAT-resolv.conf of the
 * nat64 box it sits behind) in path; 0, -ENOENT if it sits behind none, -ENAMETOOLONG.
 */
int nat64_resolv_path(const struct scenario *s, int node, char *path, size_t len);

#endif
