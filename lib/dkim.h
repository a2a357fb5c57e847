/* DKIM signing keys for the API: generating an RSA-2048 or Ed25519 key,
 * checking an uploaded private key, and the DNS TXT record that publishes
 * its public half (RFC 6376, RFC 8463). Signing messages is not here. */
#ifndef WD_DKIM_H
#define WD_DKIM_H

#include <stddef.h>

struct dkim_key {
	char *algorithm;	/* "rsa" or "ed25519" */
	char *private_pem;	/* PKCS#8 PEM */
	char *public_pem;	/* SubjectPublicKeyInfo PEM */
	char *dns_p;		/* the p= value: base64 of the public key */
	char *fingerprint;	/* SHA-256 of the public key DER, "ab:cd:..." */
};

/* Generates a key ("rsa": 2048 bits, or "ed25519"). */
int dkim_key_generate(const char *algorithm, struct dkim_key *key_r, const char **error_r);
/* Reads a PEM private key (RSA of 1024..4096 bits, or Ed25519). */
int dkim_key_from_pem(const char *pem, struct dkim_key *key_r, const char **error_r);
void dkim_key_free(struct dkim_key *key);
/* "v=DKIM1; k=rsa; p=..." as malloc()ed text. */
char *dkim_dns_txt(const struct dkim_key *key);
/* A selector or domain label list fit for "<selector>._domainkey.<domain>". */
int dkim_name_valid(const char *name);

#endif
