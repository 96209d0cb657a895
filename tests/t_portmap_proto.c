/* SPDX-License-Identifier: MIT */
/*
 * The port-mapping codecs (proto/pcp.c, proto/natpmp.c): requests laid out byte for byte
 * as RFC 6887 and RFC 6886 draw them, a PCP MAP answer captured from a real gateway
 * (Tailscale's net/portmapper test vector), and every kind of answer the peer must not
 * take for a mapping: another version, a request echoed back, short, long, odd-sized,
 * an IPv6 external address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "natlab/frame.h"
#include "natlab/natpmp.h"
#include "natlab/pcp.h"
#include "natlab/ssdp.h"
#include "tap.h"

/* A PCP MAP answer from a router in the field: 135.180.175.246:1234 for 7200 s. */
static const uint8_t field_map[] = {
	2, 129, 0, 0,   0,   0,   28, 32, 0,   2,   155, 237, 0,   0,  0,   0,   0,   0,   0,   0,
	0, 0,   0, 0,   129, 112, 9,  24, 241, 208, 251, 45,  157, 76, 10,  188, 17,  0,   0,   0,
	4, 210, 4, 210, 0,   0,   0,  0,  0,   0,   0,   0,   0,   0,  255, 255, 135, 180, 175, 246,
};

static void pcp_requests(void)
{
	struct pcp_map m = { .protocol = 17, .internal_port = 40000, .external_port = 40001 };
	struct in_addr client, ext;
	uint8_t out[PCP_MAX_LEN];

	inet_pton(AF_INET, "10.0.0.2", &client);
	inet_pton(AF_INET, "20.0.0.9", &ext);
	memset(m.nonce, 0xab, sizeof(m.nonce));
	m.external_addr = ext;
	is_int(pcp_map_request_encode(out, sizeof(out), client, 7200, &m), PCP_MAP_LEN,
	       "MAP: 60 bytes");
	is_int(out[0], 2, "version 2");
	is_int(out[1], PCP_OP_MAP, "opcode MAP, R bit clear");
	ok(out[4] == 0 && out[5] == 0 && out[6] == 0x1c && out[7] == 0x20, "lifetime 7200");
	ok(out[18] == 0xff && out[19] == 0xff && memcmp(out + 20, &client, 4) == 0,
	   "client address as ::ffff:10.0.0.2");
	ok(out[24] == 0xab && out[35] == 0xab, "the nonce");
	is_int(out[36], 17, "protocol UDP");
	ok(out[40] == 0x9c && out[41] == 0x40 && out[42] == 0x9c && out[43] == 0x41,
	   "internal port 40000, suggested 40001");
	ok(out[54] == 0xff && out[55] == 0xff && memcmp(out + 56, &ext, 4) == 0,
	   "suggested external address ::ffff:20.0.0.9");
	is_int(pcp_map_request_encode(out, PCP_MAP_LEN - 1, client, 1, &m), -ENOBUFS,
	       "MAP does not fit: -ENOBUFS");
	is_int(pcp_announce_request_encode(out, sizeof(out), client), PCP_HEADER_LEN,
	       "ANNOUNCE: 24 bytes");
	ok(out[1] == PCP_OP_ANNOUNCE && frame_get_u32(out + 4) == 0, "opcode 0, lifetime 0");
}

static void pcp_answers(void)
{
	struct pcp_response r;
	uint8_t b[PCP_MAX_LEN + 4];
	char a[INET_ADDRSTRLEN];

	is_int(pcp_response_decode(field_map, sizeof(field_map), &r), 0,
	       "a field router's MAP answer");
	is_int(r.opcode, PCP_OP_MAP, "opcode MAP");
	is_int(r.result, PCP_SUCCESS, "SUCCESS");
	is_int(r.lifetime, 7200, "lifetime 7200");
	is_int(r.epoch, 0x29bed, "epoch");
	is_int(r.map.protocol, 17, "UDP");
	is_int(r.map.internal_port, 1234, "internal port");
	is_int(r.map.external_port, 1234, "external port");
	inet_ntop(AF_INET, &r.map.external_addr, a, sizeof(a));
	is_str(a, "135.180.175.246", "external address");

	memcpy(b, field_map, sizeof(field_map));
	b[3] = PCP_NOT_AUTHORIZED;
	is_int(pcp_response_decode(b, sizeof(field_map), &r), 0, "a refusal decodes");
	is_str(pcp_result_name(r.result), "NOT_AUTHORIZED", "and names its result");
	is_str(pcp_result_name(200), "UNKNOWN", "an unknown result code");

	memcpy(b, field_map, sizeof(field_map));
	b[1] = PCP_OP_MAP; /* our own request echoed back */
	is_int(pcp_response_decode(b, sizeof(field_map), &r), -EBADMSG, "no R bit: not an answer");
	b[1] = 129;
	b[0] = 1;
	is_int(pcp_response_decode(b, sizeof(field_map), &r), -EBADMSG, "version 1");
	b[0] = 2;
	is_int(pcp_response_decode(b, 40, &r), -EBADMSG, "a MAP answer without its fields");
	is_int(pcp_response_decode(b, 23, &r), -EBADMSG, "shorter than the header");
	is_int(pcp_response_decode(b, 58, &r), -EBADMSG, "not a multiple of 4");
	memset(b + sizeof(field_map), 0, sizeof(b) - sizeof(field_map));
	is_int(pcp_response_decode(b, PCP_MAX_LEN + 4, &r), -EBADMSG, "longer than 1100 bytes");
	is_int(pcp_response_decode(b, PCP_MAX_LEN, &r), 0, "options after the fields are skipped");
	b[44] = 0x20; /* 2001:... external address */
	is_int(pcp_response_decode(b, sizeof(field_map), &r), -EBADMSG, "an IPv6 external address");
	b[1] = 0x80; /* ANNOUNCE */
	is_int(pcp_response_decode(b, PCP_HEADER_LEN, &r), 0,
	       "an ANNOUNCE answer: the header only");
	is_int(r.opcode, PCP_OP_ANNOUNCE, "opcode ANNOUNCE");
	b[0] = 0; /* a NAT-PMP server's "unsupported version" */
	b[1] = 0x80;
	is_int(pcp_response_decode(b, 8, &r), -EBADMSG, "a NAT-PMP answer is not PCP");
}

static void natpmp_messages(void)
{
	const uint8_t addr_rsp[] = { 0, 128, 0, 0, 0, 0, 0, 42, 20, 0, 0, 9 };
	const uint8_t map_rsp[] = { 0,    129,  0,    0,    0, 0, 1,    0,
		                    0x9c, 0x40, 0x17, 0x70, 0, 0, 0x1c, 0x20 };
	const uint8_t refused[] = { 0, 129, 0, 2, 0, 0, 0, 5 };
	struct natpmp_response r;
	uint8_t out[16];
	char a[INET_ADDRSTRLEN];

	is_int(natpmp_addr_request_encode(out, sizeof(out)), 2, "address request: 2 bytes");
	ok(out[0] == 0 && out[1] == 0, "version 0, opcode 0");
	is_int(natpmp_map_request_encode(out, sizeof(out), NATPMP_OP_MAP_UDP, 40000, 6000, 7200),
	       12, "UDP mapping request: 12 bytes");
	ok(out[1] == 1 && out[2] == 0 && out[3] == 0, "opcode 1, reserved 0");
	ok(out[4] == 0x9c && out[5] == 0x40 && out[6] == 0x17 && out[7] == 0x70,
	   "internal port 40000, suggested 6000");
	ok(out[8] == 0 && out[9] == 0 && out[10] == 0x1c && out[11] == 0x20, "lifetime 7200");
	is_int(natpmp_map_request_encode(out, sizeof(out), 3, 1, 1, 1), -EINVAL,
	       "opcode 3: -EINVAL");
	is_int(natpmp_map_request_encode(out, 11, 1, 1, 1, 1), -ENOBUFS, "does not fit: -ENOBUFS");

	is_int(natpmp_response_decode(addr_rsp, sizeof(addr_rsp), &r), 0,
	       "external address answer");
	inet_ntop(AF_INET, &r.external_addr, a, sizeof(a));
	is_str(a, "20.0.0.9", "its address");
	is_int(r.epoch, 42, "its epoch");
	is_int(natpmp_response_decode(map_rsp, sizeof(map_rsp), &r), 0, "mapping answer");
	ok(r.opcode == 1 && r.internal_port == 40000 && r.external_port == 6000 &&
	       r.lifetime == 7200 && r.epoch == 256,
	   "UDP 40000 -> 6000 for 7200 s, epoch 256");
	is_int(natpmp_response_decode(map_rsp, 15, &r), -EBADMSG, "a success cut short");
	is_int(natpmp_response_decode(refused, sizeof(refused), &r), 0, "a short refusal decodes");
	is_str(natpmp_result_name(r.result), "NOT_AUTHORIZED", "and says NOT_AUTHORIZED");
	is_int(natpmp_response_decode(map_rsp, 7, &r), -EBADMSG, "shorter than every answer");
	is_int(natpmp_response_decode(out, 12, &r), -EBADMSG, "a request is no answer");
	is_int(natpmp_response_decode(field_map, sizeof(field_map), &r), -EBADMSG,
	       "PCP is not NAT-PMP");
	memcpy(out, map_rsp, sizeof(map_rsp));
	out[1] = 0x83;
	is_int(natpmp_response_decode(out, sizeof(map_rsp), &r), -EBADMSG, "an unknown opcode");
}

static void ssdp_messages(void)
{
	/* An answer shaped as miniupnpd 2.3.1 gives it (headers in its order). */
	const char *answer = "HTTP/1.1 200 OK\r\n"
	                     "CACHE-CONTROL: max-age=120\r\n"
	                     "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
	                     "USN: uuid:1::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
	                     "EXT:\r\n"
	                     "SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
	                     "LOCATION: http://10.1.0.1:5000/rootDesc.xml\r\n"
	                     "\r\n";
	char req[256], url[64];

	ok(ssdp_search_encode(req, sizeof(req)) > 0 &&
	       strstr(req, "M-SEARCH * HTTP/1.1\r\n") == req &&
	       strstr(req, "ST: " SSDP_IGD_TYPE "\r\n") &&
	       strstr(req, "MAN: \"ssdp:discover\"\r\n") && strstr(req, "\r\n\r\n"),
	   "M-SEARCH for an IGD, ended by an empty line");
	is_int(ssdp_search_encode(req, 40), -ENOBUFS, "M-SEARCH does not fit: -ENOBUFS");
	is_int(ssdp_location_parse(answer, strlen(answer), url, sizeof(url)), 33,
	       "an IGD's answer");
	is_str(url, "http://10.1.0.1:5000/rootDesc.xml", "its LOCATION");
	is_int(ssdp_location_parse("HTTP/1.1 200 OK\nlocation:\thttp://a/b \n\n", 39, url,
	                           sizeof(url)),
	       10, "bare LF, lower case, blanks around the URL");
	is_str(url, "http://a/b", "the URL without blanks");
	is_int(ssdp_location_parse(answer, strlen(answer), url, 20), -ENOBUFS,
	       "a URL too long: -ENOBUFS");
	is_int(ssdp_location_parse(req, strlen(req), url, sizeof(url)), -EBADMSG,
	       "a request is no answer");
	is_int(ssdp_location_parse("HTTP/1.1 200 OK\r\nST: x\r\n\r\nLOCATION: http://x/\r\n", 48,
	                           url, sizeof(url)),
	       -EBADMSG, "a LOCATION after the headers' end does not count");
	is_int(ssdp_location_parse("HTTP/1.1 200 OK\r\nLOCATION: file:///etc/passwd\r\n", 48, url,
	                           sizeof(url)),
	       -EBADMSG, "only http:// descriptions");
	is_int(ssdp_location_parse("HTTP/1.1 200", 11, url, sizeof(url)), -EBADMSG, "cut short");
}

int main(void)
{
	pcp_requests();
	pcp_answers();
	natpmp_messages();
	ssdp_messages();
	return tap_done();
}
