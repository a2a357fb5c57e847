/* The decision on one authentication request, run on a store thread:
 * find the user, verify the account password or an application password
 * against the stored hash, apply the 2FA and scope rules, rehash, write
 * the auth log. Knows nothing of sockets or rate limits. */
#ifndef WD_AUTH_CHECK_H
#define WD_AUTH_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "auth_client.h"
#include "password.h"
#include "store.h"

struct auth_check_settings {
	struct password_settings hash; /* of new hashes (rehash) */
	bool rehash;
	int authlog_days;
};

struct auth_check {
	/* in */
	const char *service, *username, *secret, *remote_ip;
	const char *scope; /* imap, pop3, smtp or master */
	/* out */
	enum auth_status status;
	char user_id[STORE_ID_SIZE];
	char username_out[256];
	char flags[64];
	const char *reason;  /* static string */
	bool counts_failure; /* a failure the rate limits count */
};

/* The scope a request asks for: its scope field, else by service (api ->
 * master). NULL if unknown. */
const char *auth_check_scope(const char *service, const char *scope);

/* Decides; store NULL (it could not be opened) gives TEMPFAIL. */
void auth_check_run(struct store *store, const struct auth_check_settings *set,
		    struct auth_check *check);

#endif
