/* SPDX-License-Identifier: MIT */
/*
 * The wires' own thread (wire_thread.h) and the per-frame trace (wire_trace.h), without
 * root: a wire over SOCK_SEQPACKET socketpairs, created and changed through
 * wire_thread_call, forwards on that thread (the test's thread only sends and receives);
 * held for a fork nothing forwards and calls run on the caller; resumed it forwards again;
 * stopped, the next call starts a new thread. Every frame it writes leaves one trace
 * record whose times and bytes are the frame's.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "natlab/wire.h"
#include "natlab/wire_rescue.h"
#include "natlab/wire_thread.h"
#include "natlab/wire_trace.h"
#include "tap.h"

#define DELAY_NS 5000000ULL
#define NFRAMES  20

static pthread_t test_thread;

struct mk {
	int fd_a, fd_b;
	struct wire *w;
	int rc;
	int on_other_thread;
	int policy;
	char name[16];
};

static void new_cb(uv_loop_t *loop, void *arg)
{
	struct mk *m = arg;
	struct sched_param sp;

	m->on_other_thread = !pthread_equal(pthread_self(), test_thread);
	pthread_getschedparam(pthread_self(), &m->policy, &sp);
	pthread_getname_np(pthread_self(), m->name, sizeof(m->name));
	m->rc = wire_new(loop, m->fd_a, m->fd_b, 7, &m->w);
	if (m->rc == 0)
		m->rc = wire_set_impairment(m->w, WIRE_A_TO_B,
		                            &(struct wire_impairment){ .delay_ns = DELAY_NS });
}

static void free_cb(uv_loop_t *loop, void *arg)
{
	(void)loop;
	wire_free(arg);
}

static void where_cb(uv_loop_t *loop, void *arg)
{
	(void)loop;
	*(int *)arg = !pthread_equal(pthread_self(), test_thread);
}

/* How many CPUs the thread of this process named name may use (its first in *cpu). */
static int task_cpus(const char *name, int *cpu)
{
	char path[64], comm[32];
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	int n = -1;

	while (d && n < 0 && (e = readdir(d))) {
		FILE *f;
		cpu_set_t set;

		if (snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name) >=
		        (int)sizeof(path) ||
		    !(f = fopen(path, "r")))
			continue;
		if (fgets(comm, sizeof(comm), f) && strncmp(comm, name, strlen(name)) == 0 &&
		    comm[strlen(name)] == '\n' &&
		    sched_getaffinity(atoi(e->d_name), sizeof(set), &set) == 0) {
			n = CPU_COUNT(&set);
			for (int c = 0; c < CPU_SETSIZE && *cpu < 0; c++)
				if (CPU_ISSET(c, &set))
					*cpu = c;
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/* Sends frame i (its first byte i, then filler) into the wire's a side. */
static void send_frame(int fd, int i)
{
	unsigned char f[100];

	memset(f, 0xa0, sizeof(f));
	f[0] = (unsigned char)i;
	if (write(fd, f, sizeof(f)) != (ssize_t)sizeof(f))
		tap_diag("send %d: %s", i, strerror(errno));
}

/* Frames arriving at b within ms; -1 on error. */
static int recv_frames(int fd, int ms)
{
	int n = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		unsigned char f[200];

		if (poll(&p, 1, ms) <= 0)
			return n;
		if (read(fd, f, sizeof(f)) > 0)
			n++;
	}
}

static void check_trace(const char *path)
{
	static char buf[1 << 16];
	const struct wire_trace_header *h = (const void *)buf;
	const struct wire_trace_rec *r;
	FILE *f = fopen(path, "r");
	size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0, n;
	int times_ok = 1, bytes_ok = 1, order_ok = 1;

	if (f)
		fclose(f);
	ok(len >= sizeof(*h) && memcmp(h->magic, WIRE_TRACE_MAGIC, 8) == 0,
	   "the trace starts with its header");
	n = (len - sizeof(*h)) / sizeof(*r);
	r = (const void *)(buf + sizeof(*h));
	is_int((long long)((len - sizeof(*h)) % sizeof(*r)), 0, "whole records only");
	is_int((long long)n, 2 * NFRAMES, "one record per frame written (two rounds)");
	for (size_t i = 0; i < n; i++) {
		times_ok &= r[i].due_ns - r[i].read_ns == DELAY_NS && r[i].woke_ns >= r[i].due_ns &&
		            r[i].write_ns >= r[i].woke_ns;
		bytes_ok &= r[i].len == 100 && r[i].dir == WIRE_A_TO_B &&
		            r[i].head[0] == (unsigned char)(i % NFRAMES) && r[i].head[63] == 0xa0;
		order_ok &= i == 0 || r[i].write_ns >= r[i - 1].write_ns;
	}
	ok(times_ok, "each record: due = read + 5 ms, woke at or after due, written after");
	ok(bytes_ok, "each record: the frame's length, direction and first 64 bytes");
	ok(order_ok, "records in the order written");
	/* The header's offset turns the monotonic times into wall-clock ones. */
	{
		struct timespec rt, mono;
		int64_t off;

		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		off = (rt.tv_sec - mono.tv_sec) * 1000000000LL + (rt.tv_nsec - mono.tv_nsec);
		ok(llabs(off - h->realtime_minus_mono_ns) < 50000000,
		   "realtime - monotonic in the header (%lld vs %lld ns)",
		   (long long)h->realtime_minus_mono_ns, (long long)off);
	}
}

int main(void)
{
	char trace[] = "/tmp/t_wire_thread.XXXXXX";
	int a[2], b[2], tfd = mkstemp(trace), other = -1, got;
	struct mk m = { 0 };
	struct sched_param sp;
	int policy;

	test_thread = pthread_self();
	if (tfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, a) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, b) < 0)
		tap_skip_all("no temporary file or socketpair");
	close(tfd);
	unlink(trace); /* the trace creates it, with its header */
	setenv("NATLAB_WIRE_TRACE", trace, 1);

	m.fd_a = a[0];
	m.fd_b = b[0];
	is_int(wire_thread_call(new_cb, &m), 0, "the first call starts the thread");
	is_int(m.rc, 0, "a wire made on the thread's loop");
	ok(m.on_other_thread, "calls run on a thread of their own");
	is_str(m.name, WIRE_THREAD_NAME, "the thread's name");
	pthread_getschedparam(pthread_self(), &policy, &sp);
	ok(policy == SCHED_OTHER, "the caller keeps the normal scheduler");
	if (geteuid() == 0)
		ok((m.policy & ~SCHED_RESET_ON_FORK) == SCHED_FIFO,
		   "as root, the wires' thread is SCHED_FIFO (%d)", m.policy);

	for (int i = 0; i < NFRAMES; i++)
		send_frame(a[1], i);
	got = recv_frames(b[1], 500);
	is_int(got, NFRAMES, "the thread forwards while the caller only waits");

	/*
	 * The rescue (wire_rescue.h), as root on two CPUs or more: a thread natlab-rescue,
	 * the wires' thread pinned to one CPU and the rescue to another; both gone or free
	 * again after wire_thread_stop (checked below).
	 */
	if (geteuid() == 0 && sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
		int wcpu = -1, rcpu = -1;

		ok(task_cpus(WIRE_THREAD_NAME, &wcpu) == 1,
		   "the wires' thread is pinned to one CPU");
		ok(task_cpus(WIRE_RESCUE_NAME, &rcpu) == 1, "a rescue thread, pinned to one CPU");
		ok(wcpu >= 0 && rcpu >= 0 && wcpu != rcpu, "another one (%d, %d)", wcpu, rcpu);
	}

	wire_thread_hold();
	wire_thread_call(where_cb, &other);
	is_int(other, 0, "held: a call runs on the caller's thread");
	for (int i = 0; i < NFRAMES; i++)
		send_frame(a[1], i);
	is_int(recv_frames(b[1], 100), 0, "held: nothing forwards");
	is_int(wire_thread_resume(0), 0, "resumed");
	is_int(recv_frames(b[1], 500), NFRAMES, "resumed: the frames sent while held arrive");

	wire_thread_call(free_cb, m.w);
	wire_thread_stop();
	{
		int cpu = -1;

		is_int(task_cpus(WIRE_RESCUE_NAME, &cpu), -1, "stopped: no rescue thread left");
	}
	other = -1;
	is_int(wire_thread_call(where_cb, &other), 0, "after stop, a call starts a new thread");
	is_int(other, 1, "on a thread of its own again");
	wire_thread_stop();

	check_trace(trace);
	unlink(trace);
	close(a[1]);
	close(b[1]);
	return tap_done();
}
