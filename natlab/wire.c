/* SPDX-License-Identifier: MIT */
/*
 * The wire forwarder. Each direction reads frames from its side's fd, asks its
 * wire_path what to do, and either writes at once (nothing waiting and nothing to wait
 * for: the fast path, no copy) or queues a copy in a min-heap ordered by departure time.
 *
 * The queues are served by timerfds with absolute CLOCK_MONOTONIC deadlines rather than
 * uv_timer: libuv timers have millisecond resolution against a clock cached per loop
 * iteration, which would add up to a millisecond to every delay and make serialization
 * at a rate (a 1500-byte frame takes 120 us at 100 Mbit/s) impossible to pace.
 */
#include "natlab/fd_close.h"
#include "natlab/fd_limit.h"
#include "natlab/log.h"
#include "natlab/netns.h"
#include "natlab/util.h"
#include "natlab/wire.h"
#include "natlab/wire_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* Frames read per readiness event, so one busy direction cannot starve the other. */
#define WIRE_READ_BUDGET 64

struct wire_frame {
	uint64_t depart_ns;
	uint64_t seq;     /* ties broken by arrival, so equal departures keep their order */
	uint64_t read_ns; /* for the trace (wire_trace.h) */
	uint32_t len;
	unsigned char data[];
};

struct wire_half {
	struct wire *w;
	enum wire_dir dir;
	int in_fd, out_fd; /* out_fd belongs to the other half */
	int timer_fd;
	uv_poll_t in_poll;
	uv_poll_t timer_poll;
	uint64_t armed_ns; /* the timerfd's deadline, 0 if disarmed */
	uint64_t seq;
	struct wire_frame **heap;
	size_t n, cap;
	struct wire_path path;
};

struct wire {
	struct wire_half half[2];
	int closing; /* handles still to close */
	unsigned char buf[WIRE_FRAME_MAX];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int wire_tap_create(int nsfd, const char *ifname, int *fd, int *ifindex)
{
	struct ifreq ifr = { 0 };
	int tfd = -1, sfd = -1, rc;

	*fd = -1;
	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	/* The device is created in the namespace of the thread that opens /dev/net/tun. */
	rc = lab_netns_enter(nsfd);
	if (rc < 0)
		return rc;
	tfd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tfd < 0) {
		rc = -errno;
		goto out;
	}
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(tfd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	if (ifindex) {
		sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sfd < 0 || ioctl(sfd, SIOCGIFINDEX, &ifr) < 0) {
			rc = -errno;
			goto out;
		}
		*ifindex = ifr.ifr_ifindex;
	}
out:
	if (sfd >= 0)
		close(sfd);
	lab_netns_leave();
	if (rc == 0)
		*fd = lab_fd_high(tfd);
	else if (tfd >= 0)
		close(tfd);
	return rc;
}

/* The min-heap of one direction's waiting frames. */

static bool frame_before(const struct wire_frame *a, const struct wire_frame *b)
{
	return a->depart_ns < b->depart_ns || (a->depart_ns == b->depart_ns && a->seq < b->seq);
}

static int heap_push(struct wire_half *h, struct wire_frame *f)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct wire_frame **heap = realloc(h->heap, cap * sizeof(*heap));

		if (!heap)
			return -ENOMEM;
		h->heap = heap;
		h->cap = cap;
	}
	for (i = h->n++; i > 0; i = (i - 1) / 2) {
		struct wire_frame *parent = h->heap[(i - 1) / 2];

		if (!frame_before(f, parent))
			break;
		h->heap[i] = parent;
	}
	h->heap[i] = f;
	return 0;
}

static struct wire_frame *heap_pop(struct wire_half *h)
{
	struct wire_frame *top = h->heap[0], *last = h->heap[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && frame_before(h->heap[c + 1], h->heap[c]))
			c++;
		if (!frame_before(h->heap[c], last))
			break;
		h->heap[i] = h->heap[c];
		i = c;
	}
	if (h->n)
		h->heap[i] = last;
	return top;
}

static void heap_clear(struct wire_half *h, uint64_t *counter)
{
	while (h->n) {
		free(heap_pop(h));
		if (counter)
			(*counter)++;
	}
}

static void timer_arm(struct wire_half *h, uint64_t at_ns)
{
	struct itimerspec its = { 0 };

	if (at_ns == h->armed_ns)
		return;
	/* A zero it_value disarms; a deadline already past fires at once. */
	its.it_value.tv_sec = (time_t)(at_ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(at_ns % 1000000000ULL);
	if (at_ns && its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(h->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("wire: timerfd_settime");
	h->armed_ns = at_ns;
}

/* read_ns, due_ns and woke_ns are for the trace only (wire_trace.h). */
static void frame_write(struct wire_half *h, const void *data, size_t len, uint64_t read_ns,
                        uint64_t due_ns, uint64_t woke_ns)
{
	ssize_t n;

	if (wire_trace_on()) {
		struct wire_trace_rec r = { .read_ns = read_ns,
			                    .due_ns = due_ns,
			                    .woke_ns = woke_ns,
			                    .write_ns = now_ns(),
			                    .len = (uint32_t)len,
			                    .dir = h->dir };

		wire_trace_frame(&r, data, len);
	}
	n = write(h->out_fd, data, len);

	if (n == (ssize_t)len) {
		h->path.st.tx_frames++;
		h->path.st.tx_bytes += len;
	} else {
		h->path.st.tx_errors++;
	}
}

/* Sends every frame whose time has come and rearms for the next one. */
static void half_flush(struct wire_half *h)
{
	uint64_t now = now_ns(), woke = now;

	while (h->n && h->heap[0]->depart_ns <= now) {
		struct wire_frame *f = heap_pop(h);

		/* A frame that fell due while others were written was not woken late. */
		frame_write(h, f->data, f->len, f->read_ns, f->depart_ns,
		            woke > f->depart_ns ? woke : f->depart_ns);
		free(f);
		if (h->n && h->heap[0]->depart_ns > now)
			now = now_ns();
	}
	timer_arm(h, h->n ? h->heap[0]->depart_ns : 0);
}

static void half_enqueue(struct wire_half *h, const void *data, size_t len, uint64_t read_ns,
                         uint64_t depart)
{
	struct wire_frame *f = malloc(sizeof(*f) + len);

	if (!f) {
		h->path.st.dropped_full++;
		return;
	}
	f->depart_ns = depart;
	f->seq = h->seq++;
	f->read_ns = read_ns;
	f->len = (uint32_t)len;
	memcpy(f->data, data, len);
	if (heap_push(h, f) < 0) {
		free(f);
		h->path.st.dropped_full++;
	}
}

static void half_read(struct wire_half *h)
{
	struct wire *w = h->w;

	for (int i = 0; i < WIRE_READ_BUDGET; i++) {
		ssize_t len = read(h->in_fd, w->buf, sizeof(w->buf));
		uint64_t depart[2], now;
		int copies;

		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug("wire: read: %s", strerror(errno));
			break;
		}
		if (len == 0)
			break;
		now = now_ns();
		copies = wire_path_admit(&h->path, now, (size_t)len, h->n, depart);
		for (int c = 0; c < copies; c++) {
			if (h->n == 0 && depart[c] <= now)
				frame_write(h, w->buf, (size_t)len, now, depart[c], now);
			else
				half_enqueue(h, w->buf, (size_t)len, now, depart[c]);
		}
	}
	if (h->n && (h->armed_ns == 0 || h->heap[0]->depart_ns < h->armed_ns))
		timer_arm(h, h->heap[0]->depart_ns);
}

static void in_poll_cb(uv_poll_t *p, int status, int events)
{
	struct wire_half *h = container_of(p, struct wire_half, in_poll);

	if (status < 0) {
		log_warnx("wire: poll: %s", uv_strerror(status));
		uv_poll_stop(p);
		return;
	}
	half_read(h);
	wire_trace_flush();
}

static void timer_poll_cb(uv_poll_t *p, int status, int events)
{
	struct wire_half *h = container_of(p, struct wire_half, timer_poll);
	uint64_t expirations;

	if (read(h->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("wire: timerfd read: %s", strerror(errno));
	h->armed_ns = 0;
	half_flush(h);
	wire_trace_flush();
}

static int half_init(struct wire *w, uv_loop_t *loop, enum wire_dir dir, int in_fd, int out_fd,
                     uint64_t seed)
{
	struct wire_half *h = &w->half[dir];
	int rc;

	h->w = w;
	h->dir = dir;
	h->in_fd = in_fd;
	h->out_fd = out_fd;
	wire_path_init(&h->path, seed, dir);
	h->timer_fd = lab_fd_high(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	if (h->timer_fd < 0)
		return -errno;
	rc = uv_poll_init(loop, &h->in_poll, in_fd);
	if (rc < 0)
		return rc;
	w->closing++;
	rc = uv_poll_init(loop, &h->timer_poll, h->timer_fd);
	if (rc < 0)
		return rc;
	w->closing++;
	rc = uv_poll_start(&h->in_poll, UV_READABLE, in_poll_cb);
	if (rc == 0)
		rc = uv_poll_start(&h->timer_poll, UV_READABLE, timer_poll_cb);
	return rc;
}

static int fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void close_fds(struct wire *w)
{
	for (int d = 0; d < 2; d++) {
		struct wire_half *h = &w->half[d];

		/* A TAP fd's close unregisters its device and waits on the kernel: side by
		 * side with the lab's other wires (fd_close.h). */
		lab_fd_close_bg(h->in_fd);
		if (h->timer_fd >= 0)
			close(h->timer_fd);
		heap_clear(h, NULL);
		free(h->heap);
	}
}

static void wire_close_cb(uv_handle_t *handle)
{
	struct wire *w = handle->data;

	if (--w->closing > 0)
		return;
	close_fds(w);
	free(w);
}

int wire_new(uv_loop_t *loop, int fd_a, int fd_b, uint64_t seed, struct wire **out)
{
	struct wire *w;
	int rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(fd_a);
		close(fd_b);
		return -ENOMEM;
	}
	for (int d = 0; d < 2; d++) {
		w->half[d].in_fd = d == WIRE_A_TO_B ? fd_a : fd_b;
		w->half[d].timer_fd = -1;
	}
	rc = fd_nonblock(fd_a);
	if (rc == 0)
		rc = fd_nonblock(fd_b);
	if (rc == 0)
		rc = half_init(w, loop, WIRE_A_TO_B, fd_a, fd_b, seed);
	if (rc == 0)
		rc = half_init(w, loop, WIRE_B_TO_A, fd_b, fd_a, seed);
	if (rc < 0) {
		/* Handles already initialized must be closed through the loop. */
		if (w->closing) {
			wire_free(w);
		} else {
			close_fds(w);
			free(w);
		}
		return rc;
	}
	*out = w;
	return 0;
}

int wire_set_impairment(struct wire *w, enum wire_dir dir, const struct wire_impairment *imp)
{
	if ((unsigned)dir > WIRE_B_TO_A)
		return -EINVAL;
	return wire_path_set(&w->half[dir].path, imp);
}

void wire_set_up(struct wire *w, bool up)
{
	for (int d = 0; d < 2; d++) {
		struct wire_half *h = &w->half[d];

		wire_path_set_up(&h->path, up);
		if (!up) {
			heap_clear(h, &h->path.st.dropped_down);
			timer_arm(h, 0);
		}
	}
}

bool wire_is_up(const struct wire *w)
{
	return w->half[0].path.up;
}

void wire_stats_get(const struct wire *w, enum wire_dir dir, struct wire_stats *st)
{
	*st = w->half[dir == WIRE_B_TO_A].path.st;
}

size_t wire_queued(const struct wire *w, enum wire_dir dir)
{
	return w->half[dir == WIRE_B_TO_A].n;
}

void wire_free(struct wire *w)
{
	if (!w)
		return;
	for (int d = 0; d < 2; d++) {
		struct wire_half *h = &w->half[d];
		uv_handle_t *handles[2] = { (uv_handle_t *)&h->in_poll,
			                    (uv_handle_t *)&h->timer_poll };

		heap_clear(h, NULL);
		for (int i = 0; i < 2; i++) {
			/* Only handles that were initialized (loop set) and not closing yet. */
			if (handles[i]->loop && !uv_is_closing(handles[i])) {
				handles[i]->data = w;
				uv_close(handles[i], wire_close_cb);
			}
		}
	}
}
