/* SPDX-License-Identifier: MIT */
#include "natlab/fd_close.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

static pthread_mutex_t closing_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t closing_done = PTHREAD_COND_INITIALIZER;
static int closing; /* fds handed over and not closed yet */

static void *close_thread(void *arg)
{
	close((int)(intptr_t)arg);
	pthread_mutex_lock(&closing_lock);
	if (--closing == 0)
		pthread_cond_broadcast(&closing_done);
	pthread_mutex_unlock(&closing_lock);
	return NULL;
}

void lab_fd_close_bg(int fd)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (fd < 0)
		return;
	pthread_mutex_lock(&closing_lock);
	closing++;
	pthread_mutex_unlock(&closing_lock);
	rc = pthread_attr_init(&attr);
	if (rc == 0) {
		/* Small: the thread only closes. Detached: nobody joins it. */
		pthread_attr_setstacksize(&attr, 64 * 1024);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, close_thread, (void *)(intptr_t)fd);
		pthread_attr_destroy(&attr);
	}
	if (rc != 0)
		close_thread((void *)(intptr_t)fd);
}

void lab_fd_close_wait(void)
{
	pthread_mutex_lock(&closing_lock);
	while (closing > 0)
		pthread_cond_wait(&closing_done, &closing_lock);
	pthread_mutex_unlock(&closing_lock);
}
