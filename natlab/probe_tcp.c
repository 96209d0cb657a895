/* SPDX-License-Identifier: MIT */
/*
 * TCP behaviour discovery: RFC 5780's mapping and filtering tests carried over to TCP
 * against stun_tcp_responder (which turns CHANGE-REQUEST into a dial-back). Blocking,
 * every wait bounded by a deadline: the tests run through NATs that drop SYNs silently.
 * The filtering test runs side by side with the mapping tests.
 */
#include "natlab/addr.h"
#include "natlab/probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "natlab/log.h"
#include "natlab/stun.h"

#define DEFAULT_WAIT_MS 1500
#define MAX(a, b)       ((a) > (b) ? (a) : (b))

struct tcp_probe {
	const struct probe_options *opt;
	int wait_ms;
};

static const struct sockaddr *csa(const struct sockaddr_storage *ss)
{
	return (const struct sockaddr *)ss;
}

static in_port_t port_of(const struct sockaddr_storage *ss)
{
	return ((const struct sockaddr_in *)ss)->sin_port;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * A TCP socket bound to the local address and port (0: the kernel picks). Every socket
 * of one test shares its port with the others, the listener included: Linux lets sockets
 * share a port with a listener only when all of them carry SO_REUSEPORT.
 */
static int tcp_socket(const struct probe_options *opt, in_port_t port, int *fd_out)
{
	struct sockaddr_storage local;
	socklen_t len = probe_bind_address(opt, port, &local);
	int fd, rc, one = 1;

	fd = socket(local.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&local, len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/* Waits for events on fd until deadline. Returns 1 when they came, 0 on timeout. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int n;

	while ((left = deadline - probe_now_ms()) > 0) {
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * Connects fd to dst by deadline. Returns 0, -ETIMEDOUT, or the connect error (refused,
 * unreachable: what a blocked path looks like, which callers treat as no connection).
 */
static int tcp_connect(int fd, const struct sockaddr_storage *dst, long long deadline)
{
	socklen_t len = sizeof(int);
	int err = 0, rc;

	if (connect(fd, csa(dst), probe_sa_len(dst)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	rc = wait_fd(fd, POLLOUT, deadline);
	if (rc <= 0)
		return rc < 0 ? rc : -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

/*
 * Reads by deadline one whole STUN message carrying one of the n transaction ids in
 * txids (others are skipped). Returns the index of its id, -ETIMEDOUT, -ECONNRESET when
 * the peer closed first, or -EPROTO when the stream is not STUN.
 */
static int tcp_read_msg(int fd, const uint8_t (*txids)[STUN_TXID_SIZE], int n, long long deadline,
                        struct stun_msg *out)
{
	uint8_t buf[STUN_MAX_MESSAGE];
	size_t have = 0;
	ssize_t got;
	int size, rc;

	for (;;) {
		while ((size = stun_frame_size(buf, have)) > 0 && (size_t)size <= have) {
			if (stun_msg_decode(buf, (size_t)size, out) < 0)
				return -EPROTO;
			for (int i = 0; i < n; i++)
				if (!memcmp(out->txid, txids[i], STUN_TXID_SIZE))
					return i;
			have -= (size_t)size;
			memmove(buf, buf + size, have);
		}
		if (size == -EBADMSG || (size > 0 && (size_t)size > sizeof(buf)))
			return -EPROTO;
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc <= 0)
			return rc < 0 ? rc : -ETIMEDOUT;
		got = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (got == 0)
			return -ECONNRESET;
		if (got < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (got > 0)
			have += (size_t)got;
	}
}

/*
 * Errors that say something about the path (a firewall's drop or reject, a NAT's RST,
 * a responder that is not there): the test failed, which is a result. Others are ours.
 */
static bool path_error(int rc)
{
	switch (-rc) {
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EPERM:
	case EACCES:
	case EPIPE:
		return true;
	default:
		return false;
	}
}

/* Sends a Binding request (with CHANGE-REQUEST when change != 0); its txid into txid. */
static int tcp_request(int fd, uint32_t change, uint8_t txid[STUN_TXID_SIZE])
{
	uint8_t req[STUN_MAX_MESSAGE];
	ssize_t n;
	int len;

	stun_txid_new(txid);
	len = stun_binding_request_encode(req, sizeof(req), txid, change, true);
	if (len < 0)
		return len;
	n = send(fd, req, (size_t)len, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO; /* a fresh connection's buffer takes 100 bytes whole */
}

/*
 * One request and its answer on a connected socket. Returns 0 with the answer in *out,
 * -ETIMEDOUT or -ECONNRESET when none came, -EPROTO for garbage, or -errno.
 */
static int tcp_transact(const struct tcp_probe *p, int fd, uint32_t change,
                        uint8_t txid[STUN_TXID_SIZE], struct stun_msg *out)
{
	int rc = tcp_request(fd, change, txid);

	if (rc < 0)
		return rc;
	rc = tcp_read_msg(fd, (const uint8_t(*)[STUN_TXID_SIZE])txid, 1,
	                  probe_now_ms() + p->wait_ms, out);
	return rc < 0 ? rc : 0;
}

/*
 * A mapping test: a connection from local port `port` (0: a fresh one) to dst, answered
 * with a mapped address. On success *fd_out stays open (the NAT keeps the mapping while
 * the connection lives). Returns 0, -ETIMEDOUT / -ECONNREFUSED / ... when dst could not
 * be reached or did not answer, -EPROTO for garbage.
 */
static int mapping_test(const struct tcp_probe *p, in_port_t port,
                        const struct sockaddr_storage *dst, int *fd_out, struct stun_msg *m,
                        struct sockaddr_storage *mapped)
{
	uint8_t txid[STUN_TXID_SIZE];
	int fd, rc;

	rc = tcp_socket(p->opt, port, &fd);
	if (rc < 0)
		return rc;
	rc = tcp_connect(fd, dst, probe_now_ms() + p->wait_ms);
	if (rc == 0)
		rc = tcp_transact(p, fd, 0, txid, m);
	if (rc == 0)
		rc = probe_mapped_of(m, mapped);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/*
 * Tests II (A2:P1) and III (A2:P2) from the local port of test I, and our test IV
 * (A1:P2) when the verdict so far is that the port does not matter. Every connection
 * stays open until the verdict: the NAT keeps a mapping while its connection lives.
 */
static enum probe_behaviour classify_mapping(const struct tcp_probe *p, in_port_t port,
                                             const struct sockaddr_storage *mapped1,
                                             const struct sockaddr_storage *other)
{
	struct sockaddr_storage a2p1 = *other, a1p2 = p->opt->server, mapped2, mapped3, mapped4;
	const struct sockaddr *m3 = NULL, *m4 = NULL;
	enum probe_behaviour b = PROBE_UNKNOWN;
	int fd2 = -1, fd3 = -1, fd4 = -1;
	struct stun_msg m;

	((struct sockaddr_in *)&a2p1)->sin_port = port_of(&p->opt->server); /* v4 and v6 alike */
	((struct sockaddr_in *)&a1p2)->sin_port = port_of(other);
	if (mapping_test(p, port, &a2p1, &fd2, &m, &mapped2) < 0)
		goto out;
	if (!addr_equal(csa(&mapped2), csa(mapped1)) &&
	    mapping_test(p, port, other, &fd3, &m, &mapped3) == 0)
		m3 = csa(&mapped3);
	if (probe_mapping_needs_iv(csa(mapped1), csa(&mapped2), m3) &&
	    mapping_test(p, port, &a1p2, &fd4, &m, &mapped4) == 0)
		m4 = csa(&mapped4);
	b = probe_mapping_classify(csa(mapped1), csa(&mapped2), m3, m4);
out:
	close_fd(&fd2);
	close_fd(&fd3);
	close_fd(&fd4);
	return b;
}

/*
 * Waits by deadline for a dial-back on listener lfd carrying one of the transactions in
 * txids[n]. Returns the index of the one that came, -1 when none did, or -errno.
 * Connections from elsewhere or with other contents are closed and ignored.
 */
static int await_dial_back(const struct tcp_probe *p, int lfd,
                           const uint8_t (*txids)[STUN_TXID_SIZE], int n, long long deadline)
{
	struct stun_msg m;
	int fd, rc, got;

	while ((rc = wait_fd(lfd, POLLIN, deadline)) > 0) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* The answer follows the connection at once; a short wait suffices. */
		got = tcp_read_msg(fd, txids, n, probe_now_ms() + p->wait_ms, &m);
		close(fd);
		if (got >= 0 && m.type == STUN_BINDING_SUCCESS)
			return got;
	}
	return rc < 0 ? rc : -1;
}

/*
 * The filtering tests from a fresh port that connected to A1:P1 only and listens too.
 * Both dial-backs are asked for at once and awaited together: accepting one does not
 * open the NAT towards the other's address or port (only our SYN-ACKs answer it), and a
 * NAT that filters both costs one wait instead of two.
 */
static enum probe_behaviour classify_filtering(const struct tcp_probe *p)
{
	static const uint32_t change[2] = { STUN_CHANGE_IP | STUN_CHANGE_PORT, STUN_CHANGE_PORT };
	uint8_t txids[2][STUN_TXID_SIZE];
	int passed[2] = { 0, 0 };
	struct sockaddr_storage local;
	enum probe_behaviour b = PROBE_UNKNOWN;
	int cfd = -1, lfd = -1, got;
	socklen_t len = sizeof(local);
	long long deadline;
	struct stun_msg m;

	if (tcp_socket(p->opt, 0, &cfd) < 0 ||
	    getsockname(cfd, (struct sockaddr *)&local, &len) < 0 ||
	    tcp_socket(p->opt, port_of(&local), &lfd) < 0 || listen(lfd, 4) < 0) {
		log_warn("probe: TCP filtering: listening on the local port");
		goto out;
	}
	if (tcp_connect(cfd, &p->opt->server, probe_now_ms() + p->wait_ms) < 0)
		goto out;
	/* The control answers say the responder took the requests (420: no RFC 5780). */
	for (int i = 0; i < 2; i++)
		if (tcp_transact(p, cfd, change[i], txids[i], &m) < 0 ||
		    m.type != STUN_BINDING_SUCCESS)
			goto out;
	/* Endpoint-independent as soon as A2:P2 gets through; otherwise wait it out. */
	deadline = probe_now_ms() + p->wait_ms;
	while (!passed[0] && (got = await_dial_back(p, lfd, (const uint8_t(*)[STUN_TXID_SIZE])txids,
	                                            2, deadline)) >= 0)
		passed[got] = 1;
	if (!passed[0] && got < -1)
		goto out;
	b = probe_filtering_classify(passed[0], passed[1]);
out:
	close_fd(&cfd);
	close_fd(&lfd);
	return b;
}

/* The filtering test in a thread of its own (probe_tcp_run). */
struct filtering_job {
	const struct tcp_probe *p;
	enum probe_behaviour b;
};

static void *filtering_job_run(void *arg)
{
	struct filtering_job *j = arg;

	j->b = classify_filtering(j->p);
	return NULL;
}

int probe_tcp_run(const struct probe_options *opt, struct probe_tcp_result *res)
{
	struct filtering_job fj;
	pthread_t ft;
	bool threaded;
	struct tcp_probe p = { .opt = opt };
	struct sockaddr_storage other;
	struct stun_msg m1;
	int fd = -1, rc;
	long long t0;
	bool has_other;

	memset(res, 0, sizeof(*res));
	if (!probe_options_ok(opt))
		return -EINVAL;
	/* Test I waits for two SYN retransmissions' worth; later waits follow the path's
	 * round trip as test I saw it (connection and answer), plus one retransmission. */
	p.wait_ms = opt->wait_ms > 0 ? opt->wait_ms : 2 * DEFAULT_WAIT_MS;
	t0 = probe_now_ms();
	rc = mapping_test(&p, 0, &opt->server, &fd, &m1, &res->mapped);
	if (opt->wait_ms <= 0)
		p.wait_ms = (int)MAX(DEFAULT_WAIT_MS, 1000 + probe_now_ms() - t0);
	if (rc < 0 && !path_error(rc))
		return rc;
	if (rc < 0) {
		/* Nothing connected or nothing answered: TCP is blocked, a result. */
		log_debug("probe: TCP test I: %s", strerror(-rc));
		memset(&res->mapped, 0, sizeof(res->mapped));
		return 0;
	}
	rc = probe_local_address(fd, &opt->server, &res->local);
	if (rc < 0)
		goto out;
	res->tcp_ok = true;
	res->nat = !addr_equal(csa(&res->mapped), csa(&res->local));
	res->port_preserved = port_of(&res->mapped) == port_of(&res->local);
	has_other = (m1.present & STUN_HAS_OTHER) && m1.other.ss_family == opt->server.ss_family;
	if (!has_other)
		goto out;
	other = m1.other;
	/*
	 * The filtering test (a fresh local port, which also listens for the dial-backs) side
	 * by side with the mapping tests (test I's port): it may wait out a dial-back that
	 * does not come, and neither sees the other's connections.
	 */
	fj = (struct filtering_job){ .p = &p };
	threaded = pthread_create(&ft, NULL, filtering_job_run, &fj) == 0;
	res->mapping = classify_mapping(&p, port_of(&res->local), &res->mapped, &other);
	if (threaded)
		pthread_join(ft, NULL);
	else
		filtering_job_run(&fj);
	res->filtering = fj.b;
out:
	close(fd);
	return rc;
}

json_t *probe_tcp_result_json(const struct probe_tcp_result *res)
{
	char mapped[64], local[64];
	bool has_mapped =
	    res->tcp_ok && addr_format(csa(&res->mapped), mapped, sizeof(mapped)) == 0;
	bool has_local = res->tcp_ok && addr_format(csa(&res->local), local, sizeof(local)) == 0;

	return json_pack(
	    "{s:s, s:s?, s:s?, s:o, s:s?, s:s?, s:b}", "status", res->tcp_ok ? "ok" : "blocked",
	    "mapping", probe_behaviour_name(res->mapping), "filtering",
	    probe_behaviour_name(res->filtering), "port_preserved",
	    res->tcp_ok ? json_boolean(res->port_preserved) : json_null(), "mapped_address",
	    has_mapped ? mapped : NULL, "local_address", has_local ? local : NULL, "nat", res->nat);
}
