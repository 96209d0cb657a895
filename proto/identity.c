/* SPDX-License-Identifier: MIT */
#include "natlab/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

int identity_init(void)
{
	static int done;

	if (done)
		return 0;
	if (sodium_init() < 0)
		return -ENOSYS;
	done = 1;
	return 0;
}

int identity_generate(struct identity *id)
{
	int rc = identity_init();

	if (rc < 0)
		return rc;
	crypto_sign_keypair(id->pub, id->secret);
	return 0;
}

static int hex_decode32(uint8_t out[32], const char *text, size_t len)
{
	size_t bin_len = 0;

	if (len != 64)
		return -EINVAL;
	if (sodium_hex2bin(out, 32, text, len, NULL, &bin_len, NULL) != 0 || bin_len != 32)
		return -EINVAL;
	return 0;
}

int identity_pub_parse(uint8_t pub[IDENTITY_PUB_LEN], const char *text)
{
	return hex_decode32(pub, text, strlen(text));
}

void identity_pub_format(const uint8_t pub[IDENTITY_PUB_LEN], char out[IDENTITY_PUB_TEXT_LEN + 1])
{
	sodium_bin2hex(out, IDENTITY_PUB_TEXT_LEN + 1, pub, IDENTITY_PUB_LEN);
}

/* Writes text to a new file; O_EXCL so a key is never silently replaced. */
static int write_new_file(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}

int identity_save(const struct identity *id, const char *path)
{
	char text[IDENTITY_PUB_TEXT_LEN + 2], pub_path[4096];
	int rc;

	if (snprintf(pub_path, sizeof(pub_path), "%s.pub", path) >= (int)sizeof(pub_path))
		return -ENAMETOOLONG;
	sodium_bin2hex(text, IDENTITY_PUB_TEXT_LEN + 1, id->secret, 32);
	strcat(text, "\n");
	rc = write_new_file(path, text, 0600);
	sodium_memzero(text, sizeof(text));
	if (rc < 0)
		goto out;
	identity_pub_format(id->pub, text);
	strcat(text, "\n");
	rc = write_new_file(pub_path, text, 0644);
out:
	return rc;
}

/* Reads a small file holding one hex word (whitespace around it ignored). */
static int read_hex_word(const char *path, uint8_t out[32])
{
	char buf[256], *start, *end;
	FILE *f;
	size_t n;
	int rc;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (start = buf; *start == ' ' || *start == '\t' || *start == '\n' || *start == '\r';
	     start++)
		;
	for (end = start; *end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r';
	     end++)
		;
	rc = hex_decode32(out, start, (size_t)(end - start));
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int identity_load(struct identity *id, const char *path)
{
	uint8_t seed[32];
	int rc = identity_init();

	if (rc < 0)
		return rc;
	rc = read_hex_word(path, seed);
	if (rc < 0)
		goto out;
	crypto_sign_seed_keypair(id->pub, id->secret, seed);
out:
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int identity_pub_load(uint8_t pub[IDENTITY_PUB_LEN], const char *path)
{
	int rc = identity_init();

	return rc < 0 ? rc : read_hex_word(path, pub);
}

/* Builds context || 0 || msg in a heap buffer; messages here are small. */
static uint8_t *domain_message(const char *context, const uint8_t *msg, size_t len, size_t *out_len)
{
	size_t clen = strlen(context) + 1;
	uint8_t *m = malloc(clen + len);

	if (!m)
		return NULL;
	memcpy(m, context, clen);
	if (len)
		memcpy(m + clen, msg, len);
	*out_len = clen + len;
	return m;
}

int identity_sign(const struct identity *id, const char *context, const uint8_t *msg, size_t len,
                  uint8_t sig[IDENTITY_SIG_LEN])
{
	size_t mlen;
	uint8_t *m;
	int rc = identity_init();

	if (rc < 0)
		return rc;
	m = domain_message(context, msg, len, &mlen);
	if (!m)
		return -ENOMEM;
	crypto_sign_detached(sig, NULL, m, mlen, id->secret);
	free(m);
	return 0;
}

int identity_verify(const uint8_t pub[IDENTITY_PUB_LEN], const char *context, const uint8_t *msg,
                    size_t len, const uint8_t sig[IDENTITY_SIG_LEN])
{
	size_t mlen;
	uint8_t *m;
	int rc = identity_init();

	if (rc < 0)
		return rc;
	m = domain_message(context, msg, len, &mlen);
	if (!m)
		return -ENOMEM;
	rc = crypto_sign_verify_detached(sig, m, mlen, pub) == 0 ? 0 : -EPERM;
	free(m);
	return rc;
}
