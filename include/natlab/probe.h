/* SPDX-License-Identifier: MIT */
/*
 * RFC 5780 NAT behaviour discovery, client side: classifies the NAT (or its absence)
 * between the current network namespace and an RFC 5780 STUN server. Blocking; natlab
 * runs it in a host's namespace to compare measured behaviour with the declared profile.
 */
#ifndef NATLAB_PROBE_H
#define NATLAB_PROBE_H

#include <stdbool.h>
#include <sys/socket.h>

#include <jansson.h>

enum probe_behaviour {
	PROBE_UNKNOWN = 0, /* the test could not be run or was not answered */
	PROBE_ENDPOINT_INDEPENDENT,
	PROBE_ADDRESS_DEPENDENT,
	PROBE_ADDRESS_AND_PORT_DEPENDENT,
};

struct probe_options {
	/* The server's primary address A1:P1. IPv4 only for now. */
	struct sockaddr_storage server;
	/* Local address to bind (port ignored: the kernel picks); AF_UNSPEC for 0.0.0.0. */
	struct sockaddr_storage local;
	/* Transmissions per test and the gap between them; 0 means 4 and 250 ms, so an
	 * unanswered test costs about one second. */
	int tries;
	int interval_ms;
};

struct probe_result {
	bool udp_ok;  /* test I was answered */
	bool nat;     /* the mapped address differs from the local one */
	bool hairpin; /* a request to our own mapped address came back to us */
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
 * mapped_address ("a.b.c.d:port" or null), local_address, nat and udp ("ok" or
 * "blocked"). The caller owns the returned reference; NULL when out of memory.
 */
json_t *probe_result_json(const struct probe_result *res);

#endif
