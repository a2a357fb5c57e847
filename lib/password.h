/* Password hashes compatible with WildDuck's stored users: verify bcrypt
 * ($2a$/$2b$/$2y$, libxcrypt), PBKDF2 PHC strings as @phc/pbkdf2 writes
 * them ($pbkdf2-sha512$/-sha256$/-sha1$, OpenSSL) and argon2
 * ($argon2id$/$argon2i$/$argon2d$, libargon2); write new hashes in one
 * configured scheme; generate application-specific passwords. The auth
 * daemon verifies; the API and wdctl write. Not for secrets at rest. */
#ifndef WD_PASSWORD_H
#define WD_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

enum password_scheme {
	PASSWORD_UNKNOWN = 0,
	PASSWORD_BCRYPT,
	PASSWORD_PBKDF2_SHA512,
	PASSWORD_PBKDF2_SHA256,
	PASSWORD_PBKDF2_SHA1,
	PASSWORD_ARGON2ID,
	PASSWORD_ARGON2I,
	PASSWORD_ARGON2D,
};

struct password_settings {
	enum password_scheme scheme; /* of new hashes: BCRYPT, PBKDF2_SHA512/256 or ARGON2ID */
	int bcrypt_cost;             /* 4..31 */
	int pbkdf2_iterations;
};

/* An application-specific password: 16 lowercase letters, as WildDuck. */
#define PASSWORD_ASP_LEN 16

/* "bcrypt", "pbkdf2-sha512", "pbkdf2-sha256", "argon2id" (auth.hash). */
int password_scheme_parse(const char *name, enum password_scheme *scheme_r);
const char *password_scheme_name(enum password_scheme scheme);
/* The scheme of a stored hash by its prefix; UNKNOWN for anything else. */
enum password_scheme password_scheme_of(const char *hash);

/* 1: the password matches, 0: it does not, -1: the hash is malformed or
 * of an unknown format (never a match). Comparisons are constant-time.
 * Thread-safe. */
int password_verify(const char *password, const char *hash);
/* A new hash of password in set's scheme (free() it); NULL only if the
 * crypto library fails. Thread-safe. */
char *password_hash(const struct password_settings *set, const char *password);
/* True if hash is not in set's scheme or has other costs (rehash on login). */
bool password_needs_rehash(const struct password_settings *set, const char *hash);
/* Burns about the time of one verification in set's scheme, so that an
 * unknown user fails as slowly as a wrong password. */
void password_dummy_verify(const struct password_settings *set, const char *password);

/* A new random ASP (PASSWORD_ASP_LEN letters plus NUL). */
void password_asp_generate(char out[PASSWORD_ASP_LEN + 1]);

#endif
