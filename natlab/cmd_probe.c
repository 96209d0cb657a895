/* SPDX-License-Identifier: MIT */
/*
 * natlab probe NAME HOST: classify the NAT path from HOST, UDP with RFC 5780 and TCP with
 * the same tests over connections, against responders that natlab starts on a public
 * host with two addresses, and compare the measured behaviour with what the NATs on the
 * path declare.
 */
#include "natlab/cmd.h"
#include "natlab/identity.h"
#include "natlab/log.h"
#include "natlab/model.h"
#include "natlab/netns.h"
#include "natlab/probe.h"
#include "natlab/probe_path.h"
#include "natlab/state.h"
#include "natlab/stun.h"
#include "natlab/stun_responder.h"
#include "natlab/units.h"
#include "natlab/stun_tcp_responder.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE_PORT_DEFAULT 3478
/* TCP on the web ports by default: a firewall that lets only the web out (profile
 * udp-blocked) can then be measured too. */
#define PROBE_TCP_PORT1_DEFAULT 443
#define PROBE_TCP_PORT2_DEFAULT 80

/* One responder: its protocol and the ports P1, P2 (host order, 0: the kernel picks). */
struct responder_spec {
	bool tcp;
	uint16_t port[2];
	bool ipv6; /* on the server's first two IPv6 addresses */
};

/* What a responder child reports once bound: 0 and the ports (network order), or -errno. */
struct responder_ready {
	int rc;
	uint16_t port[2];
};

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

static struct sockaddr_storage sockaddr6_of(const struct in6_addr *a, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = *a;
	sin6->sin6_port = htons(port);
	return ss;
}

/* The server's address i (0: A1, 1: A2) of the family asked for, with port. */
static struct sockaddr_storage server_addr(const struct lab_node *srv, bool ipv6, int i,
                                           uint16_t port)
{
	return ipv6 ? sockaddr6_of(&srv->addrs6[i], port) : sockaddr_of(srv->addrs[i], port);
}

/*
 * Two natlab probes on one lab must not both listen on the same TCP ports (SO_REUSEPORT
 * would let them share, and each would answer part of the other's connections): the TCP
 * responder checks for a listener and binds under this lock, held for those few
 * microseconds only. Returns the locked fd, or -1 (then the check alone must do).
 */
static int bind_lock(const struct lab_model *m)
{
	char path[PATH_MAX];
	int fd, n = snprintf(path, sizeof(path), LAB_STATE_DIR "/%s/probe-tcp.lock", m->name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		log_warn("natlab probe: %s", path);
	return fd;
}

/*
 * Child: serves from the server node until SIGTERM (or until natlab dies), after
 * reporting on fd how binding went.
 */
static void responder_run(const struct lab_model *m, const struct lab_node *srv,
                          const struct responder_spec *spec, int fd)
{
	struct stun_server_config cfg = { .software = "natlab probe" };
	struct stun_tcp_responder t;
	struct stun_responder u;
	struct sigaction sa = { .sa_handler = responder_stop_cb };
	struct responder_ready ready = { 0 };
	const struct stun_server_config *bound;
	int lock;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	enter_node_ns(m, srv->name);
	cfg.primary = server_addr(srv, spec->ipv6, 0, spec->port[0]);
	cfg.alternate = server_addr(srv, spec->ipv6, 1, 0);
	cfg.alt_port = htons(spec->port[1]);
	if (spec->tcp) {
		lock = bind_lock(m);
		ready.rc = stun_tcp_responder_init(&t, &cfg);
		if (lock >= 0)
			close(lock);
	} else {
		ready.rc = stun_responder_init(&u, &cfg);
	}
	bound = spec->tcp ? &t.cfg : &u.cfg;
	if (ready.rc == 0) {
		ready.port[0] = ((const struct sockaddr_in *)&bound->primary)->sin_port;
		ready.port[1] = bound->alt_port;
	}
	if (write(fd, &ready, sizeof(ready)) != sizeof(ready) || ready.rc < 0)
		_exit(1);
	close(fd);
	if (spec->tcp) {
		stun_tcp_responder_serve(&t, &responder_stop);
		stun_tcp_responder_close(&t);
	} else {
		stun_responder_serve(&u, &responder_stop);
		stun_responder_close(&u);
	}
	_exit(0);
}

/*
 * Starts a responder; returns its pid and the ports it serves on (network order). When
 * it cannot bind, stops the responder already started (pid other, or 0) and exits.
 */
static pid_t responder_start(const struct lab_model *m, const struct lab_node *srv,
                             const struct responder_spec *spec, pid_t other, uint16_t bound[2])
{
	struct responder_ready ready = { .rc = -EIO };
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		log_fatal("natlab probe: pipe");
	pid = fork();
	if (pid < 0)
		log_fatal("natlab probe: fork");
	if (pid == 0) {
		close(fds[0]);
		responder_run(m, srv, spec, fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], &ready, sizeof(ready)) != sizeof(ready) || ready.rc < 0) {
		waitpid(pid, NULL, 0);
		if (other > 0) {
			kill(other, SIGTERM);
			waitpid(other, NULL, 0);
		}
		log_fatalx(
		    "natlab probe: the %s responder on \"%s\" could not bind ports %u and %u: "
		    "%s (try %s)",
		    spec->tcp ? "TCP" : "UDP", srv->name, spec->port[0], spec->port[1],
		    strerror(ready.rc < 0 ? -ready.rc : EIO),
		    spec->tcp ? "--tcp-ports P1,P2, or 0 to let the kernel pick"
		              : "--port PORT, or 0 to let the kernel pick");
	}
	close(fds[0]);
	bound[0] = ready.port[0];
	bound[1] = ready.port[1];
	return pid;
}

static void responder_kill(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Whether node i can answer: a host on the internet with two addresses of the family. */
static bool server_ok(const struct lab_model *m, int i, bool ipv6)
{
	return m->nodes[i].kind == LAB_NODE_HOST &&
	       (ipv6 ? m->nodes[i].naddrs6 : m->nodes[i].naddrs) >= 2 &&
	       m->nodes[m->nodes[i].parent].kind == LAB_NODE_INTERNET;
}

static int find_server(const char *want, const struct lab_model *m, bool ipv6)
{
	const char *two = ipv6 ? "two IPv6 addresses (addrs = 2 on an IPv6 internet)"
	                       : "two addresses (addrs = 2)";

	if (want) {
		int i = cmd_find_node("natlab probe", m, want);

		if (!server_ok(m, i, ipv6))
			log_fatalx("natlab probe: server \"%s\" must be a host on the internet "
			           "with %s",
			           want, two);
		return i;
	}
	for (int i = 0; i < m->nnodes; i++)
		if (server_ok(m, i, ipv6))
			return i;
	log_fatalx("natlab probe: lab \"%s\" has no public host with %s to answer RFC 5780 "
	           "probes; add lab:host{ net = <internet>, addrs = 2 } or pick one with "
	           "--server",
	           m->name, two);
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

/* The ports asked for on the command line (host order, 0: the kernel picks), and the
 * family (--ipv6). */
struct probe_ports {
	uint16_t udp;
	uint16_t tcp[2];
	/* --wait: how long a test waits for an answer that may not come (0: the defaults). */
	int wait_ms;
	bool ipv6;
};

/* A port in network order, as host order. */
static unsigned port_of(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* The TCP probe, run beside the UDP one (probe_host()). */
struct tcp_job {
	struct probe_options opt;
	struct probe_tcp_result res;
	int rc;
};

static void *tcp_job_run(void *arg)
{
	struct tcp_job *j = arg;

	j->rc = probe_tcp_run(&j->opt, &j->res);
	return NULL;
}

/*
 * --ipv6: what was measured, against what the boxes declare for IPv6 (their filtering6
 * and nptv6), printed; not kept with the lab, whose measured-<nat>.json is IPv4's.
 */
static int probe_host_print6(const struct lab_model *m, int host, const struct lab_node *srv,
                             const struct probe_result *res, const struct probe_tcp_result *tres,
                             const uint16_t tcp_port[2])
{
	json_t *out = probe_result_json(res), *tcp = probe_tcp_result_json(tres);
	json_t *declared = probe_path6_declared(m, host, tcp_port);
	bool udp_match, tcp_match;

	if (!out || !tcp || !declared)
		log_fatalx("natlab probe: out of memory");
	udp_match = probe_path_matches(declared, out, false);
	tcp_match = probe_path_matches(json_object_get(declared, "tcp"), tcp, true);
	json_object_set_new(tcp, "match", json_boolean(tcp_match));
	json_object_set_new(out, "tcp", tcp);
	json_object_set_new(out, "host", json_string(m->nodes[host].name));
	json_object_set_new(out, "server", json_string(srv->name));
	json_object_set_new(out, "family", json_string("ipv6"));
	json_object_set_new(out, "udp_match", json_boolean(udp_match));
	json_object_set_new(out, "match", json_boolean(udp_match && tcp_match));
	json_object_set_new(out, "declared", declared);
	json_dumpf(out, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(out);
	return udp_match && tcp_match ? 0 : 1;
}

/*
 * Both probes from the host, each against its responder on the server; prints the
 * result and returns the exit code (0 when everything measured matches the declaration).
 */
static int probe_host(const struct lab_model *m, int host, int server,
                      const struct probe_ports *ports)
{
	const struct lab_node *srv = &m->nodes[server];
	struct responder_spec uspec = { .port = { ports->udp, ports->udp ? ports->udp + 1 : 0 },
		                        .ipv6 = ports->ipv6 };
	struct responder_spec tspec = { .tcp = true,
		                        .port = { ports->tcp[0], ports->tcp[1] },
		                        .ipv6 = ports->ipv6 };
	struct probe_options opt = { 0 };
	struct probe_tcp_result tres;
	struct probe_result res;
	struct tcp_job tjob;
	pthread_t tthread;
	bool threaded;
	struct probe_path path;
	json_t *out, *tcp, *declared;
	uint16_t ubound[2], tbound[2], tcp_port[2];
	const char *what = "UDP";
	pid_t upid, tpid;
	bool udp_match, tcp_match;
	int rc;

	upid = responder_start(m, srv, &uspec, 0, ubound);
	tpid = responder_start(m, srv, &tspec, upid, tbound);
	enter_node_ns(m, m->nodes[host].name);
	/* --wait: UDP's four transmissions spread over it, TCP's every wait that long. */
	if (ports->wait_ms > 0) {
		opt.interval_ms = ports->wait_ms / 4 > 0 ? ports->wait_ms / 4 : 1;
		opt.wait_ms = ports->wait_ms;
	}
	/*
	 * UDP and TCP side by side: each mostly waits for answers that may not come (a
	 * filtering NAT's tests). Neither protocol's filters see the other's packets, and
	 * no test reads a sequence of ports, so a port counter both may share (a sequential
	 * allocator) changes nothing measured. The thread starts in the host's namespace,
	 * as its creator is in it now.
	 */
	tjob = (struct tcp_job){ .opt = opt };
	tjob.opt.server = server_addr(srv, ports->ipv6, 0, ntohs(tbound[0]));
	threaded = pthread_create(&tthread, NULL, tcp_job_run, &tjob) == 0;
	opt.server = server_addr(srv, ports->ipv6, 0, ntohs(ubound[0]));
	rc = probe_run(&opt, &res);
	if (threaded)
		pthread_join(tthread, NULL);
	if (rc == 0) {
		what = "TCP";
		if (!threaded)
			tcp_job_run(&tjob);
		rc = tjob.rc;
		tres = tjob.res;
	}
	responder_kill(upid);
	responder_kill(tpid);
	lab_netns_leave();
	if (rc < 0)
		log_fatalx("natlab probe: probing %s from \"%s\": %s", what, m->nodes[host].name,
		           strerror(-rc));
	tcp_port[0] = ntohs(tbound[0]);
	tcp_port[1] = ntohs(tbound[1]);
	if (ports->ipv6)
		return probe_host_print6(m, host, srv, &res, &tres, tcp_port);
	probe_path_walk(m, host, tcp_port, &path);
	declared = probe_path_declared(&path, port_of(&res.local), port_of(&tres.local));
	out = probe_result_json(&res);
	tcp = probe_tcp_result_json(&tres);
	if (!declared || !out || !tcp)
		log_fatalx("natlab probe: out of memory");
	probe_path_mark_block(&path, out, res.udp_ok, port_of(&res.mapped));
	probe_path_mark_block(&path, tcp, tres.tcp_ok, port_of(&tres.mapped));
	probe_path_close(&path);
	udp_match = probe_path_matches(declared, out, false);
	tcp_match = probe_path_matches(json_object_get(declared, "tcp"), tcp, true);
	json_object_set_new(tcp, "match", json_boolean(tcp_match));
	json_object_set_new(out, "tcp", tcp);
	json_object_set_new(out, "host", json_string(m->nodes[host].name));
	json_object_set_new(out, "server", json_string(srv->name));
	json_object_set_new(out, "udp_match", json_boolean(udp_match));
	json_object_set_new(out, "match", json_boolean(udp_match && tcp_match));
	record_measured(m, host, out, declared);
	json_object_set_new(out, "declared", declared);
	json_dumpf(out, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(out);
	return udp_match && tcp_match ? 0 : 1;
}

static void probe_usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: natlab probe NAME HOST [--server NODE] [--port PORT] [--tcp-ports P1,P2]\n"
	    "                    [--wait MS] [--ipv6]\n\n"
	    "Classifies the NAT path from HOST of lab NAME, UDP with RFC 5780 (mapping,\n"
	    "filtering, hairpinning, port preservation) and TCP with the same tests over\n"
	    "connections (the responder dials back for the filtering tests), against\n"
	    "responders natlab starts on a public host with two addresses, and prints JSON:\n"
	    "the UDP fields (mapping, filtering, hairpin, port_preserved, mapped_address,\n"
	    "local_address, nat, udp), tcp (the same for TCP, with status and match), the\n"
	    "declared behaviour of the NATs on the path, udp_match and match. Exits 0 if\n"
	    "everything measured matches the declaration, 1 if not.\n\n"
	    "  --server NODE       the public host to answer (default: the first with addrs = 2)\n"
	    "  --port PORT         the UDP responder's primary port (default %d; it also uses\n"
	    "                      PORT+1; 0 lets the kernel pick)\n"
	    "  --tcp-ports P1,P2   the TCP responder's ports (default %d,%d: web ports, which a\n"
	    "                      web-only firewall lets through; 0 lets the kernel pick both)\n"
	    "  --wait MS           how long a test waits for an answer that may not come (UDP:\n"
	    "                      4 sends MS/4 apart; TCP: every connection, answer and\n"
	    "                      dial-back); default about 1 s (UDP), 1.5-3 s (TCP)\n"
	    "  --ipv6              probe over IPv6 (the server's first two IPv6 addresses),\n"
	    "                      against what the boxes declare for IPv6 (filtering6,\n"
	    "                      nptv6); printed with family ipv6, not kept with the lab\n",
	    PROBE_PORT_DEFAULT, PROBE_TCP_PORT1_DEFAULT, PROBE_TCP_PORT2_DEFAULT);
}

/* "P1,P2" (two different ports) or "0". Exits with a usage error otherwise. */
static void parse_tcp_ports(const char *arg, uint16_t port[2])
{
	unsigned p1, p2;
	char extra;

	if (strcmp(arg, "0") == 0) {
		port[0] = port[1] = 0;
		return;
	}
	if (!isdigit((unsigned char)arg[0]) || sscanf(arg, "%5u,%5u%c", &p1, &p2, &extra) != 2 ||
	    p1 == 0 || p2 == 0 || p1 > 65535 || p2 > 65535 || p1 == p2)
		log_fatalx("natlab probe: --tcp-ports wants two different ports P1,P2 (1-65535) "
		           "or 0 for ports the kernel picks, got \"%s\"",
		           arg);
	port[0] = (uint16_t)p1;
	port[1] = (uint16_t)p2;
}

int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "tcp-ports", required_argument, NULL, 't' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "ipv6", no_argument, NULL, '6' },
		{ NULL, 0, NULL, 0 },
	};
	struct probe_ports ports = { PROBE_PORT_DEFAULT,
		                     { PROBE_TCP_PORT1_DEFAULT, PROBE_TCP_PORT2_DEFAULT } };
	const char *server = NULL;
	long long port;
	struct lab_model m;
	int c, host, rc;

	while ((c = getopt_long(argc, argv, "s:p:t:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			server = optarg;
			break;
		case 'p':
			/* "" used to read as port 0 (strtol parses nothing and says 0). */
			if (lab_integer_parse(optarg, 0, 65534, &port) < 0)
				log_fatalx("natlab probe: --port must be 0-65534, got \"%s\"",
				           optarg);
			ports.udp = (uint16_t)port;
			break;
		case 't':
			parse_tcp_ports(optarg, ports.tcp);
			break;
		case 'w':
			if (lab_integer_parse(optarg, 1, 60000, &port) < 0)
				log_fatalx("natlab probe: --wait wants milliseconds, 1-60000, got "
				           "\"%s\"",
				           optarg);
			ports.wait_ms = (int)port;
			break;
		case 'h':
			probe_usage(stdout);
			return 0;
		case '6':
			ports.ipv6 = true;
			break;
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
	/* Transaction ids come from libsodium: set up once, before the tests' threads use it. */
	if (identity_init() < 0)
		log_fatalx("natlab probe: libsodium cannot start");
	cmd_load_lab("natlab probe", argv[optind], &m);
	host = cmd_find_node("natlab probe", &m, argv[optind + 1]);
	if (m.nodes[host].kind != LAB_NODE_HOST)
		log_fatalx("natlab probe: \"%s\" is a %s; probe from a host behind it",
		           m.nodes[host].name,
		           m.nodes[host].kind == LAB_NODE_NAT ? "NAT" : "router");
	if (lab_netns_init() < 0)
		log_fatal("natlab probe: cannot open our own network namespace");
	rc = probe_host(&m, host, find_server(server, &m, ports.ipv6), &ports);
	lab_model_close(&m);
	return rc;
}
