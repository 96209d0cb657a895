/* SPDX-License-Identifier: MIT */
/*
 * TLS over memory BIOs: the only file that speaks OpenSSL (tls.h says how to use it).
 * OpenSSL's error queue is per thread and sticky, so every entry point clears it first
 * and turns what it finds into one sentence before returning.
 */
#include "natlab/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct tls_ctx {
	SSL_CTX *ssl;
	int refs;
	enum tls_role role;
	int have_ca;
	int have_pin;
	uint8_t pin[TLS_FP_LEN];
	char ca_file[256];
};

struct tls_conn {
	struct tls_ctx *ctx;
	SSL *ssl;
	BIO *rbio, *wbio; /* network side: what we were fed, what we must send */
	int established;
	char err[TLS_ERR_MAX];
};

static void tls_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A sentence into err; OpenSSL's first queued error, if any, appended as the cause. */
static void tls_errf(char *err, size_t errlen, const char *fmt, ...)
{
	unsigned long e = ERR_peek_error();
	char why[160] = "";
	va_list ap;
	int n;

	if (!err || !errlen)
		return;
	if (e) {
		const char *r = ERR_reason_error_string(e);

		snprintf(why, sizeof(why), ": %s", r ? r : "unknown OpenSSL error");
	}
	ERR_clear_error();
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
	else if ((size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, "%s", why);
}

static int tls_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int tls_fp_parse(uint8_t fp[TLS_FP_LEN], const char *text)
{
	const char *eq = strchr(text, '=');
	size_t i = 0;
	int colons = -1;

	/* "sha256 Fingerprint=AB:CD:..." as openssl x509 prints it. */
	if (eq)
		text = eq + 1;
	while (i < TLS_FP_LEN) {
		int hi = tls_hexval(text[0]), lo = hi < 0 ? -1 : tls_hexval(text[1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		fp[i++] = (uint8_t)(hi << 4 | lo);
		text += 2;
		if (i == TLS_FP_LEN)
			break;
		/* Colons between every pair or between none. */
		if (colons < 0)
			colons = *text == ':';
		if (colons) {
			if (*text != ':')
				return -EINVAL;
			text++;
		}
	}
	while (*text == '\n' || *text == '\r' || *text == ' ')
		text++;
	return *text ? -EINVAL : 0;
}

void tls_fp_format(const uint8_t fp[TLS_FP_LEN], char out[TLS_FP_TEXT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < TLS_FP_LEN; i++) {
		out[2 * i] = hex[fp[i] >> 4];
		out[2 * i + 1] = hex[fp[i] & 15];
	}
	out[TLS_FP_TEXT_LEN] = '\0';
}

static int tls_x509_fp(X509 *x, uint8_t fp[TLS_FP_LEN])
{
	unsigned n = 0;

	if (X509_digest(x, EVP_sha256(), fp, &n) != 1 || n != TLS_FP_LEN)
		return -EPROTO;
	return 0;
}

/*
 * OpenSSL's chain check replaced by ours, so that a pinned fingerprint can stand alone
 * (a self-signed relay certificate with no CA) and the refusal says which check failed.
 */
static int tls_verify_cb(X509_STORE_CTX *xs, void *arg)
{
	struct tls_ctx *ctx = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	uint8_t fp[TLS_FP_LEN];
	char got[TLS_FP_TEXT_LEN + 1], want[TLS_FP_TEXT_LEN + 1];

	if (!c || !leaf)
		return 0;
	if (ctx->have_ca && X509_verify_cert(xs) != 1) {
		int e = X509_STORE_CTX_get_error(xs);

		snprintf(c->err, sizeof(c->err),
		         "server certificate refused: %s (checked against CA file \"%s\")",
		         X509_verify_cert_error_string(e), ctx->ca_file);
		return 0;
	}
	if (ctx->have_pin) {
		if (tls_x509_fp(leaf, fp) < 0 || memcmp(fp, ctx->pin, TLS_FP_LEN) != 0) {
			tls_fp_format(fp, got);
			tls_fp_format(ctx->pin, want);
			snprintf(
			    c->err, sizeof(c->err),
			    "server certificate refused: its SHA-256 fingerprint %s is not the pinned %s",
			    got, want);
			X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
			return 0;
		}
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

/* Reads a PEM private key; a missing or unreadable file says why in errno's words. */
static EVP_PKEY *tls_key_read(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f) {
		tls_errf(err, errlen, "key file \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		tls_errf(err, errlen, "key file \"%s\": cannot load it as a PEM private key", path);
	return k;
}

static int tls_ctx_load_server(struct tls_ctx *ctx, const struct tls_config *cfg, char *err,
                               size_t errlen)
{
	EVP_PKEY *k;
	int rc = -EINVAL;

	if (!cfg->cert_file || !cfg->key_file) {
		tls_errf(err, errlen,
		         "TLS server: a certificate file and a key file are both needed "
		         "(make a pair with natlab-relay tls-cert)");
		return -EINVAL;
	}
	if (access(cfg->cert_file, R_OK) != 0) {
		tls_errf(err, errlen, "certificate file \"%s\": %s", cfg->cert_file,
		         strerror(errno));
		return -EINVAL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx->ssl, cfg->cert_file) != 1) {
		tls_errf(err, errlen, "certificate file \"%s\": cannot load it as PEM",
		         cfg->cert_file);
		return -EINVAL;
	}
	k = tls_key_read(cfg->key_file, err, errlen);
	if (!k)
		return -EINVAL;
	if (SSL_CTX_use_PrivateKey(ctx->ssl, k) != 1 || SSL_CTX_check_private_key(ctx->ssl) != 1) {
		tls_errf(err, errlen, "key file \"%s\" does not match certificate file \"%s\"",
		         cfg->key_file, cfg->cert_file);
		goto out;
	}
	/* No session tickets: clients reconnect rarely, and tickets are bytes on every link. */
	SSL_CTX_set_num_tickets(ctx->ssl, 0);
	rc = 0;
out:
	EVP_PKEY_free(k);
	return rc;
}

static int tls_ctx_load_client(struct tls_ctx *ctx, const struct tls_config *cfg, char *err,
                               size_t errlen)
{
	int rc;

	if (!cfg->ca_file && !cfg->pin) {
		tls_errf(err, errlen,
		         "TLS client: give a CA file or a pinned certificate "
		         "fingerprint; an unverified server is not accepted");
		return -EINVAL;
	}
	if (cfg->pin) {
		if (tls_fp_parse(ctx->pin, cfg->pin) < 0) {
			tls_errf(
			    err, errlen,
			    "pinned fingerprint \"%s\": expected 64 hex digits (SHA-256, colons allowed)",
			    cfg->pin);
			return -EINVAL;
		}
		ctx->have_pin = 1;
	}
	if (cfg->ca_file) {
		rc = snprintf(ctx->ca_file, sizeof(ctx->ca_file), "%s", cfg->ca_file);
		if (rc < 0 || (size_t)rc >= sizeof(ctx->ca_file)) {
			tls_errf(err, errlen, "CA file \"%s\": path too long", cfg->ca_file);
			return -ENAMETOOLONG;
		}
		if (SSL_CTX_load_verify_locations(ctx->ssl, cfg->ca_file, NULL) != 1) {
			tls_errf(err, errlen,
			         "CA file \"%s\": cannot load PEM certificates from it",
			         cfg->ca_file);
			return -EINVAL;
		}
		ctx->have_ca = 1;
	}
	SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx->ssl, tls_verify_cb, ctx);
	return 0;
}

int tls_ctx_new(struct tls_ctx **out, const struct tls_config *cfg, char *err, size_t errlen)
{
	struct tls_ctx *ctx;
	int rc;

	*out = NULL;
	ERR_clear_error();
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->refs = 1;
	ctx->role = cfg->role;
	ctx->ssl =
	    SSL_CTX_new(cfg->role == TLS_ROLE_SERVER ? TLS_server_method() : TLS_client_method());
	if (!ctx->ssl) {
		tls_errf(err, errlen, "TLS: cannot create a context");
		rc = -ENOMEM;
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_RENEGOTIATION);
	/* Idle connections give their record buffers back (a relay holds thousands). */
	SSL_CTX_set_mode(ctx->ssl, SSL_MODE_RELEASE_BUFFERS);
	rc = cfg->role == TLS_ROLE_SERVER ? tls_ctx_load_server(ctx, cfg, err, errlen)
	                                  : tls_ctx_load_client(ctx, cfg, err, errlen);
out:
	if (rc < 0) {
		tls_ctx_free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

static void tls_ctx_unref(struct tls_ctx *ctx)
{
	if (!ctx || --ctx->refs > 0)
		return;
	SSL_CTX_free(ctx->ssl);
	free(ctx);
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	tls_ctx_unref(ctx);
}

/* A literal IP address is checked against iPAddress entries, a name against dNSName. */
static int tls_conn_set_name(struct tls_conn *c, const char *name)
{
	struct in6_addr a6;
	struct in_addr a4;
	int is_ip = inet_pton(AF_INET, name, &a4) == 1 || inet_pton(AF_INET6, name, &a6) == 1;

	if (is_ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name) == 1 ? 0
		                                                                        : -EINVAL;
	if (SSL_set_tlsext_host_name(c->ssl, name) != 1 || SSL_set1_host(c->ssl, name) != 1)
		return -EINVAL;
	return 0;
}

int tls_conn_new(struct tls_conn **out, struct tls_ctx *ctx, const char *server_name)
{
	struct tls_conn *c;
	int rc = -ENOMEM;

	*out = NULL;
	ERR_clear_error();
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ssl = SSL_new(ctx->ssl);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		goto out;
	}
	/* An empty input buffer means "wait for more", never end of stream. */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_app_data(c->ssl, c);
	c->ctx = ctx;
	ctx->refs++;
	if (ctx->role == TLS_ROLE_SERVER) {
		SSL_set_accept_state(c->ssl);
		rc = 0;
		goto out;
	}
	SSL_set_connect_state(c->ssl);
	if (server_name && server_name[0] && tls_conn_set_name(c, server_name) < 0) {
		rc = -EINVAL;
		goto out;
	}
	rc = tls_conn_handshake(c);
	if (rc > 0)
		rc = 0;
out:
	if (rc < 0) {
		tls_conn_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl); /* frees both BIOs */
	tls_ctx_unref(c->ctx);
	free(c);
}

int tls_conn_feed(struct tls_conn *c, const void *data, size_t len)
{
	if (!len)
		return 0;
	if (len > INT32_MAX || BIO_write(c->rbio, data, (int)len) != (int)len)
		return -ENOMEM;
	return 0;
}

/* Turns the result of an SSL_* call into 0 (wait for input), -EPIPE or an error. */
static int tls_conn_fail(struct tls_conn *c, int ret, const char *what)
{
	int e = SSL_get_error(c->ssl, ret);
	long v;

	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		ERR_clear_error();
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		snprintf(c->err, sizeof(c->err), "TLS peer closed the connection");
		return -EPIPE;
	default:
		break;
	}
	v = SSL_get_verify_result(c->ssl);
	if (c->err[0] && v != X509_V_OK) {
		/* tls_verify_cb left the sentence. */
		ERR_clear_error();
		return -EKEYREJECTED;
	}
	tls_errf(c->err, sizeof(c->err), "TLS %s failed", what);
	return -EPROTO;
}

int tls_conn_handshake(struct tls_conn *c)
{
	int ret;

	if (c->established)
		return 1;
	ERR_clear_error();
	ret = SSL_do_handshake(c->ssl);
	if (ret == 1) {
		c->established = 1;
		return 1;
	}
	return tls_conn_fail(c, ret, "handshake");
}

int tls_conn_read(struct tls_conn *c, void *buf, size_t cap)
{
	int ret;

	if (!c->established) {
		ret = tls_conn_handshake(c);
		if (ret <= 0)
			return ret;
	}
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	ERR_clear_error();
	ret = SSL_read(c->ssl, buf, (int)cap);
	if (ret > 0)
		return ret;
	return tls_conn_fail(c, ret, "read");
}

int tls_conn_write(struct tls_conn *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	int ret;

	if (!c->established)
		return -EAGAIN;
	while (len) {
		int n = len > INT32_MAX ? INT32_MAX : (int)len;

		ERR_clear_error();
		/* Memory BIOs grow: a write takes everything unless TLS itself failed. */
		ret = SSL_write(c->ssl, p, n);
		if (ret <= 0) {
			ret = tls_conn_fail(c, ret, "write");
			return ret < 0 ? ret : -EPROTO;
		}
		p += ret;
		len -= (size_t)ret;
	}
	return 0;
}

size_t tls_conn_pending(const struct tls_conn *c)
{
	return BIO_ctrl_pending(c->wbio);
}

size_t tls_conn_take(struct tls_conn *c, void *buf, size_t cap)
{
	int n;

	if (cap > INT32_MAX)
		cap = INT32_MAX;
	n = BIO_read(c->wbio, buf, (int)cap);
	return n > 0 ? (size_t)n : 0;
}

/* Memory BIOs keep what they once held allocated: fresh ones replace them. */
int tls_conn_trim(struct tls_conn *c)
{
	BIO *r, *w;

	if (BIO_ctrl_pending(c->rbio) || BIO_ctrl_pending(c->wbio))
		return 0;
	r = BIO_new(BIO_s_mem());
	w = BIO_new(BIO_s_mem());
	if (!r || !w) {
		BIO_free(r);
		BIO_free(w);
		return -ENOMEM;
	}
	BIO_set_mem_eof_return(r, -1);
	SSL_set_bio(c->ssl, r, w); /* frees the old pair */
	c->rbio = r;
	c->wbio = w;
	return 1;
}

int tls_conn_shutdown(struct tls_conn *c)
{
	int ret;

	if (!c->established)
		return 0;
	ERR_clear_error();
	ret = SSL_shutdown(c->ssl);
	return ret < 0 ? tls_conn_fail(c, ret, "shutdown") : 0;
}

int tls_conn_established(const struct tls_conn *c)
{
	return c->established;
}

const char *tls_conn_error(const struct tls_conn *c)
{
	return c->err;
}

const char *tls_conn_version(const struct tls_conn *c)
{
	return c->established ? SSL_get_version(c->ssl) : "";
}

int tls_conn_peer_fp(const struct tls_conn *c, uint8_t fp[TLS_FP_LEN])
{
	X509 *x = SSL_get0_peer_certificate(c->ssl);

	if (!x)
		return -ENOENT;
	return tls_x509_fp(x, fp);
}

/* subjectAltName from "a,b,c": IP: for address literals, DNS: otherwise. */
static int tls_cert_san(X509 *x, const char *names, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *tok, val[1200];
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	size_t used = 0;
	int rc;

	rc = snprintf(buf, sizeof(buf), "%s", names);
	if (rc < 0 || (size_t)rc >= sizeof(buf)) {
		tls_errf(err, errlen, "certificate names \"%.40s...\": too long", names);
		return -EINVAL;
	}
	val[0] = '\0';
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct in6_addr a;
		int ip = inet_pton(AF_INET, tok, &a) == 1 || inet_pton(AF_INET6, tok, &a) == 1;
		size_t i;

		for (i = 0; tok[i]; i++) {
			if (!(tok[i] == '.' || tok[i] == '-' || tok[i] == ':' ||
			      (tok[i] >= '0' && tok[i] <= '9') ||
			      (tok[i] >= 'a' && tok[i] <= 'z') ||
			      (tok[i] >= 'A' && tok[i] <= 'Z'))) {
				tls_errf(err, errlen,
				         "certificate name \"%s\": not an IP address or a DNS name",
				         tok);
				return -EINVAL;
			}
		}
		rc = snprintf(val + used, sizeof(val) - used, "%s%s:%s", used ? "," : "",
		              ip ? "IP" : "DNS", tok);
		if (rc < 0 || (size_t)rc >= sizeof(val) - used)
			return -EINVAL;
		used += (size_t)rc;
	}
	if (!used) {
		tls_errf(err, errlen,
		         "certificate names: give at least one IP address or DNS name");
		return -EINVAL;
	}
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, val);
	if (!ext || X509_add_ext(x, ext, -1) != 1) {
		X509_EXTENSION_free(ext);
		tls_errf(err, errlen, "certificate names \"%s\": cannot encode them", names);
		return -EINVAL;
	}
	X509_EXTENSION_free(ext);
	return 0;
}

static int tls_cert_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	ok = ext && X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

/* Opens path for writing, never over an existing file; mode 0600 for keys. */
static FILE *tls_file_create(const char *path, mode_t mode, int *rc)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f;

	if (fd < 0) {
		*rc = -errno;
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		*rc = -errno;
		close(fd);
	}
	return f;
}

static int tls_cert_build(X509 **out, EVP_PKEY *key, const char *names, unsigned days, char *err,
                          size_t errlen)
{
	X509 *x = X509_new();
	X509_NAME *subj;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	char cn[64];
	size_t cnlen = strcspn(names, ",");
	int rc = -EINVAL;

	if (!x)
		return -ENOMEM;
	snprintf(cn, sizeof(cn), "%.*s", (int)(cnlen < sizeof(cn) - 1 ? cnlen : sizeof(cn) - 1),
	         names);
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive serial number */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	subj = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 || !bn ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(x, subj) != 1 || X509_set_pubkey(x, key) != 1) {
		tls_errf(err, errlen, "certificate: cannot fill in its fields");
		goto out;
	}
	rc = tls_cert_san(x, names, err, errlen);
	if (rc < 0)
		goto out;
	/* Its own CA: a client can trust it by CA file as well as by fingerprint. */
	if (tls_cert_ext(x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    tls_cert_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
	    tls_cert_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    tls_cert_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		tls_errf(err, errlen, "certificate: cannot sign it");
		rc = -EINVAL;
		goto out;
	}
	rc = 0;
out:
	BN_free(bn);
	if (rc < 0)
		X509_free(x);
	else
		*out = x;
	return rc;
}

int tls_cert_make(const char *cert_path, const char *key_path, const char *names, unsigned days,
                  uint8_t fp[TLS_FP_LEN], char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	FILE *kf = NULL, *cf = NULL;
	int rc;

	ERR_clear_error();
	if (!days || days > 36500) {
		tls_errf(err, errlen, "certificate validity %u days: give 1 to 36500", days);
		return -EINVAL;
	}
	key = EVP_EC_gen("P-256");
	if (!key) {
		tls_errf(err, errlen, "certificate: cannot generate a P-256 key");
		return -ENOMEM;
	}
	rc = tls_cert_build(&x, key, names, days, err, errlen);
	if (rc < 0)
		goto out;
	rc = tls_x509_fp(x, fp);
	if (rc < 0)
		goto out;
	kf = tls_file_create(key_path, 0600, &rc);
	if (!kf) {
		tls_errf(err, errlen, "key file \"%s\": %s%s", key_path, strerror(-rc),
		         rc == -EEXIST ? " (remove it first; it is never overwritten)" : "");
		goto out;
	}
	cf = tls_file_create(cert_path, 0644, &rc);
	if (!cf) {
		tls_errf(err, errlen, "certificate file \"%s\": %s%s", cert_path, strerror(-rc),
		         rc == -EEXIST ? " (remove it first; it is never overwritten)" : "");
		fclose(kf);
		kf = NULL;
		unlink(key_path);
		goto out;
	}
	if (PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_X509(cf, x) != 1) {
		tls_errf(err, errlen, "certificate files \"%s\", \"%s\": cannot write them",
		         cert_path, key_path);
		rc = -EIO;
	}
	if (fclose(kf) != 0 && rc == 0)
		rc = -errno;
	if (fclose(cf) != 0 && rc == 0)
		rc = -errno;
	kf = cf = NULL;
	if (rc < 0) {
		unlink(key_path);
		unlink(cert_path);
	}
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int tls_cert_fp(const char *cert_path, uint8_t fp[TLS_FP_LEN], char *err, size_t errlen)
{
	FILE *f;
	X509 *x;
	int rc;

	ERR_clear_error();
	f = fopen(cert_path, "r");
	if (!f) {
		rc = -errno;
		tls_errf(err, errlen, "certificate file \"%s\": %s", cert_path, strerror(-rc));
		return rc;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x) {
		tls_errf(err, errlen, "certificate file \"%s\": no PEM certificate in it",
		         cert_path);
		return -EINVAL;
	}
	rc = tls_x509_fp(x, fp);
	X509_free(x);
	return rc;
}
