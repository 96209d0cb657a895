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
#include <unistd.h>

#include "natlab/probe.h"
#include "probe_fixture.h"
#include "tap.h"

static void test_two_addresses(void)
{
	struct probe_options opt = { 0 };
	struct stun_server_config cfg;
	struct probe_result res;
	char want_mapped[32];
	pid_t pid = fixture_responder_start(false, true, &cfg);
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
	is_str(fixture_jstr(j, "mapping"), "endpoint-independent", "JSON mapping");
	is_str(fixture_jstr(j, "filtering"), "endpoint-independent", "JSON filtering");
	is_str(fixture_jstr(j, "mapped_address"), want_mapped, "JSON mapped_address");
	is_str(fixture_jstr(j, "local_address"), want_mapped, "JSON local_address");
	is_str(fixture_jstr(j, "udp"), "ok", "JSON udp");
	ok(json_is_false(json_object_get(j, "nat")), "JSON nat false");
	ok(json_is_true(json_object_get(j, "hairpin")), "JSON hairpin true");
	ok(res.port_preserved && json_is_true(json_object_get(j, "port_preserved")),
	   "port preserved (no NAT)");
	is_int(json_object_size(j), 8, "JSON has exactly 8 keys");
	json_decref(j);
	is_int(fixture_responder_stop(pid), 0, "responder stops cleanly on SIGTERM");
}

static void test_one_address(void)
{
	struct probe_options opt = { 0 };
	struct stun_server_config cfg;
	struct probe_result res;
	pid_t pid = fixture_responder_start(false, false, &cfg);
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
	is_int(fixture_responder_stop(pid), 0, "responder stops cleanly");
}

/* Over IPv6 on ::1, its only loopback address: one address, so no RFC 5780 tests. */
static void test_ipv6(void)
{
	struct probe_options opt = { 0 };
	struct stun_server_config cfg;
	struct probe_result res;
	char want[64];
	pid_t pid = fixture_responder_start_at(false, "[::1]:0", NULL, &cfg);
	json_t *j;

	ok(pid > 0, "responder on [::1] started");
	opt.server = cfg.primary;
	is_int(probe_run(&opt, &res), 0, "probe_run over IPv6");
	ok(res.udp_ok && !res.nat && res.hairpin, "IPv6: UDP answered, no NAT, hairpin");
	ok(res.mapped.ss_family == AF_INET6 && res.local.ss_family == AF_INET6,
	   "IPv6: mapped and local addresses are IPv6");
	j = probe_result_json(&res);
	snprintf(want, sizeof(want), "[::1]:%u",
	         ntohs(((struct sockaddr_in6 *)&res.local)->sin6_port));
	is_str(fixture_jstr(j, "mapped_address"), want, "IPv6: JSON mapped_address");
	is_str(fixture_jstr(j, "local_address"), want, "IPv6: JSON local_address");
	json_decref(j);
	opt.local = fixture_addr("127.0.0.1");
	is_int(probe_run(&opt, &res), -EINVAL, "an IPv4 local address for an IPv6 server: -EINVAL");
	is_int(fixture_responder_stop(pid), 0, "responder stops cleanly");
}

/* A bound socket nobody reads: requests vanish, as through a UDP-blocking firewall. */
static void test_blocked(void)
{
	struct sockaddr_storage sink = fixture_addr("127.0.0.3:0");
	struct probe_options opt = { 0 };
	struct probe_result res;
	socklen_t len = sizeof(sink);
	long long t0, elapsed;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	json_t *j;

	ok(fd >= 0 && bind(fd, (struct sockaddr *)&sink, sizeof(struct sockaddr_in)) == 0 &&
	       getsockname(fd, (struct sockaddr *)&sink, &len) == 0,
	   "silent sink bound on 127.0.0.3");
	opt.server = sink;
	t0 = probe_now_ms();
	is_int(probe_run(&opt, &res), 0, "probe_run against silence");
	elapsed = probe_now_ms() - t0;
	ok(elapsed >= 900 && elapsed <= 1500, "unanswered test takes about 1 s (%lld ms)", elapsed);
	ok(!res.udp_ok && !res.nat && !res.hairpin, "UDP blocked");
	j = probe_result_json(&res);
	is_str(fixture_jstr(j, "udp"), "blocked", "JSON udp blocked");
	is_str(fixture_jstr(j, "mapped_address"), "null", "JSON mapped_address null");
	is_str(fixture_jstr(j, "mapping"), "null", "JSON mapping null");
	ok(json_is_null(json_object_get(j, "port_preserved")), "JSON port_preserved null");
	json_decref(j);
	close(fd);
}

int main(void)
{
	test_two_addresses();
	test_one_address();
	test_ipv6();
	test_blocked();
	return tap_done();
}
