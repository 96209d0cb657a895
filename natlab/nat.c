/* SPDX-License-Identifier: MIT */
/* The one file that speaks libnftables. */
#include "natlab/nat.h"
#include "natlab/nat6.h"
#include "natlab/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/select.h>
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

/* Words that start a rule's statements; "ct status snat" is a match, not one. */
static int statement_at(const char *tok, size_t len, const char *prev, size_t prevlen)
{
	static const char *const words[] = { "snat",   "dnat",   "masquerade", "redirect", "drop",
		                             "accept", "reject", "goto",       "jump",     "return",
		                             "update", "add",    "queue",      NULL };

	if (prevlen == 6 && strncmp(prev, "status", 6) == 0)
		return 0;
	for (int i = 0; words[i]; i++)
		if (strlen(words[i]) == len && strncmp(tok, words[i], len) == 0)
			return 1;
	return 0;
}

/*
 * The ruleset as loaded: a counter in every rule, before its first statement (so it
 * counts the packets the rule matched), and a last rule of only a counter in each chain
 * whose policy drops (what reached the policy). A drop is then attributed to the rule,
 * or the policy, that made it: `natlab ls NAME NAT --mappings` and the run's NAT
 * snapshots show them. The rendered ruleset (tests/golden/nat/) stays without.
 */
static char *ruleset_with_counters(const char *ruleset)
{
	size_t cap = strlen(ruleset) * 2 + 4096, used = 0;
	char *out = malloc(cap);
	int in_chain = 0, policy_drop = 0;

	if (!out)
		return NULL;
	for (const char *line = ruleset; *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) + 1 : strlen(line);
		const char *t = line + strspn(line, " \t");
		const char *ins = NULL;

		if (used + len + 128 >= cap) {
			char *bigger = realloc(out, cap * 2);

			if (!bigger) {
				free(out);
				return NULL;
			}
			out = bigger;
			cap *= 2;
		}
		if (strncmp(t, "chain ", 6) == 0) {
			in_chain = 1;
			policy_drop = 0;
		} else if (in_chain && *t == '}') {
			if (policy_drop)
				used += (size_t)sprintf(out + used,
				                        "\t\tcounter comment \"policy drop\"\n");
			in_chain = 0;
		} else if (in_chain && strncmp(t, "type ", 5) == 0) {
			policy_drop =
			    strstr(t, "policy drop") && strstr(t, "policy drop") < line + len;
		} else if (in_chain && *t != '#' && *t != '\n' && *t) {
			const char *prev = t;
			size_t prevlen = 0;

			for (const char *w = t; w < line + len && !ins;) {
				size_t wl = strcspn(w, " \t\n");

				if (statement_at(w, wl, prev, prevlen))
					ins = w;
				prev = w;
				prevlen = wl;
				w += wl;
				w += strspn(w, " \t");
				if (*w == '\n')
					break;
			}
		}
		if (ins) {
			memcpy(out + used, line, (size_t)(ins - line));
			used += (size_t)(ins - line);
			memcpy(out + used, "counter ", 8);
			used += 8;
			memcpy(out + used, ins, len - (size_t)(ins - line));
			used += len - (size_t)(ins - line);
		} else {
			memcpy(out + used, line, len);
			used += len;
		}
		line += len;
	}
	out[used] = '\0';
	return out;
}

/*
 * A context bound to the current namespace that keeps its messages for us. libnftables
 * waits on its socket with select(): a socket numbered FD_SETSIZE or more would write
 * past select's set, so no context is made unless a lower number is free.
 */
static struct nft_ctx *ctx_new(char *err, size_t errlen)
{
	int low = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct nft_ctx *ctx;

	if (low >= 0)
		close(low);
	if (low >= FD_SETSIZE) {
		snprintf(err, errlen,
		         "nftables: no descriptor below %d is free for libnftables (it uses "
		         "select()); the process holds too many",
		         FD_SETSIZE);
		return NULL;
	}
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);

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

/*
 * Contexts whose freeing nat_ctx_defer_begin() put off. Closing an nftables socket after
 * a commit waits for the kernel to finish destroying the committed transactions, an RCU
 * grace period (8-16 ms measured on a loaded 2-core machine): once per NAT box, that was
 * most of a big lab's build. The kernel's list of transactions to destroy is shared by
 * every namespace, so the first close after a batch of commits waits once for all of them.
 */
static struct {
	int on;
	struct nft_ctx **v;
	size_t n;
} deferred;

/*
 * At most this many contexts wait: libnftables waits on its socket with select(), so
 * every socket it opens must stay below FD_SETSIZE; 64 keep a box's wait to 1/32 of one.
 */
#define NAT_CTX_DEFER_MAX 64

static void deferred_free(void)
{
	for (size_t i = 0; i < deferred.n; i++)
		nft_ctx_free(deferred.v[i]);
	deferred.n = 0;
}

void nat_ctx_defer_begin(void)
{
	deferred.on = 1;
}

void nat_ctx_defer_end(void)
{
	deferred_free();
	free(deferred.v);
	memset(&deferred, 0, sizeof(deferred));
}

/* Frees ctx now, or later with the others (now if the list cannot grow). */
static void ctx_release(struct nft_ctx *ctx)
{
	if (!deferred.on) {
		nft_ctx_free(ctx);
		return;
	}
	if (!deferred.v && !(deferred.v = calloc(NAT_CTX_DEFER_MAX, sizeof(*deferred.v)))) {
		nft_ctx_free(ctx);
		return;
	}
	if (deferred.n == NAT_CTX_DEFER_MAX)
		deferred_free();
	deferred.v[deferred.n++] = ctx;
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
	ctx_release(ctx);
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

/* The commands that load the port-mapping table (on) or remove it (off). */
static const char *portmap_commands(int on)
{
	return on ? nat_portmap_ruleset()
	          : "table inet " NAT_PORTMAP_TABLE "\n"
	            "delete table inet " NAT_PORTMAP_TABLE "\n";
}

int nat_portmap_apply(int on, char *err, size_t errlen)
{
	return commands_run(portmap_commands(on), err, errlen);
}

int nat_portmap_flush(char *err, size_t errlen)
{
	return commands_run("flush chain inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_FORWARD_CHAIN "\n"
	                    "flush chain inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_DNAT_CHAIN "\n"
	                    "flush chain inet " NAT_PORTMAP_TABLE " " NAT_PORTMAP_SNAT_CHAIN "\n",
	                    err, errlen);
}

/*
 * Loads table natlab of family with a counter in every rule (ruleset_with_counters),
 * and the commands more (NULL: none) in the same transaction.
 */
static int natlab_table_apply(const char *family, const char *ruleset, const char *more, char *err,
                              size_t errlen)
{
	char *counted = ruleset_with_counters(ruleset), *all;
	size_t len;
	int rc;

	if (counted && more && *counted) {
		len = strlen(counted);
		all = realloc(counted, len + strlen(more) + 1);

		if (all)
			strcpy(all + len, more);
		else
			free(counted);
		counted = all;
	}
	if (!counted) {
		snprintf(err, errlen, "nftables: out of memory");
		return -ENOMEM;
	}
	rc = table_load(family, "natlab", counted, err, errlen);
	free(counted);
	return rc;
}

int nat_ruleset_apply(const char *ruleset, char *err, size_t errlen)
{
	return natlab_table_apply("ip", ruleset, NULL, err, errlen);
}

int nat_box_apply(const char *ruleset, int portmap, char *err, size_t errlen)
{
	if (!*ruleset)
		return nat_portmap_apply(portmap, err, errlen);
	return natlab_table_apply("ip", ruleset, portmap_commands(portmap), err, errlen);
}

int nat6_ruleset_apply(const char *ruleset, char *err, size_t errlen)
{
	return natlab_table_apply("ip6", ruleset, NULL, err, errlen);
}

/* "counter packets P bytes B " taken out of a listed rule, its figures kept. */
static void rule_take_counter(char *rule, json_int_t *packets, json_int_t *bytes)
{
	char *c = strstr(rule, "counter packets ");
	long long p = 0, b = 0;
	int n = 0;

	*packets = *bytes = 0;
	if (!c || sscanf(c, "counter packets %lld bytes %lld%n", &p, &b, &n) != 2)
		return;
	*packets = p;
	*bytes = b;
	c[n] == ' ' ? n++ : 0;
	memmove(c, c + n, strlen(c + n) + 1);
	for (size_t l = strlen(rule); l && (rule[l - 1] == ' ' || rule[l - 1] == '\n'); l--)
		rule[l - 1] = '\0';
}

/* Splits a set's elements ("a, b, c" inside "elements = { ... }") into arr. */
static void elements_add(json_t *arr, const char *text)
{
	const char *p = text;

	while (*p) {
		size_t n;

		p += strspn(p, " \t\n,");
		n = strcspn(p, ",}");
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == '\t'))
			n--;
		if (n)
			json_array_append_new(arr, json_stringn(p, n));
		p += strcspn(p, ",}");
		if (*p == '}')
			break;
	}
}

/* Walks nft's listing of table ip natlab: rules with their counters, sets' elements. */
/* Chains and sets are named with prefix before their own name ("ip6 forward"). */
static void listing_parse(const char *text, const char *prefix, json_t *rules, json_t *sets)
{
	char chain[64] = "", set[64] = "", name[80], *copy = strdup(text), *save = NULL;
	json_t *elems = NULL;
	int in_elements = 0;

	for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *t = line + strspn(line, " \t");

		if (in_elements) {
			elements_add(elems, t);
			in_elements = !strchr(t, '}');
		} else if (sscanf(t, "chain %63s {", chain) == 1) {
			set[0] = '\0';
		} else if (sscanf(t, "set %63s {", set) == 1 || sscanf(t, "map %63s {", set) == 1) {
			chain[0] = '\0';
			elems = json_array();
			snprintf(name, sizeof(name), "%s%s", prefix, set);
			json_object_set_new(sets, name, elems);
		} else if (set[0] && strncmp(t, "elements = {", 12) == 0) {
			elements_add(elems, t + 12);
			in_elements = !strchr(t + 12, '}');
		} else if (*t == '}') {
			chain[0] = set[0] = '\0';
		} else if (chain[0] && strncmp(t, "type ", 5) != 0 && *t != '#' && *t) {
			json_int_t packets, bytes;

			rule_take_counter(t, &packets, &bytes);
			snprintf(name, sizeof(name), "%s%s", prefix, chain);
			json_array_append_new(rules, json_pack("{s:s, s:s, s:I, s:I}", "chain",
			                                       name, "rule", t, "packets", packets,
			                                       "bytes", bytes));
		}
	}
	free(copy);
}

int nat_state_read(json_t **out, char *err, size_t errlen)
{
	struct nft_ctx *ctx = ctx_new(err, errlen);
	json_t *rules, *sets;
	int rc = 0;

	*out = NULL;
	if (!ctx)
		return -ENOMEM;
	if (nft_run_cmd_from_buffer(ctx, "list table ip natlab") != 0) {
		const char *msg = nft_ctx_get_error_buffer(ctx);

		snprintf(err, errlen, "nftables: %s", msg && *msg ? msg : "no table ip natlab");
		rc = -ENOENT;
		goto out;
	}
	rules = json_array();
	sets = json_object();
	listing_parse(nft_ctx_get_output_buffer(ctx), "", rules, sets);
	/* A dual-stack box's IPv6 side, if it has one: its own context, its own listing. */
	nft_ctx_free(ctx);
	ctx = ctx_new(err, errlen);
	if (ctx && nft_run_cmd_from_buffer(ctx, "list table ip6 natlab") == 0)
		listing_parse(nft_ctx_get_output_buffer(ctx), "ip6 ", rules, sets);
	*out = json_pack("{s:o, s:o}", "rules", rules, "sets", sets);
out:
	if (ctx)
		nft_ctx_free(ctx);
	return rc;
}

int nat_wire_apply(const char *ruleset, char *err, size_t errlen)
{
	return table_load("ip inet bridge", NAT_WIRE_TABLE, ruleset, err, errlen);
}

int nat_wire_reset(const char *ruleset, char *err, size_t errlen)
{
	static const char *const families[] = { "inet", "ip", "bridge" };
	char cmds[256], decl[64];
	size_t len = 0;

	cmds[0] = '\0';
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(decl, sizeof(decl), "table %s " NAT_WIRE_TABLE " ", families[i]);
		if (strstr(ruleset, decl))
			len += (size_t)snprintf(cmds + len, sizeof(cmds) - len,
			                        "reset counters table %s " NAT_WIRE_TABLE "\n",
			                        families[i]);
	}
	/* A table spelled otherwise (`table natlab_wire`, no space before `{`): load it in full. */
	if (len == 0 || commands_run(cmds, err, errlen) < 0)
		return -ENOENT;
	return 0;
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
		/* Every family: a dual-stack box's IPv6 flows are mappings too. */
		.nfg = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0 },
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
