/* SPDX-License-Identifier: MIT */
/*
 * The RFC 5780 probe against our responder over loopback (127.0.0.1 and 127.0.0.2, both
 * on lo without any configuration): no NAT in between, so everything is independent.
 * Also a server without alternate address and one that never answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "natlab/addr.h"
#include "natlab/probe.h"
#include "natlab/stun_responder.h"
#include "tap.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

/* An address from its text; the tests only ever pass good ones. */
static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;

	addr_parse(text, &ss, ADDR_PORT_OPTIONAL);
	return ss;
}

/*
 * Binds in the parent (so the ports are known and bound before any probe), serves in a
 * child that dies with us. Returns the child's pid and the bound configuration.
 */
static pid_t responder_start(bool alternate, struct stun_server_config *bound)
{
	struct stun_server_config cfg = {.primary = addr("127.0.0.1:0")};
	struct sigaction sa = {.sa_handler = on_term};
	struct stun_responder r;
	pid_t pid;
	int rc;

	if (alternate)
		cfg.alternate = addr("127.0.0.2:0");
	rc = stun_responder_init(&r, &cfg);
	if (rc < 0) {
		tap_diag("stun_responder_init: %s", strerror(-rc));
		return -1;
	}
	*bound = r.cfg;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		sigaction(SIGTERM, &sa, NULL);
		if (getppid() == 1)
			_exit(1);
		_exit(stun_responder_serve(&r, &stop) < 0 ? 1 : 0);
	}
	stun_responder_close(&r);
	return pid;
}

/* Stops the child by pid; returns its exit status, or -1 if it did not exit cleanly. */
static int responder_stop(pid_t pid)
{
	int status;

	if (pid <= 0 || kill(pid, SIGTERM) < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : json_is_null(v) ? "null" : "(missing)";
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void test_two_addresses(void)
{
	struct probe_options opt = {0};
	struct stun_server_config cfg;
	struct probe_result res;
	char want_mapped[32];
	pid_t pid = responder_start(true, &cfg);
	json_t *j;
	int rc;

	ok(pid > 0, "responder on 127.0.0.1 and 127.0.0.2 started");
	opt.server = cfg.primary;
	rc = probe_run(&opt, &res);
	is_int(rc, 0, "probe_run");
	ok(res.udp_ok, "UDP answered");
	ok(!res.nat, "no NAT on loopback");
	is_str(probe_behaviour_name(res.mapping), "endpoint-independent", "mapping");
	is_str(probe_behaviour_name(res.filtering), "endpoint-independent", "filtering");
	ok(res.hairpin, "hairpin (our own address comes back)");

	j = probe_result_json(&res);
	snprintf(want_mapped, sizeof(want_mapped), "127.0.0.1:%u",
	         ntohs(((struct sockaddr_in *)&res.local)->sin_port));
	is_str(jstr(j, "mapping"), "endpoint-independent", "JSON mapping");
	is_str(jstr(j, "filtering"), "endpoint-independent", "JSON filtering");
	is_str(jstr(j, "mapped_address"), want_mapped, "JSON mapped_address");
	is_str(jstr(j, "local_address"), want_mapped, "JSON local_address");
	is_str(jstr(j, "udp"), "ok", "JSON udp");
	ok(json_is_false(json_object_get(j, "nat")), "JSON nat false");
	ok(json_is_true(json_object_get(j, "hairpin")), "JSON hairpin true");
	is_int(json_object_size(j), 7, "JSON has exactly 7 keys");
	json_decref(j);
	is_int(responder_stop(pid), 0, "responder stops cleanly on SIGTERM");
}

static void test_one_address(void)
{
	struct probe_options opt = {0};
	struct stun_server_config cfg;
	struct probe_result res;
	pid_t pid = responder_start(false, &cfg);
	json_t *j;

	ok(pid > 0, "responder on 127.0.0.1 only started");
	opt.server = cfg.primary;
	is_int(probe_run(&opt, &res), 0, "probe_run without RFC 5780");
	ok(res.udp_ok && !res.nat, "UDP answered, no NAT");
	ok(res.mapping == PROBE_UNKNOWN && res.filtering == PROBE_UNKNOWN,
	   "mapping and filtering unknown without OTHER-ADDRESS");
	j = probe_result_json(&res);
	ok(json_is_null(json_object_get(j, "mapping")) &&
	       json_is_null(json_object_get(j, "filtering")),
	   "JSON mapping and filtering null");
	json_decref(j);
	is_int(responder_stop(pid), 0, "responder stops cleanly");
}

/* A bound socket nobody reads: requests vanish, as through a UDP-blocking firewall. */
static void test_blocked(void)
{
	struct sockaddr_storage sink = addr("127.0.0.3:0");
	struct probe_options opt = {0};
	struct probe_result res;
	socklen_t len = sizeof(sink);
	long long t0, elapsed;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	json_t *j;

	ok(fd >= 0 && bind(fd, (struct sockaddr *)&sink, sizeof(struct sockaddr_in)) == 0 &&
	       getsockname(fd, (struct sockaddr *)&sink, &len) == 0,
	   "silent sink bound on 127.0.0.3");
	opt.server = sink;
	t0 = now_ms();
	is_int(probe_run(&opt, &res), 0, "probe_run against silence");
	elapsed = now_ms() - t0;
	ok(elapsed >= 900 && elapsed <= 1500, "unanswered test takes about 1 s (%lld ms)", elapsed);
	ok(!res.udp_ok && !res.nat && !res.hairpin, "UDP blocked");
	j = probe_result_json(&res);
	is_str(jstr(j, "udp"), "blocked", "JSON udp blocked");
	is_str(jstr(j, "mapped_address"), "null", "JSON mapped_address null");
	is_str(jstr(j, "mapping"), "null", "JSON mapping null");
	json_decref(j);
	close(fd);
}

int main(void)
{
	test_two_addresses();
	test_one_address();
	test_blocked();
	return tap_done();
}
