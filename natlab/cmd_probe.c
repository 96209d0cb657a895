/* SPDX-License-Identifier: MIT */
/*
 * natlab probe NAME HOST: classify the NAT path from HOST with RFC 5780 against a
 * responder that natlab starts on a public host with two addresses, and compare the
 * measured behaviour with what the NATs on the path declare.
 */
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/model.h"
#include "natlab/netns.h"
#include "natlab/probe.h"
#include "natlab/state.h"
#include "natlab/stun.h"
#include "natlab/stun_responder.h"
#include "natlab/units.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE_PORT_DEFAULT 3478

static volatile sig_atomic_t responder_stop;

static void responder_stop_cb(int sig)
{
	responder_stop = sig;
}

static void enter_node_ns(const struct lab_model *m, const char *node)
{
	int fd, rc;

	rc = lab_node_netns_open(m->name, node, &fd);
	if (rc == 0)
		rc = lab_netns_enter(fd);
	if (rc < 0)
		log_fatalx("natlab probe: namespace of \"%s\": %s", node, strerror(-rc));
	close(fd);
}

static struct sockaddr_storage sockaddr_of(struct in_addr a, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	sin->sin_family = AF_INET;
	sin->sin_addr = a;
	sin->sin_port = htons(port);
	return ss;
}

/* Child: serve RFC 5780 from the server node until SIGTERM; reports its port on fd. */
static void responder_run(const struct lab_model *m, const struct lab_node *srv, uint16_t port,
			  int fd)
{
	struct stun_server_config cfg = { .software = "natlab probe" };
	struct stun_responder r;
	struct sigaction sa = { .sa_handler = responder_stop_cb };
	uint16_t bound;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	enter_node_ns(m, srv->name);
	cfg.primary = sockaddr_of(srv->addrs[0], port);
	cfg.alternate = sockaddr_of(srv->addrs[1], 0);
	cfg.alt_port = port ? htons((uint16_t)(port + 1)) : 0;
	if (stun_responder_init(&r, &cfg) < 0)
		_exit(1);
	bound = ((struct sockaddr_in *)&r.cfg.primary)->sin_port;
	if (write(fd, &bound, sizeof(bound)) != sizeof(bound))
		_exit(1);
	close(fd);
	stun_responder_serve(&r, &responder_stop);
	stun_responder_close(&r);
	_exit(0);
}

/* Starts the responder; returns its pid and the port it serves on (network order). */
static pid_t responder_start(const struct lab_model *m, const struct lab_node *srv,
			     uint16_t port, uint16_t *bound)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		log_fatal("natlab probe: pipe");
	pid = fork();
	if (pid < 0)
		log_fatal("natlab probe: fork");
	if (pid == 0) {
		close(fds[0]);
		responder_run(m, srv, port, fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], bound, sizeof(*bound)) != sizeof(*bound)) {
		waitpid(pid, NULL, 0);
		log_fatalx("natlab probe: the responder on \"%s\" could not bind port %u "
			   "(in use? try --port)",
			   srv->name, port);
	}
	close(fds[0]);
	return pid;
}

static int find_server(const char *want, const struct lab_model *m)
{
	if (want) {
		int i = cmd_find_node("natlab probe", m, want);

		if (m->nodes[i].kind != LAB_NODE_HOST || m->nodes[i].naddrs < 2 ||
		    m->nodes[m->nodes[i].parent].kind != LAB_NODE_INTERNET)
			log_fatalx("natlab probe: server \"%s\" must be a host on the internet "
				   "with two addresses (addrs = 2)",
				   want);
		return i;
	}
	for (int i = 0; i < m->nnodes; i++)
		if (m->nodes[i].kind == LAB_NODE_HOST && m->nodes[i].naddrs >= 2 &&
		    m->nodes[m->nodes[i].parent].kind == LAB_NODE_INTERNET)
			return i;
	log_fatalx("natlab probe: lab \"%s\" has no public host with two addresses to answer "
		   "RFC 5780 probes; add lab:host{ net = <internet>, addrs = 2 } or pick one "
		   "with --server",
		   m->name);
}

/*
 * What the path from host i should measure: stacked NATs show the stricter behaviour of
 * the two, a blocking firewall anywhere stops UDP. Self-hairpinning is predicted for a
 * single NAT only (through stacked NATs it also depends on the inner box's filtering).
 */
static json_t *declared_json(const struct lab_model *m, int i)
{
	json_t *nats = json_array();
	int translating = 0, blocked = 0, hairpin = 0;
	enum nat_mapping mapping = NAT_MAPPING_EIM;
	enum nat_filtering filtering = NAT_FILTER_EIF;

	for (int up = m->nodes[i].parent; up >= 0; up = m->nodes[up].parent) {
		const struct lab_node *n = &m->nodes[up];

		if (n->kind != LAB_NODE_NAT)
			continue;
		json_array_append_new(nats, json_pack("{s:s, s:s}", "name", n->name, "profile",
						      n->profile));
		if (!n->knobs.translate)
			continue;
		translating++;
		blocked |= n->knobs.block != NAT_BLOCK_NONE;
		hairpin = n->knobs.hairpin;
		if (n->knobs.mapping > mapping)
			mapping = n->knobs.mapping;
		if (n->knobs.filtering > filtering)
			filtering = n->knobs.filtering;
	}
	return json_pack("{s:o, s:b, s:s, s:s?, s:s?, s:o}", "nats", nats, "nat", translating > 0,
			 "udp", blocked ? "blocked" : "ok", "mapping",
			 blocked ? NULL : nat_mapping_name(mapping), "filtering",
			 blocked ? NULL : nat_filtering_name(filtering), "hairpin",
			 translating == 1 && !blocked ? json_boolean(hairpin) : json_null());
}

/*
 * Compares each declared field with the measured one. With UDP blocked nothing else can
 * be measured; a null declaration (hairpin through stacked NATs) is not compared.
 */
static int declared_matches(json_t *declared, json_t *measured)
{
	static const char *const keys[] = { "udp", "nat", "mapping", "filtering", "hairpin" };

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		json_t *d = json_object_get(declared, keys[k]);

		if (json_is_null(d))
			continue;
		if (!json_equal(d, json_object_get(measured, keys[k])))
			return 0;
		if (k == 0 && strcmp(json_string_value(d), "blocked") == 0)
			return 1;
	}
	return 1;
}

/*
 * Keeps the measurement with the lab, under the NAT nearest to the host, with every NAT
 * on the path (stacked NATs are measured together) and what the path declares, for the
 * run's report.
 */
static void record_measured(const struct lab_model *m, int host, const json_t *out,
			    const json_t *declared)
{
	json_t *rec = json_deep_copy(out);
	int nat = m->nodes[host].parent;
	int rc;

	while (nat >= 0 && m->nodes[nat].kind != LAB_NODE_NAT)
		nat = m->nodes[nat].parent;
	if (nat < 0 || !rec) {
		json_decref(rec);
		return;
	}
	/* What the path declares (with stacked NATs, not the nearest NAT's knobs alone). */
	json_object_set_new(rec, "declared", json_deep_copy(declared));
	json_object_del(json_object_get(rec, "declared"), "nats");
	json_object_set(rec, "path", json_object_get(declared, "nats"));
	rc = lab_state_write_measured(m->name, m->nodes[nat].name, rec);
	if (rc < 0)
		log_warnx("natlab probe: keeping the measurement with the lab: %s", strerror(-rc));
	json_decref(rec);
}

static int probe_host(const struct lab_model *m, int host, int server, uint16_t port)
{
	struct probe_options opt = { 0 };
	struct probe_result res;
	json_t *out, *declared;
	uint16_t bound;
	pid_t pid;
	int rc, match;

	pid = responder_start(m, &m->nodes[server], port, &bound);
	enter_node_ns(m, m->nodes[host].name);
	opt.server = sockaddr_of(m->nodes[server].addrs[0], ntohs(bound));
	rc = probe_run(&opt, &res);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	lab_netns_leave();
	if (rc < 0)
		log_fatalx("natlab probe: probing from \"%s\": %s", m->nodes[host].name,
			   strerror(-rc));
	out = probe_result_json(&res);
	declared = declared_json(m, host);
	match = declared_matches(declared, out);
	json_object_set_new(out, "host", json_string(m->nodes[host].name));
	json_object_set_new(out, "server", json_string(m->nodes[server].name));
	json_object_set_new(out, "match", json_boolean(match));
	record_measured(m, host, out, declared);
	json_object_set_new(out, "declared", declared);
	json_dumpf(out, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(out);
	return match ? 0 : 1;
}

static void probe_usage(FILE *f)
{
	fprintf(f, "Usage: natlab probe NAME HOST [--server NODE] [--port PORT]\n\n"
		   "Classifies the NAT path from HOST of lab NAME (RFC 5780: mapping, filtering,\n"
		   "hairpinning) against a responder natlab starts on a public host with two\n"
		   "addresses, and prints JSON: mapping, filtering, hairpin, mapped_address,\n"
		   "local_address, nat, udp, the declared behaviour of the NATs on the path, and\n"
		   "match. Exits 0 if the measured behaviour matches the declared one, 1 if not.\n\n"
		   "  --server NODE  the public host to answer (default: the first with addrs = 2)\n"
		   "  --port PORT    the responder's primary port (default %d; it also uses\n"
		   "                 PORT+1; 0 lets the kernel pick)\n",
		   PROBE_PORT_DEFAULT);
}

int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *server = NULL;
	long long port = PROBE_PORT_DEFAULT;
	struct lab_model m;
	int c, host, rc;

	while ((c = getopt_long(argc, argv, "s:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			server = optarg;
			break;
		case 'p':
			/* "" used to read as port 0 (strtol parses nothing and says 0). */
			if (lab_integer_parse(optarg, 0, 65534, &port) < 0)
				log_fatalx("natlab probe: --port must be 0-65534, got \"%s\"", optarg);
			break;
		case 'h':
			probe_usage(stdout);
			return 0;
		default:
			probe_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		probe_usage(stderr);
		return 2;
	}
	cmd_require_admin("natlab probe");
	cmd_load_lab("natlab probe", argv[optind], &m);
	host = cmd_find_node("natlab probe", &m, argv[optind + 1]);
	if (m.nodes[host].kind != LAB_NODE_HOST)
		log_fatalx("natlab probe: \"%s\" is a %s; probe from a host behind it",
			   m.nodes[host].name, m.nodes[host].kind == LAB_NODE_NAT ? "NAT" : "router");
	if (lab_netns_init() < 0)
		log_fatal("natlab probe: cannot open our own network namespace");
	rc = probe_host(&m, host, find_server(server, &m), (uint16_t)port);
	lab_model_close(&m);
	return rc;
}
