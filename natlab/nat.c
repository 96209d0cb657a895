/* SPDX-License-Identifier: MIT */
/* The one file that speaks libnftables. */
#include "natlab/nat.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replaces any previous natlab table in one transaction, so a profile change is atomic. */
static char *ruleset_with_reset(const char *ruleset)
{
	static const char reset[] = "table ip natlab\ndelete table ip natlab\n";
	size_t n = strlen(reset) + strlen(ruleset) + 1;
	char *buf = malloc(n);

	if (buf)
		snprintf(buf, n, "%s%s", reset, ruleset);
	return buf;
}

int nat_ruleset_apply(const char *ruleset, char *err, size_t errlen)
{
	struct nft_ctx *ctx;
	char *buf = NULL;
	int rc = 0;

	if (!*ruleset)
		return 0;
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		snprintf(err, errlen, "nftables: cannot create a context");
		return -ENOMEM;
	}
	if (nft_ctx_buffer_error(ctx) < 0 || nft_ctx_buffer_output(ctx) < 0) {
		rc = -ENOMEM;
		snprintf(err, errlen, "nftables: cannot buffer messages");
		goto out;
	}
	buf = ruleset_with_reset(ruleset);
	if (!buf) {
		rc = -ENOMEM;
		snprintf(err, errlen, "nftables: out of memory");
		goto out;
	}
	if (nft_run_cmd_from_buffer(ctx, buf) != 0) {
		const char *msg = nft_ctx_get_error_buffer(ctx);

		snprintf(err, errlen, "nftables: %s", msg && *msg ? msg : "ruleset rejected");
		rc = -EINVAL;
	}
out:
	free(buf);
	nft_ctx_free(ctx);
	return rc;
}
