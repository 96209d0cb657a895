/* SPDX-License-Identifier: MIT */
/*
 * The blocking RFC 5780 responder: sockets and a poll loop around stun_server_handle(),
 * and the binding of the four endpoints, which the TCP responder shares.
 */
#include "natlab/addr.h"
#include "natlab/stun_responder.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "natlab/log.h"

/* Tries at finding a kernel-picked port that is also free on the other address. */
#define PICK_ATTEMPTS 32
/* Datagrams answered per socket per wake-up, so one busy socket cannot starve others. */
#define BATCH 64
/* Room for requests with RFC 5780 PADDING (1500 bytes) and more; longer ones are cut
 * short by recvfrom and then fail the length check, which is what they deserve. */
#define RECV_MAX 8192

static uint16_t *port_of(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return &((struct sockaddr_in6 *)ss)->sin6_port;
	return &((struct sockaddr_in *)ss)->sin_port;
}

static socklen_t len_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* The address endpoint ep binds to; a port still 0 asks the kernel to pick one. */
static void endpoint_addr(const struct stun_server_config *cfg, enum stun_endpoint ep,
                          struct sockaddr_storage *out)
{
	uint16_t port = *port_of((struct sockaddr_storage *)&cfg->primary);

	*out = (ep & 2) ? cfg->alternate : cfg->primary;
	*port_of(out) = (ep & 1) ? cfg->alt_port : port;
}

/*
 * Whether a TCP listener holds addr already. SO_REUSEPORT would let ours join its group
 * and the kernel share the connections between two responders; a socket with only
 * SO_REUSEADDR cannot bind next to a listener, but can next to connections in TIME_WAIT.
 */
static int listener_present(const struct sockaddr_storage *addr)
{
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)addr, len_of(addr)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * TCP listeners share their endpoint with the dial-backs leaving from it: both carry
 * SO_REUSEADDR and SO_REUSEPORT (same user), which Linux requires of every socket on a
 * port that has a listener. A port already listened on is refused (-EADDRINUSE) all the
 * same, as it would be without SO_REUSEPORT.
 */
static int bind_socket(struct sockaddr_storage *addr, int type, int *fd_out)
{
	socklen_t len = len_of(addr);
	int fd, rc, one = 1;

	if (type == SOCK_STREAM && *port_of(addr) && (rc = listener_present(addr)) < 0)
		return rc;
	fd = socket(addr->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (type == SOCK_STREAM &&
	    (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0))
		goto fail;
	if (bind(fd, (struct sockaddr *)addr, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 64) < 0)
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

static void close_all(int fd[STUN_EP_COUNT])
{
	for (int i = 0; i < STUN_EP_COUNT; i++) {
		if (fd[i] >= 0)
			close(fd[i]);
		fd[i] = -1;
	}
}

/* One attempt at binding every endpoint in order A1:P1, A1:P2, A2:P1, A2:P2, so that
 * the ports picked on A1 are known before A2 needs them. */
static int bind_all(struct stun_server_config *cfg, int type, int fd[STUN_EP_COUNT])
{
	int n = cfg->alternate.ss_family == AF_UNSPEC ? 2 : STUN_EP_COUNT;
	struct sockaddr_storage addr;
	int rc;

	for (int ep = 0; ep < n; ep++) {
		endpoint_addr(cfg, ep, &addr);
		rc = bind_socket(&addr, type, &fd[ep]);
		if (rc < 0)
			return rc;
		if (ep == STUN_EP_A1P1)
			*port_of(&cfg->primary) = *port_of(&addr);
		else if (ep == STUN_EP_A1P2)
			cfg->alt_port = *port_of(&addr);
	}
	return 0;
}

int stun_endpoints_bind(const struct stun_server_config *cfg, int type,
                        struct stun_server_config *bound, int fd[STUN_EP_COUNT])
{
	bool picking = !*port_of((struct sockaddr_storage *)&cfg->primary) || !cfg->alt_port;
	int rc = -EADDRINUSE;

	for (int i = 0; i < STUN_EP_COUNT; i++)
		fd[i] = -1;
	for (int attempt = 0; attempt < PICK_ATTEMPTS && rc == -EADDRINUSE; attempt++) {
		*bound = *cfg;
		rc = bind_all(bound, type, fd);
		if (rc < 0)
			close_all(fd);
		if (!picking)
			break;
	}
	if (rc == 0)
		rc = stun_server_config_check(bound);
	if (rc < 0)
		close_all(fd);
	return rc;
}

int stun_responder_init(struct stun_responder *r, const struct stun_server_config *cfg)
{
	return stun_endpoints_bind(cfg, SOCK_DGRAM, &r->cfg, r->fd);
}

static void answer_pending(struct stun_responder *r, enum stun_endpoint ep)
{
	uint8_t in[RECV_MAX], out[STUN_MAX_MESSAGE];
	struct sockaddr_storage src;
	enum stun_endpoint from;
	char name[64];
	socklen_t slen;
	ssize_t n;
	int len;

	for (int i = 0; i < BATCH; i++) {
		slen = sizeof(src);
		n = recvfrom(r->fd[ep], in, sizeof(in), 0, (struct sockaddr *)&src, &slen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("stun responder: recvfrom");
			return;
		}
		len = stun_server_handle(&r->cfg, ep, in, (size_t)n, (struct sockaddr *)&src, out,
		                         sizeof(out), &from);
		if (len <= 0)
			continue;
		if (sendto(r->fd[from], out, (size_t)len, 0, (struct sockaddr *)&src, slen) < 0) {
			if (addr_format((struct sockaddr *)&src, name, sizeof(name)) < 0)
				strcpy(name, "?");
			log_warn("stun responder: sendto %s", name);
		}
	}
}

int stun_responder_serve(struct stun_responder *r, volatile sig_atomic_t *stop)
{
	struct pollfd pfd[STUN_EP_COUNT];
	enum stun_endpoint ep_of[STUN_EP_COUNT];
	nfds_t n = 0;

	for (int ep = 0; ep < STUN_EP_COUNT; ep++) {
		if (r->fd[ep] < 0)
			continue;
		pfd[n] = (struct pollfd){ .fd = r->fd[ep], .events = POLLIN };
		ep_of[n++] = ep;
	}
	while (!*stop) {
		if (poll(pfd, n, 200) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* A pending ICMP error shows as POLLERR; recvfrom in answer_pending clears it. */
		for (nfds_t i = 0; i < n && !*stop; i++)
			if (pfd[i].revents & (POLLIN | POLLERR))
				answer_pending(r, ep_of[i]);
	}
	return 0;
}

void stun_responder_close(struct stun_responder *r)
{
	close_all(r->fd);
}
