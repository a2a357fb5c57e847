/* Server TLS contexts with SNI selection, built from a certificate blob.
 * Blob format: "WDTLS1\n", then per certificate "<certlen> <keylen>\n"
 * followed by that many bytes of PEM chain and PEM key. */
#include "tls.h"
#include "log.h"
#include "mem.h"
#include "tls_dir.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BLOB_MAGIC "WDTLS1\n"

struct tls_cert {
	SSL_CTX *ctx;
	char **names; /* DNS names from SAN, or the CN when there is no SAN */
	size_t name_count;
};

struct tls_server {
	int refcount;
	struct tls_cert *certs;
	size_t count;
};

static char tls_error[512];

static const char *openssl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(tls_error, sizeof(tls_error), "%s: %s", what, e != 0 ? buf : "unknown error");
	return tls_error;
}

static int read_file(const char *path, struct buffer *out, const char **error_r)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(tls_error, sizeof(tls_error), "%s: %s", path, strerror(errno));
		*error_r = tls_error;
		return -1;
	}
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buffer_append(out, chunk, n);
	fclose(f);
	return 0;
}

struct dir_ctx {
	const struct config *config;
	struct buffer *blob;
	size_t count;
};

/* A pair from tls.certs_dir joins the blob only if it loads on its own:
 * an upload that went wrong must not stop a reload of everything else. */
static void dir_add(const char *name, const struct buffer *cert, const struct buffer *key,
		    const char *error, void *context)
{
	struct dir_ctx *d = context;
	struct buffer one = BUFFER_INIT;
	struct tls_server *server;
	if (error == NULL) {
		buffer_append_str(&one, BLOB_MAGIC);
		buffer_printf(&one, "%zu %zu\n", cert->len, key->len);
		buffer_append(&one, cert->data, cert->len);
		buffer_append(&one, key->data, key->len);
		if (tls_server_create(d->config, one.data, one.len, &server, &error) == 0)
			tls_server_unref(&server);
	}
	if (error != NULL) {
		log_warn("event=tls_stored_cert_skipped name=%s error=\"%s\"", name, error);
	} else {
		buffer_append(d->blob, one.data + strlen(BLOB_MAGIC), one.len - strlen(BLOB_MAGIC));
		d->count++;
	}
	buffer_free(&one);
}

int tls_blob_from_files(const struct config *config, struct buffer *blob, const char **error_r)
{
	buffer_append_str(blob, BLOB_MAGIC);
	for (size_t i = 0; i < config->tls.certificates.count; i++) {
		const struct config_cert *c = &config->tls.certificates.items[i];
		struct buffer cert = BUFFER_INIT, key = BUFFER_INIT;
		int ret = read_file(c->cert, &cert, error_r);
		if (ret == 0)
			ret = read_file(c->key, &key, error_r);
		if (ret == 0) {
			buffer_printf(blob, "%zu %zu\n", cert.len, key.len);
			buffer_append(blob, cert.data, cert.len);
			buffer_append(blob, key.data, key.len);
		}
		buffer_free(&cert);
		buffer_free(&key);
		if (ret < 0)
			return -1;
	}
	struct dir_ctx d = { .config = config, .blob = blob };
	const char *error;
	if (tls_dir_read(config, dir_add, &d, &error) < 0)
		log_warn("event=tls_certs_dir_failed error=\"%s\"", error);
	else if (d.count > 0)
		log_info("event=tls_stored_certs count=%zu", d.count);
	/* load it once here so a broken pair is refused before any worker sees it */
	struct tls_server *server;
	if (tls_server_create(config, blob->data, blob->len, &server, error_r) < 0)
		return -1;
	tls_server_unref(&server);
	return 0;
}

int tls_ctx_configure(SSL_CTX *ctx, const struct config *config, const char **error_r)
{
	/* EOF without close_notify is ordinary for mail clients; without this
	 * OpenSSL 3 reports an error and libevent writes an alert (SIGPIPE). */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* 48 KiB -> 16 KiB per idle TLS connection */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* workers share no ticket keys yet: a ticket from one would fail on another */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_dh_auto(ctx, 1);
	int version = strcmp(config->tls.min_version, "TLSv1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
	if (!SSL_CTX_set_min_proto_version(ctx, version)) {
		*error_r = openssl_error("tls.min_version");
		return -1;
	}
	if (!SSL_CTX_set_cipher_list(ctx, config->tls.ciphers)) {
		*error_r = openssl_error("tls.ciphers");
		return -1;
	}
	return 0;
}

static void cert_add_name(struct tls_cert *c, const char *name, size_t len)
{
	c->names = xrealloc(c->names, (c->name_count + 1) * sizeof(char *));
	c->names[c->name_count++] = xstrndup(name, len);
}

static void cert_collect_names(struct tls_cert *c, X509 *x509)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(x509, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type == GEN_DNS)
			cert_add_name(c, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
				      (size_t)ASN1_STRING_length(gn->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	if (c->name_count > 0)
		return;
	char cn[256];
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x509), NID_commonName, cn, sizeof(cn));
	if (n > 0)
		cert_add_name(c, cn, (size_t)n);
}

static int cert_load(struct tls_cert *c, const struct config *config, size_t index,
		     const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
		     const char **error_r)
{
	char what[64];
	snprintf(what, sizeof(what), "tls.certificates[%zu]", index);
	c->ctx = SSL_CTX_new(TLS_server_method());
	if (c->ctx == NULL || tls_ctx_configure(c->ctx, config, error_r) < 0)
		return c->ctx == NULL ? (*error_r = openssl_error(what), -1) : -1;
	BIO *bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
	X509 *leaf = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
	int ok = leaf != NULL && SSL_CTX_use_certificate(c->ctx, leaf);
	if (ok)
		cert_collect_names(c, leaf);
	X509_free(leaf);
	X509 *chain;
	while (ok && (chain = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!SSL_CTX_add0_chain_cert(c->ctx, chain)) {
			X509_free(chain);
			ok = 0;
		}
	}
	ERR_clear_error(); /* the end of the chain reads as an error */
	BIO_free(bio);
	if (!ok) {
		snprintf(what + strlen(what), sizeof(what) - strlen(what), ".cert");
		*error_r = openssl_error(what);
		return -1;
	}
	bio = BIO_new_mem_buf(key_pem, (int)key_len);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ok = key != NULL && SSL_CTX_use_PrivateKey(c->ctx, key) && SSL_CTX_check_private_key(c->ctx);
	EVP_PKEY_free(key);
	if (!ok) {
		snprintf(what + strlen(what), sizeof(what) - strlen(what), ".key");
		*error_r = openssl_error(what);
		return -1;
	}
	return 0;
}

static bool name_matches(const char *pattern, const char *host)
{
	if (strcasecmp(pattern, host) == 0)
		return true;
	/* "*.example.com" covers exactly one more label */
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(host, '.');
		return dot != NULL && dot != host && strcasecmp(pattern + 1, dot) == 0;
	}
	return false;
}

static int servername_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *server = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (host == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < server->count; i++) {
		for (size_t j = 0; j < server->certs[i].name_count; j++) {
			if (name_matches(server->certs[i].names[j], host)) {
				if (i > 0)
					SSL_set_SSL_CTX(ssl, server->certs[i].ctx);
				return SSL_TLSEXT_ERR_OK;
			}
		}
	}
	return SSL_TLSEXT_ERR_OK; /* unknown name: the default certificate */
}

static int blob_next(const unsigned char **p, const unsigned char *end, const char **cert_r,
		     size_t *cert_len_r, const char **key_r, size_t *key_len_r)
{
	const unsigned char *lf = memchr(*p, '\n', (size_t)(end - *p));
	if (lf == NULL || lf - *p > 40)
		return -1;
	char head[48];
	memcpy(head, *p, (size_t)(lf - *p));
	head[lf - *p] = '\0';
	if (sscanf(head, "%zu %zu", cert_len_r, key_len_r) != 2 ||
	    *cert_len_r > (size_t)(end - lf - 1) || *key_len_r > (size_t)(end - lf - 1) - *cert_len_r ||
	    *cert_len_r > INT32_MAX || *key_len_r > INT32_MAX)
		return -1;
	*cert_r = (const char *)lf + 1;
	*key_r = *cert_r + *cert_len_r;
	*p = (const unsigned char *)*key_r + *key_len_r;
	return 0;
}

int tls_server_create(const struct config *config, const unsigned char *blob, size_t len,
		      struct tls_server **server_r, const char **error_r)
{
	size_t magic_len = strlen(BLOB_MAGIC);
	if (len < magic_len || memcmp(blob, BLOB_MAGIC, magic_len) != 0) {
		*error_r = "certificate blob: bad format";
		return -1;
	}
	struct tls_server *server = xcalloc(1, sizeof(*server));
	server->refcount = 1;
	const unsigned char *p = blob + magic_len, *end = blob + len;
	while (p < end) {
		const char *cert, *key;
		size_t cert_len, key_len;
		if (blob_next(&p, end, &cert, &cert_len, &key, &key_len) < 0) {
			*error_r = "certificate blob: bad format";
			goto fail;
		}
		server->certs = xrealloc(server->certs, (server->count + 1) * sizeof(*server->certs));
		struct tls_cert *c = &server->certs[server->count++];
		memset(c, 0, sizeof(*c));
		if (cert_load(c, config, server->count - 1, cert, cert_len, key, key_len, error_r) < 0)
			goto fail;
	}
	if (server->count > 0) {
		SSL_CTX_set_tlsext_servername_callback(server->certs[0].ctx, servername_cb);
		SSL_CTX_set_tlsext_servername_arg(server->certs[0].ctx, server);
	}
	*server_r = server;
	return 0;
fail:
	tls_server_unref(&server);
	return -1;
}

void tls_server_ref(struct tls_server *server)
{
	server->refcount++;
}

void tls_server_unref(struct tls_server **serverp)
{
	struct tls_server *server = *serverp;
	*serverp = NULL;
	if (server == NULL || --server->refcount > 0)
		return;
	for (size_t i = 0; i < server->count; i++) {
		SSL_CTX_free(server->certs[i].ctx);
		for (size_t j = 0; j < server->certs[i].name_count; j++)
			free(server->certs[i].names[j]);
		free(server->certs[i].names);
	}
	free(server->certs);
	free(server);
}

SSL *tls_server_new_ssl(struct tls_server *server)
{
	if (server == NULL || server->count == 0)
		return NULL;
	return SSL_new(server->certs[0].ctx);
}

size_t tls_server_cert_count(const struct tls_server *server)
{
	return server->count;
}
