/* SPDX-License-Identifier: MIT */
/*
 * The relay directory, `natlab-relay directory`: a small HTTP/1.0 JSON service.
 *
 *   POST /enroll  {"token","relay","health"}     a new relay: one-time token (dir_tokens.c)
 *                 {"id","secret","relay","health"} a relay that enrolled before (re-run)
 *                 -> 200 {"id","secret"} | 4xx {"error","message"}
 *   GET /relays   -> 200 {"relays":[{"id","relay"}...]}: the healthy ones
 *   GET /healthz  -> 200 ok
 *
 * Every --poll ms it asks each relay's /healthz (its `health` address); --fail answers
 * missed in a row take it off the list, one good answer puts it back. Enrolled relays
 * are kept in DIR/relays (JSON, with a hash of each secret), so a restarted directory
 * knows them. Events (JSON Lines) on stdout: ready, enrolled, health.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "natlab/addr.h"
#include "natlab/directory.h"
#include "natlab/http_client.h"
#include "natlab/identity.h"
#include "natlab/log.h"
#include "natlab/util.h"

#define DIR_REQ_MAX      4096
#define DIR_CONN_MAX     64
#define DIR_CONN_TIMEOUT 5000
#define DIR_RELAYS_MAX   1024
#define DIR_HOSTPORT_MAX 64

struct dir_relay {
	char id[DIR_ID_LEN + 1];
	uint8_t secret_hash[32];
	char relay[DIR_HOSTPORT_MAX];
	char health[ADDR_TEXT_MAX];
	struct sockaddr_storage health_addr;
	int healthy; /* listed */
	int fails;   /* polls missed in a row */
	struct http_client *poll;
	struct directory *d;
};

struct directory {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t poll_timer;
	uv_signal_t sigterm, sigint;
	const char *dir;
	uint32_t poll_ms, fail_max;
	struct dir_relay *relays;
	size_t n_relays;
	int n_conns;
	struct sockaddr_storage bound;
};

struct dir_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wreq;
	struct directory *d;
	int closing;
	size_t len;
	char *out;
	char req[DIR_REQ_MAX + 1];
};

static void dir_emit(json_t *o)
{
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(o);
}

static void dir_hash(const char *secret, uint8_t out[32])
{
	crypto_generichash(out, 32, (const uint8_t *)secret, strlen(secret), NULL, 0);
}

/* --- the enrolled relays, in DIR/relays --- */

static int dir_save(struct directory *d)
{
	char path[4096], tmp[4200], hash[65];
	json_t *arr = json_array();
	size_t i;
	int rc = 0;

	for (i = 0; i < d->n_relays; i++) {
		sodium_bin2hex(hash, sizeof(hash), d->relays[i].secret_hash, 32);
		json_array_append_new(arr,
		                      json_pack("{s:s, s:s, s:s, s:s}", "id", d->relays[i].id,
		                                "secret_hash", hash, "relay", d->relays[i].relay,
		                                "health", d->relays[i].health));
	}
	if (snprintf(path, sizeof(path), "%s/relays", d->dir) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		rc = -ENAMETOOLONG;
	else if (json_dump_file(arr, tmp, JSON_INDENT(1)) < 0 || rename(tmp, path) < 0)
		rc = -EIO;
	json_decref(arr);
	if (rc < 0)
		log_warnx("directory state \"%s/relays\": cannot write it", d->dir);
	return rc;
}

/* Sets a relay's addresses from text; -EINVAL names nothing (the caller does). */
static int dir_relay_set(struct dir_relay *r, const char *relay, const char *health)
{
	struct sockaddr_storage ss;

	if (strlen(relay) >= sizeof(r->relay) || strlen(health) >= sizeof(r->health) ||
	    addr_parse(relay, &ss, ADDR_PORT_REQUIRED) < 0 ||
	    addr_parse(health, &r->health_addr, ADDR_PORT_REQUIRED) < 0)
		return -EINVAL;
	snprintf(r->relay, sizeof(r->relay), "%s", relay);
	snprintf(r->health, sizeof(r->health), "%s", health);
	return 0;
}

static int dir_load(struct directory *d)
{
	char path[4096];
	json_error_t err;
	json_t *arr, *o;
	const char *id, *hash, *relay, *health;
	struct dir_relay *r;
	size_t i;

	if (snprintf(path, sizeof(path), "%s/relays", d->dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	arr = json_load_file(path, 0, &err);
	if (!arr) {
		if (access(path, F_OK) != 0)
			return 0; /* no relay enrolled yet */
		log_warnx("directory state \"%s\": line %d: %s (fix or remove it)", path, err.line,
		          err.text);
		return -EINVAL;
	}
	d->relays = calloc(DIR_RELAYS_MAX, sizeof(*d->relays));
	if (!d->relays || !json_is_array(arr) || json_array_size(arr) > DIR_RELAYS_MAX)
		goto bad;
	json_array_foreach(arr, i, o)
	{
		r = &d->relays[d->n_relays];
		if (json_unpack(o, "{s:s, s:s, s:s, s:s}", "id", &id, "secret_hash", &hash, "relay",
		                &relay, "health", &health) < 0 ||
		    strlen(id) != DIR_ID_LEN ||
		    sodium_hex2bin(r->secret_hash, 32, hash, strlen(hash), NULL, NULL, NULL) < 0 ||
		    dir_relay_set(r, relay, health) < 0)
			goto bad;
		memcpy(r->id, id, DIR_ID_LEN + 1);
		d->n_relays++;
	}
	json_decref(arr);
	return 0;
bad:
	json_decref(arr);
	log_warnx("directory state \"%s\": not a list of {id, secret_hash, relay, health} "
	          "(fix or remove it)",
	          path);
	return -EINVAL;
}

/* --- health polls --- */

static void dir_health_event(struct dir_relay *r, const char *why)
{
	dir_emit(json_pack("{s:s, s:s, s:s, s:b, s:s}", "event", "health", "id", r->id, "relay",
	                   r->relay, "healthy", r->healthy, "reason", why));
}

static void dir_poll_cb(void *arg, int status, const char *body, size_t len)
{
	struct dir_relay *r = arg;
	char why[64];

	r->poll = NULL;
	if (status == 200) {
		r->fails = 0;
		if (!r->healthy) {
			r->healthy = 1;
			dir_health_event(r, "ok");
		}
		return;
	}
	if (status > 0)
		snprintf(why, sizeof(why), "HTTP %d", status);
	else
		snprintf(why, sizeof(why), "%s", uv_strerror(status));
	if (++r->fails >= (int)r->d->fail_max && r->healthy) {
		r->healthy = 0;
		dir_health_event(r, why);
	}
}

static void dir_poll_one(struct directory *d, struct dir_relay *r)
{
	if (r->poll)
		return; /* the last one has not answered yet: its timeout will count */
	r->d = d;
	r->poll = http_client_request(d->loop, (const struct sockaddr *)&r->health_addr, "GET",
	                              "/healthz", NULL, d->poll_ms, dir_poll_cb, r);
}

static void dir_poll_timer_cb(uv_timer_t *t)
{
	struct directory *d = container_of(t, struct directory, poll_timer);
	size_t i;

	for (i = 0; i < d->n_relays; i++)
		dir_poll_one(d, &d->relays[i]);
}

/* --- the HTTP front --- */

static void dir_conn_closed_cb(uv_handle_t *h)
{
	struct dir_conn *c = h->data;

	if (--c->closing == 0) {
		c->d->n_conns--;
		free(c->out);
		free(c);
	}
}

static void dir_conn_close(struct dir_conn *c)
{
	if (c->closing)
		return;
	c->closing = 2;
	uv_close((uv_handle_t *)&c->tcp, dir_conn_closed_cb);
	uv_close((uv_handle_t *)&c->timer, dir_conn_closed_cb);
}

static void dir_written_cb(uv_write_t *w, int status)
{
	dir_conn_close(w->data);
}

/* Sends the answer (o stolen) and closes. */
static void dir_respond(struct dir_conn *c, int code, json_t *o)
{
	char *body = json_dumps(o, JSON_COMPACT);
	const char *text = code == 200   ? "OK"
	                   : code == 403 ? "Forbidden"
	                   : code == 404 ? "Not Found"
	                                 : "Bad Request";
	uv_buf_t b;
	int n;

	json_decref(o);
	uv_read_stop((uv_stream_t *)&c->tcp);
	n = body ? asprintf(&c->out,
	                    "HTTP/1.0 %d %s\r\nContent-Type: application/json\r\n"
	                    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
	                    code, text, strlen(body) + 1, body)
	         : -1;
	free(body);
	if (n < 0) {
		c->out = NULL;
		dir_conn_close(c);
		return;
	}
	b = uv_buf_init(c->out, (unsigned)n);
	c->wreq.data = c;
	if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, dir_written_cb) < 0)
		dir_conn_close(c);
}

static void dir_refuse(struct dir_conn *c, int code, const char *error, const char *message)
{
	dir_respond(c, code, json_pack("{s:s, s:s}", "error", error, "message", message));
}

static struct dir_relay *dir_find(struct directory *d, const char *id)
{
	size_t i;

	for (i = 0; i < d->n_relays; i++)
		if (strcmp(d->relays[i].id, id) == 0)
			return &d->relays[i];
	return NULL;
}

static void dir_enroll_token(struct dir_conn *c, const char *token, const char *relay,
                             const char *health)
{
	struct directory *d = c->d;
	struct dir_relay r = { 0 };
	uint8_t raw[DIR_SECRET_LEN / 2], idraw[DIR_ID_LEN / 2];
	char secret[DIR_SECRET_LEN + 1];
	int rc;

	if (dir_relay_set(&r, relay, health) < 0) {
		dir_refuse(c, 400, "bad_request",
		           "relay and health must be ADDR:PORT (a.b.c.d:port or [v6]:port)");
		return;
	}
	if (d->n_relays == DIR_RELAYS_MAX) {
		dir_refuse(c, 403, "full", "the directory holds as many relays as it can");
		return;
	}
	rc = dir_token_consume(d->dir, token, (uint64_t)time(NULL));
	switch (rc) {
	case 0:
		break;
	case -EALREADY:
		dir_refuse(
		    c, 403, "token_used",
		    "this enrollment token was used already: each is good for one enrollment "
		    "(issue another with natlab-relay directory-token)");
		return;
	case -ETIME:
		dir_refuse(c, 403, "token_expired",
		           "this enrollment token has expired (issue another with natlab-relay "
		           "directory-token)");
		return;
	case -ENOENT:
	case -EINVAL:
		dir_refuse(c, 403, "token_unknown",
		           "this directory never issued that enrollment token");
		return;
	default:
		log_warn_code(rc, "directory \"%s\": tokens", d->dir);
		dir_refuse(c, 500, "internal", "the directory cannot read its tokens");
		return;
	}
	randombytes_buf(idraw, sizeof(idraw));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(r.id, sizeof(r.id), idraw, sizeof(idraw));
	sodium_bin2hex(secret, sizeof(secret), raw, sizeof(raw));
	dir_hash(secret, r.secret_hash);
	d->relays[d->n_relays++] = r;
	dir_save(d);
	dir_emit(json_pack("{s:s, s:s, s:s, s:b}", "event", "enrolled", "id", r.id, "relay", relay,
	                   "reused", 0));
	dir_poll_one(d, &d->relays[d->n_relays - 1]);
	dir_respond(c, 200, json_pack("{s:s, s:s}", "id", r.id, "secret", secret));
}

/* A relay that enrolled before: its saved id and secret instead of a token. */
static void dir_enroll_again(struct dir_conn *c, const char *id, const char *secret,
                             const char *relay, const char *health)
{
	struct dir_relay *r = dir_find(c->d, id), tmp = { 0 };
	uint8_t hash[32];

	dir_hash(secret, hash);
	if (!r || sodium_memcmp(hash, r->secret_hash, 32) != 0) {
		dir_refuse(c, 403, "bad_credentials",
		           "unknown relay id or wrong secret: remove the enrollment state file and "
		           "enroll again with a new token");
		return;
	}
	if (dir_relay_set(&tmp, relay, health) < 0) {
		dir_refuse(c, 400, "bad_request",
		           "relay and health must be ADDR:PORT (a.b.c.d:port or [v6]:port)");
		return;
	}
	dir_relay_set(r, relay, health);
	dir_save(c->d);
	dir_emit(json_pack("{s:s, s:s, s:s, s:b}", "event", "enrolled", "id", r->id, "relay", relay,
	                   "reused", 1));
	r->fails = 0;
	dir_poll_one(c->d, r);
	dir_respond(c, 200, json_pack("{s:s}", "id", r->id));
}

/* Whether two socket addresses name the same host (an IPv4-mapped IPv6 one as IPv4). */
static bool dir_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;

	if (a->ss_family == AF_INET && b->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&b6->sin6_addr))
		return memcmp(&a4->sin_addr, &b6->sin6_addr.s6_addr[12], 4) == 0;
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr);
}

/*
 * The directory polls a relay's health address every --poll ms: it must be on the host
 * that enrolls, or a token (or a saved secret) would buy polls of any address. An address
 * that does not parse is left to dir_relay_set's bad_request.
 */
static bool dir_health_from_source(struct dir_conn *c, const char *health)
{
	struct sockaddr_storage want, src;
	int len = sizeof(src);

	if (addr_parse(health, &want, ADDR_PORT_REQUIRED) < 0)
		return true;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&src, &len) < 0)
		return false;
	return dir_same_host(&want, &src);
}

static void dir_enroll(struct dir_conn *c, const char *body)
{
	const char *token = NULL, *id = NULL, *secret = NULL, *relay = NULL, *health = NULL;
	json_error_t err;
	json_t *o = json_loads(body, 0, &err);

	if (!o ||
	    json_unpack(o, "{s?s, s?s, s?s, s:s, s:s}", "token", &token, "id", &id, "secret",
	                &secret, "relay", &relay, "health", &health) < 0 ||
	    !token == !(id && secret)) {
		dir_refuse(c, 400, "bad_request",
		           "expected a JSON object with relay, health and either token or id and "
		           "secret");
	} else if (!dir_health_from_source(c, health)) {
		dir_refuse(c, 403, "health_elsewhere",
		           "the health address must be on the host that enrolls (the directory "
		           "polls nothing else): give --metrics an address of this host");
	} else if (token) {
		dir_enroll_token(c, token, relay, health);
	} else {
		dir_enroll_again(c, id, secret, relay, health);
	}
	json_decref(o);
}

static void dir_list(struct dir_conn *c)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < c->d->n_relays; i++)
		if (c->d->relays[i].healthy)
			json_array_append_new(arr, json_pack("{s:s, s:s}", "id", c->d->relays[i].id,
			                                     "relay", c->d->relays[i].relay));
	dir_respond(c, 200, json_pack("{s:o}", "relays", arr));
}

/* A whole request is in: headers, then Content-Length bytes of body. */
static int dir_request_complete(struct dir_conn *c, char **body)
{
	char *end = strstr(c->req, "\r\n\r\n"), *cl;
	unsigned long want = 0;

	if (!end)
		return 0;
	*end = '\0';
	cl = strcasestr(c->req, "\r\nContent-Length:");
	if (cl)
		want = strtoul(cl + 17, NULL, 10);
	*end = '\r';
	*body = end + 4;
	return c->len - (size_t)(*body - c->req) >= want;
}

static void dir_route(struct dir_conn *c, char *body)
{
	if (strncmp(c->req, "GET /relays ", 12) == 0)
		dir_list(c);
	else if (strncmp(c->req, "GET /healthz ", 13) == 0)
		dir_respond(c, 200, json_pack("{s:s}", "status", "ok"));
	else if (strncmp(c->req, "POST /enroll ", 13) == 0)
		dir_enroll(c, body);
	else
		dir_refuse(c, 404, "not_found", "try GET /relays or POST /enroll");
}

static void dir_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct dir_conn *c = h->data;

	*buf = uv_buf_init(c->req + c->len, (unsigned)(DIR_REQ_MAX - c->len));
}

static void dir_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct dir_conn *c = s->data;
	char *body;

	if (nread < 0) {
		dir_conn_close(c);
		return;
	}
	c->len += (size_t)nread;
	c->req[c->len] = '\0';
	if (dir_request_complete(c, &body))
		dir_route(c, body);
	else if (c->len >= DIR_REQ_MAX)
		dir_refuse(c, 400, "bad_request", "request too long");
}

static void dir_conn_timeout_cb(uv_timer_t *t)
{
	dir_conn_close(t->data);
}

static void dir_accept_cb(uv_stream_t *l, int status)
{
	struct directory *d = container_of(l, struct directory, listener);
	struct dir_conn *c;

	if (status < 0 || !(c = calloc(1, sizeof(*c))))
		return;
	c->d = d;
	d->n_conns++;
	uv_tcp_init(d->loop, &c->tcp);
	uv_timer_init(d->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0 || d->n_conns > DIR_CONN_MAX) {
		dir_conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, dir_conn_timeout_cb, DIR_CONN_TIMEOUT, 0);
	uv_read_start((uv_stream_t *)&c->tcp, dir_alloc_cb, dir_read_cb);
}

/* --- the commands --- */

static void dir_close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void dir_signal_cb(uv_signal_t *s, int signum)
{
	struct directory *d = s->data;
	size_t i;

	log_info("signal %d: stopping", signum);
	for (i = 0; i < d->n_relays; i++) {
		http_client_cancel(d->relays[i].poll);
		d->relays[i].poll = NULL;
	}
	uv_walk(d->loop, dir_close_walk_cb, NULL);
}

static const char dir_usage[] =
    "usage: natlab-relay directory --listen ADDR:PORT --state DIR [--poll MS] [--fail N]\n"
    "  --listen ADDR:PORT   HTTP: POST /enroll, GET /relays, GET /healthz\n"
    "  --state DIR          enrolled relays (DIR/relays) and enrollment tokens (DIR/tokens)\n"
    "  --poll MS            how often each relay's /healthz is asked (1000)\n"
    "  --fail N             missed answers in a row that take a relay off the list (2)\n"
    "Issue enrollment tokens with: natlab-relay directory-token --state DIR [--ttl SECONDS]\n";

static int dir_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int dir_state_dir_ok(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_warnx("--state \"%s\": not a directory (create it first)", dir);
		return 0;
	}
	return 1;
}

int relay_cmd_directory(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "state", required_argument, NULL, 's' },
		{ "poll", required_argument, NULL, 'p' },
		{ "fail", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct directory d = { .poll_ms = 1000, .fail_max = 2 };
	struct sockaddr_storage listen = { 0 };
	char addr[ADDR_TEXT_MAX];
	int opt, len = sizeof(d.bound), rc, have_listen = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (addr_parse(optarg, &listen, ADDR_PORT_REQUIRED) < 0) {
				log_warnx("--listen \"%s\": expected ADDR:PORT", optarg);
				return 2;
			}
			have_listen = 1;
			break;
		case 's':
			d.dir = optarg;
			break;
		case 'p':
			if (dir_parse_u32(optarg, 50, 600000, &d.poll_ms) < 0) {
				log_warnx("--poll \"%s\": expected milliseconds, 50..600000",
				          optarg);
				return 2;
			}
			break;
		case 'f':
			if (dir_parse_u32(optarg, 1, 1000, &d.fail_max) < 0) {
				log_warnx("--fail \"%s\": expected a count, 1..1000", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(dir_usage, stdout);
			return 0;
		default:
			fputs(dir_usage, stderr);
			return 2;
		}
	}
	if (!have_listen || !d.dir || optind < argc) {
		fputs(dir_usage, stderr);
		return 2;
	}
	if (!dir_state_dir_ok(d.dir) || identity_init() < 0 || dir_load(&d) < 0)
		return 1;
	if (!d.relays && !(d.relays = calloc(DIR_RELAYS_MAX, sizeof(*d.relays))))
		return 1;
	d.loop = uv_default_loop();
	uv_tcp_init(d.loop, &d.listener);
	rc = uv_tcp_bind(&d.listener, (const struct sockaddr *)&listen, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&d.listener, 128, dir_accept_cb);
	if (rc == 0)
		rc = uv_tcp_getsockname(&d.listener, (struct sockaddr *)&d.bound, &len);
	addr_format((const struct sockaddr *)(rc == 0 ? &d.bound : &listen), addr, sizeof(addr));
	if (rc < 0) {
		log_warnx("directory: listen on %s: %s", addr, uv_strerror(rc));
		return 1;
	}
	uv_timer_init(d.loop, &d.poll_timer);
	uv_timer_start(&d.poll_timer, dir_poll_timer_cb, 0, d.poll_ms);
	uv_signal_init(d.loop, &d.sigterm);
	uv_signal_init(d.loop, &d.sigint);
	d.sigterm.data = d.sigint.data = &d;
	uv_signal_start(&d.sigterm, dir_signal_cb, SIGTERM);
	uv_signal_start(&d.sigint, dir_signal_cb, SIGINT);
	dir_emit(json_pack("{s:s, s:s, s:i}", "event", "ready", "listen", addr, "relays",
	                   (int)d.n_relays));
	uv_run(d.loop, UV_RUN_DEFAULT);
	uv_loop_close(d.loop);
	free(d.relays);
	return 0;
}

int relay_cmd_directory_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
	    "usage: natlab-relay directory-token --state DIR [--ttl SECONDS]\n"
	    "Prints a one-time enrollment token for the directory whose --state is DIR,\n"
	    "valid for SECONDS (default 3600). A relay uses it once: natlab-relay serve ...\n"
	    "--directory ADDR:PORT --enroll-token TOKEN --enroll-state FILE\n";
	char token[DIR_TOKEN_MAX + 1];
	const char *dir = NULL;
	uint32_t ttl = DIR_TOKEN_TTL_DEFAULT;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 's') {
			dir = optarg;
		} else if (opt == 't') {
			if (dir_parse_u32(optarg, 1, 86400 * 365, &ttl) < 0) {
				log_warnx("--ttl \"%s\": expected seconds, 1..31536000", optarg);
				return 2;
			}
		} else {
			fputs(usage, opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!dir || optind < argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (!dir_state_dir_ok(dir))
		return 1;
	if (identity_init() < 0)
		return 1;
	rc = dir_token_issue(dir, ttl, token);
	if (rc < 0) {
		log_warn_code(rc, "directory-token: \"%s/tokens\"", dir);
		return 1;
	}
	printf("%s\n", token);
	return 0;
}
