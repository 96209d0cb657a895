/* SPDX-License-Identifier: MIT */
/*
 * The TCP probe and the STUN-over-TCP responder on loopback (127.0.0.1 and 127.0.0.2):
 * the classifier's verdicts from synthetic observations, the responder's answers and
 * dial-backs (from the endpoint CHANGE-REQUEST names, to the address the request came
 * from), a whole probe without NAT, a responder without alternate address, and bounded
 * failures: nothing listening, a silent server, a server that speaks something else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "natlab/addr.h"
#include "natlab/probe.h"
#include "natlab/stun_tcp_responder.h"
#include "probe_fixture.h"
#include "tap.h"

#define SA(ss) ((const struct sockaddr *)(ss))

static void test_classify(void)
{
	struct sockaddr_storage a = fixture_addr("198.18.0.2:40000"),
	                        b = fixture_addr("198.18.0.2:40001"),
	                        c = fixture_addr("198.18.0.2:40002");

	is_int(probe_mapping_classify(SA(&a), SA(&a), NULL, SA(&a)), PROBE_ENDPOINT_INDEPENDENT,
	       "I = II = IV: endpoint-independent, III not needed");
	is_int(probe_mapping_classify(SA(&a), SA(&b), SA(&b), SA(&a)), PROBE_ADDRESS_DEPENDENT,
	       "I != II = III, IV = I: address-dependent");
	is_int(probe_mapping_classify(SA(&a), SA(&b), SA(&c), NULL),
	       PROBE_ADDRESS_AND_PORT_DEPENDENT,
	       "I, II, III all differ: address-and-port-dependent, IV not needed");
	is_int(probe_mapping_classify(SA(&a), SA(&b), NULL, NULL), PROBE_UNKNOWN,
	       "I != II, III and IV failed: unknown");
	is_int(probe_mapping_classify(SA(&a), SA(&b), NULL, SA(&a)), PROBE_ADDRESS_DEPENDENT,
	       "I != II, III failed, IV = I: address-dependent");
	is_int(probe_mapping_classify(SA(&a), SA(&b), NULL, SA(&c)),
	       PROBE_ADDRESS_AND_PORT_DEPENDENT,
	       "I != II, III failed, IV differs: address-and-port-dependent");
	ok(probe_mapping_needs_iv(SA(&a), SA(&a), NULL), "I = II: IV is needed");
	ok(probe_mapping_needs_iv(SA(&a), SA(&b), SA(&b)), "II = III: IV is needed");
	ok(probe_mapping_needs_iv(SA(&a), SA(&b), NULL), "III failed: IV is needed");
	ok(!probe_mapping_needs_iv(SA(&a), SA(&b), SA(&c)), "I, II, III all differ: no IV");
	/* A random-port NAT gives two destinations one port by chance now and then. */
	is_int(probe_mapping_classify(SA(&a), SA(&a), NULL, SA(&c)),
	       PROBE_ADDRESS_AND_PORT_DEPENDENT,
	       "I = II by chance, IV differs: address-and-port-dependent");
	is_int(probe_mapping_classify(SA(&a), SA(&b), SA(&b), SA(&c)),
	       PROBE_ADDRESS_AND_PORT_DEPENDENT,
	       "II = III by chance, IV differs from I: address-and-port-dependent");
	is_int(probe_mapping_classify(SA(&a), SA(&a), NULL, NULL), PROBE_ENDPOINT_INDEPENDENT,
	       "I = II and IV failed: endpoint-independent, as RFC 5780 has it");
	is_int(probe_mapping_classify(SA(&a), SA(&b), SA(&b), NULL), PROBE_ADDRESS_DEPENDENT,
	       "II = III and IV failed: address-dependent, as RFC 5780 has it");
	is_int(probe_filtering_classify(1, -1), PROBE_ENDPOINT_INDEPENDENT,
	       "came from A2:P2: endpoint-independent");
	is_int(probe_filtering_classify(1, 0), PROBE_ENDPOINT_INDEPENDENT,
	       "came late from A2:P2: still endpoint-independent");
	is_int(probe_filtering_classify(0, 1), PROBE_ADDRESS_DEPENDENT,
	       "only from A1:P2: address-dependent");
	is_int(probe_filtering_classify(0, 0), PROBE_ADDRESS_AND_PORT_DEPENDENT,
	       "from neither: address-and-port-dependent");
	is_int(probe_filtering_classify(-1, -1), PROBE_UNKNOWN, "not run: unknown");
	is_int(probe_filtering_classify(0, -1), PROBE_UNKNOWN, "second test not run: unknown");
}

/* A client socket that also listens on its port, as the probe's filtering test does. */
static int reusable(const char *local, int *lfd)
{
	struct sockaddr_storage ss = fixture_addr(local);
	socklen_t len = sizeof(ss);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, SA(&ss), sizeof(struct sockaddr_in)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	*lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(*lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(*lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(*lfd, SA(&ss), sizeof(struct sockaddr_in)) < 0 || listen(*lfd, 4) < 0)
		return -1;
	return fd;
}

/* Reads one STUN message (blocking, at most 2 s). */
static int read_msg(int fd, struct stun_msg *m)
{
	uint8_t buf[STUN_MAX_MESSAGE];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t have = 0;
	ssize_t n;
	int size;

	while ((size = stun_frame_size(buf, have)) == -EAGAIN ||
	       (size > 0 && (size_t)size > have)) {
		if (size > (int)sizeof(buf) || poll(&pfd, 1, 2000) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n <= 0)
			return -ECONNRESET;
		have += (size_t)n;
	}
	return size < 0 ? size : stun_msg_decode(buf, (size_t)size, m);
}

/*
 * Asks for a dial-back with flags over a control connection from 127.0.0.1:*port (0: a
 * fresh port; the port used is written back) to ctl_to; checks the control answer, then
 * that the dial-back comes from `from`, carries the same transaction and the control
 * connection's own address as mapped address. The client closes everything first.
 */
static void check_dial_back(const struct sockaddr_storage *ctl_to, in_port_t *port, uint32_t flags,
                            const struct sockaddr_storage *from, const char *what)
{
	char local[32];

	uint8_t txid[STUN_TXID_SIZE], req[STUN_MAX_MESSAGE];
	struct sockaddr_storage me, peer;
	socklen_t len = sizeof(me), plen = sizeof(peer);
	struct pollfd pfd;
	struct stun_msg ctl, back;
	int lfd = -1, fd, afd = -1, n;

	snprintf(local, sizeof(local), "127.0.0.1:%u", ntohs(*port));
	fd = reusable(local, &lfd);
	ok(fd >= 0 && connect(fd, SA(ctl_to), sizeof(struct sockaddr_in)) == 0 &&
	       getsockname(fd, (struct sockaddr *)&me, &len) == 0,
	   "%s: control connection", what);
	*port = ((struct sockaddr_in *)&me)->sin_port;
	stun_txid_new(txid);
	n = stun_binding_request_encode(req, sizeof(req), txid, flags, true);
	ok(send(fd, req, (size_t)n, 0) == n, "%s: request sent", what);
	is_int(read_msg(fd, &ctl), 0, "control answer");
	ok(ctl.type == STUN_BINDING_SUCCESS && !memcmp(ctl.txid, txid, STUN_TXID_SIZE) &&
	       addr_equal(SA(&ctl.xor_mapped), SA(&me)),
	   "%s: the control answer maps us", what);
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&pfd, 1, 2000) == 1)
		afd = accept(lfd, (struct sockaddr *)&peer, &plen);
	ok(afd >= 0, "%s: the dial-back reached our listener", what);
	ok(afd >= 0 && addr_equal(SA(&peer), SA(from)), "%s: it came from the changed endpoint",
	   what);
	ok(afd >= 0 && read_msg(afd, &back) == 0 && back.type == STUN_BINDING_SUCCESS &&
	       !memcmp(back.txid, txid, STUN_TXID_SIZE) &&
	       addr_equal(SA(&back.response_origin), SA(from)),
	   "%s: it carries our transaction, RESPONSE-ORIGIN the changed endpoint", what);
	if (afd >= 0)
		close(afd);
	close(fd);
	close(lfd);
}

/* How many TIME_WAIT sockets /proc/net/tcp lists with local address `local`. */
static int time_waits_at(const struct sockaddr_storage *local)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)local;
	char want[32], line[256], addr[32], st[8];
	FILE *f = fopen("/proc/net/tcp", "re");
	int n = 0;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%08X:%04X", (unsigned)sin->sin_addr.s_addr,
	         ntohs(sin->sin_port));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*s %31s %*s %7s", addr, st) == 2 && !strcmp(addr, want) &&
		    !strcmp(st, "06"))
			n++;
	fclose(f);
	return n;
}

static void test_dial_backs(void)
{
	struct stun_server_config cfg;
	struct sockaddr_storage a1p2, a2p1, a2p2;
	pid_t pid = fixture_responder_start(true, true, &cfg);
	in_port_t port = 0;
	uint8_t junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n", buf[64];
	struct pollfd pfd;
	int fd;

	ok(pid > 0, "TCP responder on 127.0.0.1 and 127.0.0.2 started");
	stun_server_endpoint(&cfg, STUN_EP_A1P2, &a1p2);
	stun_server_endpoint(&cfg, STUN_EP_A2P1, &a2p1);
	stun_server_endpoint(&cfg, STUN_EP_A2P2, &a2p2);
	check_dial_back(&cfg.primary, &port, STUN_CHANGE_IP | STUN_CHANGE_PORT, &a2p2,
	                "change IP and port");
	/* The client closed first, so TIME_WAIT is on its side: one on the responder's would
	 * refuse the next dial-back to the same mapped address (tcp_tw_reuse only forgives
	 * that on loopback, so the check looks at the sockets, not at a second dial-back). */
	usleep(100 * 1000);
	is_int(time_waits_at(&a2p2), 0, "no TIME_WAIT left at A2:P2 by the dial-back");
	check_dial_back(&a2p1, &port, STUN_CHANGE_PORT, &a2p2, "the same dial-back again");
	port = 0;
	check_dial_back(&cfg.primary, &port, STUN_CHANGE_PORT, &a1p2, "change port");
	port = 0;
	check_dial_back(&cfg.primary, &port, STUN_CHANGE_IP, &a2p1, "change IP");

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ok(connect(fd, SA(&cfg.primary), sizeof(struct sockaddr_in)) == 0 &&
	       send(fd, junk, sizeof(junk) - 1, 0) > 0,
	   "HTTP sent to the responder");
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ok(poll(&pfd, 1, 2000) == 1 && recv(fd, buf, sizeof(buf), 0) == 0,
	   "a client speaking something else is disconnected without answer");
	close(fd);
	port = 0;
	check_dial_back(&cfg.primary, &port, STUN_CHANGE_PORT, &a1p2, "after the garbage");
	is_int(fixture_responder_stop(pid), 0, "responder stops cleanly on SIGTERM");
}

/* CPU ticks (user + system) the process has used so far, from /proc. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	/* After the command: state and 10 more fields, then utime and stime. */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

/*
 * With every connection slot taken, a new client waits in the listen backlog (the
 * responder neither drops it nor spins on the listener) and is served once a slot frees.
 */
static void test_slots_full(void)
{
	struct stun_server_config cfg;
	pid_t pid = fixture_responder_start(true, true, &cfg);
	uint8_t txid[STUN_TXID_SIZE], req[STUN_MAX_MESSAGE];
	int idle[STUN_TCP_CONNS], fd, n, opened = 0;
	struct pollfd pfd;
	struct stun_msg m;
	long t0;

	for (int i = 0; i < STUN_TCP_CONNS; i++) {
		idle[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		opened += connect(idle[i], SA(&cfg.primary), sizeof(struct sockaddr_in)) == 0;
	}
	is_int(opened, STUN_TCP_CONNS, "every slot taken by an idle client");
	usleep(100 * 1000);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	stun_txid_new(txid);
	n = stun_binding_request_encode(req, sizeof(req), txid, 0, true);
	ok(connect(fd, SA(&cfg.primary), sizeof(struct sockaddr_in)) == 0 &&
	       send(fd, req, (size_t)n, 0) == n,
	   "one more client connects (backlog) and asks");
	t0 = cpu_ticks(pid);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	is_int(poll(&pfd, 1, 500), 0, "it waits while every slot is taken");
	ok(t0 >= 0 && cpu_ticks(pid) - t0 < 10, "the responder does not spin meanwhile (%ld ticks)",
	   cpu_ticks(pid) - t0);
	close(idle[0]);
	ok(read_msg(fd, &m) == 0 && m.type == STUN_BINDING_SUCCESS &&
	       !memcmp(m.txid, txid, STUN_TXID_SIZE),
	   "a slot frees: it is answered");
	close(fd);
	for (int i = 1; i < STUN_TCP_CONNS; i++)
		close(idle[i]);
	is_int(fixture_responder_stop(pid), 0, "responder stops");
}

/*
 * A second responder on the ports of a running one is refused: with SO_REUSEPORT on both
 * the kernel would have shared the connections between them.
 */
static void test_port_taken(void)
{
	struct stun_server_config cfg, again;
	struct stun_tcp_responder r;
	pid_t pid = fixture_responder_start(true, true, &cfg);

	again = cfg;
	again.software = NULL;
	is_int(stun_tcp_responder_init(&r, &again), -EADDRINUSE,
	       "the ports of a running responder: -EADDRINUSE");
	stun_tcp_responder_close(&r);
	is_int(fixture_responder_stop(pid), 0, "the first one stops");
	is_int(stun_tcp_responder_init(&r, &again), 0, "once it is gone, the ports are free");
	stun_tcp_responder_close(&r);
}

static void test_probe(void)
{
	struct probe_options opt = { 0 };
	struct stun_server_config cfg;
	struct probe_tcp_result res;
	char want[32];
	pid_t pid = fixture_responder_start(true, true, &cfg);
	long long t0 = probe_now_ms();
	json_t *j;

	ok(pid > 0, "TCP responder started");
	opt.server = cfg.primary;
	is_int(probe_tcp_run(&opt, &res), 0, "probe_tcp_run");
	ok(probe_now_ms() - t0 < 1000, "without NAT nothing is waited for (%lld ms)",
	   probe_now_ms() - t0);
	ok(res.tcp_ok && !res.nat && res.port_preserved, "TCP answered, no NAT, port kept");
	is_str(probe_behaviour_name(res.mapping), "endpoint-independent", "mapping");
	is_str(probe_behaviour_name(res.filtering), "endpoint-independent", "filtering");
	j = probe_tcp_result_json(&res);
	snprintf(want, sizeof(want), "127.0.0.1:%u",
	         ntohs(((struct sockaddr_in *)&res.local)->sin_port));
	is_str(fixture_jstr(j, "status"), "ok", "JSON status");
	is_str(fixture_jstr(j, "mapping"), "endpoint-independent", "JSON mapping");
	is_str(fixture_jstr(j, "filtering"), "endpoint-independent", "JSON filtering");
	is_str(fixture_jstr(j, "mapped_address"), want, "JSON mapped_address");
	is_str(fixture_jstr(j, "local_address"), want, "JSON local_address");
	ok(json_is_true(json_object_get(j, "port_preserved")), "JSON port_preserved true");
	ok(json_is_false(json_object_get(j, "nat")), "JSON nat false");
	is_int(json_object_size(j), 7, "JSON has exactly 7 keys");
	json_decref(j);
	is_int(fixture_responder_stop(pid), 0, "responder stops");

	pid = fixture_responder_start(true, false, &cfg);
	opt.server = cfg.primary;
	is_int(probe_tcp_run(&opt, &res), 0, "probe_tcp_run without alternate address");
	ok(res.tcp_ok && res.mapping == PROBE_UNKNOWN && res.filtering == PROBE_UNKNOWN,
	   "answered, mapping and filtering unknown without OTHER-ADDRESS");
	is_int(fixture_responder_stop(pid), 0, "responder stops");
}

/* Over IPv6 on ::1 (one address: mapping and filtering unknown). */
static void test_probe_ipv6(void)
{
	struct probe_options opt = { 0 };
	struct stun_server_config cfg;
	struct probe_tcp_result res;
	char want[64];
	pid_t pid = fixture_responder_start_at(true, "[::1]:0", NULL, &cfg);
	json_t *j;

	ok(pid > 0, "TCP responder on [::1] started");
	opt.server = cfg.primary;
	is_int(probe_tcp_run(&opt, &res), 0, "probe_tcp_run over IPv6");
	ok(res.tcp_ok && !res.nat && res.port_preserved, "IPv6: TCP answered, no NAT, port kept");
	j = probe_tcp_result_json(&res);
	snprintf(want, sizeof(want), "[::1]:%u",
	         ntohs(((struct sockaddr_in6 *)&res.local)->sin6_port));
	is_str(fixture_jstr(j, "mapped_address"), want, "IPv6: JSON mapped_address");
	is_str(fixture_jstr(j, "local_address"), want, "IPv6: JSON local_address");
	json_decref(j);
	is_int(fixture_responder_stop(pid), 0, "responder stops");
}

/* A server that accepts and writes text at once, from a child. */
static pid_t talker(struct sockaddr_storage *at)
{
	socklen_t len = sizeof(*at);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;
	pid_t pid;

	*at = fixture_addr("127.0.0.3:0");
	if (bind(lfd, SA(at), sizeof(struct sockaddr_in)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)at, &len) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = accept(lfd, NULL, NULL);
		if (write(fd, "HTTP/1.1 400 Bad Request\r\n\r\n", 28) != 28)
			_exit(1);
		sleep(5);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void test_failures(void)
{
	struct sockaddr_storage at = fixture_addr("127.0.0.3:0");
	struct probe_options opt = { .wait_ms = 300 };
	struct probe_tcp_result res;
	socklen_t len = sizeof(at);
	long long t0, ms;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;
	json_t *j;

	/* Bound, not listening: the kernel refuses, as a NAT's RST would. */
	ok(bind(fd, SA(&at), sizeof(struct sockaddr_in)) == 0 &&
	       getsockname(fd, (struct sockaddr *)&at, &len) == 0,
	   "a closed port on 127.0.0.3");
	opt.server = at;
	t0 = probe_now_ms();
	is_int(probe_tcp_run(&opt, &res), 0, "probe_tcp_run against a closed port");
	ms = probe_now_ms() - t0;
	ok(!res.tcp_ok && ms < 200, "refused: TCP blocked at once (%lld ms)", ms);
	j = probe_tcp_result_json(&res);
	is_str(fixture_jstr(j, "status"), "blocked", "JSON status blocked");
	ok(json_is_null(json_object_get(j, "port_preserved")) &&
	       json_is_null(json_object_get(j, "mapped_address")) &&
	       json_is_null(json_object_get(j, "mapping")),
	   "JSON port_preserved, mapped_address and mapping null");
	json_decref(j);

	/* Listening, never accepting: connected, then nobody answers. */
	ok(listen(fd, 4) == 0, "a silent server");
	t0 = probe_now_ms();
	is_int(probe_tcp_run(&opt, &res), 0, "probe_tcp_run against silence");
	ms = probe_now_ms() - t0;
	ok(!res.tcp_ok && ms >= 290 && ms < 800, "unanswered: blocked after wait_ms (%lld ms)", ms);
	close(fd);

	pid = talker(&at);
	opt.server = at;
	is_int(probe_tcp_run(&opt, &res), -EPROTO, "a server speaking HTTP: -EPROTO");
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	opt.server = fixture_addr("127.0.0.1:0");
	is_int(probe_tcp_run(&opt, &res), -EINVAL, "port 0: -EINVAL");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_classify();
	test_dial_backs();
	test_slots_full();
	test_port_taken();
	test_probe();
	test_probe_ipv6();
	test_failures();
	return tap_done();
}
