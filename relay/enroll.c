/* SPDX-License-Identifier: MIT */
/*
 * A relay enrolling with a relay directory (directory.h). The first run presents the
 * one-time enrollment token and saves the id and secret the directory gives back in
 * the --enroll-state file (0600); a later run of the same command finds that file and
 * presents them instead, so the token (used up by then) is not needed again. Either way
 * the directory learns the relay's current addresses and starts polling its /healthz.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "natlab/addr.h"
#include "natlab/directory.h"
#include "natlab/http_client.h"
#include "natlab/log.h"

#define ENROLL_TIMEOUT_MS 5000

struct enroll_state {
	int done;
	int status;
	json_t *answer; /* the directory's JSON answer, NULL if none */
};

static void enroll_cb(void *arg, int status, const char *body, size_t len)
{
	struct enroll_state *st = arg;

	st->done = 1;
	st->status = status;
	st->answer = status > 0 ? json_loadb(body, len, 0, NULL) : NULL;
}

/* The saved id and secret, if an earlier run enrolled: 1, 0 (no file), -EINVAL. */
static int enroll_load(const char *path, const char **id, const char **secret, json_t **saved)
{
	json_error_t err;

	*saved = json_load_file(path, 0, &err);
	if (!*saved)
		return access(path, F_OK) == 0 ? -EINVAL : 0;
	if (json_unpack(*saved, "{s:s, s:s}", "id", id, "secret", secret) < 0 ||
	    strlen(*id) != DIR_ID_LEN || strlen(*secret) != DIR_SECRET_LEN)
		return -EINVAL;
	return 1;
}

static int enroll_save(const char *path, const char *directory, const char *id, const char *secret)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:s}", "directory", directory, "id", id, "secret", secret);
	char *text = json_dumps(o, JSON_INDENT(1));
	char tmp[4096];
	int fd, rc = 0, n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	size_t len = text ? strlen(text) : 0;

	json_decref(o);
	if (!text || n < 0 || (size_t)n >= sizeof(tmp)) {
		free(text);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = -errno;
	else if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	if (fd >= 0 && close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	free(text);
	return rc;
}

/* What the relay tells the directory: the advertised address, or the one it listens on. */
static int enroll_addrs(const struct relay_enroll *e, const struct sockaddr *listen,
                        const struct sockaddr *health, char *relay, char *hp, size_t cap)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)listen;

	if (e->advertise) {
		struct sockaddr_storage ss;

		if (addr_parse(e->advertise, &ss, ADDR_PORT_REQUIRED) < 0) {
			log_warnx("--advertise \"%s\": expected ADDR:PORT", e->advertise);
			return -EINVAL;
		}
		snprintf(relay, cap, "%s", e->advertise);
	} else if (listen->sa_family == AF_INET && in->sin_addr.s_addr == 0) {
		log_warnx("--directory: the relay listens on every address: say which one peers "
		          "use with --advertise ADDR:PORT");
		return -EINVAL;
	} else if (addr_format(listen, relay, cap) < 0) {
		return -EINVAL;
	}
	return addr_format(health, hp, cap) < 0 ? -EINVAL : 0;
}

int relay_enroll_run(uv_loop_t *loop, const struct relay_enroll *e, const struct sockaddr *listen,
                     const struct sockaddr *health)
{
	struct enroll_state st = { 0 };
	struct sockaddr_storage dir;
	char relay[ADDR_TEXT_MAX], hp[ADDR_TEXT_MAX];
	const char *id = NULL, *secret = NULL, *err = "?", *msg = "";
	json_t *saved = NULL, *body = NULL;
	char *text = NULL;
	int reuse, rc;

	rc = enroll_addrs(e, listen, health, relay, hp, sizeof(relay));
	if (rc < 0)
		goto out;
	rc = addr_parse(e->directory, &dir, ADDR_PORT_REQUIRED);
	if (rc < 0) {
		log_warnx("--directory \"%s\": expected ADDR:PORT", e->directory);
		goto out;
	}
	reuse = enroll_load(e->state_path, &id, &secret, &saved);
	if (reuse < 0) {
		log_warnx(
		    "--enroll-state \"%s\": not an enrollment state (JSON with id and secret); "
		    "remove it to enroll again with a new token",
		    e->state_path);
		rc = -EINVAL;
		goto out;
	}
	if (!reuse && !e->token) {
		log_warnx("--enroll-state \"%s\" does not exist yet: the first run needs "
		          "--enroll-token (natlab-relay directory-token)",
		          e->state_path);
		rc = -EINVAL;
		goto out;
	}
	body = reuse
	           ? json_pack("{s:s, s:s, s:s, s:s}", "id", id, "secret", secret, "relay", relay,
	                       "health", hp)
	           : json_pack("{s:s, s:s, s:s}", "token", e->token, "relay", relay, "health", hp);
	text = json_dumps(body, JSON_COMPACT);
	if (!text || !http_client_request(loop, (const struct sockaddr *)&dir, "POST", "/enroll",
	                                  text, ENROLL_TIMEOUT_MS, enroll_cb, &st)) {
		rc = -errno;
		log_warn_code(rc, "directory %s", e->directory);
		goto out;
	}
	while (!st.done)
		uv_run(loop, UV_RUN_ONCE);
	if (st.status != 200) {
		if (st.answer)
			json_unpack(st.answer, "{s:s, s:s}", "error", &err, "message", &msg);
		if (st.status < 0)
			log_warnx("directory %s: %s", e->directory, uv_strerror(st.status));
		else
			log_warnx("directory %s refused the enrollment: %s: %s", e->directory, err,
			          msg);
		rc = -EACCES;
		goto out;
	}
	if (!reuse) {
		if (!st.answer ||
		    json_unpack(st.answer, "{s:s, s:s}", "id", &id, "secret", &secret) < 0 ||
		    strlen(id) != DIR_ID_LEN || strlen(secret) != DIR_SECRET_LEN) {
			log_warnx("directory %s: its answer to the enrollment has no id and secret "
			          "(is it a natlab relay directory?)",
			          e->directory);
			rc = -EBADMSG;
			goto out;
		}
		rc = enroll_save(e->state_path, e->directory, id, secret);
		if (rc < 0) {
			log_warn_code(rc, "--enroll-state \"%s\": cannot save the enrollment",
			              e->state_path);
			goto out;
		}
	}
	printf("{\"event\":\"enrolled\",\"directory\":\"%s\",\"id\":\"%s\",\"relay\":\"%s\","
	       "\"reused\":%s}\n",
	       e->directory, id, relay, reuse ? "true" : "false");
	fflush(stdout);
	rc = 0;
out:
	json_decref(st.answer);
	json_decref(saved);
	json_decref(body);
	free(text);
	return rc;
}
