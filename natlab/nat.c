/* SPDX-License-Identifier: MIT */
/* The one file that speaks libnftables. */
#include "natlab/nat.h"
#include "natlab/netns.h"

#include <errno.h>
#include <jansson.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Replaces any previous table NAME of each family in `families` (space-separated) in one
 * transaction, so a profile change (or a new set of wire counters) is atomic.
 */
static char *ruleset_with_reset(const char *families, const char *table, const char *ruleset)
{
	char reset[256], fam[16];
	const char *p = families;
	size_t used = 0, n;
	char *buf;
	int len, k;

	while (sscanf(p, "%15s%n", fam, &k) == 1) {
		len = snprintf(reset + used, sizeof(reset) - used,
		               "table %s %s\ndelete table %s %s\n", fam, table, fam, table);
		if (len < 0 || (size_t)len >= sizeof(reset) - used)
			return NULL;
		used += (size_t)len;
		p += k;
	}
	n = used + strlen(ruleset) + 1;
	buf = malloc(n);
	if (!buf)
		return NULL;
	len = snprintf(buf, n, "%s%s", reset, ruleset);
	if (len < 0 || (size_t)len >= n) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* A context bound to the current namespace that keeps its messages for us. */
static struct nft_ctx *ctx_new(char *err, size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!ctx) {
		snprintf(err, errlen, "nftables: cannot create a context");
		return NULL;
	}
	if (nft_ctx_buffer_error(ctx) < 0 || nft_ctx_buffer_output(ctx) < 0) {
		snprintf(err, errlen, "nftables: cannot buffer messages");
		nft_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Runs nft commands in one transaction in the current namespace. */
static int commands_run(const char *cmds, char *err, size_t errlen)
{
	struct nft_ctx *ctx = ctx_new(err, errlen);
	int rc = 0;

	if (!ctx)
		return -ENOMEM;
	if (nft_run_cmd_from_buffer(ctx, cmds) != 0) {
		const char *msg = nft_ctx_get_error_buffer(ctx);

		snprintf(err, errlen, "nftables: %s", msg && *msg ? msg : "ruleset rejected");
		rc = -EINVAL;
	}
	nft_ctx_free(ctx);
	return rc;
}

static int table_load(const char *families, const char *table, const char *ruleset, char *err,
                      size_t errlen)
{
	char *buf;
	int rc;

	if (!*ruleset)
		return 0;
	buf = ruleset_with_reset(families, table, ruleset);
	if (!buf) {
		snprintf(err, errlen, "nftables: out of memory");
		return -ENOMEM;
	}
	rc = commands_run(buf, err, errlen);
	free(buf);
	return rc;
}

int nat_portmap_apply(int on, char *err, size_t errlen)
{
	if (on)
		return commands_run(nat_portmap_ruleset(), err, errlen);
	return commands_run("table inet " NAT_PORTMAP_TABLE "\n"
	                    "delete table inet " NAT_PORTMAP_TABLE "\n",
	                    err, errlen);
}

int nat_portmap_flush(char *err, size_t errlen)
{
	return commands_run("flush chain inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_FORWARD_CHAIN "\n"
	                    "flush chain inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_DNAT_CHAIN "\n"
	                    "flush chain inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_SNAT_CHAIN "\n",
	                    err, errlen);
}

int nat_ruleset_apply(const char *ruleset, char *err, size_t errlen)
{
	return table_load("ip", "natlab", ruleset, err, errlen);
}

int nat_wire_apply(const char *ruleset, char *err, size_t errlen)
{
	return table_load("ip bridge", NAT_WIRE_TABLE, ruleset, err, errlen);
}

int nat_wire_read(nat_counter_cb fn, void *arg, char *err, size_t errlen)
{
	struct nft_ctx *ctx = ctx_new(err, errlen);
	json_t *doc = NULL, *items, *item;
	json_error_t jerr;
	size_t i;
	int rc = 0;

	if (!ctx)
		return -ENOMEM;
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	if (nft_run_cmd_from_buffer(ctx, "list counters") != 0) {
		const char *msg = nft_ctx_get_error_buffer(ctx);

		snprintf(err, errlen, "nftables: %s", msg && *msg ? msg : "cannot list counters");
		rc = -ENOENT;
		goto out;
	}
	doc = json_loads(nft_ctx_get_output_buffer(ctx), 0, &jerr);
	items = json_object_get(doc, "nftables");
	if (!json_is_array(items)) {
		snprintf(err, errlen, "nftables: unreadable counter listing: %s", jerr.text);
		rc = -EPROTO;
		goto out;
	}
	json_array_foreach(items, i, item)
	{
		json_t *c = json_object_get(item, "counter");
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *table = json_string_value(json_object_get(c, "table"));

		if (!name || !table || strcmp(table, NAT_WIRE_TABLE) != 0)
			continue;
		rc = fn(name, (uint64_t)json_integer_value(json_object_get(c, "packets")),
		        (uint64_t)json_integer_value(json_object_get(c, "bytes")), arg);
		if (rc < 0)
			goto out;
	}
out:
	json_decref(doc);
	nft_ctx_free(ctx);
	return rc;
}

/*
 * Deletes every conntrack entry of the current namespace (ctnetlink: a delete request
 * without a tuple flushes the table). With the ruleset's maps reloaded, every mapping
 * is gone, as after a router reboot.
 */
int nat_conntrack_flush(void)
{
	struct {
		struct nlmsghdr nh;
		struct nfgenmsg nfg;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
		        .nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE,
		        .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
		        .nlmsg_seq = 1 },
		.nfg = { .nfgen_family = AF_INET, .version = NFNETLINK_V0 },
	};
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr err;
	} ack;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	int rc = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		rc = -errno;
	else if ((n = recv(fd, &ack, sizeof(ack), 0)) < 0)
		rc = -errno;
	else if ((size_t)n >= sizeof(ack.nh) && ack.nh.nlmsg_type == NLMSG_ERROR)
		rc = ack.err.error == -ENOENT ? 0 : ack.err.error;
	close(fd);
	return rc;
}

int nat_conntrack_timeouts_set(const struct nat_knobs *k, char *err, size_t errlen)
{
	/* Each sysctl and the knob it takes: the ruleset's mapping sets use the same. */
	const struct {
		const char *name;
		unsigned value;
	} timeouts[] = {
		{ "udp_timeout", k->udp_timeout },
		{ "udp_timeout_stream", k->udp_timeout },
		{ "tcp_timeout_established", k->tcp_timeout },
		{ "tcp_timeout_syn_sent", k->tcp_transitory_timeout },
		{ "tcp_timeout_syn_recv", k->tcp_transitory_timeout },
		{ "tcp_timeout_fin_wait", k->tcp_transitory_timeout },
		{ "tcp_timeout_close_wait", k->tcp_transitory_timeout },
		{ "tcp_timeout_last_ack", k->tcp_transitory_timeout },
		{ "tcp_timeout_time_wait", k->tcp_transitory_timeout },
	};
	char key[96], value[16];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		/* Both fit: the names are the constants above, the value an unsigned. */
		snprintf(key, sizeof(key), "net/netfilter/nf_conntrack_%s", timeouts[i].name);
		snprintf(value, sizeof(value), "%u", timeouts[i].value);
		rc = lab_sysctl_write(key, value);
		if (rc < 0)
			snprintf(err, errlen, "conntrack %s: %s", timeouts[i].name, strerror(-rc));
	}
	return rc;
}
