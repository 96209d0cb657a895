/* SPDX-License-Identifier: MIT */
/* natlab-relay tls-cert: a self-signed certificate and key for --tls-listen. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/log.h"
#include "natlab/tls.h"

int relay_cmd_tls_cert(int argc, char **argv);

static const char relay_cert_usage[] =
    "usage: natlab-relay tls-cert FILE [--name NAME[,NAME...]] [--days N]\n"
    "Writes a self-signed ECDSA P-256 certificate to FILE.crt and its key to FILE.key\n"
    "(mode 0600), never over existing files, and prints the certificate's SHA-256\n"
    "fingerprint (64 hex digits) for natlab-peer --relay-pin. NAMEs are the IP addresses\n"
    "and DNS names clients reach the relay by, checked under natlab-peer --relay-ca\n"
    "(default localhost,127.0.0.1,::1); N days of validity (default 365).\n";

static const struct option relay_cert_options[] = {
	{ "name", required_argument, NULL, 'n' },
	{ "days", required_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int relay_cmd_tls_cert(int argc, char **argv)
{
	const char *names = "localhost,127.0.0.1,::1";
	char cert[4096], key[4096], err[TLS_ERR_MAX], text[TLS_FP_TEXT_LEN + 1], *end;
	unsigned long days = 365;
	uint8_t fp[TLS_FP_LEN];
	int opt, n, m;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", relay_cert_options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			names = optarg;
			break;
		case 'd':
			errno = 0;
			days = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || !days ||
			    days > 36500) {
				log_warnx("tls-cert: --days \"%s\": give 1 to 36500", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(relay_cert_usage, stdout);
			return 0;
		default:
			fputs(relay_cert_usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(relay_cert_usage, stderr);
		return 2;
	}
	n = snprintf(cert, sizeof(cert), "%s.crt", argv[optind]);
	m = snprintf(key, sizeof(key), "%s.key", argv[optind]);
	if (n < 0 || (size_t)n >= sizeof(cert) || m < 0 || (size_t)m >= sizeof(key)) {
		log_warnx("tls-cert: \"%s\": path too long", argv[optind]);
		return 2;
	}
	if (tls_cert_make(cert, key, names, (unsigned)days, fp, err, sizeof(err)) < 0) {
		log_warnx("tls-cert: %s", err);
		return 1;
	}
	tls_fp_format(fp, text);
	printf("%s\n", text);
	return 0;
}
