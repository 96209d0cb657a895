/* SPDX-License-Identifier: MIT */
/*
 * Benchmark: 1400-byte UDP through an unimpaired wire against a plain veth pair (the
 * baseline), between the same two namespaces in the same run. A sender blasts for
 * SECONDS, a receiver counts what arrives; each path is measured RUNS times,
 * alternating, and the medians are compared. Targets: wire >= 0.3x veth and
 * >= 500 Mbit/s. Run as root: build-dir/bench/wire_throughput [SECONDS [RUNS]].
 * Exits 1 if a target is missed, 77 without root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "natlab/link.h"
#include "natlab/netns.h"
#include "natlab/wire_sched.h"
#include "natlab/wire.h"

#define PAYLOAD 1400

static char ns_name[2][64];
static int ns_made[2];

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void cleanup(void)
{
	for (int i = 0; i < 2; i++) {
		if (ns_made[i]) {
			lab_netns_kill_procs(ns_name[i], 1000);
			lab_netns_delete(ns_name[i]);
			ns_made[i] = 0;
		}
	}
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The wire's loop runs in its own thread until the async handle asks it to stop. */
static uv_loop_t loop;
static uv_async_t stop_async;
static struct wire *wire;

static void stop_cb(uv_async_t *a)
{
	wire_free(wire);
	uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
	/* As natlab runs its wires (natlab/wire_sched.h). */
	wire_sched_realtime();
	uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

struct flow {
	int tx, rx;
	struct sockaddr_in to;
	double seconds;
	atomic_int done;
	uint64_t sent, got, got_bytes;
};

static void *receiver_main(void *arg)
{
	struct flow *f = arg;
	char buf[2048];

	while (!atomic_load(&f->done)) {
		struct pollfd p = { .fd = f->rx, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 20) <= 0)
			continue;
		while ((n = recv(f->rx, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			f->got++;
			f->got_bytes += (uint64_t)n;
		}
	}
	return NULL;
}

/* Blasts for f->seconds, then gives stragglers 100 ms; returns payload Mbit/s received. */
static double measure(struct flow *f)
{
	char buf[PAYLOAD] = { 0 };
	pthread_t rx;
	uint64_t start, end;

	f->sent = f->got = f->got_bytes = 0;
	atomic_store(&f->done, 0);
	pthread_create(&rx, NULL, receiver_main, f);
	start = mono_ns();
	end = start + (uint64_t)(f->seconds * 1e9);
	while (mono_ns() < end) {
		for (int i = 0; i < 64; i++) {
			if (sendto(f->tx, buf, sizeof(buf), 0, (struct sockaddr *)&f->to,
			           sizeof(f->to)) == (ssize_t)sizeof(buf))
				f->sent++;
		}
	}
	end = mono_ns();
	nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	atomic_store(&f->done, 1);
	pthread_join(rx, NULL);
	return (double)f->got_bytes * 8 / ((double)(end - start) / 1e9) / 1e6;
}

static int udp_socket_in(int nsfd, const char *addr, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd, big = 8 << 20;

	inet_pton(AF_INET, addr, &sin.sin_addr);
	if (lab_netns_enter(nsfd) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	lab_netns_leave();
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int addr_up(struct lab_rtnl *r, int ifindex, const char *addr)
{
	struct in_addr a;
	int rc;

	inet_pton(AF_INET, addr, &a);
	rc = lab_link_set_up(r, ifindex);
	return rc < 0 ? rc : lab_addr_add(r, ifindex, a, 24, 0);
}

/* Two namespaces joined by a veth (10.98.0.0/24) and a wire (10.99.0.0/24). */
static int build(int nsfd[2])
{
	struct lab_rtnl *r[2] = { NULL, NULL };
	int tap[2] = { -1, -1 }, tapidx[2], rc = 0;

	for (int i = 0; i < 2 && rc == 0; i++) {
		rc = lab_netns_create(ns_name[i], &nsfd[i]);
		if (rc < 0)
			break;
		ns_made[i] = 1;
		rc = lab_rtnl_open(nsfd[i], &r[i]);
		if (rc == 0)
			rc = lab_link_set_up(r[i], 1);
	}
	if (rc == 0)
		rc = lab_link_veth_add(r[0], &(struct lab_veth){ .name = "v0",
		                                                 .ifindex = 10,
		                                                 .peer = "v1",
		                                                 .peer_ifindex = 10,
		                                                 .peer_nsfd = nsfd[1] });
	if (rc == 0)
		rc = addr_up(r[0], 10, "10.98.0.1");
	if (rc == 0)
		rc = addr_up(r[1], 10, "10.98.0.2");
	for (int i = 0; i < 2 && rc == 0; i++) {
		rc = wire_tap_create(nsfd[i], i ? "w1" : "w0", &tap[i], &tapidx[i]);
		if (rc == 0)
			rc = addr_up(r[i], tapidx[i], i ? "10.99.0.2" : "10.99.0.1");
	}
	if (rc == 0) {
		rc = wire_new(&loop, tap[0], tap[1], 1, &wire);
		tap[0] = tap[1] = -1;
	}
	for (int i = 0; i < 2; i++) {
		lab_rtnl_free(r[i]);
		if (tap[i] >= 0)
			close(tap[i]);
	}
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	int nsfd[2] = { -1, -1 }, rc, status = 1, loop_started = 0;
	struct flow veth = { .seconds = seconds }, wf = { .seconds = seconds };
	double v[16], w[16], vm, wm;
	pthread_t lt;
	struct wire_stats st;

	if (geteuid() != 0) {
		fprintf(stderr, "wire_throughput: needs root\n");
		return 77;
	}
	if (runs < 1 || runs > 16 || seconds <= 0 || seconds > 30) {
		fprintf(stderr, "usage: wire_throughput [SECONDS (0-30] [RUNS 1-16]]\n");
		return 2;
	}
	for (int i = 0; i < 2; i++)
		snprintf(ns_name[i], sizeof(ns_name[i]), "nlw-%d-%c", (int)getpid(), 's' - i);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	uv_loop_init(&loop);
	uv_async_init(&loop, &stop_async, stop_cb);
	rc = lab_netns_init();
	if (rc == 0)
		rc = build(nsfd);
	if (rc < 0) {
		fprintf(stderr, "wire_throughput: building the namespaces: %s\n", strerror(-rc));
		goto out;
	}
	pthread_create(&lt, NULL, loop_main, NULL);
	loop_started = 1;
	veth.tx = udp_socket_in(nsfd[0], "10.98.0.1", 5000);
	veth.rx = udp_socket_in(nsfd[1], "10.98.0.2", 5001);
	veth.to = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(5001) };
	inet_pton(AF_INET, "10.98.0.2", &veth.to.sin_addr);
	wf.tx = udp_socket_in(nsfd[0], "10.99.0.1", 5000);
	wf.rx = udp_socket_in(nsfd[1], "10.99.0.2", 5001);
	wf.to = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(5001) };
	inet_pton(AF_INET, "10.99.0.2", &wf.to.sin_addr);
	if (veth.tx < 0 || veth.rx < 0 || wf.tx < 0 || wf.rx < 0) {
		fprintf(stderr, "wire_throughput: sockets: %s\n", strerror(errno));
		goto out;
	}
	/* Resolve ARP both ways before timing anything. */
	veth.seconds = wf.seconds = 0.2;
	measure(&veth);
	measure(&wf);
	veth.seconds = wf.seconds = seconds;
	for (int i = 0; i < runs; i++) {
		v[i] = measure(&veth);
		printf("run %d: veth %8.1f Mbit/s (%llu of %llu datagrams)\n", i + 1, v[i],
		       (unsigned long long)veth.got, (unsigned long long)veth.sent);
		w[i] = measure(&wf);
		printf("run %d: wire %8.1f Mbit/s (%llu of %llu datagrams)\n", i + 1, w[i],
		       (unsigned long long)wf.got, (unsigned long long)wf.sent);
	}
	qsort(v, (size_t)runs, sizeof(*v), cmp_double);
	qsort(w, (size_t)runs, sizeof(*w), cmp_double);
	vm = v[runs / 2];
	wm = w[runs / 2];
	/* Stats are read off-loop here: the sender has stopped, they no longer move. */
	wire_stats_get(wire, WIRE_A_TO_B, &st);
	printf("wire A->B: %llu frames in, %llu out, %llu tx errors\n",
	       (unsigned long long)st.rx_frames, (unsigned long long)st.tx_frames,
	       (unsigned long long)st.tx_errors);
	printf("median of %d x %.1f s, %d-byte UDP payload:\n", runs, seconds, PAYLOAD);
	printf("  veth (baseline) %8.1f Mbit/s\n", vm);
	printf("  wire            %8.1f Mbit/s\n", wm);
	printf("  ratio wire/veth %8.3f (target >= 0.30), wire >= 500 Mbit/s: %s\n", wm / vm,
	       wm >= 500 ? "yes" : "no");
	status = (wm / vm >= 0.3 && wm >= 500) ? 0 : 1;
out:
	if (loop_started) {
		uv_async_send(&stop_async);
		pthread_join(lt, NULL);
	} else {
		uv_close((uv_handle_t *)&stop_async, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_loop_close(&loop);
	for (int i = 0; i < 2; i++)
		if (nsfd[i] >= 0)
			close(nsfd[i]);
	cleanup();
	return status;
}
