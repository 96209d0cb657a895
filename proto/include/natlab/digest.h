/* SPDX-License-Identifier: MIT */
/*
 * The two digests STUN's long-term credentials need and libsodium lacks: MD5 (the key,
 * RFC 8489 section 9.2.2) and HMAC-SHA1 (MESSAGE-INTEGRITY, section 14.5; TURN REST
 * passwords). OpenSSL's libcrypto is used in digest.c only.
 */
#ifndef NATLAB_DIGEST_H
#define NATLAB_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_MD5_LEN  16
#define DIGEST_SHA1_LEN 20

/* MD5 of data. 0 or -EIO (libcrypto failed, which it does not for MD5 outside FIPS mode). */
int digest_md5(const void *data, size_t n, uint8_t out[DIGEST_MD5_LEN]);
/* HMAC-SHA1 of data under key. 0 or -EIO. */
int digest_hmac_sha1(const void *key, size_t key_len, const void *data, size_t n,
                     uint8_t out[DIGEST_SHA1_LEN]);

#endif
