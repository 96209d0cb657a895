/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the port-mapping answers the peer reads from its gateway's UDP port 5351 (PCP
 * and NAT-PMP) and its SSDP search socket, where anything on the LAN may answer: the
 * decoders must read nothing outside the datagram and name whatever result code they
 * are given.
 */
#include <stddef.h>
#include <stdint.h>

#include "natlab/natpmp.h"
#include "natlab/pcp.h"
#include "natlab/ssdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcp_response p;
	struct natpmp_response n;
	char url[512];

	if (pcp_response_decode(data, size, &p) == 0)
		(void)pcp_result_name(p.result);
	if (natpmp_response_decode(data, size, &n) == 0)
		(void)natpmp_result_name(n.result);
	(void)ssdp_location_parse((const char *)data, size, url, sizeof(url));
	return 0;
}
