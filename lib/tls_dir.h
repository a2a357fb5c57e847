/* The folder of TLS certificates uploaded through the API (tls.certs_dir):
 * wd-api writes each server name's chain and key there as PEM files, and
 * the master, which never opens the store, reads them at start and at
 * every reload and serves them by SNI after the configured certificates.
 * Not a cache of the store: a host's folder holds what its API wrote. */
#ifndef WD_TLS_DIR_H
#define WD_TLS_DIR_H

#include "buffer.h"
#include "config.h"

/* The folder (tls.certs_dir, relative to data_dir); NULL when "" (off).
 * Allocated. */
char *tls_dir_path(const struct config *config);

/* Writes (replaces) the chain and key of servername ("*.example.test" for
 * a wildcard), mode 0600, each by rename so a reader sees old or new. */
int tls_dir_write(const struct config *config, const char *servername, const char *cert_pem,
		  const char *key_pem, const char **error_r);
/* Removes them; removing what is not there is no error. */
int tls_dir_remove(const struct config *config, const char *servername, const char **error_r);

/* Master: calls add for each pair in the folder, in name order (cert and
 * key NULL with error set when a pair could not be read). Only
 * regular files owned by the folder's owner are read (no symlinks), so
 * the service user cannot make root read other files. A folder that does
 * not exist holds nothing. */
typedef void tls_dir_add_fn(const char *name, const struct buffer *cert,
			    const struct buffer *key, const char *error, void *ctx);
int tls_dir_read(const struct config *config, tls_dir_add_fn *add, void *ctx,
		 const char **error_r);

#endif
