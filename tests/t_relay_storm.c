/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay's handshake slots: --max-clients counts authenticated clients only,
 * --max-handshakes caps connections still handshaking, and one address is held to
 * --source-handshakes of them and --source-rate new connections a second. Proof: a
 * reconnect storm of 2500 sockets from 127.0.0.1 against --max-clients 1000, while 50
 * honest clients from 127.0.0.2 handshake: every honest handshake succeeds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "relay_harness.h"
#include "tap.h"

#define STORM_SOCKETS 2500
#define HONEST        50

static int storm_connect(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The storm, in a child: STORM_SOCKETS sockets that never authenticate; each one the
 * relay closes (or that fails) is reconnected at once. Counts connections made.
 */
static void storm_run(uint16_t port, int seconds, int report_fd)
{
	static struct pollfd pfd[STORM_SOCKETS];
	long long end = rh_now_ms() + seconds * 1000LL, made = 0;
	struct rlimit rl;
	char buf[4096];
	int i;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < STORM_SOCKETS; i++) {
		pfd[i].fd = storm_connect(port);
		pfd[i].events = POLLIN;
		made += pfd[i].fd >= 0;
	}
	while (rh_now_ms() < end) {
		if (poll(pfd, STORM_SOCKETS, 100) < 0)
			break;
		for (i = 0; i < STORM_SOCKETS; i++) {
			ssize_t n = 1;

			if (pfd[i].fd >= 0 && !pfd[i].revents)
				continue;
			if (pfd[i].fd >= 0)
				n = read(pfd[i].fd, buf, sizeof(buf));
			if (n > 0 || (n < 0 && errno == EAGAIN))
				continue; /* the challenge: ignored, the handshake never comes */
			if (pfd[i].fd >= 0)
				close(pfd[i].fd);
			pfd[i].fd = storm_connect(port);
			made += pfd[i].fd >= 0;
		}
	}
	if (write(report_fd, &made, sizeof(made)) != sizeof(made))
		_exit(1);
	_exit(0);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static void test_storm(void)
{
	const char *args[] = { "--no-auth", "--max-clients", "1000", NULL };
	static struct rh_client honest[HONEST];
	int i, ok_count = 0, full = 0, fds[2], status;
	long long made = 0, worst = 0, t0, took[HONEST];
	struct rh_relay r;
	pid_t storm;

	if (rh_relay_start(&r, args) < 0) {
		ok(0, "relay starts");
		return;
	}
	if (pipe(fds) < 0)
		tap_skip_all("pipe");
	storm = fork();
	if (storm == 0)
		storm_run(r.port, 6, fds[1]);
	close(fds[1]);
	sleep(1); /* the storm is on */
	for (i = 0; i < HONEST; i++) {
		int rc;

		t0 = rh_now_ms();
		rc = rh_client_connect_from(&honest[i], r.port, 0, "127.0.0.2");
		if (rc == 0)
			rc = rh_client_handshake(&honest[i], NULL, 0, 3000);
		took[i] = rh_now_ms() - t0;
		if (took[i] > worst)
			worst = took[i];
		ok_count += rc == 0;
		full += rc == RELAY_CLOSE_SERVER_FULL;
		if (rc != 0)
			tap_diag("honest %d: %d", i, rc);
		usleep(50000);
	}
	is_int(ok_count, HONEST, "every honest handshake succeeds during the storm");
	is_int(full, 0, "none refused as server_full");
	qsort(took, HONEST, sizeof(took[0]), cmp_ll);
	ok(worst < 3000, "honest handshakes: median %lld ms, slowest %lld ms", took[HONEST / 2],
	   worst);
	ok(rh_metric(r.metrics_port, "source_refusals_total") > 1000,
	   "the storm was refused per source (%lld)",
	   rh_metric(r.metrics_port, "source_refusals_total"));
	ok(rh_metric(r.metrics_port, "handshakes") <= 64 + HONEST, "handshaking now: %lld",
	   rh_metric(r.metrics_port, "handshakes"));
	waitpid(storm, &status, 0);
	if (read(fds[0], &made, sizeof(made)) != sizeof(made))
		made = 0;
	close(fds[0]);
	ok(made > 5000, "the storm made %lld connections", made);
	is_int(rh_metric(r.metrics_port, "clients"), HONEST, "the honest clients are in");
	for (i = 0; i < HONEST; i++)
		rh_client_close(&honest[i]);
	is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
}

/* The caps one by one, with small numbers. */
static void test_caps(void)
{
	const char *args[] = { "--no-auth", "--max-handshakes", "5", "--source-handshakes",
		               "3",         "--source-rate",    "8", NULL };
	static struct rh_client c[8];
	struct rh_relay r;
	int i, in;

	if (rh_relay_start(&r, args) < 0) {
		ok(0, "relay starts");
		return;
	}
	for (i = 0; i < 3; i++)
		rh_client_connect_from(&c[i], r.port, 0, "127.0.0.3");
	usleep(100000);
	rh_client_connect_from(&c[3], r.port, 0, "127.0.0.3");
	is_int(rh_client_wait_closed(&c[3], 1000), RELAY_CLOSE_SERVER_FULL,
	       "a 4th handshake from one address over --source-handshakes 3: server_full");
	ok(strstr(c[3].close_text, "from your address") != NULL, "saying why: %s", c[3].close_text);
	rh_client_connect_from(&c[4], r.port, 0, "127.0.0.4");
	rh_client_connect_from(&c[5], r.port, 0, "127.0.0.4");
	usleep(100000);
	rh_client_connect_from(&c[6], r.port, 0, "127.0.0.5");
	is_int(rh_client_wait_closed(&c[6], 1000), RELAY_CLOSE_SERVER_FULL,
	       "a 6th handshake over --max-handshakes 5: server_full");
	ok(strstr(c[6].close_text, "too many handshakes in progress") != NULL, "saying why: %s",
	   c[6].close_text);
	is_int(rh_client_handshake(&c[0], NULL, 0, 2000), 0, "a handshaking client completes");
	rh_client_connect_from(&c[7], r.port, 0, "127.0.0.5");
	is_int(rh_client_handshake(&c[7], NULL, 0, 2000), 0, "which frees a slot for another");
	for (i = 0; i < 8; i++)
		rh_client_close(&c[i]);
	/* A fresh address: 8 quick connections (each authenticated, then closed), a 9th. */
	for (i = 0, in = 0; i < 8; i++) {
		rh_client_connect_from(&c[0], r.port, 0, "127.0.0.6");
		in += rh_client_handshake(&c[0], NULL, 0, 2000) == 0;
		rh_client_close(&c[0]);
	}
	is_int(in, 8, "8 connections in a burst from one address: all in");
	rh_client_connect_from(&c[0], r.port, 0, "127.0.0.6");
	is_int(rh_client_wait_closed(&c[0], 1000), RELAY_CLOSE_SERVER_FULL,
	       "a 9th at once over --source-rate 8: server_full");
	ok(strstr(c[0].close_text, "slow down") != NULL, "saying why: %s", c[0].close_text);
	rh_client_close(&c[0]);
	usleep(300000);
	rh_client_connect_from(&c[0], r.port, 0, "127.0.0.6");
	is_int(rh_client_handshake(&c[0], NULL, 0, 2000), 0, "accepted again once refilled");
	rh_client_close(&c[0]);
	is_int(rh_relay_stop(&r, 5000), 0, "relay exits cleanly");
}

/* A bad value of each new option is reported under its name, exit 2. */
static void test_options(void)
{
	static const char *const opts[] = { "max-handshakes", "source-handshakes", "source-rate" };
	char cmd[4200], out[512], want[64];
	size_t i, n;
	FILE *f;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		snprintf(cmd, sizeof(cmd),
		         "timeout 5 %s/natlab-relay --listen 127.0.0.1:0 --no-auth --%s 0x 2>&1",
		         getenv("NATLAB_BIN"), opts[i]);
		f = popen(cmd, "r");
		n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
		out[n] = '\0';
		is_int(f ? WEXITSTATUS(pclose(f)) : -1, 2, opts[i]);
		snprintf(want, sizeof(want), "--%s \"0x\": invalid value", opts[i]);
		ok(strstr(out, want) != NULL, "named: %s", out);
	}
}

int main(void)
{
	if (!getenv("NATLAB_BIN"))
		tap_skip_all("NATLAB_BIN unset: run under ctest");
	test_options();
	test_caps();
	test_storm();
	return tap_done();
}
