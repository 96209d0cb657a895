/* SPDX-License-Identifier: MIT */
/*
 * The STUN codec and responder logic: RFC 5769 vectors, round trips, malformed input,
 * and which endpoint answers every CHANGE-REQUEST.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natlab/addr.h"
#include "natlab/stun.h"
#include "hexaddr.h"
#include "tap.h"

/* The RFC 5769 listings, as printed there, so nothing is transcribed into another shape. */
static const char *rfc5769_request =
    "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae 80 22 00 10"
    "53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74 00 24 00 04 6e 00 01 ff"
    "80 29 00 08 93 2f f9 b1 51 26 3b 36 00 06 00 09 65 76 74 6a 3a 68 36 76"
    "59 20 20 20 00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49"
    "c1 b5 71 a2 80 28 00 04 e5 7a 3b cf";
static const char *rfc5769_response_v4 =
    "01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae 80 22 00 0b"
    "74 65 73 74 20 76 65 63 74 6f 72 20 00 20 00 08 00 01 a1 47 e1 12 a6 43"
    "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
    "80 28 00 04 c0 7d 4c 96";
static const char *rfc5769_response_v6 =
    "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae 80 22 00 0b"
    "74 65 73 74 20 76 65 63 74 6f 72 20 00 20 00 14 00 02 a1 47 01 13 a9 fa"
    "a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9 00 08 00 14 a3 82 95 4e 4b e6 7b f1"
    "17 84 c9 7c 82 92 c2 75 bf e3 ed 41 80 28 00 04 c8 fb 0b 4c";
static const uint8_t rfc5769_txid[STUN_TXID_SIZE] = { 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
	                                              0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae };

#define SA(ss) ((const struct sockaddr *)(ss))

static void test_rfc5769(void)
{
	uint8_t buf[256], out[STUN_MAX_MESSAGE];
	struct stun_server_config cfg = { .primary = addr("192.0.2.10:3478") };
	struct sockaddr_storage src = addr("192.0.2.1:32853");
	enum stun_endpoint from;
	struct stun_msg m;
	size_t n;
	int rc;

	n = unhex(rfc5769_request, buf, sizeof(buf));
	is_int(stun_msg_decode(buf, n, &m), 0, "RFC 5769 2.1 request decodes");
	is_int(m.type, STUN_BINDING_REQUEST, "request type");
	ok(!memcmp(m.txid, rfc5769_txid, STUN_TXID_SIZE), "request transaction id");
	is_str(m.software, "STUN test client", "request SOFTWARE");
	ok((m.present & STUN_HAS_FINGERPRINT) && (m.present & STUN_HAS_MESSAGE_INTEGRITY),
	   "request FINGERPRINT verified, MESSAGE-INTEGRITY seen");
	ok(m.n_unknown == 1 && m.unknown[0] == 0x0024, "PRIORITY reported as unknown (%zu)",
	   m.n_unknown);
	/* A Binding server that does not speak ICE must refuse PRIORITY with 420. */
	rc = stun_server_handle(&cfg, STUN_EP_A1P1, buf, n, SA(&src), out, sizeof(out), &from);
	ok(rc > 0 && stun_msg_decode(out, (size_t)rc, &m) == 0, "responder answers the vector");
	ok(m.type == STUN_BINDING_ERROR && m.error_code == 420 &&
	       !memcmp(m.txid, rfc5769_txid, STUN_TXID_SIZE),
	   "responder answers 420 (got type %#x code %d)", m.type, m.error_code);

	n = unhex(rfc5769_response_v4, buf, sizeof(buf));
	is_int(stun_msg_decode(buf, n, &m), 0, "RFC 5769 2.2 response decodes");
	is_int(m.type, STUN_BINDING_SUCCESS, "response type");
	is_str(fmt(&m.xor_mapped), "192.0.2.1:32853", "IPv4 XOR-MAPPED-ADDRESS");
	is_str(m.software, "test vector", "response SOFTWARE");
	ok(m.present & STUN_HAS_FINGERPRINT, "response FINGERPRINT verified");

	n = unhex(rfc5769_response_v6, buf, sizeof(buf));
	is_int(stun_msg_decode(buf, n, &m), 0, "RFC 5769 2.3 response decodes");
	is_str(fmt(&m.xor_mapped), "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
	       "IPv6 XOR-MAPPED-ADDRESS");
	/* Encoding: our XOR-MAPPED-ADDRESS of that address under the vector's transaction
	 * id is the listing's attribute byte for byte (family 0x02, the address XORed with
	 * the cookie and the transaction id). The listing's starts after SOFTWARE. */
	{
		struct sockaddr_storage v6 = addr("[2001:db8:1234:5678:11:2233:4455:6677]:32853");
		struct stun_binding_response r = { .txid = rfc5769_txid, .mapped = SA(&v6) };

		rc = stun_binding_success_encode(out, sizeof(out), &r);
		ok(rc >= 20 + 24 && !memcmp(out + 20, buf + 20 + 16, 24),
		   "RFC 5769 2.3: IPv6 XOR-MAPPED-ADDRESS encodes as listed");
	}
}

static void test_round_trips(void)
{
	struct sockaddr_storage mapped = addr("203.0.113.7:54321"), other = addr("198.18.0.2:3479"),
	                        origin = addr("198.18.0.1:3478");
	struct sockaddr_storage v6 = addr("[2001:db8::1]:9");
	uint8_t txid[STUN_TXID_SIZE], buf[STUN_MAX_MESSAGE];
	uint16_t unknown[] = { STUN_ATTR_CHANGE_REQUEST, 0x7777 };
	struct stun_binding_response r = { txid, SA(&mapped), SA(&other), SA(&origin), "natlab" };
	struct stun_msg m;
	int len;

	stun_txid_new(txid);
	len = stun_binding_request_encode(buf, sizeof(buf), txid, STUN_CHANGE_IP | STUN_CHANGE_PORT,
	                                  true);
	is_int(len, 36, "request with CHANGE-REQUEST and FINGERPRINT is 36 bytes");
	ok(stun_msg_decode(buf, (size_t)len, &m) == 0 && m.type == STUN_BINDING_REQUEST &&
	       !memcmp(m.txid, txid, STUN_TXID_SIZE) &&
	       m.change_flags == (STUN_CHANGE_IP | STUN_CHANGE_PORT) &&
	       (m.present & STUN_HAS_FINGERPRINT),
	   "request round trip");
	len = stun_binding_request_encode(buf, sizeof(buf), txid, 0, false);
	ok(len == 20 && stun_msg_decode(buf, (size_t)len, &m) == 0 && m.present == 0,
	   "bare request round trip");

	len = stun_binding_success_encode(buf, sizeof(buf), &r);
	ok(len > 0 && stun_msg_decode(buf, (size_t)len, &m) == 0, "success response decodes");
	is_str(fmt(&m.xor_mapped), "203.0.113.7:54321", "XOR-MAPPED-ADDRESS round trip");
	is_str(fmt(&m.other), "198.18.0.2:3479", "OTHER-ADDRESS round trip");
	is_str(fmt(&m.response_origin), "198.18.0.1:3478", "RESPONSE-ORIGIN round trip");
	is_str(m.software, "natlab", "SOFTWARE round trip (padded)");
	ok(m.present & STUN_HAS_FINGERPRINT, "success response carries FINGERPRINT");

	r = (struct stun_binding_response){ .txid = txid, .mapped = SA(&v6) };
	len = stun_binding_success_encode(buf, sizeof(buf), &r);
	ok(len > 0 && stun_msg_decode(buf, (size_t)len, &m) == 0 &&
	       addr_equal(SA(&m.xor_mapped), SA(&v6)),
	   "IPv6 XOR-MAPPED-ADDRESS round trip");

	len = stun_binding_error_encode(buf, sizeof(buf), txid, 420, "Unknown Attribute", unknown,
	                                2, NULL);
	ok(len > 0 && stun_msg_decode(buf, (size_t)len, &m) == 0 && m.type == STUN_BINDING_ERROR &&
	       m.error_code == 420 && !strcmp(m.error_reason, "Unknown Attribute"),
	   "420 error response round trip");
	is_int(stun_binding_error_encode(buf, sizeof(buf), txid, 200, "no", NULL, 0, NULL), -EINVAL,
	       "error code outside 300..699 refused");
	r = (struct stun_binding_response){ txid, SA(&mapped), SA(&other), SA(&origin), "natlab" };
	is_int(stun_binding_success_encode(buf, 40, &r), -ENOBUFS, "short buffer: -ENOBUFS");
}

/* A valid request carrying SOFTWARE and FINGERPRINT, to damage in various ways. */
static int sample(uint8_t *buf, size_t cap)
{
	uint8_t txid[STUN_TXID_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct stun_writer w;

	stun_writer_init(&w, buf, cap, STUN_BINDING_REQUEST, txid);
	stun_writer_add_bytes(&w, STUN_ATTR_SOFTWARE, "fuzz me", 7);
	return stun_writer_finish(&w, true);
}

/* One attribute in a request without FINGERPRINT, so its value can be anything. */
static int with_attr(uint8_t *buf, size_t cap, uint16_t attr, const char *hex)
{
	uint8_t txid[STUN_TXID_SIZE] = { 0 }, v[64];
	struct stun_writer w;

	stun_writer_init(&w, buf, cap, STUN_BINDING_REQUEST, txid);
	stun_writer_add_bytes(&w, attr, v, unhex(hex, v, sizeof(v)));
	return stun_writer_finish(&w, false);
}

static void test_malformed(void)
{
	uint8_t buf[256], bad[256];
	struct stun_msg m;
	int len = sample(buf, sizeof(buf)), fails = 0, n;

	is_int(stun_msg_decode(buf, (size_t)len, &m), 0, "sample decodes");
	for (int cut = 0; cut < len; cut++)
		fails += stun_msg_decode(buf, (size_t)cut, &m) < 0;
	is_int(fails, len, "every truncation rejected");

	memcpy(bad, buf, (size_t)len);
	bad[3] += 4;
	is_int(stun_msg_decode(bad, (size_t)len, &m), -EBADMSG, "length beyond datagram");
	bad[3] -= 5;
	is_int(stun_msg_decode(bad, (size_t)len, &m), -EBADMSG, "length not a multiple of 4");
	memcpy(bad, buf, (size_t)len);
	bad[len] = 0;
	is_int(stun_msg_decode(bad, (size_t)len + 1, &m), -EBADMSG, "trailing byte");
	memcpy(bad, buf, (size_t)len);
	bad[5] ^= 1;
	is_int(stun_msg_decode(bad, (size_t)len, &m), -EBADMSG, "bad magic cookie");
	memcpy(bad, buf, (size_t)len);
	bad[0] |= 0x80;
	is_int(stun_msg_decode(bad, (size_t)len, &m), -EBADMSG, "top bits set");
	memcpy(bad, buf, (size_t)len);
	bad[23] = 0xf0; /* SOFTWARE claims 240 bytes */
	is_int(stun_msg_decode(bad, (size_t)len, &m), -EBADMSG, "attribute overruns message");
	memcpy(bad, buf, (size_t)len);
	bad[len - 1] ^= 1;
	is_int(stun_msg_decode(bad, (size_t)len, &m), -EILSEQ, "bad FINGERPRINT value");
	memcpy(bad, buf, (size_t)len);
	bad[24] ^= 0x20;
	is_int(stun_msg_decode(bad, (size_t)len, &m), -EILSEQ, "body changed under FINGERPRINT");
	memcpy(bad, buf, (size_t)len);
	memcpy(bad + len, "\x80\x22\x00\x00", 4); /* empty SOFTWARE after FINGERPRINT */
	bad[3] += 4;
	is_int(stun_msg_decode(bad, (size_t)len + 4, &m), -EBADMSG, "attribute after FINGERPRINT");

	n = with_attr(bad, sizeof(bad), STUN_ATTR_XOR_MAPPED_ADDRESS, "00 03 00 01 01 02 03 04");
	is_int(stun_msg_decode(bad, (size_t)n, &m), -EBADMSG, "unknown address family");
	n = with_attr(bad, sizeof(bad), STUN_ATTR_MAPPED_ADDRESS, "00 01 00 01 01 02 03 04 05 06");
	is_int(stun_msg_decode(bad, (size_t)n, &m), -EBADMSG, "IPv4 address of wrong length");
	n = with_attr(bad, sizeof(bad), STUN_ATTR_CHANGE_REQUEST, "00 00 00 06 00 00 00 00");
	is_int(stun_msg_decode(bad, (size_t)n, &m), -EBADMSG, "CHANGE-REQUEST of wrong length");
	n = with_attr(bad, sizeof(bad), STUN_ATTR_ERROR_CODE, "00 00 07 01");
	is_int(stun_msg_decode(bad, (size_t)n, &m), -EBADMSG, "ERROR-CODE class 7");
	n = with_attr(bad, sizeof(bad), STUN_ATTR_FINGERPRINT, "00 00");
	is_int(stun_msg_decode(bad, (size_t)n, &m), -EBADMSG, "FINGERPRINT of wrong length");
	n = with_attr(bad, sizeof(bad), 0xc0de, "01");
	ok(stun_msg_decode(bad, (size_t)n, &m) == 0 && m.n_unknown == 0,
	   "unknown comprehension-optional attribute ignored");
}

/* Over TCP the header says where a message ends: a stream of two back to back. */
static void test_frame_size(void)
{
	uint8_t buf[512], bad[256];
	int len = sample(buf, 256), short_ok = 0;

	memcpy(buf + len, buf, (size_t)len);
	for (int have = 0; have < STUN_HEADER_SIZE; have++)
		short_ok += stun_frame_size(buf, (size_t)have) == -EAGAIN;
	is_int(short_ok, STUN_HEADER_SIZE, "short of a header: read more");
	is_int(stun_frame_size(buf, STUN_HEADER_SIZE), len, "the header alone gives the size");
	is_int(stun_frame_size(buf, 2 * (size_t)len), len, "the first of two messages");
	is_int(stun_frame_size(buf + len, (size_t)len), len, "the second one");
	memcpy(bad, buf, (size_t)len);
	bad[5] ^= 1;
	is_int(stun_frame_size(bad, (size_t)len), -EBADMSG, "bad magic cookie: not STUN");
	memcpy(bad, buf, (size_t)len);
	bad[0] |= 0x40;
	is_int(stun_frame_size(bad, (size_t)len), -EBADMSG, "top bits set: not STUN");
	memcpy(bad, buf, (size_t)len);
	bad[3] += 2;
	is_int(stun_frame_size(bad, (size_t)len), -EBADMSG, "length not a multiple of 4");
	memcpy(bad, "GET / HTTP/1.1\r\nHost: x\r\n", 24);
	is_int(stun_frame_size(bad, 24), -EBADMSG, "HTTP is not STUN");
}

/* Random damage must only ever produce 0, -EBADMSG or -EILSEQ (and no ASan report). */
static void test_mutations(void)
{
	uint8_t buf[256], bad[256];
	int len = sample(buf, sizeof(buf)), odd = 0;
	struct stun_msg m;

	srand(5769);
	for (int i = 0; i < 50000; i++) {
		int n = len, rc;

		memcpy(bad, buf, (size_t)len);
		for (int k = 1 + rand() % 4; k > 0; k--)
			bad[rand() % len] ^= (uint8_t)(1 + rand() % 255);
		if (rand() % 4 == 0)
			n = rand() % len;
		rc = stun_msg_decode(bad, (size_t)n, &m);
		odd += rc != 0 && rc != -EBADMSG && rc != -EILSEQ;
	}
	is_int(odd, 0, "50000 mutations give only 0, -EBADMSG or -EILSEQ");
}

static struct stun_server_config config_family(bool alternate, bool v6)
{
	struct stun_server_config cfg = {
		.primary = addr(v6 ? "[2001:db8::1]:3478" : "198.18.0.1:3478"),
		.alt_port = htons(3479),
		.software = "natlab test",
	};

	if (alternate)
		cfg.alternate = addr(v6 ? "[2001:db8::2]:0" : "198.18.0.2:0");
	return cfg;
}

static struct stun_server_config config(bool alternate)
{
	return config_family(alternate, false);
}

/* Asks local_ep with the given flags; checks sender, mapped, origin and other address. */
static void check_change(enum stun_endpoint local_ep, uint32_t flags, bool v6)
{
	static const char *names[] = { "A1:P1", "A1:P2", "A2:P1", "A2:P2" };
	struct stun_server_config cfg = config_family(true, v6);
	struct sockaddr_storage src = addr(v6 ? "[2001:db8:ffff::9]:40000" : "203.0.113.9:40000"),
	                        want_origin, want_other;
	enum stun_endpoint want = local_ep ^ ((flags & STUN_CHANGE_IP) ? 2 : 0) ^
	                          ((flags & STUN_CHANGE_PORT) ? 1 : 0),
	                   from = STUN_EP_COUNT;
	uint8_t txid[STUN_TXID_SIZE], req[64], out[STUN_MAX_MESSAGE];
	struct stun_msg m = { 0 };
	int len, rc;

	stun_txid_new(txid);
	len = stun_binding_request_encode(req, sizeof(req), txid, flags, true);
	rc =
	    stun_server_handle(&cfg, local_ep, req, (size_t)len, SA(&src), out, sizeof(out), &from);
	if (rc > 0)
		stun_msg_decode(out, (size_t)rc, &m);
	stun_server_endpoint(&cfg, want, &want_origin);
	stun_server_endpoint(&cfg, local_ep ^ 3, &want_other);
	ok(rc > 0 && from == want && m.type == STUN_BINDING_SUCCESS &&
	       !memcmp(m.txid, txid, STUN_TXID_SIZE) && addr_equal(SA(&m.xor_mapped), SA(&src)) &&
	       addr_equal(SA(&m.response_origin), SA(&want_origin)) &&
	       addr_equal(SA(&m.other), SA(&want_other)),
	   "IPv%c: received on %s, change%s%s: answered from %s (got %s, origin %s)",
	   v6 ? '6' : '4', names[local_ep], (flags & STUN_CHANGE_IP) ? " IP" : "",
	   (flags & STUN_CHANGE_PORT) ? " port" : "", names[want],
	   from < STUN_EP_COUNT ? names[from] : "none", fmt(&m.response_origin));
}

static int handle(const struct stun_server_config *cfg, enum stun_endpoint ep, const uint8_t *req,
                  size_t n, struct stun_msg *m, enum stun_endpoint *from)
{
	struct sockaddr_storage src = addr("203.0.113.9:40000");
	uint8_t out[STUN_MAX_MESSAGE];
	int rc = stun_server_handle(cfg, ep, req, n, SA(&src), out, sizeof(out), from);

	memset(m, 0, sizeof(*m));
	if (rc > 0 && stun_msg_decode(out, (size_t)rc, m) < 0)
		return -1000;
	return rc;
}

static void test_responder_single(void)
{
	struct stun_server_config cfg = config(false);
	uint8_t txid[STUN_TXID_SIZE] = { 0 }, req[64];
	struct stun_writer w;
	enum stun_endpoint from;
	struct stun_msg m;
	int len;

	len = stun_binding_request_encode(req, sizeof(req), txid, 0, true);
	ok(handle(&cfg, STUN_EP_A1P2, req, (size_t)len, &m, &from) > 0 &&
	       m.type == STUN_BINDING_SUCCESS && from == STUN_EP_A1P2 &&
	       !(m.present & STUN_HAS_OTHER) && !strcmp(fmt(&m.response_origin), "198.18.0.1:3479"),
	   "one address: plain request answered from where it came, no OTHER-ADDRESS");
	for (uint32_t flags = 0; flags <= 6; flags += 2) {
		stun_writer_init(&w, req, sizeof(req), STUN_BINDING_REQUEST, txid);
		stun_writer_add_u32(&w, STUN_ATTR_CHANGE_REQUEST, flags);
		len = stun_writer_finish(&w, true);
		ok(handle(&cfg, STUN_EP_A1P1, req, (size_t)len, &m, &from) > 0 &&
		       m.error_code == 420 && from == STUN_EP_A1P1,
		   "one address: CHANGE-REQUEST %u answered with 420 (got %d)", flags,
		   m.error_code);
	}
	is_int(handle(&cfg, STUN_EP_A2P1, req, (size_t)len, &m, &from), -EINVAL,
	       "no endpoint A2:P1 without an alternate address");
	cfg.alt_port = 0;
	is_int(handle(&cfg, STUN_EP_A1P2, req, (size_t)len, &m, &from), -EINVAL,
	       "no endpoint A1:P2 without an alternate port");
	cfg = config(true);
	cfg.alt_port = 0;
	is_int(stun_server_config_check(&cfg), -EINVAL, "alternate address needs a port");
	cfg = config(true);
	cfg.alternate = addr("[2001:db8::2]:0");
	is_int(stun_server_config_check(&cfg), -EINVAL,
	       "IPv4 primary with an IPv6 alternate address refused");
}

static void test_responder_ignores(void)
{
	struct stun_server_config cfg = config(true);
	uint8_t txid[STUN_TXID_SIZE] = { 0 }, buf[64], out[8];
	struct sockaddr_storage src = addr("203.0.113.9:40000");
	enum stun_endpoint from;
	struct stun_writer w;
	struct stun_msg m;
	int len;

	stun_writer_init(&w, buf, sizeof(buf), STUN_BINDING_SUCCESS, txid);
	len = stun_writer_finish(&w, true);
	is_int(handle(&cfg, STUN_EP_A1P1, buf, (size_t)len, &m, &from), 0, "response ignored");
	stun_writer_init(&w, buf, sizeof(buf), STUN_BINDING_INDICATION, txid);
	len = stun_writer_finish(&w, true);
	is_int(handle(&cfg, STUN_EP_A1P1, buf, (size_t)len, &m, &from), 0, "indication ignored");
	stun_writer_init(&w, buf, sizeof(buf), 0x0003, txid); /* Allocate: not ours */
	len = stun_writer_finish(&w, true);
	is_int(handle(&cfg, STUN_EP_A1P1, buf, (size_t)len, &m, &from), 0, "other methods ignored");
	is_int(handle(&cfg, STUN_EP_A1P1, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, &m, &from),
	       0, "garbage ignored");
	len = stun_binding_request_encode(buf, sizeof(buf), txid, 0, true);
	buf[len - 1] ^= 1;
	is_int(handle(&cfg, STUN_EP_A1P1, buf, (size_t)len, &m, &from), 0,
	       "bad FINGERPRINT dropped silently");
	len = with_attr(buf, sizeof(buf), STUN_ATTR_CHANGE_REQUEST, "00 00");
	ok(handle(&cfg, STUN_EP_A1P1, buf, (size_t)len, &m, &from) > 0 && m.error_code == 400,
	   "malformed request answered with 400 (got %d)", m.error_code);
	len = stun_binding_request_encode(buf, sizeof(buf), txid, 0, true);
	is_int(stun_server_handle(&cfg, STUN_EP_A1P1, buf, (size_t)len, SA(&src), out, sizeof(out),
	                          &from),
	       -ENOBUFS, "short output buffer: -ENOBUFS");
}

int main(void)
{
	test_rfc5769();
	test_round_trips();
	test_malformed();
	test_frame_size();
	test_mutations();
	for (int ep = 0; ep < STUN_EP_COUNT; ep++)
		for (uint32_t flags = 0; flags <= 6; flags += 2)
			for (int v6 = 0; v6 < 2; v6++)
				check_change(ep, flags, v6);
	test_responder_single();
	test_responder_ignores();
	return tap_done();
}
