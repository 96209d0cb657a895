/* SPDX-License-Identifier: MIT */
#include "probe_fixture.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "natlab/addr.h"
#include "natlab/stun_responder.h"
#include "natlab/stun_tcp_responder.h"
#include "tap.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

struct sockaddr_storage fixture_addr(const char *text)
{
	struct sockaddr_storage ss;

	addr_parse(text, &ss, ADDR_PORT_OPTIONAL);
	return ss;
}

pid_t fixture_responder_start(bool tcp, bool alternate, struct stun_server_config *bound)
{
	return fixture_responder_start_at(tcp, "127.0.0.1:0", alternate ? "127.0.0.2:0" : NULL,
	                                  bound);
}

pid_t fixture_responder_start_at(bool tcp, const char *primary, const char *alternate,
                                 struct stun_server_config *bound)
{
	struct stun_server_config cfg = { .primary = fixture_addr(primary), .software = "t" };
	struct sigaction sa = { .sa_handler = on_term };
	struct stun_tcp_responder t;
	struct stun_responder u;
	sigset_t term, old;
	pid_t pid;
	int rc;

	if (alternate)
		cfg.alternate = fixture_addr(alternate);
	rc = tcp ? stun_tcp_responder_init(&t, &cfg) : stun_responder_init(&u, &cfg);
	if (rc < 0) {
		tap_diag("%s responder: %s", tcp ? "TCP" : "UDP", strerror(-rc));
		return -1;
	}
	*bound = tcp ? t.cfg : u.cfg;
	/* SIGTERM waits until the child's handler is in place: a stop right after the start
	 * would otherwise kill it before it could exit cleanly. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		sigaction(SIGTERM, &sa, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (getppid() == 1)
			_exit(1);
		rc = tcp ? stun_tcp_responder_serve(&t, &stop) : stun_responder_serve(&u, &stop);
		_exit(rc < 0 ? 1 : 0);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (tcp)
		stun_tcp_responder_close(&t);
	else
		stun_responder_close(&u);
	return pid;
}

int fixture_responder_stop(pid_t pid)
{
	int status;

	if (pid <= 0 || kill(pid, SIGTERM) < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *fixture_jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : json_is_null(v) ? "null" : "(missing)";
}
