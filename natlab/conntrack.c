/* SPDX-License-Identifier: MIT */
#include "natlab/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CT_RECV_BUF 65536

/* One tuple as read: addresses in network order, ports in host order. */
struct ct_tuple {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
	int has_ports;
};

struct ct_entry {
	struct ct_tuple orig, reply;
	uint32_t status, timeout;
	int tcp_state; /* -1 if none */
};

/* The attributes nested in a, by type (up to max), each NULL if absent. */
static void attrs_parse(const struct nlattr *first, size_t len, const struct nlattr **tb, int max)
{
	const struct nlattr *a = first;

	memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
	while (len >= sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= len) {
		int type = a->nla_type & NLA_TYPE_MASK;
		size_t step = (size_t)NLA_ALIGN(a->nla_len);

		if (type <= max)
			tb[type] = a;
		len -= step < len ? step : len;
		a = (const struct nlattr *)((const char *)a + step);
	}
}

static const void *attr_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static size_t attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static uint32_t attr_u32(const struct nlattr *a)
{
	uint32_t v = 0;

	if (a && attr_len(a) >= sizeof(v))
		memcpy(&v, attr_data(a), sizeof(v));
	return v;
}

static uint16_t attr_u16(const struct nlattr *a)
{
	uint16_t v = 0;

	if (a && attr_len(a) >= sizeof(v))
		memcpy(&v, attr_data(a), sizeof(v));
	return v;
}

static void tuple_parse(const struct nlattr *nest, struct ct_tuple *t)
{
	const struct nlattr *tb[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *pr[CTA_PROTO_MAX + 1];

	memset(t, 0, sizeof(*t));
	if (!nest)
		return;
	attrs_parse(attr_data(nest), attr_len(nest), tb, CTA_TUPLE_MAX);
	if (tb[CTA_TUPLE_IP]) {
		attrs_parse(attr_data(tb[CTA_TUPLE_IP]), attr_len(tb[CTA_TUPLE_IP]), ip,
		            CTA_IP_MAX);
		t->src = attr_u32(ip[CTA_IP_V4_SRC]);
		t->dst = attr_u32(ip[CTA_IP_V4_DST]);
	}
	if (tb[CTA_TUPLE_PROTO]) {
		attrs_parse(attr_data(tb[CTA_TUPLE_PROTO]), attr_len(tb[CTA_TUPLE_PROTO]), pr,
		            CTA_PROTO_MAX);
		if (pr[CTA_PROTO_NUM] && attr_len(pr[CTA_PROTO_NUM]) >= 1)
			t->proto = *(const uint8_t *)attr_data(pr[CTA_PROTO_NUM]);
		t->has_ports = pr[CTA_PROTO_SRC_PORT] != NULL;
		t->sport = ntohs(attr_u16(pr[CTA_PROTO_SRC_PORT]));
		t->dport = ntohs(attr_u16(pr[CTA_PROTO_DST_PORT]));
	}
}

static void entry_parse(const struct nlmsghdr *nh, struct ct_entry *e)
{
	const struct nlattr *tb[CTA_MAX + 1], *pi[CTA_PROTOINFO_MAX + 1];
	const struct nlattr *tcp[CTA_PROTOINFO_TCP_MAX + 1];
	size_t off = NLMSG_LENGTH(sizeof(struct nfgenmsg));

	memset(e, 0, sizeof(*e));
	e->tcp_state = -1;
	if (nh->nlmsg_len < off)
		return;
	attrs_parse((const struct nlattr *)((const char *)nh + NLMSG_ALIGN(off)),
	            nh->nlmsg_len - NLMSG_ALIGN(off), tb, CTA_MAX);
	tuple_parse(tb[CTA_TUPLE_ORIG], &e->orig);
	tuple_parse(tb[CTA_TUPLE_REPLY], &e->reply);
	e->status = ntohl(attr_u32(tb[CTA_STATUS]));
	e->timeout = ntohl(attr_u32(tb[CTA_TIMEOUT]));
	if (tb[CTA_PROTOINFO]) {
		attrs_parse(attr_data(tb[CTA_PROTOINFO]), attr_len(tb[CTA_PROTOINFO]), pi,
		            CTA_PROTOINFO_MAX);
		if (pi[CTA_PROTOINFO_TCP]) {
			attrs_parse(attr_data(pi[CTA_PROTOINFO_TCP]),
			            attr_len(pi[CTA_PROTOINFO_TCP]), tcp, CTA_PROTOINFO_TCP_MAX);
			if (tcp[CTA_PROTOINFO_TCP_STATE])
				e->tcp_state =
				    *(const uint8_t *)attr_data(tcp[CTA_PROTOINFO_TCP_STATE]);
		}
	}
}

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_IGMP:
		return "igmp";
	default:
		snprintf(buf, len, "%u", p);
		return buf;
	}
}

static const char *tcp_state_name(int s)
{
	static const char *const names[] = { "NONE",     "SYN_SENT",   "SYN_RECV", "ESTABLISHED",
		                             "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT",
		                             "CLOSE",    "SYN_SENT2" };

	return s >= 0 && (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static json_t *endpoint(uint32_t addr, uint16_t port, int has_port)
{
	char a[INET_ADDRSTRLEN], buf[INET_ADDRSTRLEN + 8];

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	if (!has_port)
		return json_string(a);
	snprintf(buf, sizeof(buf), "%s:%u", a, port);
	return json_string(buf);
}

static json_t *tuple_json(const struct ct_tuple *t)
{
	return json_pack("{s:o, s:o}", "src", endpoint(t->src, t->sport, t->has_ports), "dst",
	                 endpoint(t->dst, t->dport, t->has_ports));
}

static json_t *entry_json(const struct ct_entry *e)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} flags[] = {
		{ IPS_SRC_NAT, "snat" },
		{ IPS_DST_NAT, "dnat" },
		{ IPS_SEEN_REPLY, "seen_reply" },
		{ IPS_ASSURED, "assured" },
	};
	char pbuf[8];
	json_t *o = json_pack("{s:s, s:o, s:o, s:I}", "proto",
	                      proto_name(e->orig.proto, pbuf, sizeof(pbuf)), "original",
	                      tuple_json(&e->orig), "reply", tuple_json(&e->reply), "timeout_s",
	                      (json_int_t)e->timeout);
	json_t *fl = json_array();

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (e->status & flags[i].bit)
			json_array_append_new(fl, json_string(flags[i].name));
	json_object_set_new(o, "flags", fl);
	if (e->tcp_state >= 0)
		json_object_set_new(o, "tcp_state", json_string(tcp_state_name(e->tcp_state)));
	/* Source NAT: the outside answers to the reply tuple's destination. */
	if (e->status & IPS_SRC_NAT) {
		json_t *in = endpoint(e->orig.src, e->orig.sport, e->orig.has_ports);
		json_t *out = endpoint(e->reply.dst, e->reply.dport, e->reply.has_ports);

		json_object_set_new(
		    o, "mapped",
		    json_sprintf("%s -> %s", json_string_value(in), json_string_value(out)));
		json_decref(in);
		json_decref(out);
	}
	return o;
}

/* Reads the dump's answers into arr until NLMSG_DONE. */
static int dump_recv(int fd, json_t *arr, char *err, size_t errlen)
{
	static char buf[CT_RECV_BUF];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
		size_t len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "conntrack dump: %s", strerror(errno));
			return -errno;
		}
		for (len = (size_t)n; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			struct ct_entry e;

			if (nh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *me = NLMSG_DATA(nh);

				if (me->error == 0)
					return 0;
				snprintf(err, errlen, "conntrack dump: %s", strerror(-me->error));
				return me->error;
			}
			entry_parse(nh, &e);
			json_array_append_new(arr, entry_json(&e));
		}
	}
}

/*
 * The number of entries in the current namespace's table (1 if it cannot be read, so
 * that the caller dumps). A dump walks the kernel's one hash table for every namespace
 * (262144 buckets here: 9-30 ms on a loaded machine) to find this namespace's entries;
 * a box that holds none, as every box of a lab just built, is answered without it.
 */
static long entries_count(void)
{
	char buf[32];
	ssize_t n;
	long v;
	int fd = open("/proc/sys/net/netfilter/nf_conntrack_count", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v < 0 ? 1 : v;
}

int lab_conntrack_read(json_t **out, char *err, size_t errlen)
{
	struct {
		struct nlmsghdr nh;
		struct nfgenmsg nfg;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
		        .nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
		        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		        .nlmsg_seq = 1 },
		.nfg = { .nfgen_family = AF_INET, .version = NFNETLINK_V0 },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	json_t *arr = json_array();
	int rc = 0;

	*out = NULL;
	if (fd >= 0 && arr && entries_count() == 0)
		goto out;
	if (fd < 0 || !arr) {
		rc = fd < 0 ? -errno : -ENOMEM;
		snprintf(err, errlen, "conntrack: %s", strerror(-rc));
		goto out;
	}
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "conntrack dump request: %s", strerror(-rc));
		goto out;
	}
	rc = dump_recv(fd, arr, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		*out = arr;
	else
		json_decref(arr);
	return rc;
}
