/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include "relay_harness.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tap.h"

long long rh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one line from fd within timeout_ms. */
static int rh_read_line(int fd, char *line, size_t cap, int timeout_ms)
{
	long long deadline = rh_now_ms() + timeout_ms;
	size_t len = 0;

	while (len + 1 < cap) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - rh_now_ms());

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return -ETIMEDOUT;
		if (read(fd, line + len, 1) != 1)
			return -EPIPE;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	return 0;
}

/* Finds "key":"127.0.0.1:PORT" in the ready line. */
static uint16_t rh_ready_port(const char *line, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(line, pat);
	if (!p)
		return 0;
	p = strchr(p + strlen(pat), ':');
	return p ? (uint16_t)atoi(p + 1) : 0;
}

int rh_relay_start(struct rh_relay *r, const char *const *args)
{
	const char *bin_dir = getenv("NATLAB_BIN");
	char bin[4096], line[1024];
	const char *argv[64];
	int pipefd[2], n = 0, rc;

	if (!bin_dir)
		tap_skip_all("NATLAB_BIN unset: run under ctest");
	snprintf(bin, sizeof(bin), "%s/natlab-relay", bin_dir);
	argv[n++] = bin;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--metrics";
	argv[n++] = "127.0.0.1:0";
	while (*args && n < 62)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	r->pid = fork();
	if (r->pid < 0)
		return -errno;
	if (r->pid == 0) {
		/* A test that dies (or is killed by its timeout) takes the relay with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	r->out_fd = pipefd[0];
	rc = rh_read_line(r->out_fd, line, sizeof(line), 5000);
	if (rc < 0) {
		tap_diag("relay did not print its ready line: %s", strerror(-rc));
		rh_relay_stop(r, 1000);
		return rc;
	}
	r->port = rh_ready_port(line, "listen");
	r->metrics_port = rh_ready_port(line, "metrics");
	r->stun_port = rh_ready_port(line, "stun");
	r->tls_port = rh_ready_port(line, "tls_listen");
	return r->port ? 0 : -EPROTO;
}

int rh_relay_stop(struct rh_relay *r, int timeout_ms)
{
	long long deadline = rh_now_ms() + timeout_ms;
	int status;

	if (r->pid <= 0)
		return -1;
	kill(r->pid, SIGTERM);
	while (rh_now_ms() < deadline) {
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			r->pid = 0;
			close(r->out_fd);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, &status, 0);
	r->pid = 0;
	close(r->out_fd);
	return -1;
}

int rh_client_connect(struct rh_client *c, uint16_t port, int rcvbuf)
{
	return rh_client_connect_from(c, port, rcvbuf, NULL);
}

int rh_client_connect_from(struct rh_client *c, uint16_t port, int rcvbuf, const char *src)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in from = { .sin_family = AF_INET };
	int one = 1;

	memset(c, 0, offsetof(struct rh_client, buf));
	/* Behind buf: a reused client must not parse the bytes its predecessor left. */
	c->p = NULL;
	c->n = 0;
	c->tls = NULL; /* after the buffers, which are not cleared */
	identity_generate(&c->id);
	frame_reader_init(&c->reader, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (rcvbuf > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src && inet_pton(AF_INET, src, &from.sin_addr) != 1)
		return -EINVAL;
	if (src && bind(c->fd, (struct sockaddr *)&from, sizeof(from)) < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -errno;
	return 0;
}

void rh_client_close(struct rh_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	frame_reader_close(&c->reader);
	tls_conn_free(c->tls);
	c->tls = NULL;
}

/* Sends all the ciphertext the TLS connection has pending. */
static int rh_client_tls_flush(struct rh_client *c)
{
	uint8_t out[16384];
	size_t n;

	while ((n = tls_conn_take(c->tls, out, sizeof(out))) > 0) {
		const uint8_t *p = out;

		while (n) {
			ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			p += w;
			n -= (size_t)w;
		}
	}
	return 0;
}

/* Reads what the socket has into c->buf by the deadline: > 0 bytes, 0 timeout, -EPIPE. */
static ssize_t rh_client_fill(struct rh_client *c, long long deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int left = (int)(deadline - rh_now_ms());
	ssize_t n;

	if (left <= 0 || poll(&pfd, 1, left) <= 0)
		return 0;
	n = recv(c->fd, c->buf, sizeof(c->buf), 0);
	return n <= 0 ? -EPIPE : n;
}

int rh_client_tls(struct rh_client *c, struct tls_ctx *ctx, const char *name, int timeout_ms)
{
	long long deadline = rh_now_ms() + timeout_ms;
	int rc = tls_conn_new(&c->tls, ctx, name);
	ssize_t n;

	while (rc == 0) {
		rh_client_tls_flush(c);
		n = rh_client_fill(c, deadline);
		if (n <= 0)
			return (int)n;
		tls_conn_feed(c->tls, c->buf, (size_t)n);
		rc = tls_conn_handshake(c->tls);
	}
	if (rc < 0)
		tap_diag("TLS: %s", c->tls ? tls_conn_error(c->tls) : strerror(-rc));
	/* The finished message, or the alert that tells the relay why we refused. */
	if (c->tls)
		rh_client_tls_flush(c);
	return rc;
}

int rh_client_write(struct rh_client *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (c->tls) {
		int rc = tls_conn_write(c->tls, data, len);

		return rc < 0 ? rc : rh_client_tls_flush(c);
	}
	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int rh_client_recv(struct rh_client *c, int timeout_ms)
{
	long long deadline = rh_now_ms() + timeout_ms;
	int rc;

	for (;;) {
		ssize_t n;

		rc = frame_reader_next(&c->reader, &c->p, &c->n, &c->f);
		if (rc != 0)
			break;
		if (c->tls) {
			/* Plaintext TLS holds already (a record at a time) before the socket. */
			n = tls_conn_read(c->tls, c->plain, sizeof(c->plain));
			rh_client_tls_flush(c);
			if (n < 0)
				return -EPIPE;
			if (n > 0) {
				c->p = c->plain;
				c->n = (size_t)n;
				continue;
			}
		}
		n = rh_client_fill(c, deadline);
		if (n <= 0)
			return (int)n;
		c->p = c->buf;
		c->n = (size_t)n;
		if (c->tls) {
			/* Ciphertext in; the frames come from the plaintext, above. */
			tls_conn_feed(c->tls, c->buf, (size_t)n);
			c->n = 0;
		}
	}
	if (rc == 1 && c->f.type == RELAY_FRAME_CLOSE)
		relay_close_decode(&c->close_reason, c->close_text, sizeof(c->close_text),
		                   c->f.payload, c->f.len);
	return rc;
}

int rh_client_expect(struct rh_client *c, uint8_t type, int timeout_ms)
{
	long long deadline = rh_now_ms() + timeout_ms;
	int rc;

	do {
		rc = rh_client_recv(c, (int)(deadline - rh_now_ms()));
		if (rc == 1 && c->f.type == type)
			return 1;
	} while (rc == 1 && rh_now_ms() < deadline);
	return rc < 0 ? rc : 0;
}

int rh_client_handshake(struct rh_client *c, const char *token, int tamper, int timeout_ms)
{
	struct relay_challenge ch;
	uint8_t frame[512];
	int len, rc;

	rc = rh_client_recv(c, timeout_ms);
	if (rc <= 0 || c->f.type != RELAY_FRAME_CHALLENGE)
		return rc < 0 ? rc : -EPROTO;
	if (relay_challenge_decode(&ch, c->f.payload, c->f.len) < 0)
		return -EPROTO;
	c->challenge_flags = ch.flags;
	if (tamper)
		ch.nonce[0] ^= 0xff;
	len = relay_auth_build(frame, sizeof(frame), &c->id, &ch, token);
	if (len < 0)
		return len;
	rc = rh_client_write(c, frame, (size_t)len);
	if (rc < 0)
		return rc;
	rc = rh_client_recv(c, timeout_ms);
	if (rc <= 0)
		return rc < 0 ? rc : -ETIMEDOUT;
	if (c->f.type == RELAY_FRAME_SERVER_INFO)
		return 0;
	if (c->f.type == RELAY_FRAME_CLOSE)
		return c->close_reason;
	return -EPROTO;
}

int rh_client_send_packet(struct rh_client *c, const uint8_t key[32], const void *data, size_t len)
{
	static uint8_t frame[FRAME_MAX_PAYLOAD + FRAME_HEADER_LEN];
	int n = relay_packet_encode(frame, sizeof(frame), RELAY_FRAME_SEND, key, data, len);

	return n < 0 ? n : rh_client_write(c, frame, (size_t)n);
}

int rh_client_wait_closed(struct rh_client *c, int timeout_ms)
{
	long long deadline = rh_now_ms() + timeout_ms;
	int rc;

	c->close_reason = 0;
	while (rh_now_ms() < deadline) {
		rc = rh_client_recv(c, (int)(deadline - rh_now_ms()));
		if (rc < 0)
			return c->close_reason;
		if (rc == 0)
			break;
	}
	return -ETIMEDOUT;
}

int rh_http_get(uint16_t port, const char *path, char *body, size_t cap)
{
	struct rh_client c;
	char req[256];
	static char resp[1 << 16];
	size_t len = 0;
	int status = -1;
	char *b;

	if (rh_client_connect(&c, port, 0) < 0)
		goto out;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	if (rh_client_write(&c, req, strlen(req)) < 0)
		goto out;
	for (;;) {
		struct pollfd pfd = { .fd = c.fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 3000) <= 0)
			goto out;
		n = recv(c.fd, resp + len, sizeof(resp) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	resp[len] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	b = strstr(resp, "\r\n\r\n");
	if (body && cap) {
		snprintf(body, cap, "%s", b ? b + 4 : "");
	}
out:
	rh_client_close(&c);
	return status;
}

long long rh_metric(uint16_t port, const char *name)
{
	static char body[1 << 16];
	char pat[256];
	const char *p;

	if (rh_http_get(port, "/metrics", body, sizeof(body)) != 200)
		return -1;
	snprintf(pat, sizeof(pat), "\nnatlab_relay_%s ", name);
	p = strstr(body, pat);
	return p ? atoll(p + strlen(pat)) : -1;
}

struct rh_client *rh_client_new(uint16_t port, int rcvbuf)
{
	struct rh_client *c = calloc(1, sizeof(*c));

	if (!c || rh_client_connect(c, port, rcvbuf) < 0) {
		tap_diag("connect to relay failed");
		exit(1);
	}
	return c;
}

void rh_client_free(struct rh_client *c)
{
	rh_client_close(c);
	free(c);
}
