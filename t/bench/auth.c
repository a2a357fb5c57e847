/* Verifications per second of each password hash scheme (lib/password.c)
 * at the defaults of auth.* and at WildDuck's common settings, on one
 * thread: wd-auth runs auth.threads of these in parallel. */
#include "password.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench(const char *name, const char *hash, double seconds)
{
	int n = 0;
	double start = now(), end;
	do {
		if (password_verify("correct horse battery", hash) != 1) {
			fprintf(stderr, "%s: does not verify\n", name);
			exit(1);
		}
		n++;
	} while ((end = now()) - start < seconds);
	printf("%-28s %10.1f verifications/s  (%.2f ms each)\n", name, n / (end - start),
	       (end - start) * 1000 / n);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	static const struct { const char *name; struct password_settings set; } cases[] = {
		{ "bcrypt cost 10", { PASSWORD_BCRYPT, 10, 0 } },
		{ "bcrypt cost 12 (default)", { PASSWORD_BCRYPT, 12, 0 } },
		{ "pbkdf2-sha512 i=25000", { PASSWORD_PBKDF2_SHA512, 0, 25000 } },
		{ "pbkdf2-sha256 i=25000", { PASSWORD_PBKDF2_SHA256, 0, 25000 } },
		{ "argon2id m=19MiB t=2", { PASSWORD_ARGON2ID, 0, 0 } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *hash = password_hash(&cases[i].set, "correct horse battery");
		bench(cases[i].name, hash, seconds);
		free(hash);
	}
	return 0;
}
