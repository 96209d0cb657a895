/* SPDX-License-Identifier: MIT */
/*
 * --token-cmd CMD: the peer's relay token comes from a command (sh -c CMD, stdout, at
 * most 1 KiB, within 10 s) instead of --token, and is renewed before it expires: when
 * half the time left to its expiry has passed, CMD runs again and the new token is
 * presented on every ready relay connection as a second AUTH (docs/relay.md), so a
 * session outlives tokens shorter than itself. The first run happens before any relay
 * is dialled, on a private loop; renewals run on the peer's loop without blocking it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natlab/log.h"
#include "natlab/token.h"
#include "peer.h"

#define PEER_TOKEN_OUT_MAX        1024
#define PEER_TOKEN_CMD_TIMEOUT_MS 10000
#define PEER_TOKEN_RETRY_MS       1000
#define PEER_TOKEN_RENEW_MIN_MS   200

struct peer_token_cmd {
	struct peer *p;
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t deadline; /* a command that takes too long is killed */
	uv_timer_t renew;    /* on the peer's loop */
	int running;
	int open_handles;
	int exited, eof, timed_out;
	int64_t status;
	int term_signal;
	size_t len;
	int overflow;
	char buf[PEER_TOKEN_OUT_MAX + 1];
	char token[TOKEN_TEXT_MAX];
	uint64_t expiry; /* unix seconds */
	int renewals;
};

static int64_t peer_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Checks the command's output; 0 and the token stored, or -1 with why filled. */
static int peer_token_cmd_accept(struct peer_token_cmd *t, char *why, size_t cap)
{
	const struct identity *id = peer_identity(t->p);
	char *text = t->buf, *end;
	struct token tok;

	if (t->timed_out) {
		snprintf(why, cap, "did not finish within %d s", PEER_TOKEN_CMD_TIMEOUT_MS / 1000);
		return -1;
	}
	if (t->term_signal) {
		snprintf(why, cap, "killed by signal %d", t->term_signal);
		return -1;
	}
	if (t->status) {
		snprintf(why, cap, "exited with status %lld", (long long)t->status);
		return -1;
	}
	if (t->overflow) {
		snprintf(why, cap, "printed more than %d bytes (one token expected)",
		         PEER_TOKEN_OUT_MAX);
		return -1;
	}
	t->buf[t->len] = '\0';
	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	end = text + strlen(text);
	while (end > text &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	if (strlen(text) >= sizeof(t->token) || token_decode_text(&tok, text) < 0) {
		snprintf(why, cap,
		         "its output is not a token (one line of base64url, as "
		         "natlab-relay token prints)");
		return -1;
	}
	if (memcmp(tok.peer, id->pub, IDENTITY_PUB_LEN) != 0) {
		snprintf(why, cap, "its token is for another key (token id \"%s\")", tok.id);
		return -1;
	}
	if ((int64_t)tok.expiry * 1000 <= peer_unix_ms()) {
		snprintf(why, cap, "its token has already expired (token id \"%s\")", tok.id);
		return -1;
	}
	memcpy(t->token, text, (size_t)(end - text) + 1);
	t->expiry = tok.expiry;
	event_emit("token", "{s:s, s:I}", "id", tok.id, "expiry", (json_int_t)tok.expiry);
	return 0;
}

static void peer_token_renew_cb(uv_timer_t *h);

/* Renews at half the time left (at least 200 ms from now). */
static void peer_token_cmd_schedule(struct peer_token_cmd *t)
{
	int64_t left = (int64_t)t->expiry * 1000 - peer_unix_ms();
	uint64_t ms =
	    left / 2 > PEER_TOKEN_RENEW_MIN_MS ? (uint64_t)(left / 2) : PEER_TOKEN_RENEW_MIN_MS;

	uv_timer_start(&t->renew, peer_token_renew_cb, ms, 0);
}

/* The run is over and its handles closed: take the token or report why not. */
static void peer_token_cmd_done(struct peer_token_cmd *t)
{
	struct peer *p = t->p;
	char why[200];
	int i, first = !t->expiry;

	t->running = 0;
	if (p->stopping)
		return;
	if (peer_token_cmd_accept(t, why, sizeof(why)) < 0) {
		/* The first failure ends the run; later ones are retried while time is left. */
		peer_error(p, first ? PEER_EXIT_REFUSED : 0, "token_cmd", "--token-cmd \"%s\": %s",
		           p->o->token_cmd, why);
		if (!first)
			uv_timer_start(&t->renew, peer_token_renew_cb, PEER_TOKEN_RETRY_MS, 0);
		return;
	}
	if (!first)
		for (i = 0; i < p->n_relays; i++)
			if (p->relays[i].state == PEER_RELAY_READY &&
			    peer_relay_renew(&p->relays[i]) < 0)
				log_info(
				    "relay %s: cannot send the renewed token now; it is used on "
				    "reconnect",
				    p->relays[i].text);
	peer_token_cmd_schedule(t);
}

static void peer_token_cmd_closed_cb(uv_handle_t *h)
{
	struct peer_token_cmd *t = h->data;

	if (--t->open_handles == 0)
		peer_token_cmd_done(t);
}

static void peer_token_cmd_maybe_finish(struct peer_token_cmd *t)
{
	/* A command killed for its time may leave a child holding the pipe: do not wait. */
	if (!t->exited || (!t->eof && !t->timed_out) || t->open_handles != 3)
		return;
	uv_close((uv_handle_t *)&t->proc, peer_token_cmd_closed_cb);
	uv_close((uv_handle_t *)&t->out, peer_token_cmd_closed_cb);
	uv_close((uv_handle_t *)&t->deadline, peer_token_cmd_closed_cb);
}

static void peer_token_cmd_exit_cb(uv_process_t *proc, int64_t status, int term_signal)
{
	struct peer_token_cmd *t = proc->data;

	t->exited = 1;
	t->status = status;
	t->term_signal = t->timed_out ? 0 : term_signal;
	peer_token_cmd_maybe_finish(t);
}

static void peer_token_cmd_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct peer_token_cmd *t = h->data;

	/* One byte past the limit is kept free to notice an overflow. */
	if (t->len >= PEER_TOKEN_OUT_MAX) {
		static char sink[256];

		*buf = uv_buf_init(sink, sizeof(sink));
		return;
	}
	*buf = uv_buf_init(t->buf + t->len, (unsigned)(PEER_TOKEN_OUT_MAX - t->len));
}

static void peer_token_cmd_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct peer_token_cmd *t = s->data;

	if (n < 0) {
		uv_read_stop(s);
		t->eof = 1;
		peer_token_cmd_maybe_finish(t);
		return;
	}
	if (buf->base < t->buf || buf->base >= t->buf + sizeof(t->buf)) {
		t->overflow = n > 0;
		return;
	}
	t->len += (size_t)n;
	if (t->len >= PEER_TOKEN_OUT_MAX && n > 0)
		t->overflow = 1;
}

static void peer_token_cmd_deadline_cb(uv_timer_t *h)
{
	struct peer_token_cmd *t = h->data;

	t->timed_out = 1;
	if (!t->exited)
		uv_process_kill(&t->proc, SIGKILL);
	peer_token_cmd_maybe_finish(t);
}

/* Starts CMD on loop. 0, or -errno with nothing left open. */
static int peer_token_cmd_spawn(struct peer_token_cmd *t, uv_loop_t *loop)
{
	char *args[] = { "sh", "-c", (char *)t->p->o->token_cmd, NULL };
	uv_stdio_container_t stdio[3];
	uv_process_options_t opts;
	int rc;

	t->exited = t->eof = t->timed_out = t->overflow = 0;
	t->status = 0;
	t->term_signal = 0;
	t->len = 0;
	uv_pipe_init(loop, &t->out, 0);
	t->out.data = t;
	memset(&opts, 0, sizeof(opts));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&t->out;
	stdio[2].flags = UV_INHERIT_FD; /* its complaints go to our log */
	stdio[2].data.fd = 2;
	opts.file = "/bin/sh";
	opts.args = args;
	opts.stdio = stdio;
	opts.stdio_count = 3;
	opts.exit_cb = peer_token_cmd_exit_cb;
	t->proc.data = t;
	rc = uv_spawn(loop, &t->proc, &opts);
	if (rc < 0) {
		/* libuv requires the failed process handle to be closed as well. */
		uv_close((uv_handle_t *)&t->proc, NULL);
		uv_close((uv_handle_t *)&t->out, NULL);
		return rc;
	}
	uv_timer_init(loop, &t->deadline);
	t->deadline.data = t;
	uv_timer_start(&t->deadline, peer_token_cmd_deadline_cb, PEER_TOKEN_CMD_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&t->out, peer_token_cmd_alloc_cb, peer_token_cmd_read_cb);
	t->open_handles = 3;
	t->running = 1;
	return 0;
}

static void peer_token_renew_cb(uv_timer_t *h)
{
	struct peer_token_cmd *t = h->data;
	int rc;

	if (t->running || t->p->stopping)
		return;
	rc = peer_token_cmd_spawn(t, t->p->loop);
	if (rc < 0) {
		peer_error(t->p, 0, "token_cmd", "--token-cmd: cannot start /bin/sh: %s",
		           uv_strerror(rc));
		uv_timer_start(&t->renew, peer_token_renew_cb, PEER_TOKEN_RETRY_MS, 0);
	}
}

int peer_token_cmd_start(struct peer *p)
{
	struct peer_token_cmd *t;
	uv_loop_t first;
	int rc;

	t = calloc(1, sizeof(*t));
	if (!t) {
		peer_error(p, PEER_EXIT_FAILED, "token_cmd", "--token-cmd: out of memory");
		return -1;
	}
	t->p = p;
	p->token_cmd = t;
	uv_timer_init(p->loop, &t->renew);
	t->renew.data = t;
	rc = uv_loop_init(&first);
	if (rc == 0)
		rc = peer_token_cmd_spawn(t, &first);
	if (rc < 0) {
		peer_error(p, PEER_EXIT_REFUSED, "token_cmd",
		           "--token-cmd: cannot start /bin/sh: %s", uv_strerror(rc));
		return -1;
	}
	uv_run(&first, UV_RUN_DEFAULT);
	uv_loop_close(&first);
	return t->expiry && !p->stopping ? 0 : -1;
}

const char *peer_token_cmd_token(const struct peer *p)
{
	return p->token_cmd && p->token_cmd->expiry ? p->token_cmd->token : NULL;
}

void peer_on_relay_renewed(struct peer *p, struct peer_relay *r)
{
	event_emit("token_renewed", "{s:s, s:i, s:I}", "relay", r->text, "index", r->index,
	           "expiry", (json_int_t)r->info.token_expiry);
}

void peer_token_cmd_stop(struct peer *p)
{
	struct peer_token_cmd *t = p->token_cmd;

	if (t && t->running && !t->exited)
		uv_process_kill(&t->proc, SIGKILL);
}
