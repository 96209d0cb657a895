/* SPDX-License-Identifier: MIT */
/*
 * Ed25519 identities and issuer keys: generation, key files and the text form of a
 * public key. A public key is written as 64 lowercase hex characters everywhere
 * (CLI arguments, .pub files, logs). A secret key file holds the 32-byte seed as 64
 * hex characters and a newline, mode 0600; FILE.pub holds the public key.
 */
#ifndef NATLAB_IDENTITY_H
#define NATLAB_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define IDENTITY_PUB_LEN      32
#define IDENTITY_SECRET_LEN   64 /* libsodium's seed || public key form */
#define IDENTITY_SIG_LEN      64
#define IDENTITY_PUB_TEXT_LEN 64

struct identity {
	uint8_t pub[IDENTITY_PUB_LEN];
	uint8_t secret[IDENTITY_SECRET_LEN];
};

/* Calls sodium_init() once; returns 0 or -ENOSYS. Every other function calls it. */
int identity_init(void);

/* Fills id with a fresh key pair. */
int identity_generate(struct identity *id);

/* Writes path (the seed, created 0600, refusing to overwrite: -EEXIST) and path.pub. */
int identity_save(const struct identity *id, const char *path);
/* Reads a secret key file. -ENOENT, -EACCES..., or -EINVAL if it is not 64 hex chars. */
int identity_load(struct identity *id, const char *path);
/* Reads a public key file (one hex key, surrounding whitespace ignored). */
int identity_pub_load(uint8_t pub[IDENTITY_PUB_LEN], const char *path);

/* Parses 64 hex characters (nothing else) into pub. -EINVAL otherwise. */
int identity_pub_parse(uint8_t pub[IDENTITY_PUB_LEN], const char *text);
/* Formats pub into out, NUL-terminated (IDENTITY_PUB_TEXT_LEN + 1 bytes). */
void identity_pub_format(const uint8_t pub[IDENTITY_PUB_LEN], char out[IDENTITY_PUB_TEXT_LEN + 1]);

/*
 * Domain-separated signing: the signed message is context || 0x00 || msg, so a
 * signature made for one purpose (relay auth, tokens, ...) never verifies for another,
 * and a relay cannot collect signatures that mean anything elsewhere. context must
 * not contain NUL. verify returns 0 or -EPERM.
 */
int identity_sign(const struct identity *id, const char *context, const uint8_t *msg, size_t len,
                  uint8_t sig[IDENTITY_SIG_LEN]);
int identity_verify(const uint8_t pub[IDENTITY_PUB_LEN], const char *context, const uint8_t *msg,
                    size_t len, const uint8_t sig[IDENTITY_SIG_LEN]);

#endif
