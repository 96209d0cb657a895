/* SPDX-License-Identifier: MIT */
/*
 * RFC 5780 behaviour discovery client (sections 4.3 to 4.5), blocking, with
 * retransmissions: the tests run through real NATs that may drop any packet. The tests
 * that may wait for nothing (hairpinning, filtering II and III) run side by side.
 */
#include "natlab/addr.h"
#include "natlab/probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "natlab/log.h"
#include "natlab/stun.h"

#define DEFAULT_TRIES       4
#define DEFAULT_INTERVAL_MS 250

struct probe {
	const struct probe_options *opt;
	int tries;
	int interval_ms;
};

/* What a transaction waits for: the server's answer, or our own request come back. */
enum expect { EXPECT_RESPONSE, EXPECT_OWN_REQUEST };

long long probe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static struct sockaddr *sa(struct sockaddr_storage *ss)
{
	return (struct sockaddr *)ss;
}

static const struct sockaddr *csa(const struct sockaddr_storage *ss)
{
	return (const struct sockaddr *)ss;
}

/* The port sits at one offset in sockaddr_in and sockaddr_in6. */
_Static_assert(offsetof(struct sockaddr_in, sin_port) == offsetof(struct sockaddr_in6, sin6_port),
               "IPv4 and IPv6 ports sit at the same offset");
static void set_port(struct sockaddr_storage *ss, in_port_t port)
{
	((struct sockaddr_in *)ss)->sin_port = port;
}

static in_port_t port_of(const struct sockaddr_storage *ss)
{
	return ((const struct sockaddr_in *)ss)->sin_port;
}

socklen_t probe_sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

bool probe_options_ok(const struct probe_options *opt)
{
	int family = opt->server.ss_family;

	return (family == AF_INET || family == AF_INET6) && port_of(&opt->server) &&
	       (opt->local.ss_family == AF_UNSPEC || opt->local.ss_family == family);
}

socklen_t probe_bind_address(const struct probe_options *opt, in_port_t port,
                             struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (opt->local.ss_family == opt->server.ss_family)
		memcpy(out, &opt->local, probe_sa_len(&opt->local));
	out->ss_family = opt->server.ss_family;
	set_port(out, port);
	return probe_sa_len(out);
}

static int udp_open(const struct probe_options *opt, int *fd_out)
{
	struct sockaddr_storage local;
	socklen_t len = probe_bind_address(opt, 0, &local);
	int fd, rc;

	fd = socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, sa(&local), len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/*
 * The address fd reaches the server from. A wildcard bind leaves the address to the
 * routing table, which a connected scratch socket asks without sending anything.
 */
int probe_local_address(int fd, const struct sockaddr_storage *server, struct sockaddr_storage *out)
{
	struct sockaddr_storage route;
	socklen_t len = sizeof(*out);
	int tmp, rc = 0;

	if (getsockname(fd, sa(out), &len) < 0)
		return -errno;
	if (out->ss_family == AF_INET6
	        ? !IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)out)->sin6_addr)
	        : ((struct sockaddr_in *)out)->sin_addr.s_addr != htonl(INADDR_ANY))
		return 0;
	tmp = socket(server->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (tmp < 0)
		return -errno;
	len = sizeof(route);
	if (connect(tmp, csa(server), probe_sa_len(server)) < 0 ||
	    getsockname(tmp, sa(&route), &len) < 0)
		rc = -errno;
	else if (out->ss_family == AF_INET6)
		((struct sockaddr_in6 *)out)->sin6_addr =
		    ((struct sockaddr_in6 *)&route)->sin6_addr;
	else
		((struct sockaddr_in *)out)->sin_addr = ((struct sockaddr_in *)&route)->sin_addr;
	close(tmp);
	return rc;
}

static bool matches(const struct stun_msg *m, const uint8_t txid[STUN_TXID_SIZE], enum expect what)
{
	if (memcmp(m->txid, txid, STUN_TXID_SIZE))
		return false;
	if (what == EXPECT_OWN_REQUEST)
		return m->type == STUN_BINDING_REQUEST;
	return m->type == STUN_BINDING_SUCCESS || m->type == STUN_BINDING_ERROR;
}

/*
 * Waits until deadline for the datagram we expect, from expect_from when not NULL (a
 * reply from elsewhere means the server ignored CHANGE-REQUEST: it must not count).
 * Returns 1 when it came, 0 on timeout, -errno when poll fails.
 */
static int await(int fd, const uint8_t txid[STUN_TXID_SIZE], enum expect what,
                 const struct sockaddr_storage *expect_from, long long deadline,
                 struct stun_msg *out)
{
	uint8_t buf[STUN_MAX_MESSAGE];
	struct sockaddr_storage src;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long long left;
	socklen_t len;
	ssize_t n;

	while ((left = deadline - probe_now_ms()) > 0) {
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		len = sizeof(src);
		n = recvfrom(fd, buf, sizeof(buf), 0, sa(&src), &len);
		if (n < 0)
			continue;
		if (stun_msg_decode(buf, (size_t)n, out) < 0 || !matches(out, txid, what))
			continue;
		if (expect_from && !addr_equal(sa(&src), csa(expect_from)))
			continue;
		return 1;
	}
	return 0;
}

/*
 * One test: a Binding request to dst, sent up to p->tries times. Returns 0 with the
 * answer in *out, -ETIMEDOUT when none came, or -errno. Send errors (an ICMP error, a
 * firewall's EPERM) count as loss: they are what a blocked path looks like.
 */
static int transact2(const struct probe *p, int fd, int recv_fd, const struct sockaddr_storage *dst,
                     uint32_t change, enum expect what, const struct sockaddr_storage *expect_from,
                     struct stun_msg *out)
{
	uint8_t txid[STUN_TXID_SIZE], req[STUN_MAX_MESSAGE];
	int len, rc;

	stun_txid_new(txid);
	len = stun_binding_request_encode(req, sizeof(req), txid, change, true);
	if (len < 0)
		return len;
	for (int i = 0; i < p->tries; i++) {
		if (sendto(fd, req, (size_t)len, 0, csa(dst), probe_sa_len(dst)) < 0)
			log_debug("probe: sendto: %s", strerror(errno));
		rc = await(recv_fd, txid, what, expect_from, probe_now_ms() + p->interval_ms, out);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return -ETIMEDOUT;
}

/* One request/answer exchange on one socket. */
static int transact(const struct probe *p, int fd, const struct sockaddr_storage *dst,
                    uint32_t change, enum expect what, const struct sockaddr_storage *expect_from,
                    struct stun_msg *out)
{
	return transact2(p, fd, fd, dst, change, what, expect_from, out);
}

/* A success response's mapped address, XOR-MAPPED-ADDRESS preferred. */
int probe_mapped_of(const struct stun_msg *m, struct sockaddr_storage *out)
{
	if (m->type != STUN_BINDING_SUCCESS)
		return -EPROTO;
	if (m->present & STUN_HAS_XOR_MAPPED)
		*out = m->xor_mapped;
	else if (m->present & STUN_HAS_MAPPED)
		*out = m->mapped;
	else
		return -EPROTO;
	return out->ss_family == AF_INET || out->ss_family == AF_INET6 ? 0 : -EPROTO;
}

/* A test to dst that must be answered with a mapped address, from dst itself. */
static int mapping_test(const struct probe *p, int fd, const struct sockaddr_storage *dst,
                        struct sockaddr_storage *mapped)
{
	struct stun_msg m;
	int rc = transact(p, fd, dst, 0, EXPECT_RESPONSE, dst, &m);

	return rc < 0 ? rc : probe_mapped_of(&m, mapped);
}

bool probe_mapping_needs_iv(const struct sockaddr *m1, const struct sockaddr *m2,
                            const struct sockaddr *m3)
{
	return addr_equal(m2, m1) || !m3 || addr_equal(m3, m2);
}

enum probe_behaviour probe_mapping_classify(const struct sockaddr *m1, const struct sockaddr *m2,
                                            const struct sockaddr *m3, const struct sockaddr *m4)
{
	if (m4 && !addr_equal(m4, m1))
		return PROBE_ADDRESS_AND_PORT_DEPENDENT;
	if (addr_equal(m2, m1))
		return PROBE_ENDPOINT_INDEPENDENT;
	/* Without III, IV = I says the port does not matter where the address does. */
	if (!m3)
		return m4 ? PROBE_ADDRESS_DEPENDENT : PROBE_UNKNOWN;
	if (addr_equal(m3, m2))
		return PROBE_ADDRESS_DEPENDENT;
	return PROBE_ADDRESS_AND_PORT_DEPENDENT;
}

enum probe_behaviour probe_filtering_classify(int from_other, int from_other_port)
{
	if (from_other > 0)
		return PROBE_ENDPOINT_INDEPENDENT;
	if (from_other < 0 || from_other_port < 0)
		return PROBE_UNKNOWN;
	return from_other_port ? PROBE_ADDRESS_DEPENDENT : PROBE_ADDRESS_AND_PORT_DEPENDENT;
}

/*
 * Tests II and III (RFC 5780 section 4.3) and our test IV (A1:P2, when the verdict so far
 * is that the port does not matter), on the socket test I used.
 */
static enum probe_behaviour classify_mapping(const struct probe *p, int fd,
                                             const struct sockaddr_storage *mapped1,
                                             const struct sockaddr_storage *other)
{
	struct sockaddr_storage a2p1 = *other, a1p2 = p->opt->server, mapped2, mapped3, mapped4;
	const struct sockaddr *m3 = NULL, *m4 = NULL;

	set_port(&a2p1, port_of(&p->opt->server));
	set_port(&a1p2, port_of(other));
	if (mapping_test(p, fd, &a2p1, &mapped2) < 0)
		return PROBE_UNKNOWN;
	if (!addr_equal(csa(&mapped2), csa(mapped1)) && mapping_test(p, fd, other, &mapped3) == 0)
		m3 = csa(&mapped3);
	if (probe_mapping_needs_iv(csa(mapped1), csa(&mapped2), m3) &&
	    mapping_test(p, fd, &a1p2, &mapped4) == 0)
		m4 = csa(&mapped4);
	return probe_mapping_classify(csa(mapped1), csa(&mapped2), m3, m4);
}

/* Whether a CHANGE-REQUEST is answered, from the endpoint it asked for. */
static bool change_answered(const struct probe *p, int fd, uint32_t change,
                            const struct sockaddr_storage *from)
{
	struct stun_msg m;

	return transact(p, fd, &p->opt->server, change, EXPECT_RESPONSE, from, &m) == 0 &&
	       m.type == STUN_BINDING_SUCCESS;
}

/*
 * One filtering test of RFC 5780 section 4.4 (II or III) on a fresh socket that has sent
 * only to the primary address (test I): one that had sent to A2 would have opened the
 * filter the test is about. Tests II and III each get their own socket, so that both
 * can wait out an answer that may not come at the same time.
 */
struct filter_test {
	const struct probe *p;
	uint32_t change;
	struct sockaddr_storage from;
	pthread_t thread;
	bool threaded;
	int answered; /* 1: answered from `from`, 0: not, -1: test I failed (unknown) */
};

static void *filter_test_run(void *arg)
{
	struct filter_test *t = arg;
	struct sockaddr_storage mapped;
	int fd;

	t->answered = -1;
	if (udp_open(t->p->opt, &fd) < 0)
		return NULL;
	if (mapping_test(t->p, fd, &t->p->opt->server, &mapped) == 0)
		t->answered = change_answered(t->p, fd, t->change, &t->from);
	close(fd);
	return NULL;
}

/* Starts tests II and III in threads (inline when no thread can be made). */
static void filtering_start(const struct probe *p, const struct sockaddr_storage *other,
                            struct filter_test t[2])
{
	t[0] = (struct filter_test){ .p = p,
		                     .change = STUN_CHANGE_IP | STUN_CHANGE_PORT,
		                     .from = *other };
	t[1] = (struct filter_test){ .p = p, .change = STUN_CHANGE_PORT, .from = p->opt->server };
	set_port(&t[1].from, port_of(other));
	for (int i = 0; i < 2; i++) {
		t[i].threaded = pthread_create(&t[i].thread, NULL, filter_test_run, &t[i]) == 0;
		if (!t[i].threaded)
			filter_test_run(&t[i]);
	}
}

/* Waits for tests II and III and classifies: II answered is endpoint-independent. */
static enum probe_behaviour filtering_end(struct filter_test t[2])
{
	for (int i = 0; i < 2; i++)
		if (t[i].threaded)
			pthread_join(t[i].thread, NULL);
	if (t[0].answered != 0)
		return t[0].answered > 0 ? probe_filtering_classify(1, -1) : PROBE_UNKNOWN;
	return probe_filtering_classify(0, t[1].answered);
}

/*
 * RFC 5780 section 4.5: a request sent to our mapped address must come back to us. It
 * is sent from a second socket, as coturn does and as another host behind the same NAT
 * would: from the same socket, the request rides the mapping's own conntrack entry and
 * passes through stacked NATs whose filtering would stop anyone else.
 */
static bool hairpin_test(const struct probe *p, int fd, const struct sockaddr_storage *mapped)
{
	struct stun_msg m;
	bool ok;
	int fd2;

	if (udp_open(p->opt, &fd2) < 0)
		return false;
	ok = transact2(p, fd2, fd, mapped, 0, EXPECT_OWN_REQUEST, NULL, &m) == 0;
	close(fd2);
	return ok;
}

static int probe_init(struct probe *p, const struct probe_options *opt)
{
	if (!probe_options_ok(opt))
		return -EINVAL;
	p->opt = opt;
	p->tries = opt->tries > 0 ? opt->tries : DEFAULT_TRIES;
	p->interval_ms = opt->interval_ms > 0 ? opt->interval_ms : DEFAULT_INTERVAL_MS;
	return 0;
}

int probe_run(const struct probe_options *opt, struct probe_result *res)
{
	struct filter_test ft[2];
	struct stun_msg m1;
	struct probe p;
	bool rfc5780;
	int fd = -1, rc;

	memset(res, 0, sizeof(*res));
	rc = probe_init(&p, opt);
	if (rc < 0)
		return rc;
	rc = udp_open(opt, &fd);
	if (rc < 0)
		return rc;
	rc = probe_local_address(fd, &opt->server, &res->local);
	if (rc < 0)
		goto out;
	rc = transact(&p, fd, &opt->server, 0, EXPECT_RESPONSE, &opt->server, &m1);
	if (rc == -ETIMEDOUT) {
		rc = 0; /* UDP blocked is an answer too */
		goto out;
	}
	if (rc < 0 || (rc = probe_mapped_of(&m1, &res->mapped)) < 0)
		goto out;
	res->udp_ok = true;
	res->nat = !addr_equal(csa(&res->mapped), csa(&res->local));
	res->port_preserved = port_of(&res->mapped) == port_of(&res->local);
	/* RFC 5780's endpoints are all of the server's family: another one is unusable. */
	rfc5780 = (m1.present & STUN_HAS_OTHER) && m1.other.ss_family == opt->server.ss_family;
	if (rfc5780)
		res->mapping = classify_mapping(&p, fd, &res->mapped, &m1.other);
	/*
	 * The filtering tests (sockets of their own) and the hairpin test (this one) may each
	 * wait out an answer that does not come: side by side, one wait instead of three.
	 */
	if (rfc5780)
		filtering_start(&p, &m1.other, ft);
	res->hairpin = hairpin_test(&p, fd, &res->mapped);
	if (rfc5780)
		res->filtering = filtering_end(ft);
out:
	close(fd);
	return rc;
}

const char *probe_behaviour_name(enum probe_behaviour b)
{
	switch (b) {
	case PROBE_ENDPOINT_INDEPENDENT:
		return "endpoint-independent";
	case PROBE_ADDRESS_DEPENDENT:
		return "address-dependent";
	case PROBE_ADDRESS_AND_PORT_DEPENDENT:
		return "address-and-port-dependent";
	default:
		return NULL;
	}
}

json_t *probe_result_json(const struct probe_result *res)
{
	char mapped[64], local[64];
	bool has_mapped =
	    res->udp_ok && addr_format(csa(&res->mapped), mapped, sizeof(mapped)) == 0;
	bool has_local = addr_format(csa(&res->local), local, sizeof(local)) == 0;

	return json_pack(
	    "{s:s?, s:s?, s:b, s:o, s:s?, s:s?, s:b, s:s}", "mapping",
	    probe_behaviour_name(res->mapping), "filtering", probe_behaviour_name(res->filtering),
	    "hairpin", res->hairpin, "port_preserved",
	    res->udp_ok ? json_boolean(res->port_preserved) : json_null(), "mapped_address",
	    has_mapped ? mapped : NULL, "local_address", has_local ? local : NULL, "nat", res->nat,
	    "udp", res->udp_ok ? "ok" : "blocked");
}
