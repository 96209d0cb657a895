/* SPDX-License-Identifier: MIT */
/*
 * Test fixture for the oracle scripts: serves RFC 5780 on loopback until SIGTERM.
 *   stun-responder A1[:P1] [A2[:P2]]
 * Ports left out are picked by the kernel; once bound it prints "ready P1 P2" on stdout
 * so a script knows where to point the foreign clients. IPv4 only, like the probe.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>

#include "natlab/addr.h"
#include "natlab/log.h"
#include "natlab/stun_responder.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* A2's port, if given, is P2: stun_server_config ignores the alternate's own port. */
static int parse_args(int argc, char **argv, struct stun_server_config *cfg)
{
	if (argc < 2 || argc > 3 || addr_parse(argv[1], &cfg->primary, ADDR_PORT_OPTIONAL) < 0)
		return -EINVAL;
	if (argc == 3 && addr_parse(argv[2], &cfg->alternate, ADDR_PORT_OPTIONAL) < 0)
		return -EINVAL;
	cfg->alt_port = ((struct sockaddr_in *)&cfg->alternate)->sin_port;
	return 0;
}

int main(int argc, char **argv)
{
	struct stun_server_config cfg = { .software = "natlab stun-responder" };
	struct sigaction sa = { .sa_handler = on_signal };
	struct stun_responder r;
	int rc;

	log_init("stun-responder", LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &cfg) < 0) {
		fprintf(stderr, "usage: stun-responder A1[:P1] [A2[:P2]]\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rc = stun_responder_init(&r, &cfg);
	if (rc < 0) {
		log_warn_code(rc, "stun-responder: bind %s%s%s", argv[1], argc > 2 ? " " : "",
		              argc > 2 ? argv[2] : "");
		return 1;
	}
	printf("ready %u %u\n", ntohs(((struct sockaddr_in *)&r.cfg.primary)->sin_port),
	       ntohs(r.cfg.alt_port));
	fflush(stdout);
	rc = stun_responder_serve(&r, &stop);
	stun_responder_close(&r);
	if (rc < 0)
		log_warn_code(rc, "stun-responder: serve");
	return rc < 0 ? 1 : 0;
}
