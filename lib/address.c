/* Address normalisation: NFC + lower case via libunistring, U-labels via
 * libidn2. See address.h for the rules and LIBRARIES.md (gotcha 6) for why
 * u8_casefold must not be used here. */
#include "address.h"

#include "pool.h"

#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

#define USERNAME_MAX 128

/* NFC then lower case, exactly WildDuck's normalize('NFC').toLowerCase();
 * the result is copied into pool. */
static int nfc_lower(struct pool *pool, const char *in, size_t len,
		     const char **out_r, size_t *out_len_r, const char **error_r)
{
	if (u8_check((const uint8_t *)in, len) != NULL) {
		*error_r = "invalid UTF-8";
		return -1;
	}
	size_t nfc_len = 0, low_len = 0;
	uint8_t *nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)in, len, NULL, &nfc_len);
	if (nfc == NULL) {
		*error_r = "cannot normalise (NFC)";
		return -1;
	}
	uint8_t *low = u8_tolower(nfc, nfc_len, NULL, NULL, NULL, &low_len);
	free(nfc);
	if (low == NULL) {
		*error_r = "cannot lower-case";
		return -1;
	}
	*out_r = pool_strndup(pool, (const char *)low, low_len);
	*out_len_r = low_len;
	free(low);
	return 0;
}

static bool has_control_or_space(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f)
			return true;
		/* C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F) */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return true;
	}
	return false;
}

static int check_domain_labels(const char *domain, const char **error_r)
{
	const char *label = domain;
	for (;;) {
		const char *end = strchr(label, '.');
		size_t len = end == NULL ? strlen(label) : (size_t)(end - label);
		if (len == 0) {
			*error_r = "empty label in domain";
			return -1;
		}
		if (len > 63) {
			*error_r = "domain label too long";
			return -1;
		}
		if (label[0] == '-' || label[len - 1] == '-') {
			*error_r = "domain label starts or ends with a hyphen";
			return -1;
		}
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)label[i];
			if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '_')
				continue;
			*error_r = "invalid character in domain";
			return -1;
		}
		if (end == NULL)
			return 0;
		label = end + 1;
	}
}

int address_normalize_domain(struct pool *pool, const char *domain,
			     const char **domain_r, const char **error_r)
{
	size_t len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0) {
		*error_r = "empty domain";
		return -1;
	}
	const char *low;
	size_t low_len;
	if (nfc_lower(pool, domain, len, &low, &low_len, error_r) < 0)
		return -1;
	if (has_control_or_space(low)) {
		*error_r = "invalid character in domain";
		return -1;
	}
	/* lower case first: idn2 keeps ASCII case and only decodes xn-- labels */
	char *uni = NULL;
	int rc = idn2_to_unicode_8z8z(low, &uni, 0);
	if (rc != IDN2_OK) {
		*error_r = "invalid IDN domain (bad punycode)";
		return -1;
	}
	/* a decoded label may carry upper case or a non-NFC sequence */
	rc = nfc_lower(pool, uni, strlen(uni), &low, &low_len, error_r);
	idn2_free(uni);
	if (rc < 0)
		return -1;
	if (low_len > ADDRESS_DOMAIN_MAX) {
		*error_r = "domain too long";
		return -1;
	}
	if (has_control_or_space(low)) {
		*error_r = "invalid character in domain";
		return -1;
	}
	if (check_domain_labels(low, error_r) < 0)
		return -1;
	*domain_r = low;
	return 0;
}

static int check_local(const char *local, unsigned int flags, const char **error_r)
{
	size_t len = strlen(local);
	if (len == 0) {
		*error_r = "empty local part";
		return -1;
	}
	if (len > ADDRESS_LOCAL_MAX) {
		*error_r = "local part too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)local[i];
		if (c <= 0x20 || c == 0x7f || strchr("()<>[]\\,;:\"@", c) != NULL ||
		    (c == 0xc2 && (unsigned char)local[i + 1] >= 0x80 &&
		     (unsigned char)local[i + 1] <= 0x9f)) {
			*error_r = "invalid character in local part";
			return -1;
		}
		if (c == '*' && ((flags & ADDRESS_ALLOW_WILDCARD) == 0 || i != len - 1)) {
			*error_r = "wildcard not allowed here";
			return -1;
		}
	}
	return 0;
}

int address_normalize(struct pool *pool, const char *address, unsigned int flags,
		      const char **address_r, const char **error_r)
{
	const char *at = strrchr(address, '@');
	if (at == NULL) {
		*error_r = "missing @ in address";
		return -1;
	}
	const char *local, *domain;
	size_t local_len;
	if (nfc_lower(pool, address, (size_t)(at - address), &local, &local_len, error_r) < 0)
		return -1;
	if (check_local(local, flags, error_r) < 0)
		return -1;
	if (address_normalize_domain(pool, at + 1, &domain, error_r) < 0)
		return -1;
	*address_r = pool_printf(pool, "%s@%s", local, domain);
	return 0;
}

void address_split(struct pool *pool, const char *normalized,
		   const char **local_r, const char **domain_r)
{
	const char *at = strrchr(normalized, '@');
	if (at == NULL) {
		*local_r = pool_strdup(pool, normalized);
		*domain_r = "";
		return;
	}
	*local_r = pool_strndup(pool, normalized, (size_t)(at - normalized));
	*domain_r = at + 1;
}

void address_delivery_key(struct pool *pool, const char *normalized,
			  const char **key_r, const char **label_r)
{
	const char *at = strrchr(normalized, '@');
	size_t local_len = at == NULL ? strlen(normalized) : (size_t)(at - normalized);
	const char *plus = memchr(normalized, '+', local_len);
	if (label_r != NULL)
		*label_r = plus == NULL ? NULL :
			pool_strndup(pool, plus + 1, local_len - (size_t)(plus + 1 - normalized));
	size_t keep = plus == NULL ? local_len : (size_t)(plus - normalized);
	size_t domain_len = at == NULL ? 0 : strlen(at);
	char *key = pool_alloc(pool, keep + domain_len + 1);
	size_t n = 0;
	for (size_t i = 0; i < keep; i++)
		if (normalized[i] != '.')
			key[n++] = normalized[i];
	memcpy(key + n, at == NULL ? "" : at, domain_len + 1);
	*key_r = key;
}

const char *address_without_dots(struct pool *pool, const char *normalized)
{
	const char *at = strrchr(normalized, '@');
	size_t local_len = at == NULL ? strlen(normalized) : (size_t)(at - normalized);
	char *out = pool_alloc(pool, strlen(normalized) + 1);
	size_t n = 0;
	for (size_t i = 0; i < local_len; i++)
		if (normalized[i] != '.')
			out[n++] = normalized[i];
	strcpy(out + n, normalized + local_len);
	return out;
}

bool address_is_wildcard(const char *normalized)
{
	const char *at = strrchr(normalized, '@');
	return at != NULL && at > normalized && at[-1] == '*';
}

int address_username_key(struct pool *pool, const char *username,
			 const char **key_r, const char **error_r)
{
	size_t len = strlen(username);
	if (len == 0 || len > USERNAME_MAX) {
		*error_r = "username empty or too long";
		return -1;
	}
	const char *low;
	size_t low_len;
	if (nfc_lower(pool, username, len, &low, &low_len, error_r) < 0)
		return -1;
	if (has_control_or_space(low)) {
		*error_r = "invalid character in username";
		return -1;
	}
	char *key = pool_alloc(pool, low_len + 1);
	size_t n = 0;
	for (size_t i = 0; i < low_len; i++)
		if (low[i] != '.')
			key[n++] = low[i];
	if (n == 0) {
		*error_r = "username has no characters besides dots";
		return -1;
	}
	*key_r = key;
	return 0;
}
