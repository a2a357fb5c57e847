/* Certificate checks for the API: see api_cert.h. */
#include "api_cert.h"

#include "mem.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAIN_MAX 10

static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

int api_cert_check(const char *cert_pem, const char *key_pem, const char *servername,
		   struct api_cert_info *info_r, const char **error_r)
{
	memset(info_r, 0, sizeof(*info_r));
	BIO *bio = BIO_new_mem_buf(cert_pem, -1);
	X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	unsigned int chain = leaf != NULL ? 1 : 0;
	X509 *more;
	while (leaf != NULL && (more = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(more);
		chain++;
	}
	BIO_free(bio);
	ERR_clear_error();	/* the end of the chain reads as an error */
	if (leaf == NULL) {
		*error_r = "cert is not a PEM certificate";
		return -1;
	}
	if (chain > CHAIN_MAX) {
		X509_free(leaf);
		*error_r = "cert holds too many certificates";
		return -1;
	}
	bio = BIO_new_mem_buf(key_pem, -1);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	int ret = -1;
	if (key == NULL) {
		*error_r = "privateKey is not a PEM private key (or it is encrypted)";
		goto out;
	}
	if (X509_check_private_key(leaf, key) != 1) {
		*error_r = "privateKey does not belong to the certificate";
		goto out;
	}
	if (servername != NULL && X509_check_host(leaf, servername, 0, 0, NULL) != 1) {
		*error_r = "the certificate does not cover servername";
		goto out;
	}
	unsigned char md[32];
	unsigned int md_len = 0;
	X509_digest(leaf, EVP_sha256(), md, &md_len);
	info_r->fingerprint = xmalloc(md_len * 3 + 1);
	for (unsigned int i = 0; i < md_len; i++)
		snprintf(info_r->fingerprint + 3 * i, 4, i + 1 < md_len ? "%02x:" : "%02x", md[i]);
	char *subject = X509_NAME_oneline(X509_get_subject_name(leaf), NULL, 0);
	info_r->subject = xstrdup(subject != NULL ? subject : "");
	OPENSSL_free(subject);
	info_r->not_before = asn1_unix(X509_get0_notBefore(leaf));
	info_r->expires = asn1_unix(X509_get0_notAfter(leaf));
	info_r->chain_length = chain;
	GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	int n = names != NULL ? sk_GENERAL_NAME_num(names) : 0;
	info_r->alt_names = xcalloc((size_t)n + 1, sizeof(char *));
	unsigned int k = 0;
	for (int i = 0; i < n; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != GEN_DNS)
			continue;
		const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
		int len = ASN1_STRING_length(g->d.dNSName);
		if (s != NULL && len > 0 && memchr(s, '\0', (size_t)len) == NULL)
			info_r->alt_names[k++] = xstrndup((const char *)s, (size_t)len);
	}
	GENERAL_NAMES_free(names);
	ret = 0;
out:
	EVP_PKEY_free(key);
	X509_free(leaf);
	if (ret < 0)
		api_cert_info_free(info_r);
	return ret;
}

void api_cert_info_free(struct api_cert_info *info)
{
	free(info->fingerprint);
	free(info->subject);
	for (char **p = info->alt_names; p != NULL && *p != NULL; p++)
		free(*p);
	free(info->alt_names);
	memset(info, 0, sizeof(*info));
}
