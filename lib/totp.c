/* TOTP and base32; see totp.h. */
#include "totp.h"

#include "log.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char b32_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int totp_base32_decode(const char *in, unsigned char *out, size_t out_max, size_t *len_r)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (const char *p = in; *p != '\0'; p++) {
		char c = *p;
		if (c == '=' || c == ' ' || c == '-')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		const char *pos = strchr(b32_chars, c);
		if (pos == NULL)
			return -1;
		acc = (acc << 5) | (uint32_t)(pos - b32_chars);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n == out_max)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	*len_r = n;
	return 0;
}

void totp_base32_encode(const unsigned char *in, size_t len, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_chars[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32_chars[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

uint32_t totp_hotp(const unsigned char *key, size_t key_len, uint64_t counter, int digits)
{
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)counter;
		counter >>= 8;
	}
	HMAC(EVP_sha1(), key, (int)key_len, msg, sizeof(msg), mac, &mac_len);
	unsigned int off = mac[mac_len - 1] & 0x0f;
	uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
		       ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	uint32_t mod = 1;
	for (int i = 0; i < digits; i++)
		mod *= 10;
	return bin % mod;
}

uint64_t totp_step(time_t now)
{
	return now < 0 ? 0 : (uint64_t)now / TOTP_STEP_SECONDS;
}

int totp_verify(const unsigned char *key, size_t key_len, const char *code, time_t now,
		uint64_t *step_r)
{
	if (code == NULL || strlen(code) != TOTP_DIGITS)
		return 0;
	for (int i = 0; i < TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	uint64_t step = totp_step(now);
	int found = 0;
	/* check every step in the window, so the time does not tell which matched */
	for (int d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++) {
		if (d < 0 && step < (uint64_t)-d)
			continue;
		char want[16];
		snprintf(want, sizeof(want), "%0*u", TOTP_DIGITS,
			 totp_hotp(key, key_len, step + (uint64_t)(int64_t)d, TOTP_DIGITS));
		if (CRYPTO_memcmp(want, code, TOTP_DIGITS) == 0 && !found) {
			found = 1;
			*step_r = step + (uint64_t)(int64_t)d;
		}
	}
	return found;
}

int totp_verify_b32(const char *secret_b32, const char *code, time_t now, uint64_t *step_r)
{
	unsigned char key[128];
	size_t len;
	if (secret_b32 == NULL || totp_base32_decode(secret_b32, key, sizeof(key), &len) < 0 ||
	    len == 0)
		return -1;
	int ret = totp_verify(key, len, code, now, step_r);
	OPENSSL_cleanse(key, sizeof(key));
	return ret;
}

void totp_secret_generate(char out[TOTP_SECRET_B32_LEN + 1])
{
	unsigned char key[TOTP_SECRET_BYTES];
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		log_fatal("event=getrandom_failed error=%m");
	totp_base32_encode(key, sizeof(key), out);
	OPENSSL_cleanse(key, sizeof(key));
}
