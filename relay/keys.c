/* SPDX-License-Identifier: MIT */
/* The keygen and token subcommands: issuer keys and the tokens they sign. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "natlab/identity.h"
#include "natlab/log.h"
#include "natlab/token.h"

int relay_cmd_keygen(int argc, char **argv);
int relay_cmd_token(int argc, char **argv);

int relay_cmd_keygen(int argc, char **argv)
{
	char pub[IDENTITY_PUB_TEXT_LEN + 1];
	struct identity id;
	int rc;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
		        "usage: natlab-relay keygen FILE\n"
		        "Writes an Ed25519 issuer key to FILE (secret, mode 0600) and FILE.pub,\n"
		        "and prints the public key. Give FILE.pub to relays as --issuer-key.\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	rc = identity_generate(&id);
	if (rc == 0)
		rc = identity_save(&id, argv[1]);
	sodium_memzero(&id.secret, sizeof(id.secret));
	if (rc < 0) {
		log_warn_code(rc, "keygen \"%s\"%s", argv[1],
		              rc == -EEXIST ? " (refusing to overwrite a key; remove it first)"
		                            : "");
		return 1;
	}
	identity_pub_format(id.pub, pub);
	printf("%s\n", pub);
	return 0;
}

static const char relay_token_usage[] =
    "usage: natlab-relay token --issuer-key FILE --peer PUBKEY --ttl SECONDS [--id ID]\n"
    "Prints an access token for PUBKEY (64 hex characters) valid for SECONDS,\n"
    "signed by the issuer secret key FILE. ID (1-64 of [A-Za-z0-9._-]) names the token\n"
    "in revocation files; a random one is chosen if omitted.\n";

static const struct option relay_token_options[] = {
	{ "issuer-key", required_argument, NULL, 'k' },
	{ "peer", required_argument, NULL, 'p' },
	{ "ttl", required_argument, NULL, 't' },
	{ "id", required_argument, NULL, 'i' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct relay_token_args {
	const char *key_path, *peer, *ttl, *id;
};

static int relay_token_parse(struct relay_token_args *a, int argc, char **argv)
{
	int opt;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", relay_token_options, NULL)) != -1) {
		switch (opt) {
		case 'k':
			a->key_path = optarg;
			break;
		case 'p':
			a->peer = optarg;
			break;
		case 't':
			a->ttl = optarg;
			break;
		case 'i':
			a->id = optarg;
			break;
		case 'h':
			fputs(relay_token_usage, stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (!a->key_path || !a->peer || !a->ttl || optind < argc) {
		fputs(relay_token_usage, stderr);
		return -EINVAL;
	}
	return 0;
}

int relay_cmd_token(int argc, char **argv)
{
	char text[TOKEN_TEXT_MAX], rand_id[17];
	uint8_t peer[IDENTITY_PUB_LEN], r[8];
	struct relay_token_args a;
	struct identity issuer;
	unsigned long long ttl;
	struct token t;
	char *end;
	int rc;

	if (relay_token_parse(&a, argc, argv) < 0)
		return 2;
	if (identity_pub_parse(peer, a.peer) < 0) {
		log_warnx("--peer \"%s\": not a public key (64 hex characters, as natlab-peer "
		          "keygen prints)",
		          a.peer);
		return 2;
	}
	ttl = strtoull(a.ttl, &end, 10);
	if (!*a.ttl || *end || *a.ttl == '-' || ttl == 0 || ttl > 10ull * 365 * 86400) {
		log_warnx("--ttl \"%s\": seconds between 1 and 10 years", a.ttl);
		return 2;
	}
	if (!a.id) {
		identity_init();
		randombytes_buf(r, sizeof(r));
		sodium_bin2hex(rand_id, sizeof(rand_id), r, sizeof(r));
		a.id = rand_id;
	}
	if (!token_id_valid(a.id)) {
		log_warnx("--id \"%s\": use 1-64 characters of [A-Za-z0-9._-]", a.id);
		return 2;
	}
	rc = identity_load(&issuer, a.key_path);
	if (rc < 0) {
		log_warn_code(rc, "issuer key \"%s\" (the secret file from keygen, not .pub)",
		              a.key_path);
		return 1;
	}
	rc = token_issue(&t, &issuer, peer, (uint64_t)time(NULL) + ttl, a.id);
	sodium_memzero(&issuer, sizeof(issuer));
	if (rc == 0)
		rc = token_encode_text(&t, text, sizeof(text));
	if (rc < 0) {
		log_warn_code(rc, "token");
		return 1;
	}
	printf("%s\n", text);
	return 0;
}
