/* SPDX-License-Identifier: MIT */
#include "natlab/log.h"
#include "natlab/wire_rescue.h"
#include "natlab/wire_sched.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	bool running;
	pthread_t tid;
	atomic_bool stop;
	pid_t wire_tid;
	int epfd;
	const _Atomic uint64_t *beat;
	cpu_set_t all;        /* the wires' thread's CPUs before it was pinned */
	int wire_cpu, my_cpu; /* where each is pinned */
} rs;

static _Atomic uint64_t moves;

static void pause_ns(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

static int pin(pid_t tid, int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(tid, sizeof(one), &one) < 0 ? -errno : 0;
}

static void *rescue_main(void *arg)
{
	(void)arg;
	pin(0, rs.my_cpu);
	wire_sched_realtime();
	while (!atomic_load(&rs.stop)) {
		struct pollfd p = { .fd = rs.epfd, .events = POLLIN };
		uint64_t before = atomic_load(rs.beat);

		/* A timeout now and then, to see stop. */
		if (poll(&p, 1, 100) <= 0)
			continue;
		pause_ns(WIRE_RESCUE_GRACE_NS);
		if (atomic_load(rs.beat) == before && !atomic_load(&rs.stop) &&
		    pin(rs.wire_tid, rs.my_cpu) == 0) {
			/* It is queued on a held CPU: it runs here as soon as we sleep. */
			int held = rs.wire_cpu;

			rs.wire_cpu = rs.my_cpu;
			rs.my_cpu = held;
			pin(0, rs.my_cpu);
			atomic_fetch_add(&moves, 1);
		}
		/* Until the wires' thread has served it the event stays ready: poll would spin. */
		while (atomic_load(rs.beat) == before && !atomic_load(&rs.stop))
			pause_ns(WIRE_RESCUE_GRACE_NS / 3);
	}
	return NULL;
}

int wire_rescue_start(int epfd, const _Atomic uint64_t *beat)
{
	sigset_t all, old;
	int here = sched_getcpu(), rc;

	const char *want = getenv("NATLAB_WIRE_RESCUE");

	if ((want && strcmp(want, "off") == 0) || rs.running || here < 0 ||
	    sched_getaffinity(0, sizeof(rs.all), &rs.all) < 0 || CPU_COUNT(&rs.all) < 2)
		return 0;
	rs.my_cpu = -1;
	for (int c = 0; c < CPU_SETSIZE && rs.my_cpu < 0; c++)
		if (c != here && CPU_ISSET(c, &rs.all))
			rs.my_cpu = c;
	rs.wire_cpu = here;
	rs.wire_tid = gettid();
	rs.epfd = epfd;
	rs.beat = beat;
	atomic_store(&rs.stop, false);
	rc = pin(0, here);
	if (rc < 0)
		return rc;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&rs.tid, NULL, rescue_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		sched_setaffinity(0, sizeof(rs.all), &rs.all);
		return rc;
	}
	pthread_setname_np(rs.tid, WIRE_RESCUE_NAME);
	rs.running = true;
	return 0;
}

void wire_rescue_stop(void)
{
	if (!rs.running)
		return;
	atomic_store(&rs.stop, true);
	pthread_join(rs.tid, NULL);
	rs.running = false;
	if (sched_setaffinity(0, sizeof(rs.all), &rs.all) < 0)
		log_debug("wires: affinity back: %s", strerror(errno));
}

uint64_t wire_rescue_moves(void)
{
	return atomic_load(&moves);
}
