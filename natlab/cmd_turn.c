/* SPDX-License-Identifier: MIT */
/*
 * natlab turn-cred: TURN REST credentials (coturn's use-auth-secret), as a WebRTC
 * application's backend mints them for its clients: username "expiry:user", password
 * base64(HMAC-SHA1(secret, username)).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/turn.h"
#include "natlab/units.h"

#define TURN_CRED_TTL_DEFAULT 86400

static void turn_cred_usage(FILE *f)
{
	fprintf(f,
	        "Usage: natlab turn-cred --secret SECRET [--user USER] [--ttl SECONDS] [--json]\n\n"
	        "Prints TURN REST credentials for coturn's static-auth-secret SECRET: the\n"
	        "username (\"expiry:USER\", expiry in Unix seconds) on the first line, the\n"
	        "password on the second, or one JSON object with --json. --ttl (default %d,\n"
	        "24 h) may be negative to mint credentials that have already expired.\n",
	        TURN_CRED_TTL_DEFAULT);
}

int cmd_turn_cred(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "secret", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "ttl", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *secret = NULL, *user = "";
	char username[TURN_TEXT_MAX + 1], password[64];
	long long ttl = TURN_CRED_TTL_DEFAULT;
	int c, json = 0, rc;
	uint64_t expiry;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:u:t:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			secret = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 't':
			if (lab_integer_parse(optarg, -31536000, 31536000, &ttl) < 0)
				log_fatalx("natlab turn-cred: --ttl must be whole seconds within a "
				           "year either way, got \"%s\"",
				           optarg);
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			turn_cred_usage(stdout);
			return 0;
		default:
			turn_cred_usage(stderr);
			return 2;
		}
	}
	if (!secret || optind != argc) {
		turn_cred_usage(stderr);
		return 2;
	}
	expiry = (uint64_t)((long long)time(NULL) + ttl);
	rc = turn_rest_credentials(secret, user, expiry, username, sizeof(username), password,
	                           sizeof(password));
	if (rc == -EINVAL)
		log_fatalx("natlab turn-cred: %s", secret[0] ? "--user must not contain ':'"
		                                             : "--secret must not be empty");
	if (rc < 0)
		log_fatalx("natlab turn-cred: cannot mint credentials: %s", strerror(-rc));
	if (json) {
		json_t *o =
		    json_pack("{s:s, s:s, s:I, s:I}", "username", username, "password", password,
		              "ttl", (json_int_t)ttl, "expiry", (json_int_t)expiry);

		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		printf("%s\n%s\n", username, password);
	}
	return 0;
}
