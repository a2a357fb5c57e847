/* E-mail address normalisation as WildDuck stores and matches addresses.
 * Local parts and domains are NFC-normalised and lower-cased (never
 * case-folded: ß stays ß), IDN domains are kept as U-labels, and delivery
 * lookups ignore dots and a "+label" in the local part. */
#ifndef WD_ADDRESS_H
#define WD_ADDRESS_H

#include <stdbool.h>

struct pool;

/* RFC 5321 limits, counted in UTF-8 octets of the normalised form. */
#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 255

enum address_flags {
	/* accept "*@domain" and "prefix*@domain" (stored wildcard addresses) */
	ADDRESS_ALLOW_WILDCARD = 1 << 0,
};

/* Normalises a domain: NFC, lower case, xn-- labels decoded to U-labels,
 * one trailing dot dropped. The result is allocated from pool. */
int address_normalize_domain(struct pool *pool, const char *domain,
			     const char **domain_r, const char **error_r);

/* Normalises "local@domain" (split at the last '@'): the local part gets
 * NFC + lower case, the domain address_normalize_domain(). Malformed input
 * (empty parts, control characters, specials, invalid UTF-8, too long)
 * fails with a message for the client. */
int address_normalize(struct pool *pool, const char *address, unsigned int flags,
		      const char **address_r, const char **error_r);

/* The delivery key ("addrview") of a normalised address: dots removed from
 * the local part and "+label" cut off. label_r (may be NULL) gets the label
 * without '+', or NULL when there was none. */
void address_delivery_key(struct pool *pool, const char *normalized,
			  const char **key_r, const char **label_r);

/* A normalised address with the dots of its local part removed (the
 * "+label" kept): the unique key stored with each address. */
const char *address_without_dots(struct pool *pool, const char *normalized);

/* Splits a normalised address at its last '@' (local part copied). */
void address_split(struct pool *pool, const char *normalized,
		   const char **local_r, const char **domain_r);

/* True for a normalised "*@domain" or "prefix*@domain". */
bool address_is_wildcard(const char *normalized);

/* The username key WildDuck matches on ("unameview"): lower case, NFC,
 * dots removed. */
int address_username_key(struct pool *pool, const char *username,
			 const char **key_r, const char **error_r);

#endif
