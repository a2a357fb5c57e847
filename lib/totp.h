/* TOTP (RFC 6238 over HOTP, RFC 4226): HMAC-SHA-1, 30-second steps,
 * 6 digits, as WildDuck and authenticator apps use it, plus the base32
 * (RFC 4648) of the secrets. Used by wd-auth to check codes and by the API
 * to set up 2FA. Single use per step is the caller's job (the store keeps
 * used steps). */
#ifndef WD_TOTP_H
#define WD_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOTP_STEP_SECONDS 30
#define TOTP_DIGITS 6
/* Steps accepted on each side of now (clock drift). */
#define TOTP_WINDOW 1
/* A new secret: 20 bytes (160 bits, RFC 4226) = 32 base32 characters. */
#define TOTP_SECRET_BYTES 20
#define TOTP_SECRET_B32_LEN 32

/* Decodes base32 (case-insensitive, '=' padding, spaces and '-' ignored);
 * -1 on bad characters or if out_max is too small. */
int totp_base32_decode(const char *in, unsigned char *out, size_t out_max, size_t *len_r);
/* Encodes without padding; out needs (len * 8 + 4) / 5 + 1 bytes. */
void totp_base32_encode(const unsigned char *in, size_t len, char *out);

/* HOTP value of a counter, reduced to digits (6..8) decimal digits. */
uint32_t totp_hotp(const unsigned char *key, size_t key_len, uint64_t counter, int digits);
/* The time step of a unix time. */
uint64_t totp_step(time_t now);
/* Checks a 6-digit code against the steps now-1 .. now+1. Returns 1 with
 * the matching step in *step_r, 0 if no step matches or the code is not
 * six digits. Constant-time in the code. */
int totp_verify(const unsigned char *key, size_t key_len, const char *code, time_t now,
		uint64_t *step_r);
/* The same with a base32 secret; -1 if the secret does not decode. */
int totp_verify_b32(const char *secret_b32, const char *code, time_t now, uint64_t *step_r);
/* A new random secret in base32 (TOTP_SECRET_B32_LEN characters + NUL). */
void totp_secret_generate(char out[TOTP_SECRET_B32_LEN + 1]);

#endif
