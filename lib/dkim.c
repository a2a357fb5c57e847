/* DKIM keys: see dkim.h. OpenSSL 3 EVP only; every buffer it hands out is
 * copied into malloc()ed strings so callers free with dkim_key_free(). */
#include "dkim.h"

#include "mem.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *bio_text(BIO *bio)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	char *out = xmalloc((size_t)len + 1);
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	return out;
}

static char *b64(const unsigned char *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static int describe(EVP_PKEY *pkey, struct dkim_key *key, const char **error_r)
{
	memset(key, 0, sizeof(*key));
	int id = EVP_PKEY_get_base_id(pkey);
	if (id == EVP_PKEY_RSA) {
		int bits = EVP_PKEY_get_bits(pkey);
		if (bits < 1024 || bits > 4096) {
			*error_r = "an RSA key must have 1024 to 4096 bits";
			return -1;
		}
		key->algorithm = xstrdup("rsa");
	} else if (id == EVP_PKEY_ED25519) {
		key->algorithm = xstrdup("ed25519");
	} else {
		*error_r = "the key is neither RSA nor Ed25519";
		return -1;
	}
	BIO *bio = BIO_new(BIO_s_mem());
	if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(bio);
		dkim_key_free(key);
		*error_r = "cannot write the private key";
		return -1;
	}
	key->private_pem = bio_text(bio);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	(void)PEM_write_bio_PUBKEY(bio, pkey);
	key->public_pem = bio_text(bio);
	BIO_free(bio);
	unsigned char *der = NULL;
	int der_len = i2d_PUBKEY(pkey, &der);
	if (der_len <= 0) {
		dkim_key_free(key);
		*error_r = "cannot encode the public key";
		return -1;
	}
	if (id == EVP_PKEY_ED25519) {
		/* RFC 8463: p= is the raw 32-byte key, not the SPKI */
		unsigned char raw[32];
		size_t raw_len = sizeof(raw);
		(void)EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len);
		key->dns_p = b64(raw, raw_len);
	} else {
		key->dns_p = b64(der, (size_t)der_len);
	}
	unsigned char md[32];
	unsigned int md_len = 0;
	EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL);
	OPENSSL_free(der);
	key->fingerprint = xmalloc(md_len * 3 + 1);
	for (unsigned int i = 0; i < md_len; i++)
		snprintf(key->fingerprint + 3 * i, 4, i + 1 < md_len ? "%02x:" : "%02x", md[i]);
	return 0;
}

int dkim_key_generate(const char *algorithm, struct dkim_key *key_r, const char **error_r)
{
	EVP_PKEY *pkey = NULL;
	if (algorithm == NULL || strcmp(algorithm, "rsa") == 0)
		pkey = EVP_RSA_gen(2048);
	else if (strcmp(algorithm, "ed25519") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else {
		*error_r = "algorithm must be rsa or ed25519";
		return -1;
	}
	if (pkey == NULL) {
		*error_r = "key generation failed";
		return -1;
	}
	int ret = describe(pkey, key_r, error_r);
	EVP_PKEY_free(pkey);
	return ret;
}

int dkim_key_from_pem(const char *pem, struct dkim_key *key_r, const char **error_r)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (pkey == NULL) {
		*error_r = "privateKey is not a PEM private key (or it is encrypted)";
		return -1;
	}
	int ret = describe(pkey, key_r, error_r);
	EVP_PKEY_free(pkey);
	return ret;
}

void dkim_key_free(struct dkim_key *key)
{
	free(key->algorithm);
	free(key->private_pem);
	free(key->public_pem);
	free(key->dns_p);
	free(key->fingerprint);
	memset(key, 0, sizeof(*key));
}

char *dkim_dns_txt(const struct dkim_key *key)
{
	return xasprintf("v=DKIM1; k=%s; p=%s", key->algorithm, key->dns_p);
}

int dkim_name_valid(const char *name)
{
	size_t len = strlen(name), label = 0;
	if (len == 0 || len > 253 || name[0] == '.' || name[len - 1] == '.')
		return 0;
	for (const char *p = name; *p != '\0'; p++) {
		char c = *p;
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (c == '-' && label > 0)))
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}
