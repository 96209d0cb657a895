/* SPDX-License-Identifier: MIT */
/*
 * NAT behaviour discovery, client side: classifies the NAT (or its absence) between the
 * current network namespace and a STUN server with two addresses, for UDP (RFC 5780) and
 * for TCP (the same tests over connections, against stun_tcp_responder.h). Blocking;
 * natlab runs it in a host's namespace to compare measured behaviour with the declared
 * profile.
 */
#ifndef NATLAB_PROBE_H
#define NATLAB_PROBE_H

#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

enum probe_behaviour {
	PROBE_UNKNOWN = 0, /* the test could not be run or was not answered */
	PROBE_ENDPOINT_INDEPENDENT,
	PROBE_ADDRESS_DEPENDENT,
	PROBE_ADDRESS_AND_PORT_DEPENDENT,
};

struct probe_options {
	/* The server's primary address A1:P1, IPv4 or IPv6: the probe runs in its family. */
	struct sockaddr_storage server;
	/* Local address to bind (port ignored: the kernel picks), of the server's family;
	 * AF_UNSPEC for the wildcard. */
	struct sockaddr_storage local;
	/* Transmissions per test and the gap between them; 0 means 4 and 250 ms, so an
	 * unanswered test costs about one second. */
	int tries;
	int interval_ms;
	/* TCP: how long a connection, an answer or a dial-back is waited for. 0 adapts to
	 * the path: 3 s for test I (two SYN retransmissions), then 1 s (one retransmission:
	 * the kernel resends after 1 s) plus the time test I took, at least 1.5 s. */
	int wait_ms;
};

struct probe_result {
	bool udp_ok;         /* test I was answered */
	bool nat;            /* the mapped address differs from the local one */
	bool hairpin;        /* a request to our own mapped address came back to us */
	bool port_preserved; /* the mapped port of test I is the local port */
	enum probe_behaviour mapping;
	enum probe_behaviour filtering;
	struct sockaddr_storage local;  /* the address the server was reached from */
	struct sockaddr_storage mapped; /* from test I; AF_UNSPEC when unanswered */
};

/*
 * Runs the mapping tests (I, II to A2:P1, III to A2:P2) and hairpinning on one socket and
 * the filtering tests (change IP and port, then change port) on a fresh one. UDP being
 * blocked is a result (udp_ok false), not an error. Without OTHER-ADDRESS from the server
 * (no RFC 5780 support) mapping and filtering stay unknown. Returns 0, -EINVAL for bad
 * options, -EPROTO when the server answers test I with garbage or an error, or -errno
 * from the socket calls.
 */
int probe_run(const struct probe_options *opt, struct probe_result *res);

/* "endpoint-independent", "address-dependent", "address-and-port-dependent" or NULL. */
const char *probe_behaviour_name(enum probe_behaviour b);

/*
 * The result as a JSON object with keys mapping, filtering (strings or null), hairpin,
 * port_preserved (null when unanswered), mapped_address ("a.b.c.d:port" or null),
 * local_address, nat and udp ("ok" or "blocked"). The caller owns the returned
 * reference; NULL when out of memory.
 */
json_t *probe_result_json(const struct probe_result *res);

struct probe_tcp_result {
	bool tcp_ok;         /* a connection to A1:P1 was set up and answered */
	bool nat;            /* the mapped address differs from the local one */
	bool port_preserved; /* the mapped port of the first connection is the local port */
	enum probe_behaviour mapping;
	enum probe_behaviour filtering;
	struct sockaddr_storage local;
	struct sockaddr_storage mapped; /* AF_UNSPEC when test I failed */
};

/*
 * The TCP tests, opt->server being the TCP responder's A1:P1. Mapping: connections from
 * one local port (SO_REUSEADDR, SO_REUSEPORT) to A1:P1, A2:P1 and A2:P2, compared as
 * RFC 5780 section 4.3 compares UDP mappings. Filtering, from a fresh local port that
 * only ever connected to A1:P1 and listens as well: over that connection the responder
 * is asked to dial the mapped address from A2:P2 and from A1:P2; a dial-back from A2:P2
 * accepted within opt->wait_ms says endpoint-independent, from A1:P2 only
 * address-dependent, none address-and-port-dependent. TCP being blocked (no connection
 * or no answer to test I) is a result (tcp_ok false). Every wait is bounded: a NAT that
 * filters costs one wait, a blocked path one or two waits of test I.
 * Returns 0, -EINVAL for bad options, -EPROTO when the server answers with something
 * that is not a Binding response, or -errno from the socket calls.
 */
int probe_tcp_run(const struct probe_options *opt, struct probe_tcp_result *res);

/*
 * The result as a JSON object with keys status ("ok" or "blocked"), mapping, filtering,
 * port_preserved, mapped_address, local_address and nat, as probe_result_json() has them.
 * The caller owns the returned reference; NULL when out of memory.
 */
json_t *probe_tcp_result_json(const struct probe_tcp_result *res);

/*
 * RFC 5780 section 4.3's verdict from the mapped addresses of test I (to A1:P1), II (to
 * A2:P1) and III (to A2:P2): endpoint-independent when I and II agree, else
 * address-dependent when II and III agree, else address-and-port-dependent; confirmed by
 * a test of our own, IV (to A1:P2), whenever the verdict is that the mapping ignores the
 * port: a NAT that draws random ports gives two destinations the same port by chance
 * now and then (1 in 2048 in a carrier's port block), and then IV differs from I. IV
 * also stands in for a failed III: I != II and IV = I is address-dependent. m3 is NULL
 * when test III was not run or failed (unknown unless I and II agree or IV answered), m4
 * when test IV was not run or failed (RFC 5780's verdict stands).
 */
enum probe_behaviour probe_mapping_classify(const struct sockaddr *m1, const struct sockaddr *m2,
                                            const struct sockaddr *m3, const struct sockaddr *m4);

/* Whether probe_mapping_classify needs test IV after tests I to III. */
bool probe_mapping_needs_iv(const struct sockaddr *m1, const struct sockaddr *m2,
                            const struct sockaddr *m3);

/*
 * RFC 5780 section 4.4's verdict from whether anything came from A2:P2 (other) and from
 * A1:P2 (other port): 1 it came, 0 it did not, -1 the test could not be run.
 */
enum probe_behaviour probe_filtering_classify(int from_other, int from_other_port);

/* Shared by the UDP and TCP probes. */

/* The address fd reaches server from (a wildcard bind resolved through the routes). */
int probe_local_address(int fd, const struct sockaddr_storage *server,
                        struct sockaddr_storage *out);
/* A success response's mapped address (IPv4 or IPv6), XOR-MAPPED-ADDRESS preferred; or
 * -EPROTO. */
struct stun_msg;
int probe_mapped_of(const struct stun_msg *m, struct sockaddr_storage *out);
/* Whether opt names a server (IPv4 or IPv6, with a port) and a local address of its
 * family (or none). */
bool probe_options_ok(const struct probe_options *opt);
/* The address to bind for opt: its local address or the wildcard, of the server's
 * family, with port (network order); its length is the return value. */
socklen_t probe_bind_address(const struct probe_options *opt, in_port_t port,
                             struct sockaddr_storage *out);
/* The length of an IPv4 or IPv6 socket address. */
socklen_t probe_sa_len(const struct sockaddr_storage *ss);
/* Milliseconds of CLOCK_MONOTONIC. */
long long probe_now_ms(void);

#endif
