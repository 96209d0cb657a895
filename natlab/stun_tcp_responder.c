/* SPDX-License-Identifier: MIT */
/*
 * The blocking STUN-over-TCP responder: listeners on the four RFC 5780 endpoints, one
 * poll loop over them and a fixed table of connections, accepted ones (reading requests)
 * and dial-backs (connecting, then writing the answer they carry).
 */
#include "natlab/addr.h"
#include "natlab/stun_tcp_responder.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "natlab/log.h"
#include "natlab/stun_responder.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static socklen_t len_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static const char *name_of(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	/* Callers pass 64 bytes: only an unknown family fails, and "?" fits. */
	if (addr_format((const struct sockaddr *)ss, buf, cap) < 0)
		strcpy(buf, "?");
	return buf;
}

int stun_tcp_responder_init(struct stun_tcp_responder *r, const struct stun_server_config *cfg)
{
	for (int i = 0; i < STUN_TCP_CONNS; i++)
		r->conn[i].fd = -1;
	return stun_endpoints_bind(cfg, SOCK_STREAM, &r->cfg, r->fd);
}

static struct stun_tcp_conn *conn_slot(struct stun_tcp_responder *r)
{
	for (int i = 0; i < STUN_TCP_CONNS; i++)
		if (r->conn[i].fd < 0)
			return &r->conn[i];
	return NULL;
}

static void conn_close(struct stun_tcp_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * Answers are a few hundred bytes on a fresh or idle connection: the socket buffer always
 * takes them whole, so a short write means the peer is gone or misbehaving.
 */
static bool send_whole(int fd, const uint8_t *buf, size_t len)
{
	return send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len;
}

/*
 * Opens a connection from endpoint ep to dst carrying answer. Its connect completes (or
 * not) in the poll loop. A slot or socket missing is logged: the client sees the same as
 * a filtering NAT, and the log says it was us.
 */
static void dial_back(struct stun_tcp_responder *r, enum stun_endpoint ep,
                      const struct sockaddr_storage *dst, const uint8_t *answer, size_t len)
{
	struct stun_tcp_conn *c = conn_slot(r);
	struct sockaddr_storage from;
	char name[64];
	int one = 1;

	if (!c || stun_server_endpoint(&r->cfg, ep, &from) < 0) {
		log_warnx("stun tcp responder: no room to dial back %s",
		          name_of(dst, name, sizeof(name)));
		return;
	}
	c->fd = socket(from.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(c->fd, (struct sockaddr *)&from, len_of(&from)) < 0 ||
	    (connect(c->fd, (const struct sockaddr *)dst, len_of(dst)) < 0 &&
	     errno != EINPROGRESS)) {
		log_warn("stun tcp responder: dial back %s", name_of(dst, name, sizeof(name)));
		conn_close(c);
		return;
	}
	c->ep = ep;
	c->dialing = true;
	c->deadline_ms = now_ms() + STUN_TCP_DIAL_MS;
	memcpy(c->buf, answer, len);
	c->have = len;
}

/*
 * A dial-back's connect finished: send what it carries, then serve the connection like
 * an accepted one until the client closes it, so that TIME_WAIT stays on the client's
 * side: a later dial-back to the same mapped address (a NAT that preserves ports) would
 * otherwise find the connection's address pair still taken here.
 */
static void dial_done(struct stun_tcp_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		log_debug("stun tcp responder: dial back: %s", strerror(err));
	else if (!send_whole(c->fd, c->buf, c->have))
		log_debug("stun tcp responder: dial back: send: %s", strerror(errno));
	else {
		c->dialing = false;
		c->have = 0;
		c->deadline_ms = now_ms() + STUN_TCP_IDLE_MS;
		return;
	}
	conn_close(c);
}

/*
 * Answers every whole request in c->buf. Returns false when the connection must close:
 * not STUN, or a message STUN would drop silently (over a stream nothing after it can be
 * trusted to be framed right).
 */
static bool answer_requests(struct stun_tcp_responder *r, struct stun_tcp_conn *c,
                            const struct sockaddr_storage *peer)
{
	uint8_t out[STUN_MAX_MESSAGE];
	enum stun_endpoint from;
	int size, len;

	while ((size = stun_frame_size(c->buf, c->have)) != -EAGAIN) {
		if (size < 0 || (size_t)size > sizeof(c->buf))
			return false;
		if ((size_t)size > c->have)
			return true;
		len = stun_server_handle(&r->cfg, c->ep, c->buf, (size_t)size,
		                         (const struct sockaddr *)peer, out, sizeof(out), &from);
		if (len <= 0 || !send_whole(c->fd, out, (size_t)len))
			return false;
		if (from != c->ep)
			dial_back(r, from, peer, out, (size_t)len);
		c->have -= (size_t)size;
		memmove(c->buf, c->buf + size, c->have);
		c->deadline_ms = now_ms() + STUN_TCP_IDLE_MS;
	}
	return true;
}

static void conn_readable(struct stun_tcp_responder *r, struct stun_tcp_conn *c)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	ssize_t n;

	n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || getpeername(c->fd, (struct sockaddr *)&peer, &plen) < 0) {
		conn_close(c);
		return;
	}
	c->have += (size_t)n;
	if (!answer_requests(r, c, &peer))
		conn_close(c);
}

static void accept_pending(struct stun_tcp_responder *r, enum stun_endpoint ep)
{
	struct stun_tcp_conn *c;
	int fd;

	while ((c = conn_slot(r)) != NULL) {
		fd = accept4(r->fd[ep], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("stun tcp responder: accept");
			return;
		}
		*c = (struct stun_tcp_conn){ .fd = fd,
			                     .ep = ep,
			                     .deadline_ms = now_ms() + STUN_TCP_IDLE_MS };
	}
}

int stun_tcp_responder_serve(struct stun_tcp_responder *r, volatile sig_atomic_t *stop)
{
	struct pollfd pfd[STUN_EP_COUNT + STUN_TCP_CONNS];
	int who[STUN_EP_COUNT + STUN_TCP_CONNS]; /* endpoint (listener) or -1 - conn index */
	long long now;
	nfds_t n;

	while (!*stop) {
		n = 0;
		now = now_ms();
		for (int i = 0; i < STUN_TCP_CONNS; i++) {
			struct stun_tcp_conn *c = &r->conn[i];

			if (c->fd >= 0 && now >= c->deadline_ms) {
				if (c->dialing)
					log_debug("stun tcp responder: dial back timed out");
				conn_close(c);
			}
			if (c->fd < 0)
				continue;
			pfd[n] =
			    (struct pollfd){ .fd = c->fd, .events = c->dialing ? POLLOUT : POLLIN };
			who[n++] = -1 - i;
		}
		/* With every slot taken, connections wait in the backlog (polling the listeners
		 * then would only spin). */
		for (int ep = 0; ep < STUN_EP_COUNT && conn_slot(r); ep++) {
			if (r->fd[ep] < 0)
				continue;
			pfd[n] = (struct pollfd){ .fd = r->fd[ep], .events = POLLIN };
			who[n++] = ep;
		}
		if (poll(pfd, n, 200) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (nfds_t i = 0; i < n && !*stop; i++) {
			struct stun_tcp_conn *c = who[i] < 0 ? &r->conn[-1 - who[i]] : NULL;

			if (!pfd[i].revents)
				continue;
			if (!c)
				accept_pending(r, who[i]);
			else if (c->dialing)
				dial_done(c);
			else
				conn_readable(r, c);
		}
	}
	return 0;
}

void stun_tcp_responder_close(struct stun_tcp_responder *r)
{
	for (int i = 0; i < STUN_TCP_CONNS; i++)
		conn_close(&r->conn[i]);
	for (int i = 0; i < STUN_EP_COUNT; i++) {
		if (r->fd[i] >= 0)
			close(r->fd[i]);
		r->fd[i] = -1;
	}
}
