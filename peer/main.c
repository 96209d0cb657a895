/* SPDX-License-Identifier: MIT */
/* natlab-peer: the CLI. Subcommands dispatch from one table; the default runs the peer. */
#include <errno.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "natlab/log.h"
#include "natlab/relay_addr.h"
#include "natlab/privdrop.h"
#include "peer.h"

static const char peer_usage[] =
    "usage: natlab-peer keygen FILE         write an identity (FILE, FILE.pub); print the public key\n"
    "       natlab-peer (--relay HOST:PORT[,...] | --directory ADDR:PORT)\n"
    "                   (--listen | --connect PUBKEY | --connect relay://HOST:PORT/PUBKEY) [options]\n"
    "\n"
    "  --key FILE              identity (64 hex chars of Ed25519 seed, as keygen writes);\n"
    "                          without it a fresh identity is used (see the started event)\n"
    "  --relay LIST            relays, comma-separated (IPv6: [ADDR]:PORT); all are\n"
    "                          connected, the nearest ready one (by RTT) is the home\n"
    "                          relay, the peer's relay carries traffic, another takes\n"
    "                          over when it fails\n"
    "  --token TOKEN           relay access token (natlab-relay token)\n"
    "  --token-cmd CMD         run CMD (sh -c) for the token instead, and again before\n"
    "                          it expires: the renewed token is presented to the relays\n"
    "  --stun LIST             STUN servers ADDR:PORT, comma-separated, of either family\n"
    "                          (default: each relay's host, port 3478)\n"
    "  --bind ADDR[:PORT]      UDP socket address (default 0.0.0.0 and [::], any port); a\n"
    "                          specific address (of either family) is also the only local\n"
    "                          candidate and the only family\n"
    "  --listen                wait for a peer to connect (the first one is served)\n"
    "  --connect PUBKEY        connect to the peer with this public key (64 hex chars),\n"
    "                          or with its relay address relay://HOST:PORT/PUBKEY (the\n"
    "                          listener's home_relay event): that relay is dialled too\n"
    "  --ping N                N sealed pings on the current path (rtt events)\n"
    "  --ping-interval MS      between pings (default 100)\n"
    "  --transfer BYTES        send BYTES (suffix k, M, G) with a checksum verified by the peer\n"
    "  --pattern TEXT          transfer TEXT repeated instead of a pseudo-random stream\n"
    "  --hold SECONDS          stay connected this long after the other workloads\n"
    "  --hold-direct MS        end --hold early once the path has been direct this long\n"
    "  --no-relay              data only on a direct path: fail without one\n"
    "  --relay-only            never punch: everything through the relay\n"
    "  --first-punch MODE      connector, first round: eager (default; the listener probes\n"
    "                          as soon as the offer reaches it) or sync (the listener waits\n"
    "                          the one-way relay time measured from both sides, so both\n"
    "                          start together; half an RTT slower). Later rounds are always\n"
    "                          synchronised by the measured RTT\n"
    "  --timeout SECONDS       to reach a relay and the peer, and with --no-relay a direct\n"
    "                          path (default 10)\n"
    "  --turn ADDR:PORT        also relay through this TURN server (coturn): a relayed\n"
    "                          candidate, used instead of the relay when no direct path\n"
    "  --turn-transport T      udp (default), tcp or tls to the TURN server\n"
    "  --turn-user USER        TURN username; with --turn-secret the user part of it\n"
    "  --turn-pass PASSWORD    TURN password (long-term credentials)\n"
    "  --turn-secret SECRET    mint REST credentials (coturn static-auth-secret) instead\n"
    "  --turn-ttl SECONDS      lifetime of minted credentials (default 86400; negative:\n"
    "                          already expired, for tests)\n"
    "  --turn-ca FILE          TLS: trust this PEM certificate (it must name the server's\n"
    "                          address)\n"
    "  --turn-pin SHA256       TLS: or pin the server certificate's SHA-256 fingerprint\n"
    "  --turn-only             TURN instead of the relay for data (the relay carries only\n"
    "                          the offers): workloads wait for a direct or TURN path\n"
    "  --turn-byte-cap BYTES   relay at most BYTES (both ways) through TURN, then stop using it\n"
    "  --hard-nat on|off       NAT type detection and the hard-NAT techniques (birthday\n"
    "                          probing, port prediction); off: the textbook floor (default on)\n"
    "  --hard-nat-sockets K    sockets the hard side opens (default 256, at most 1024)\n"
    "  --hard-nat-rate N       probes per second of the easy side (default 400)\n"
    "  --hard-nat-probes N     probes of the easy side at most (default 2000)\n"
    "  --hard-nat-time SECONDS an attempt gives up after this (default 8)\n"
    "  --relay-ca FILE         TLS to every relay, its certificate verified by this CA\n"
    "                          file (PEM) and the relay address it is dialled by\n"
    "  --relay-pin SHA256      TLS to every relay, its certificate's SHA-256 fingerprint\n"
    "                          pinned (natlab-relay tls-cert prints it); with --relay-ca\n"
    "                          both must hold. There is no fallback to plain TCP\n"
    "  --proxy HOST:PORT       reach the relays through this HTTP CONNECT proxy\n"
    "  --directory ADDR:PORT   a relay directory: hold connections to the nearest of the\n"
    "                          healthy relays it lists (by RTT), as well as any --relay\n"
    "  --directory-relays N    how many of them (default 3, at most 8)\n"
    "  --directory-poll MS     ask the directory this often (default 2000)\n"
    "  --accept PUBKEY         listener: serve only the peer with this key (default: the\n"
    "                          first whose sealed HELLO opens)\n"
    "  --user NAME             as root: become user NAME (no groups, no_new_privs) once\n"
    "                          the key is read, before any network traffic\n"
    "  --no-portmap            never ask the gateway for a port mapping (NAT-PMP, PCP,\n"
    "                          UPnP-IGD); by default a mapped address is a candidate\n"
    "  --portmap-lease SECONDS the lease asked for a mapping (default 7200), renewed at\n"
    "                          half its life\n"
    "  --portmap-gateway ADDR  ask this address instead of the default route's gateway\n"
    "  --no-addr-record        listener: publish no signed address record to the relays;\n"
    "                          connector: look none up (probe only on the answer)\n"
    "  -v, --verbose           debug logging on stderr\n"
    "  -h, --help              this help\n"
    "\n"
    "Events are JSON Lines on stdout (docs/events.md). Exit status: 0 ok, 1 a workload\n"
    "failed, 2 bad arguments or key file, 3 no relay reachable or its certificate refused,\n"
    "the token refused or --token-cmd failing at start, the peer unknown or unreachable, or\n"
    "the TURN server unreachable or refusing us, 128 + N stopped by signal N (130 SIGINT,\n"
    "143 SIGTERM).\n";

enum {
	OPT_KEY = 256,
	OPT_RELAY,
	OPT_TOKEN,
	OPT_STUN,
	OPT_BIND,
	OPT_LISTEN,
	OPT_CONNECT,
	OPT_PING,
	OPT_PING_INTERVAL,
	OPT_TRANSFER,
	OPT_PATTERN,
	OPT_HOLD,
	OPT_HOLD_DIRECT,
	OPT_NO_RELAY,
	OPT_RELAY_ONLY,
	OPT_FIRST_PUNCH,
	OPT_TIMEOUT,
	OPT_TURN,
	OPT_TURN_TRANSPORT,
	OPT_TURN_USER,
	OPT_TURN_PASS,
	OPT_TURN_SECRET,
	OPT_TURN_TTL,
	OPT_TURN_CA,
	OPT_TURN_PIN,
	OPT_TURN_ONLY,
	OPT_TURN_BYTE_CAP,
	OPT_TOKEN_CMD,
	OPT_HARD_NAT,
	OPT_HARD_NAT_SOCKETS,
	OPT_HARD_NAT_RATE,
	OPT_HARD_NAT_PROBES,
	OPT_HARD_NAT_TIME,
	OPT_RELAY_CA,
	OPT_RELAY_PIN,
	OPT_PROXY,
	OPT_DIRECTORY,
	OPT_DIRECTORY_RELAYS,
	OPT_DIRECTORY_POLL,
	OPT_ACCEPT,
	OPT_USER,
	OPT_NO_PORTMAP,
	OPT_PORTMAP_LEASE,
	OPT_PORTMAP_GATEWAY,
	OPT_NO_ADDR_RECORD,
};

static const struct option peer_options[] = {
	{ "key", required_argument, NULL, OPT_KEY },
	{ "relay", required_argument, NULL, OPT_RELAY },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "stun", required_argument, NULL, OPT_STUN },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "listen", no_argument, NULL, OPT_LISTEN },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "ping", required_argument, NULL, OPT_PING },
	{ "ping-interval", required_argument, NULL, OPT_PING_INTERVAL },
	{ "transfer", required_argument, NULL, OPT_TRANSFER },
	{ "pattern", required_argument, NULL, OPT_PATTERN },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "hold-direct", required_argument, NULL, OPT_HOLD_DIRECT },
	{ "no-relay", no_argument, NULL, OPT_NO_RELAY },
	{ "relay-only", no_argument, NULL, OPT_RELAY_ONLY },
	{ "first-punch", required_argument, NULL, OPT_FIRST_PUNCH },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "turn", required_argument, NULL, OPT_TURN },
	{ "turn-transport", required_argument, NULL, OPT_TURN_TRANSPORT },
	{ "turn-user", required_argument, NULL, OPT_TURN_USER },
	{ "turn-pass", required_argument, NULL, OPT_TURN_PASS },
	{ "turn-secret", required_argument, NULL, OPT_TURN_SECRET },
	{ "turn-ttl", required_argument, NULL, OPT_TURN_TTL },
	{ "turn-ca", required_argument, NULL, OPT_TURN_CA },
	{ "turn-pin", required_argument, NULL, OPT_TURN_PIN },
	{ "turn-only", no_argument, NULL, OPT_TURN_ONLY },
	{ "turn-byte-cap", required_argument, NULL, OPT_TURN_BYTE_CAP },
	{ "token-cmd", required_argument, NULL, OPT_TOKEN_CMD },
	{ "hard-nat", required_argument, NULL, OPT_HARD_NAT },
	{ "hard-nat-sockets", required_argument, NULL, OPT_HARD_NAT_SOCKETS },
	{ "hard-nat-rate", required_argument, NULL, OPT_HARD_NAT_RATE },
	{ "hard-nat-probes", required_argument, NULL, OPT_HARD_NAT_PROBES },
	{ "hard-nat-time", required_argument, NULL, OPT_HARD_NAT_TIME },
	{ "relay-ca", required_argument, NULL, OPT_RELAY_CA },
	{ "relay-pin", required_argument, NULL, OPT_RELAY_PIN },
	{ "proxy", required_argument, NULL, OPT_PROXY },
	{ "directory", required_argument, NULL, OPT_DIRECTORY },
	{ "directory-relays", required_argument, NULL, OPT_DIRECTORY_RELAYS },
	{ "directory-poll", required_argument, NULL, OPT_DIRECTORY_POLL },
	{ "accept", required_argument, NULL, OPT_ACCEPT },
	{ "user", required_argument, NULL, OPT_USER },
	{ "no-portmap", no_argument, NULL, OPT_NO_PORTMAP },
	{ "portmap-lease", required_argument, NULL, OPT_PORTMAP_LEASE },
	{ "portmap-gateway", required_argument, NULL, OPT_PORTMAP_GATEWAY },
	{ "no-addr-record", no_argument, NULL, OPT_NO_ADDR_RECORD },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* A usage error: an error event (harnesses read stdout), a message, exit 2. */
static int usage_error(const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	event_error_v(reason, fmt, ap);
	va_end(ap);
	return PEER_EXIT_USAGE;
}

/* Splits a comma-separated list in place (arg is argv memory). */
static int split_list(char *arg, const char **out, int max)
{
	char *save = NULL, *tok;
	int n = 0;

	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return -E2BIG;
		out[n++] = tok;
	}
	return n ? n : -EINVAL;
}

static int parse_u64(const char *s, uint64_t max, int suffixes, uint64_t *out)
{
	unsigned long long v;
	char *end;
	uint64_t mul = 1;

	if (!s[0] || s[0] == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (suffixes && *end) {
		switch (*end) {
		case 'k':
		case 'K':
			mul = 1000;
			break;
		case 'M':
			mul = 1000 * 1000;
			break;
		case 'G':
			mul = 1000 * 1000 * 1000;
			break;
		default:
			return -EINVAL;
		}
		end++;
	}
	if (*end || v > max / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* NaN fails both comparisons; "nan" would pass "v < 0 || v > max". */
	if (errno || end == s || *end || !(v >= 0 && v <= 86400 * 7))
		return -EINVAL;
	*out = v;
	return 0;
}

static int cmd_keygen(int argc, char **argv)
{
	struct identity id;
	char pub[IDENTITY_PUB_TEXT_LEN + 1];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: natlab-peer keygen FILE\n");
		return PEER_EXIT_USAGE;
	}
	rc = identity_generate(&id);
	if (rc == 0)
		rc = identity_save(&id, argv[1]);
	if (rc < 0) {
		log_warn_code(rc, "keygen \"%s\"", argv[1]);
		return PEER_EXIT_USAGE;
	}
	identity_pub_format(id.pub, pub);
	printf("%s\n", pub);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	fputs(peer_usage, stdout);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct peer_opts o = { .ping_interval_ms = 100,
		               .timeout_s = 10,
		               .turn.ttl_s = 86400,
		               .hn_sockets = HARDNAT_SOCKETS_DEFAULT,
		               .hn_rate = HARDNAT_RATE_DEFAULT,
		               .hn_probes = HARDNAT_PROBES_DEFAULT,
		               .hn_time_s = HARDNAT_TIME_DEFAULT_MS / 1000.0,
		               .directory_relays = 3,
		               .directory_poll_ms = 2000 };
	struct identity id;
	uint64_t v;
	int opt, rc;
	const char *connect = NULL, *user = NULL;
	char err[256];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "vh", peer_options, NULL)) != -1) {
		switch (opt) {
		case OPT_KEY:
			o.key_path = optarg;
			break;
		case OPT_RELAY:
			o.n_relays = split_list(optarg, o.relays, PEER_MAX_RELAYS);
			if (o.n_relays < 0)
				return usage_error("usage",
				                   "--relay: 1 to %d HOST:PORT, comma-separated",
				                   PEER_MAX_RELAYS);
			break;
		case OPT_STUN:
			o.n_stun = split_list(optarg, o.stun, PEER_MAX_RELAYS);
			if (o.n_stun < 0)
				return usage_error("usage",
				                   "--stun: 1 to %d ADDR:PORT, comma-separated",
				                   PEER_MAX_RELAYS);
			break;
		case OPT_TOKEN:
			o.token = optarg;
			break;
		case OPT_TOKEN_CMD:
			if (!optarg[0])
				return usage_error("usage", "--token-cmd: must not be empty");
			o.token_cmd = optarg;
			break;
		case OPT_BIND:
			o.bind = optarg;
			break;
		case OPT_LISTEN:
			o.listen = 1;
			break;
		case OPT_CONNECT:
			connect = optarg;
			break;
		case OPT_PING:
			if (parse_u64(optarg, 1000000, 0, &v) < 0)
				return usage_error("usage", "--ping %s: expected a count", optarg);
			o.ping = (int)v;
			break;
		case OPT_PING_INTERVAL:
			if (parse_u64(optarg, 60000, 0, &v) < 0)
				return usage_error(
				    "usage", "--ping-interval %s: expected milliseconds", optarg);
			o.ping_interval_ms = (uint32_t)v;
			break;
		case OPT_TRANSFER:
			if (parse_u64(optarg, (uint64_t)1 << 38, 1, &v) < 0)
				return usage_error(
				    "usage", "--transfer %s: expected bytes (k, M, G)", optarg);
			o.transfer = v;
			break;
		case OPT_PATTERN:
			if (!optarg[0])
				return usage_error("usage", "--pattern: must not be empty");
			o.pattern = optarg;
			break;
		case OPT_HOLD:
			if (parse_seconds(optarg, &o.hold_s) < 0)
				return usage_error("usage", "--hold %s: expected seconds", optarg);
			break;
		case OPT_HOLD_DIRECT:
			if (parse_u64(optarg, 3600000, 0, &v) < 0 || v == 0)
				return usage_error(
				    "usage", "--hold-direct %s: expected milliseconds, 1-3600000",
				    optarg);
			o.hold_direct_ms = (uint32_t)v;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(optarg, &o.timeout_s) < 0 || o.timeout_s == 0)
				return usage_error("usage", "--timeout %s: expected seconds",
				                   optarg);
			break;
		case OPT_NO_RELAY:
			o.no_relay = 1;
			break;
		case OPT_RELAY_ONLY:
			o.relay_only = 1;
			break;
		case OPT_FIRST_PUNCH:
			if (strcmp(optarg, "eager") != 0 && strcmp(optarg, "sync") != 0)
				return usage_error(
				    "usage", "--first-punch %s: expected eager or sync", optarg);
			o.first_punch_sync = optarg[0] == 's';
			break;
		case OPT_TURN:
			o.turn.server = optarg;
			break;
		case OPT_TURN_TRANSPORT:
			if (!strcmp(optarg, "udp"))
				o.turn.transport = PEER_TURN_UDP;
			else if (!strcmp(optarg, "tcp"))
				o.turn.transport = PEER_TURN_TCP;
			else if (!strcmp(optarg, "tls"))
				o.turn.transport = PEER_TURN_TLS;
			else
				return usage_error("usage",
				                   "--turn-transport %s: expected udp, tcp or tls",
				                   optarg);
			break;
		case OPT_TURN_CA:
			o.turn.ca = optarg;
			break;
		case OPT_TURN_PIN:
			o.turn.pin = optarg;
			break;
		case OPT_TURN_ONLY:
			o.turn.only = 1;
			break;
		case OPT_TURN_BYTE_CAP:
			if (parse_u64(optarg, (uint64_t)1 << 40, 1, &v) < 0 || v == 0)
				return usage_error("usage",
				                   "--turn-byte-cap %s: expected bytes (k, M, G)",
				                   optarg);
			o.turn.byte_cap = v;
			break;
		case OPT_TURN_USER:
			o.turn.user = optarg;
			break;
		case OPT_TURN_PASS:
			o.turn.password = optarg;
			break;
		case OPT_TURN_SECRET:
			if (!optarg[0])
				return usage_error("usage", "--turn-secret: must not be empty");
			o.turn.secret = optarg;
			break;
		case OPT_TURN_TTL: {
			char *end;

			errno = 0;
			o.turn.ttl_s = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end)
				return usage_error("usage", "--turn-ttl %s: expected whole seconds",
				                   optarg);
			break;
		}
		case OPT_HARD_NAT:
			if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
				return usage_error("usage", "--hard-nat %s: expected on or off",
				                   optarg);
			o.hard_nat_off = strcmp(optarg, "off") == 0;
			break;
		case OPT_HARD_NAT_SOCKETS:
			if (parse_u64(optarg, 1024, 0, &v) < 0 || v == 0)
				return usage_error(
				    "usage", "--hard-nat-sockets %s: expected 1 to 1024 sockets",
				    optarg);
			o.hn_sockets = (uint32_t)v;
			break;
		case OPT_HARD_NAT_RATE:
			if (parse_u64(optarg, 10000, 0, &v) < 0 || v == 0)
				return usage_error(
				    "usage",
				    "--hard-nat-rate %s: expected 1 to 10000 probes per "
				    "second",
				    optarg);
			o.hn_rate = (uint32_t)v;
			break;
		case OPT_HARD_NAT_PROBES:
			if (parse_u64(optarg, HARDNAT_PORT_COUNT, 0, &v) < 0 || v == 0)
				return usage_error("usage",
				                   "--hard-nat-probes %s: expected 1 to %d probes",
				                   optarg, HARDNAT_PORT_COUNT);
			o.hn_probes = (uint32_t)v;
			break;
		case OPT_HARD_NAT_TIME:
			if (parse_seconds(optarg, &o.hn_time_s) < 0 || o.hn_time_s == 0 ||
			    o.hn_time_s > 600)
				return usage_error(
				    "usage", "--hard-nat-time %s: expected seconds (at most 600)",
				    optarg);
			break;
		case OPT_DIRECTORY:
			o.directory = optarg;
			break;
		case OPT_DIRECTORY_RELAYS:
			if (parse_u64(optarg, 8, 0, &v) < 0 || v == 0)
				return usage_error(
				    "usage", "--directory-relays %s: expected 1 to 8", optarg);
			o.directory_relays = (int)v;
			break;
		case OPT_DIRECTORY_POLL:
			if (parse_u64(optarg, 3600000, 0, &v) < 0 || v < 100)
				return usage_error(
				    "usage",
				    "--directory-poll %s: expected milliseconds, at least 100",
				    optarg);
			o.directory_poll_ms = (uint32_t)v;
			break;
		case OPT_RELAY_CA:
			o.relay_ca = optarg;
			break;
		case OPT_RELAY_PIN:
			o.relay_pin = optarg;
			break;
		case OPT_PROXY:
			o.proxy = optarg;
			break;
		case OPT_ACCEPT:
			if (identity_pub_parse(o.accept_key, optarg) < 0)
				return usage_error(
				    "bad_peer_key",
				    "--accept %s: expected a public key of 64 hex characters",
				    optarg);
			o.have_accept = 1;
			break;
		case OPT_USER:
			user = optarg;
			break;
		case OPT_NO_PORTMAP:
			o.no_portmap = 1;
			break;
		case OPT_NO_ADDR_RECORD:
			o.no_addr_record = 1;
			break;
		case OPT_PORTMAP_LEASE:
			if (parse_u64(optarg, 604800, 0, &v) < 0 || v < 2)
				return usage_error(
				    "usage", "--portmap-lease %s: expected seconds, 2 to 604800",
				    optarg);
			o.portmap_lease = (uint32_t)v;
			break;
		case OPT_PORTMAP_GATEWAY:
			if (inet_pton(AF_INET, optarg, &o.portmap_gateway) != 1)
				return usage_error("usage",
				                   "--portmap-gateway %s: expected an IPv4 address",
				                   optarg);
			break;
		case 'v':
			o.verbose = 1;
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'h':
			fputs(peer_usage, stdout);
			return 0;
		default:
			/* getopt said which on stderr; harnesses read stdout. */
			fputs(peer_usage, stderr);
			return usage_error("usage",
			                   "%s: unknown option, or its value is missing "
			                   "(see --help)",
			                   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("usage", "unexpected argument \"%s\" (see --help)",
		                   argv[optind]);
	if (o.listen == !!connect)
		return usage_error("usage", "give exactly one of --listen and --connect PUBKEY");
	if (connect && relay_addr_is(connect)) {
		/* A relay address: the listener's key, and its relay, dialled if not ours. */
		static char hostport[RELAY_ADDR_HOSTPORT_MAX];
		const char *why = NULL;

		if (relay_addr_parse(connect, hostport, sizeof(hostport), o.peer_key, &why) < 0)
			return usage_error("bad_peer_key", "--connect %s: %s", connect, why);
		o.connect_relay = hostport;
		o.have_peer_key = 1;
	}
	if (!o.n_relays && !o.connect_relay && !o.directory)
		return usage_error("usage", "--relay HOST:PORT, --directory ADDR:PORT or --connect "
		                            "with a relay address is required (see --help)");
	if (o.have_accept && !o.listen)
		return usage_error("usage", "--accept is for --listen (--connect names its peer)");
	if (o.no_relay && o.relay_only)
		return usage_error("usage", "--no-relay and --relay-only exclude each other");
	if (o.turn.server && !o.turn.secret && (!o.turn.user || !o.turn.password))
		return usage_error("usage",
		                   "--turn needs --turn-secret, or --turn-user and --turn-pass");
	/* --relay-only sends no offers, so the peer would never learn our relayed address;
	 * --no-relay keeps data off every relay, TURN included. */
	if (o.turn.server && (o.relay_only || o.no_relay))
		return usage_error("usage",
		                   "--turn excludes --relay-only and --no-relay (--turn-only "
		                   "relays through TURN alone)");
	if (o.turn.only && !o.turn.server)
		return usage_error("usage", "--turn-only needs --turn");
	if (o.turn.transport == PEER_TURN_TLS && !o.turn.ca && !o.turn.pin)
		return usage_error("usage",
		                   "--turn-transport tls needs --turn-ca FILE or --turn-pin "
		                   "SHA256 (no unverified TLS)");
	if (o.turn.server && o.turn.secret && o.turn.password)
		return usage_error("usage", "--turn-secret and --turn-pass exclude each other");
	if (o.token && o.token_cmd)
		return usage_error("usage", "--token and --token-cmd exclude each other");
	if (connect && !o.have_peer_key) {
		if (identity_pub_parse(o.peer_key, connect) < 0)
			return usage_error(
			    "bad_peer_key",
			    "--connect %s: expected a public key of 64 hex characters", connect);
		o.have_peer_key = 1;
	}
	if (o.key_path) {
		rc = identity_load(&id, o.key_path);
		if (rc < 0)
			return usage_error(
			    "bad_key", "key file \"%s\": %s", o.key_path,
			    rc == -EINVAL ? "not a natlab key (64 hex characters of seed expected)"
			                  : strerror(-rc));
	} else {
		rc = identity_generate(&id);
		if (rc < 0)
			return usage_error("bad_key", "cannot generate an identity: %s",
			                   strerror(-rc));
	}
	if (o.have_peer_key && memcmp(o.peer_key, id.pub, IDENTITY_PUB_LEN) == 0)
		return usage_error("bad_peer_key", "--connect names our own key");
	if (user && priv_drop(user, err, sizeof(err)) < 0) {
		sodium_memzero(&id, sizeof(id));
		return usage_error("bad_user", "%s", err);
	}
	rc = peer_run(&o, &id);
	sodium_memzero(&id, sizeof(id));
	return rc;
}

struct peer_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct peer_cmd peer_cmds[] = {
	{ "keygen", cmd_keygen, "write an identity key file and print its public key" },
	{ "help", cmd_help, "show the help" },
	{ "run", cmd_run, "run the peer (the default when the first argument is an option)" },
};

int main(int argc, char **argv)
{
	size_t i;

	log_init("natlab-peer", LOG_LEVEL_INFO);
	/* A relay that dies mid-write must surface as EPIPE on its connection, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	event_init();
	if (argc < 2) {
		fputs(peer_usage, stderr);
		return usage_error("usage", "no command or option given (see --help)");
	}
	if (argv[1][0] == '-')
		return cmd_run(argc, argv);
	for (i = 0; i < sizeof(peer_cmds) / sizeof(peer_cmds[0]); i++)
		if (strcmp(argv[1], peer_cmds[i].name) == 0)
			return peer_cmds[i].fn(argc - 1, argv + 1);
	fputs(peer_usage, stderr);
	return usage_error("usage", "unknown command \"%s\" (see --help)", argv[1]);
}
