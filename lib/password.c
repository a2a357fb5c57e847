/* Password hashing and verification; see password.h. Every scheme here
 * is thread-safe: crypt_rn() gets its own crypt_data, OpenSSL's PBKDF2 and
 * libargon2 keep no global state. */
#include "password.h"

#include "log.h"
#include "mem.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Parameters of new argon2id hashes (OWASP's minimum: 19 MiB, t=2). */
#define ARGON2_NEW_T 2
#define ARGON2_NEW_M 19456
#define ARGON2_NEW_P 1
#define PBKDF2_SALT_LEN 16
/* Stored hashes come from the store, but keep a broken one from costing
 * minutes per login. */
#define PBKDF2_MAX_ITERATIONS 10000000

static const struct {
	const char *prefix;
	enum password_scheme scheme;
} prefixes[] = {
	{ "$2a$", PASSWORD_BCRYPT },
	{ "$2b$", PASSWORD_BCRYPT },
	{ "$2y$", PASSWORD_BCRYPT },
	{ "$pbkdf2-sha512$", PASSWORD_PBKDF2_SHA512 },
	{ "$pbkdf2-sha256$", PASSWORD_PBKDF2_SHA256 },
	{ "$pbkdf2-sha1$", PASSWORD_PBKDF2_SHA1 },
	{ "$argon2id$", PASSWORD_ARGON2ID },
	{ "$argon2i$", PASSWORD_ARGON2I },
	{ "$argon2d$", PASSWORD_ARGON2D },
};

static const char *const scheme_names[] = {
	[PASSWORD_UNKNOWN] = "unknown",
	[PASSWORD_BCRYPT] = "bcrypt",
	[PASSWORD_PBKDF2_SHA512] = "pbkdf2-sha512",
	[PASSWORD_PBKDF2_SHA256] = "pbkdf2-sha256",
	[PASSWORD_PBKDF2_SHA1] = "pbkdf2-sha1",
	[PASSWORD_ARGON2ID] = "argon2id",
	[PASSWORD_ARGON2I] = "argon2i",
	[PASSWORD_ARGON2D] = "argon2d",
};

int password_scheme_parse(const char *name, enum password_scheme *scheme_r)
{
	static const enum password_scheme writable[] = {
		PASSWORD_BCRYPT, PASSWORD_PBKDF2_SHA512, PASSWORD_PBKDF2_SHA256, PASSWORD_ARGON2ID,
	};
	for (size_t i = 0; i < sizeof(writable) / sizeof(writable[0]); i++) {
		if (strcmp(name, scheme_names[writable[i]]) == 0) {
			*scheme_r = writable[i];
			return 0;
		}
	}
	return -1;
}

const char *password_scheme_name(enum password_scheme scheme)
{
	if ((unsigned int)scheme < sizeof(scheme_names) / sizeof(scheme_names[0]))
		return scheme_names[scheme];
	return "unknown";
}

enum password_scheme password_scheme_of(const char *hash)
{
	if (hash == NULL)
		return PASSWORD_UNKNOWN;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(hash, prefixes[i].prefix, strlen(prefixes[i].prefix)) == 0)
			return prefixes[i].scheme;
	return PASSWORD_UNKNOWN;
}

/* ---- bcrypt ---- */

static int bcrypt_verify(const char *password, const char *hash)
{
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	const char *out = crypt_rn(password, hash, data, (int)sizeof(*data));
	int ret;
	if (out == NULL || out[0] == '*')
		ret = -1;
	else if (strlen(out) != strlen(hash))
		ret = 0;
	else
		ret = CRYPTO_memcmp(out, hash, strlen(hash)) == 0 ? 1 : 0;
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ret;
}

static char *bcrypt_hash(int cost, const char *password)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, salt, sizeof(salt)) == NULL)
		return NULL;
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	const char *out = crypt_rn(password, salt, data, (int)sizeof(*data));
	char *ret = out == NULL || out[0] == '*' ? NULL : xstrdup(out);
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ret;
}

static int bcrypt_cost_of(const char *hash)
{
	/* $2b$NN$ */
	if (strlen(hash) < 7 || hash[6] != '$' || hash[4] < '0' || hash[4] > '9' ||
	    hash[5] < '0' || hash[5] > '9')
		return -1;
	return (hash[4] - '0') * 10 + (hash[5] - '0');
}

/* ---- PBKDF2 PHC strings: $pbkdf2-<digest>$i=<n>$<salt b64>$<hash b64> ---- */

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Unpadded standard base64 (the PHC string format); -1 on bad input. */
static int b64_decode(const char *in, size_t len, unsigned char *out, size_t out_max,
		      size_t *out_len_r)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		const char *p = in[i] == '\0' ? NULL : strchr(b64_chars, in[i]);
		if (p == NULL)
			return -1;
		acc = (acc << 6) | (uint32_t)(p - b64_chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == out_max)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits >= 6)
		return -1; /* a lone sextet cannot end a string */
	*out_len_r = n;
	return 0;
}

static void b64_encode(const unsigned char *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_chars[(v >> 18) & 63];
		out[o++] = b64_chars[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = b64_chars[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = b64_chars[v & 63];
	}
	out[o] = '\0';
}

static const EVP_MD *pbkdf2_md(enum password_scheme scheme)
{
	switch (scheme) {
	case PASSWORD_PBKDF2_SHA512: return EVP_sha512();
	case PASSWORD_PBKDF2_SHA256: return EVP_sha256();
	case PASSWORD_PBKDF2_SHA1: return EVP_sha1();
	default: return NULL;
	}
}

struct pbkdf2_parsed {
	const EVP_MD *md;
	long iterations;
	unsigned char salt[256], hash[256];
	size_t salt_len, hash_len;
};

static int pbkdf2_parse(const char *hash, struct pbkdf2_parsed *p)
{
	p->md = pbkdf2_md(password_scheme_of(hash));
	if (p->md == NULL)
		return -1;
	const char *s = strchr(hash + 1, '$');
	if (s == NULL || strncmp(s, "$i=", 3) != 0)
		return -1;
	char *end;
	p->iterations = strtol(s + 3, &end, 10);
	if (end == s + 3 || *end != '$' || p->iterations < 1 ||
	    p->iterations > PBKDF2_MAX_ITERATIONS)
		return -1;
	const char *salt = end + 1, *dollar = strchr(salt, '$');
	if (dollar == NULL || dollar == salt)
		return -1;
	if (b64_decode(salt, (size_t)(dollar - salt), p->salt, sizeof(p->salt), &p->salt_len) < 0 ||
	    b64_decode(dollar + 1, strlen(dollar + 1), p->hash, sizeof(p->hash), &p->hash_len) < 0 ||
	    p->hash_len < 16 || p->salt_len == 0)
		return -1;
	return 0;
}

static int pbkdf2_verify(const char *password, const char *hash)
{
	struct pbkdf2_parsed p;
	unsigned char out[256];
	if (pbkdf2_parse(hash, &p) < 0)
		return -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), p.salt, (int)p.salt_len,
			      (int)p.iterations, p.md, (int)p.hash_len, out) != 1)
		return -1;
	int ret = CRYPTO_memcmp(out, p.hash, p.hash_len) == 0 ? 1 : 0;
	OPENSSL_cleanse(out, sizeof(out));
	return ret;
}

static char *pbkdf2_hash(enum password_scheme scheme, int iterations, const char *password)
{
	const EVP_MD *md = pbkdf2_md(scheme);
	unsigned char salt[PBKDF2_SALT_LEN], out[64];
	int len = EVP_MD_get_size(md);
	char salt64[64], out64[128];
	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), iterations,
			      md, len, out) != 1)
		return NULL;
	b64_encode(salt, sizeof(salt), salt64);
	b64_encode(out, (size_t)len, out64);
	OPENSSL_cleanse(out, sizeof(out));
	return xasprintf("$%s$i=%d$%s$%s", password_scheme_name(scheme), iterations, salt64, out64);
}

/* ---- argon2 ---- */

static int argon2_check(const char *password, const char *hash, argon2_type type)
{
	int rc = argon2_verify(hash, password, strlen(password), type);
	if (rc == ARGON2_OK)
		return 1;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return 0;
	return -1;
}

static char *argon2_new(const char *password)
{
	unsigned char salt[16];
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return NULL;
	size_t len = argon2_encodedlen(ARGON2_NEW_T, ARGON2_NEW_M, ARGON2_NEW_P, sizeof(salt),
				       32, Argon2_id);
	char *out = xmalloc(len);
	if (argon2id_hash_encoded(ARGON2_NEW_T, ARGON2_NEW_M, ARGON2_NEW_P, password,
				  strlen(password), salt, sizeof(salt), 32, out, len) != ARGON2_OK) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- public ---- */

int password_verify(const char *password, const char *hash)
{
	if (password == NULL || hash == NULL)
		return -1;
	switch (password_scheme_of(hash)) {
	case PASSWORD_BCRYPT:
		return bcrypt_verify(password, hash);
	case PASSWORD_PBKDF2_SHA512:
	case PASSWORD_PBKDF2_SHA256:
	case PASSWORD_PBKDF2_SHA1:
		return pbkdf2_verify(password, hash);
	case PASSWORD_ARGON2ID:
		return argon2_check(password, hash, Argon2_id);
	case PASSWORD_ARGON2I:
		return argon2_check(password, hash, Argon2_i);
	case PASSWORD_ARGON2D:
		return argon2_check(password, hash, Argon2_d);
	case PASSWORD_UNKNOWN:
		break;
	}
	return -1;
}

char *password_hash(const struct password_settings *set, const char *password)
{
	switch (set->scheme) {
	case PASSWORD_PBKDF2_SHA512:
	case PASSWORD_PBKDF2_SHA256:
	case PASSWORD_PBKDF2_SHA1:
		return pbkdf2_hash(set->scheme, set->pbkdf2_iterations, password);
	case PASSWORD_ARGON2ID:
		return argon2_new(password);
	default:
		return bcrypt_hash(set->bcrypt_cost, password);
	}
}

bool password_needs_rehash(const struct password_settings *set, const char *hash)
{
	enum password_scheme scheme = password_scheme_of(hash);
	if (scheme != set->scheme)
		return true;
	if (scheme == PASSWORD_BCRYPT)
		return bcrypt_cost_of(hash) != set->bcrypt_cost;
	if (scheme == PASSWORD_PBKDF2_SHA512 || scheme == PASSWORD_PBKDF2_SHA256) {
		const char *i = strstr(hash, "$i=");
		return i == NULL || atol(i + 3) != set->pbkdf2_iterations;
	}
	return false;
}

void password_dummy_verify(const struct password_settings *set, const char *password)
{
	/* one hash per scheme and cost; made on first use, then only verified */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char *dummy;
	static struct password_settings dummy_set;
	pthread_mutex_lock(&lock);
	if (dummy == NULL || memcmp(&dummy_set, set, sizeof(*set)) != 0) {
		free(dummy);
		dummy = password_hash(set, "wildduck dummy password");
		dummy_set = *set;
	}
	char *copy = dummy == NULL ? NULL : xstrdup(dummy);
	pthread_mutex_unlock(&lock);
	if (copy != NULL)
		(void)password_verify(password, copy);
	free(copy);
}

void password_asp_generate(char out[PASSWORD_ASP_LEN + 1])
{
	size_t n = 0;
	while (n < PASSWORD_ASP_LEN) {
		unsigned char buf[32];
		if (getrandom(buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			log_fatal("event=getrandom_failed error=%m");
		/* 234 = 9 * 26: rejection keeps the letters uniform */
		for (size_t i = 0; i < sizeof(buf) && n < PASSWORD_ASP_LEN; i++)
			if (buf[i] < 234)
				out[n++] = (char)('a' + buf[i] % 26);
	}
	out[n] = '\0';
}
