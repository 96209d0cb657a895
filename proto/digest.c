/* SPDX-License-Identifier: MIT */
/* MD5 and HMAC-SHA1 through libcrypto: the only file that includes OpenSSL's digests. */
#include "natlab/digest.h"

#include <errno.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

int digest_md5(const void *data, size_t n, uint8_t out[DIGEST_MD5_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(data, n, out, &len, EVP_md5(), NULL) != 1 || len != DIGEST_MD5_LEN)
		return -EIO;
	return 0;
}

int digest_hmac_sha1(const void *key, size_t key_len, const void *data, size_t n,
                     uint8_t out[DIGEST_SHA1_LEN])
{
	unsigned int len = 0;

	if (key_len > INT32_MAX || !HMAC(EVP_sha1(), key, (int)key_len, data, n, out, &len) ||
	    len != DIGEST_SHA1_LEN)
		return -EIO;
	return 0;
}
