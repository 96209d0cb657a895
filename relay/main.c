/* SPDX-License-Identifier: MIT */
/*
 * natlab-relay: command table and option parsing. The server itself is in server.c,
 * the key and token subcommands in keys.c.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "natlab/addr.h"
#include "natlab/directory.h"
#include "natlab/identity.h"
#include "natlab/log.h"
#include "natlab/privdrop.h"
#include "natlab/relay.h"

int relay_cmd_keygen(int argc, char **argv);
int relay_cmd_token(int argc, char **argv);
int relay_cmd_tls_cert(int argc, char **argv);
static int relay_cmd_serve(int argc, char **argv);
static int relay_cmd_help(int argc, char **argv);

struct relay_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct relay_command relay_commands[] = {
	{ "serve", relay_cmd_serve,
	  "run the relay (the default when the first argument is an option)" },
	{ "keygen", relay_cmd_keygen, "FILE: write an issuer key pair to FILE and FILE.pub" },
	{ "token", relay_cmd_token,
	  "--issuer-key FILE --peer PUBKEY --ttl SECONDS [--id ID]: issue a token" },
	{ "tls-cert", relay_cmd_tls_cert,
	  "FILE [--name NAMES] [--days N]: self-signed FILE.crt and FILE.key for --tls-listen" },
	{ "help", relay_cmd_help, "show this help" },
	{ "directory", relay_cmd_directory,
	  "--listen ADDR:PORT --state DIR: run a relay directory (enrollment, health, list)" },
	{ "directory-token", relay_cmd_directory_token,
	  "--state DIR [--ttl SECONDS]: issue a one-time enrollment token" },
};

static const char relay_serve_usage[] =
    "usage: natlab-relay [serve] --listen ADDR:PORT [options]\n"
    "  --listen ADDR:PORT        relay protocol over TCP (port 0: any free port); give it\n"
    "                            twice for an IPv4 and an IPv6 address ([::]:PORT alone\n"
    "                            takes both families)\n"
    "  --stun ADDR:PORT          answer STUN Binding requests on UDP; twice: one per family\n"
    "  --stun-alt ADDR           second address for RFC 5780 (uses ports P and P+1), of\n"
    "                            the family of a --stun; twice: one per --stun\n"
    "  --metrics ADDR:PORT       HTTP /healthz and /metrics (Prometheus text)\n"
    "  --issuer-key PATH         accept tokens of these issuers: a FILE.pub (one key a\n"
    "                            line) or a directory of *.pub files, reloaded live\n"
    "  --no-auth                 accept any client key without a token (with\n"
    "                            --issuer-key: start so; SIGUSR2 requires tokens, SIGUSR1\n"
    "                            stops requiring them, for new handshakes)\n"
    "  --revoked FILE            token ids and key:PUBKEY issuer keys to refuse, one per\n"
    "                            line, reloaded live; unreadable: new sessions refused\n"
    "  --max-clients N           authenticated clients at once (16384)\n"
    "  --max-handshakes N        connections not yet authenticated, at once (1024)\n"
    "  --source-handshakes N     of those, from one address (64)\n"
    "  --source-rate N           new connections per second from one address, 0 = off (200)\n"
    "  --handshake-timeout MS    time to authenticate (5000)\n"
    "  --queue N                 frames queued per receiver, then the oldest drops (256)\n"
    "  --queue-bytes BYTES       and at most this many bytes queued per receiver (4194304)\n"
    "  --rate BYTES              per-client read rate, bytes/s, 0 = unlimited (33554432)\n"
    "  --burst BYTES             token bucket size (1048576)\n"
    "  --frame-cost BYTES        each frame counts as at least this many bytes (512)\n"
    "  --drain MS                after SIGTERM, wait this long for clients to leave (2000)\n"
    "  --reconnect-in MS         delay suggested to clients in the restarting frame (0)\n"
    "  --keepalive MS            ping interval suggested to clients (30000)\n"
    "  --idle-timeout MS         close an authenticated client that completes no frame\n"
    "                            for this long (default 3 x --keepalive; above it)\n"
    "  --tls-listen ADDR:PORT    the relay protocol over TLS as well (needs --tls-cert/-key)\n"
    "  --tls-cert FILE           PEM certificate (chain) for --tls-listen\n"
    "  --tls-key FILE            PEM private key for --tls-listen\n"
    "  --byte-cap BYTES          close a session once it relayed this many data bytes,\n"
    "                            sent and received together (0 = no cap, the default)\n"
    "  --directory ADDR:PORT     enroll with this relay directory once listening (needs\n"
    "                            --metrics: the directory polls /healthz)\n"
    "  --enroll-token TOKEN      one-time enrollment token (natlab-relay directory-token)\n"
    "  --enroll-state FILE       the enrollment is saved here; a re-run that finds it\n"
    "                            re-registers without a token\n"
    "  --advertise ADDR:PORT     the relay address peers use (default: --listen's)\n"
    "  --user NAME               as root: become user NAME (no groups, no_new_privs)\n"
    "                            once the ports are bound, the keys read\n"
    "  --no-records              keep no address records (as a relay before them)\n"
    "  -v, --verbose             debug logging\n"
    "A JSON line {\"event\":\"ready\",\"listen\":...} is printed on stdout once listening.\n";

static void relay_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: natlab-relay COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(relay_commands) / sizeof(relay_commands[0]); i++)
		fprintf(f, "  %-8s %s\n", relay_commands[i].name, relay_commands[i].help);
	fprintf(f, "\n%s", relay_serve_usage);
}

static int relay_cmd_help(int argc, char **argv)
{
	relay_usage(stdout);
	return 0;
}

/* Parses a decimal number within [min, max]; -EINVAL otherwise. */
static int relay_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || *text == '-' || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int relay_parse_u64(const char *text, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || *text == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

/* Clients are file descriptors: take all the soft limit can give. */
static void relay_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

enum {
	OPT_LISTEN = 256,
	OPT_STUN,
	OPT_STUN_ALT,
	OPT_METRICS,
	OPT_ISSUER,
	OPT_NO_AUTH,
	OPT_REVOKED,
	OPT_MAX_CLIENTS,
	OPT_HS_TIMEOUT,
	OPT_QUEUE,
	OPT_RATE,
	OPT_BURST,
	OPT_DRAIN,
	OPT_RECONNECT,
	OPT_KEEPALIVE,
	OPT_QUEUE_BYTES,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_HANDSHAKES,
	OPT_SOURCE_HANDSHAKES,
	OPT_SOURCE_RATE,
	OPT_FRAME_COST,
	OPT_TLS_LISTEN,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_BYTE_CAP,
	OPT_DIRECTORY,
	OPT_ENROLL_TOKEN,
	OPT_ENROLL_STATE,
	OPT_ADVERTISE,
	OPT_USER,
	OPT_NO_RECORDS,
};

static const struct option relay_serve_options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "stun", required_argument, NULL, OPT_STUN },
	{ "stun-alt", required_argument, NULL, OPT_STUN_ALT },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "issuer-key", required_argument, NULL, OPT_ISSUER },
	{ "no-auth", no_argument, NULL, OPT_NO_AUTH },
	{ "revoked", required_argument, NULL, OPT_REVOKED },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "handshake-timeout", required_argument, NULL, OPT_HS_TIMEOUT },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "burst", required_argument, NULL, OPT_BURST },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "reconnect-in", required_argument, NULL, OPT_RECONNECT },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "queue-bytes", required_argument, NULL, OPT_QUEUE_BYTES },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES },
	{ "source-handshakes", required_argument, NULL, OPT_SOURCE_HANDSHAKES },
	{ "source-rate", required_argument, NULL, OPT_SOURCE_RATE },
	{ "frame-cost", required_argument, NULL, OPT_FRAME_COST },
	{ "tls-listen", required_argument, NULL, OPT_TLS_LISTEN },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "byte-cap", required_argument, NULL, OPT_BYTE_CAP },
	{ "directory", required_argument, NULL, OPT_DIRECTORY },
	{ "enroll-token", required_argument, NULL, OPT_ENROLL_TOKEN },
	{ "enroll-state", required_argument, NULL, OPT_ENROLL_STATE },
	{ "advertise", required_argument, NULL, OPT_ADVERTISE },
	{ "user", required_argument, NULL, OPT_USER },
	{ "no-records", no_argument, NULL, OPT_NO_RECORDS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct relay_serve_args {
	struct relay_config cfg;
	int have_listen;
	int n_stun_alt;
	struct relay_enroll enroll;
	const char *user; /* --user: drop to it once bound */
};

/* Applies one numeric option; returns 0 or -EINVAL. */
static int relay_serve_number(struct relay_config *cfg, int opt, const char *arg)
{
	switch (opt) {
	case OPT_MAX_CLIENTS:
		return relay_parse_u32(arg, 1, 1000000, &cfg->max_clients);
	case OPT_HS_TIMEOUT:
		return relay_parse_u32(arg, 1, 600000, &cfg->handshake_timeout_ms);
	case OPT_QUEUE:
		return relay_parse_u32(arg, 1, 1000000, &cfg->queue_frames);
	case OPT_QUEUE_BYTES:
		return relay_parse_u32(arg, FRAME_MAX_PAYLOAD + FRAME_HEADER_LEN, UINT32_MAX,
		                       &cfg->queue_bytes);
	case OPT_RATE:
		return relay_parse_u32(arg, 0, UINT32_MAX, &cfg->rate_bytes_per_sec);
	case OPT_BURST:
		return relay_parse_u32(arg, FRAME_MAX_PAYLOAD + FRAME_HEADER_LEN, UINT32_MAX,
		                       &cfg->burst_bytes);
	case OPT_DRAIN:
		return relay_parse_u32(arg, 0, 600000, &cfg->drain_ms);
	case OPT_RECONNECT:
		return relay_parse_u32(arg, 0, 600000, &cfg->reconnect_in_ms);
	case OPT_KEEPALIVE:
		return relay_parse_u32(arg, 1, 3600000, &cfg->keepalive_ms);
	case OPT_IDLE_TIMEOUT:
		return relay_parse_u32(arg, 1, 3 * 3600000, &cfg->idle_timeout_ms);
	case OPT_MAX_HANDSHAKES:
		return relay_parse_u32(arg, 1, 1000000, &cfg->max_handshakes);
	case OPT_SOURCE_HANDSHAKES:
		return relay_parse_u32(arg, 1, 1000000, &cfg->source_handshakes);
	case OPT_SOURCE_RATE:
		return relay_parse_u32(arg, 0, 1000000, &cfg->source_rate);
	case OPT_FRAME_COST:
		return relay_parse_u32(arg, 0, FRAME_MAX_PAYLOAD + FRAME_HEADER_LEN,
		                       &cfg->frame_cost);
	}
	return -EINVAL;
}

/*
 * An option that may be given once per address family: the first into *first, a second
 * into *second. *count (or first's family when count is NULL) says whether one came.
 */
static int relay_serve_family_opt(struct sockaddr_storage *first, struct sockaddr_storage *second,
                                  int *count, const char *arg, enum addr_port port)
{
	int given = count ? *count : first->ss_family != AF_UNSPEC;
	char bracketed[INET6_ADDRSTRLEN + 2];

	if (given >= 2 || second->ss_family != AF_UNSPEC)
		return -EINVAL;
	if (count)
		(*count)++;
	/* An address alone (--stun-alt) may be IPv6 without brackets: no port to confuse. */
	if (port == ADDR_PORT_OPTIONAL && arg[0] != '[' && strchr(arg, ':') != strrchr(arg, ':')) {
		int n = snprintf(bracketed, sizeof(bracketed), "[%s]", arg);

		if (n < 0 || (size_t)n >= sizeof(bracketed))
			return -EINVAL;
		arg = bracketed;
	}
	return addr_parse(arg, given ? second : first, port);
}

static int relay_serve_option(struct relay_serve_args *a, int opt, const char *arg)
{
	struct relay_config *cfg = &a->cfg;

	switch (opt) {
	case OPT_LISTEN:
		return relay_serve_family_opt(&cfg->listen, &cfg->listen2, &a->have_listen, arg,
		                              ADDR_PORT_REQUIRED);
	case OPT_STUN:
		return relay_serve_family_opt(&cfg->stun, &cfg->stun2, NULL, arg,
		                              ADDR_PORT_REQUIRED);
	case OPT_STUN_ALT:
		return relay_serve_family_opt(&cfg->stun_alt, &cfg->stun2_alt, &a->n_stun_alt, arg,
		                              ADDR_PORT_OPTIONAL);
	case OPT_METRICS:
		return addr_parse(arg, &cfg->metrics, ADDR_PORT_REQUIRED);
	case OPT_ISSUER:
		cfg->issuer_path = arg;
		return 0;
	case OPT_NO_AUTH:
		cfg->no_auth = 1;
		return 0;
	case OPT_REVOKED:
		cfg->revoked_path = arg;
		return 0;
	case OPT_TLS_LISTEN:
		return addr_parse(arg, &cfg->tls_listen, ADDR_PORT_REQUIRED);
	case OPT_TLS_CERT:
		cfg->tls_cert = arg;
		return 0;
	case OPT_TLS_KEY:
		cfg->tls_key = arg;
		return 0;
	case OPT_BYTE_CAP:
		return relay_parse_u64(arg, &cfg->byte_cap);
	case OPT_USER:
		a->user = arg;
		return 0;
	case OPT_NO_RECORDS:
		cfg->no_records = 1;
		return 0;
	case 'v':
		log_set_level(LOG_LEVEL_DEBUG);
		return 0;
	case OPT_DIRECTORY:
		a->enroll.directory = arg;
		return 0;
	case OPT_ENROLL_TOKEN:
		a->enroll.token = arg;
		return 0;
	case OPT_ENROLL_STATE:
		a->enroll.state_path = arg;
		return 0;
	case OPT_ADVERTISE:
		a->enroll.advertise = arg;
		return 0;
	}
	return relay_serve_number(cfg, opt, arg);
}

/* Two --listen, --stun or --stun-alt must be of two families; each --stun-alt goes with
 * the --stun of its family. */
static int relay_serve_families(struct relay_config *cfg)
{
	struct sockaddr_storage alt;

	if (cfg->listen2.ss_family != AF_UNSPEC &&
	    cfg->listen2.ss_family == cfg->listen.ss_family) {
		log_warnx("--listen given twice for one address family: give one IPv4 and one "
		          "IPv6 address (or [::]:PORT alone for both)");
		return -EINVAL;
	}
	if (cfg->stun2.ss_family != AF_UNSPEC && cfg->stun2.ss_family == cfg->stun.ss_family) {
		log_warnx("--stun given twice for one address family: give one IPv4 and one IPv6 "
		          "address");
		return -EINVAL;
	}
	if (cfg->stun_alt.ss_family != AF_UNSPEC &&
	    cfg->stun_alt.ss_family != cfg->stun.ss_family) {
		alt = cfg->stun_alt;
		cfg->stun_alt = cfg->stun2_alt;
		cfg->stun2_alt = alt;
	}
	if ((cfg->stun_alt.ss_family != AF_UNSPEC &&
	     cfg->stun_alt.ss_family != cfg->stun.ss_family) ||
	    (cfg->stun2_alt.ss_family != AF_UNSPEC &&
	     cfg->stun2_alt.ss_family != cfg->stun2.ss_family)) {
		log_warnx("--stun-alt needs a --stun of its address family");
		return -EINVAL;
	}
	return 0;
}

static int relay_serve_parse(struct relay_serve_args *a, int argc, char **argv)
{
	int opt, idx, rc;

	memset(a, 0, sizeof(*a));
	a->cfg = (struct relay_config){
		.max_clients = 16384,
		.handshake_timeout_ms = 5000,
		.queue_frames = 256,
		.queue_bytes = 4u << 20,
		.rate_bytes_per_sec = 32u << 20,
		.burst_bytes = 1u << 20,
		.keepalive_ms = 30000,
		.drain_ms = 2000,
		.revoked_poll_ms = 200,
		.max_handshakes = 1024,
		.source_handshakes = 64,
		.source_rate = 200,
		.frame_cost = 512,
	};
	optind = 1;
	for (idx = -1; (opt = getopt_long(argc, argv, "vh", relay_serve_options, &idx)) != -1;
	     idx = -1) {
		if (opt == 'h') {
			fputs(relay_serve_usage, stdout);
			exit(0);
		}
		if (opt == '?')
			return -EINVAL;
		rc = relay_serve_option(a, opt, optarg);
		if (rc < 0) {
			/* getopt_long says which entry matched; the enum's order is not the
			 * table's. */
			log_warnx("--%s \"%s\": invalid value (see --help)",
			          idx >= 0 ? relay_serve_options[idx].name : "?",
			          optarg ? optarg : "");
			return rc;
		}
	}
	if (optind < argc) {
		log_warnx("unexpected argument \"%s\" (see --help)", argv[optind]);
		return -EINVAL;
	}
	if (!a->have_listen) {
		log_warnx("--listen ADDR:PORT is required (e.g. --listen 127.0.0.1:3340)");
		return -EINVAL;
	}
	if (!a->cfg.no_auth && !a->cfg.issuer_path) {
		log_warnx("give --issuer-key PATH (tokens required), --no-auth, or both (tokens "
		          "not required until SIGUSR2)");
		return -EINVAL;
	}
	if (relay_serve_families(&a->cfg) < 0)
		return -EINVAL;
	if ((a->cfg.tls_listen.ss_family != AF_UNSPEC) !=
	        (a->cfg.tls_cert != NULL || a->cfg.tls_key != NULL) ||
	    (a->cfg.tls_listen.ss_family != AF_UNSPEC && (!a->cfg.tls_cert || !a->cfg.tls_key))) {
		log_warnx("--tls-listen, --tls-cert and --tls-key go together (make a pair with "
		          "natlab-relay tls-cert FILE)");
		return -EINVAL;
	}
	if (a->enroll.directory &&
	    (!a->enroll.state_path || a->cfg.metrics.ss_family == AF_UNSPEC)) {
		log_warnx("--directory needs --enroll-state FILE (where the enrollment is kept) "
		          "and --metrics ADDR:PORT (the directory polls its /healthz)");
		return -EINVAL;
	}
	if (!a->enroll.directory &&
	    (a->enroll.token || a->enroll.state_path || a->enroll.advertise)) {
		log_warnx("--enroll-token, --enroll-state and --advertise go with --directory");
		return -EINVAL;
	}
	if (!a->cfg.idle_timeout_ms)
		a->cfg.idle_timeout_ms = 3 * a->cfg.keepalive_ms;
	if (a->cfg.idle_timeout_ms <= a->cfg.keepalive_ms) {
		log_warnx("--idle-timeout %u must be above --keepalive %u: clients that ping as "
		          "told would be closed",
		          a->cfg.idle_timeout_ms, a->cfg.keepalive_ms);
		return -EINVAL;
	}
	return 0;
}

static int relay_cmd_serve(int argc, char **argv)
{
	struct relay_serve_args a;
	struct relay_server *srv;
	static uv_loop_t loop; /* still reachable when a failed init ends the process */
	int rc;

	rc = relay_serve_parse(&a, argc, argv);
	if (rc < 0)
		return 2;
	if (identity_init() < 0) {
		log_warnx("libsodium failed to initialise");
		return 1;
	}
	relay_raise_nofile();
	srv = calloc(1, sizeof(*srv));
	if (!srv || uv_loop_init(&loop) < 0)
		return 1;
	rc = relay_server_init(srv, &loop, &a.cfg);
	/* A failed init leaves handles open inside srv and the loop: the process is ending,
	 * and freeing srv under them would make uv_loop_close read freed memory. */
	if (rc < 0)
		return 1;
	/* The directory's answers are network input too: enroll as the user already. */
	if (a.user) {
		char err[256];

		rc = priv_drop(a.user, err, sizeof(err));
		if (rc < 0)
			log_warnx("%s", err);
	}
	if (rc == 0 && a.enroll.directory)
		rc = relay_enroll_run(&loop, &a.enroll, (const struct sockaddr *)&srv->bound,
		                      (const struct sockaddr *)&srv->cfg.metrics);
	if (rc == 0)
		rc = relay_server_run(srv);
	relay_server_free(srv);
	free(srv);
	if (uv_loop_close(&loop) < 0 && rc == 0)
		log_debug("loop closed with handles open");
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	size_t i;

	log_init("natlab-relay", LOG_LEVEL_INFO);
	/* libuv writes with write(2): a client resetting mid-write must not kill the relay. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		relay_usage(stderr);
		return 2;
	}
	if (argv[1][0] == '-') {
		if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
			return relay_cmd_help(argc, argv);
		return relay_cmd_serve(argc, argv);
	}
	for (i = 0; i < sizeof(relay_commands) / sizeof(relay_commands[0]); i++)
		if (!strcmp(argv[1], relay_commands[i].name))
			return relay_commands[i].fn(argc - 1, argv + 1);
	log_warnx("unknown command \"%s\" (try natlab-relay help)", argv[1]);
	return 2;
}
