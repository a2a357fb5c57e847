/* TLS certificates uploaded through the API: checks a PEM chain and its
 * private key with OpenSSL (they parse, the key belongs to the first
 * certificate, the certificate covers the server name) and describes the
 * certificate for listings. Loading them into SNI is the master's job. */
#ifndef WD_API_CERT_H
#define WD_API_CERT_H

#include <stdint.h>

struct api_cert_info {
	char *fingerprint;	/* SHA-256 of the leaf DER, "ab:cd:..." */
	char *subject;		/* the leaf's subject, one line */
	char **alt_names;	/* DNS subjectAltNames, NULL-terminated */
	int64_t not_before, expires;	/* unix seconds */
	unsigned int chain_length;
};

/* 0 with *info_r filled, -1 with error_r. servername may be a wildcard
 * name's match ("a.example.test" for "*.example.test"). */
int api_cert_check(const char *cert_pem, const char *key_pem, const char *servername,
		   struct api_cert_info *info_r, const char **error_r);
void api_cert_info_free(struct api_cert_info *info);

#endif
