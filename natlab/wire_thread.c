/* SPDX-License-Identifier: MIT */
#include "natlab/log.h"
#include "natlab/wire_rescue.h"
#include "natlab/wire_sched.h"
#include "natlab/wire_thread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>

enum wt_state { WT_NONE, WT_RUNNING, WT_HELD };

static struct {
	enum wt_state state;
	uv_loop_t loop;
	uv_async_t async;
	uv_check_t check; /* advances beat after each iteration, for the rescue */
	_Atomic uint64_t beat;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* The call waiting to run, and whether the thread is asked to return. */
	void (*fn)(uv_loop_t *loop, void *arg);
	void *arg;
	bool stop;
} wt = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void async_cb(uv_async_t *a)
{
	(void)a;
	pthread_mutex_lock(&wt.mu);
	if (wt.fn) {
		wt.fn(&wt.loop, wt.arg);
		wt.fn = NULL;
		pthread_cond_broadcast(&wt.cv);
	}
	if (wt.stop)
		uv_stop(&wt.loop);
	pthread_mutex_unlock(&wt.mu);
}

static void check_cb(uv_check_t *c)
{
	(void)c;
	atomic_fetch_add_explicit(&wt.beat, 1, memory_order_release);
}

static void *thread_main(void *arg)
{
	bool stop = false;
	int rc;

	(void)arg;
	/* This thread only, with reset-on-fork (wire_sched.h); a rescue only if real-time. */
	if (wire_sched_realtime() == 1 &&
	    (rc = wire_rescue_start(uv_backend_fd(&wt.loop), &wt.beat)) < 0)
		log_debug("wires: no rescue thread: %s", strerror(-rc));
	while (!stop) {
		uv_run(&wt.loop, UV_RUN_DEFAULT);
		pthread_mutex_lock(&wt.mu);
		stop = wt.stop;
		pthread_mutex_unlock(&wt.mu);
	}
	wire_rescue_stop();
	return NULL;
}

static int thread_start(void)
{
	sigset_t all, old;
	int rc;

	wt.stop = false;
	/* Signals go to the main thread, whose loop they wake (runtime.c). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&wt.tid, NULL, thread_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	pthread_setname_np(wt.tid, WIRE_THREAD_NAME);
	wt.state = WT_RUNNING;
	return 0;
}

int wire_thread_call(void (*fn)(uv_loop_t *loop, void *arg), void *arg)
{
	int rc;

	if (wt.state == WT_NONE) {
		rc = uv_loop_init(&wt.loop);
		if (rc < 0)
			return rc;
		rc = uv_async_init(&wt.loop, &wt.async, async_cb);
		if (rc < 0) {
			uv_loop_close(&wt.loop);
			return rc;
		}
		/* The check never keeps the loop alive: the async handle does. */
		uv_check_init(&wt.loop, &wt.check);
		uv_check_start(&wt.check, check_cb);
		uv_unref((uv_handle_t *)&wt.check);
		wt.state = WT_HELD; /* a loop, no thread yet */
		rc = thread_start();
		if (rc < 0) {
			wire_thread_stop();
			return rc;
		}
	}
	if (wt.state == WT_HELD) {
		fn(&wt.loop, arg);
		return 0;
	}
	pthread_mutex_lock(&wt.mu);
	wt.fn = fn;
	wt.arg = arg;
	uv_async_send(&wt.async);
	while (wt.fn)
		pthread_cond_wait(&wt.cv, &wt.mu);
	pthread_mutex_unlock(&wt.mu);
	return 0;
}

/* Asks the running thread to return from its loop and waits for it. */
static void thread_join(void)
{
	pthread_mutex_lock(&wt.mu);
	wt.stop = true;
	uv_async_send(&wt.async);
	pthread_mutex_unlock(&wt.mu);
	pthread_join(wt.tid, NULL);
}

void wire_thread_hold(void)
{
	if (wt.state != WT_RUNNING)
		return;
	thread_join();
	wt.state = WT_HELD;
}

int wire_thread_resume(int forked)
{
	int rc;

	if (wt.state != WT_HELD)
		return 0;
	/* The child has the parent's epoll set: libuv rebuilds it for the same handles. */
	if (forked && (rc = uv_loop_fork(&wt.loop)) < 0) {
		log_warnx("wires: loop after fork: %s", uv_strerror(rc));
		return rc;
	}
	return thread_start();
}

void wire_thread_stop(void)
{
	if (wt.state == WT_NONE)
		return;
	if (wt.state == WT_RUNNING)
		thread_join();
	uv_close((uv_handle_t *)&wt.async, NULL);
	uv_close((uv_handle_t *)&wt.check, NULL);
	/* The wires' close callbacks (wire_free) and the async handle's. */
	while (uv_run(&wt.loop, UV_RUN_DEFAULT) != 0)
		;
	if (uv_loop_close(&wt.loop) < 0)
		log_debug("wires: their loop still had handles at close");
	wt.state = WT_NONE;
}
