/* Server TLS: a set of certificates chosen by SNI, built from an in-memory
 * blob. The master reads the certificate and key files (as root) into the
 * blob and hands it to workers on an inherited fd, so workers never need
 * read access to private keys; a tls_server is immutable and refcounted,
 * so a new one can replace the old while connections still use it. */
#ifndef WD_TLS_H
#define WD_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "buffer.h"
#include "config.h"

struct tls_server;

/* Master: reads every configured certificate and key file into blob and
 * checks that each pair loads and matches (an error otherwise), then adds
 * the pairs of tls.certs_dir that load (others are logged and skipped). */
int tls_blob_from_files(const struct config *config, struct buffer *blob,
			const char **error_r);

/* Builds the contexts from a blob (first certificate = default). */
int tls_server_create(const struct config *config, const unsigned char *blob, size_t len,
		      struct tls_server **server_r, const char **error_r);
void tls_server_ref(struct tls_server *server);
void tls_server_unref(struct tls_server **server);
/* A new server-side SSL for one connection. */
SSL *tls_server_new_ssl(struct tls_server *server);
/* Number of certificates. */
size_t tls_server_cert_count(const struct tls_server *server);

/* Applies the suite's settings to any server SSL_CTX (EOF quirk, buffers,
 * no renegotiation, minimum version, ciphers). */
int tls_ctx_configure(SSL_CTX *ctx, const struct config *config, const char **error_r);

#endif
