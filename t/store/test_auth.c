/* Contract: application passwords, TOTP secrets and single-use steps, the
 * authentication log with expiry, disabled/suspended users and password
 * updates (rehash on login). */
#include "contract.h"

#include <string.h>
#include <time.h>

START_TEST(asp_create_list_delete)
{
	char user[STORE_ID_SIZE], other[STORE_ID_SIZE], a1[STORE_ID_SIZE], a2[STORE_ID_SIZE];
	contract_user("alice", user);
	contract_user("bob", other);
	static const char *const imap_only[] = { "imap" };
	static const char *const all[] = { "*", "smtp", "*" };
	struct store_asp in = { .description = "Thunderbird on the laptop", .scopes = imap_only,
				.scopes_count = 1, .password_hash = "$2b$04$hash1" };
	CK_OK(store_asp_create(env.store, user, &in, a1, &err));
	in.description = NULL;
	in.scopes = all;
	in.scopes_count = 3;
	in.password_hash = "$2b$04$hash2";
	CK_OK(store_asp_create(env.store, user, &in, a2, &err));
	ck_assert_str_ne(a1, a2);

	struct store_asp *list;
	unsigned int count;
	CK_OK(store_asp_list(env.store, user, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(list[0].id, a1);
	ck_assert_str_eq(list[0].user, user);
	ck_assert_str_eq(list[0].description, "Thunderbird on the laptop");
	ck_assert_uint_eq(list[0].scopes_count, 1);
	ck_assert_str_eq(list[0].scopes[0], "imap");
	ck_assert_str_eq(list[0].password_hash, "$2b$04$hash1");
	ck_assert(list[0].created > 1600000000);
	ck_assert_int_eq(list[0].last_use, 0);
	ck_assert_ptr_null(list[1].description);
	ck_assert_uint_eq(list[1].scopes_count, 2); /* duplicates dropped */
	CK_OK(store_asp_list(env.store, other, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 0);

	CK_OK(store_asp_touch(env.store, a1, 1700000000, &err));
	CK_OK(store_asp_list(env.store, user, env.pool, &list, &count, &err));
	ck_assert_int_eq(list[0].last_use, 1700000000);

	/* another user cannot delete it */
	CK_FAIL(env.store, store_asp_delete(env.store, other, a1, &err), STORE_ERR_NOT_FOUND);
	CK_OK(store_asp_delete(env.store, user, a1, &err));
	CK_FAIL(env.store, store_asp_delete(env.store, user, a1, &err), STORE_ERR_NOT_FOUND);
	CK_OK(store_asp_list(env.store, user, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 1);

	/* bad input */
	static const char *const bad_scope[] = { "imap", "ftp" };
	in.scopes = bad_scope;
	in.scopes_count = 2;
	CK_FAIL(env.store, store_asp_create(env.store, user, &in, a1, &err), STORE_ERR_INVALID);
	in.scopes_count = 0;
	CK_FAIL(env.store, store_asp_create(env.store, user, &in, a1, &err), STORE_ERR_INVALID);
	in.scopes = imap_only;
	in.scopes_count = 1;
	in.password_hash = NULL;
	CK_FAIL(env.store, store_asp_create(env.store, user, &in, a1, &err), STORE_ERR_INVALID);
	in.password_hash = "$2b$x";
	in.description = "line\nbreak";
	CK_FAIL(env.store, store_asp_create(env.store, user, &in, a1, &err), STORE_ERR_INVALID);
	in.description = NULL;
	CK_FAIL(env.store, store_asp_create(env.store, "0123456789abcdef01234567", &in, a1, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_asp_create(env.store, "nope", &in, a1, &err), STORE_ERR_INVALID);

	/* deleting the user takes its ASPs */
	CK_OK(store_user_delete(env.store, user, &err));
	CK_OK(store_asp_list(env.store, user, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 0);
}
END_TEST

START_TEST(totp_secret_and_steps)
{
	char user[STORE_ID_SIZE];
	contract_user("carol", user);
	const char *secret;
	bool enabled;
	CK_FAIL(env.store, store_totp_get(env.store, user, env.pool, &secret, &enabled, &err),
		STORE_ERR_NOT_FOUND);
	/* set up (not yet enabled), then enabled */
	CK_OK(store_totp_set(env.store, user, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", false, &err));
	CK_OK(store_totp_get(env.store, user, env.pool, &secret, &enabled, &err));
	ck_assert_str_eq(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	ck_assert(!enabled);
	CK_OK(store_totp_set(env.store, user, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", true, &err));
	CK_OK(store_totp_get(env.store, user, env.pool, &secret, &enabled, &err));
	ck_assert(enabled);

	/* a step is good once; neighbours and other users are independent */
	CK_OK(store_totp_use(env.store, user, 56000000, &err));
	CK_FAIL(env.store, store_totp_use(env.store, user, 56000000, &err), STORE_ERR_EXISTS);
	CK_OK(store_totp_use(env.store, user, 56000001, &err));
	char other[STORE_ID_SIZE];
	contract_user("dave", other);
	CK_OK(store_totp_use(env.store, other, 56000000, &err));
	CK_FAIL(env.store, store_totp_use(env.store, "0123456789abcdef01234567", 1, &err),
		STORE_ERR_NOT_FOUND);

	/* disable: the secret goes */
	CK_OK(store_totp_set(env.store, user, NULL, false, &err));
	CK_FAIL(env.store, store_totp_get(env.store, user, env.pool, &secret, &enabled, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_totp_set(env.store, "0123456789abcdef01234567", "AAAA", true,
					  &err), STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_totp_set(env.store, user, "", true, &err), STORE_ERR_INVALID);
}
END_TEST

START_TEST(authlog_ttl)
{
	char user[STORE_ID_SIZE], asp[STORE_ID_SIZE];
	contract_user("erin", user);
	static const char *const scopes[] = { "pop3" };
	struct store_asp a = { .scopes = scopes, .scopes_count = 1, .password_hash = "$2b$x" };
	CK_OK(store_asp_create(env.store, user, &a, asp, &err));
	int64_t now = (int64_t)time(NULL);
	struct store_authlog_entry e = { .created = now - 100, .expires = now - 10,
					 .service = "imap", .remote_ip = "192.0.2.1",
					 .success = false, .reason = "invalid" };
	memcpy(e.user, user, STORE_ID_SIZE);
	CK_OK(store_authlog_add(env.store, &e, &err)); /* already expired */
	e.created = now - 5;
	e.expires = now + 3600;
	CK_OK(store_authlog_add(env.store, &e, &err));
	e.created = now;
	e.success = true;
	e.service = "pop3";
	e.reason = "asp";
	e.asp = asp;
	e.remote_ip = "2001:db8::1";
	CK_OK(store_authlog_add(env.store, &e, &err));

	struct store_authlog_entry *list;
	unsigned int count;
	CK_OK(store_authlog_list(env.store, user, now, 100, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 2); /* the expired one is not listed */
	ck_assert(list[0].success);
	ck_assert_str_eq(list[0].service, "pop3");
	ck_assert_str_eq(list[0].remote_ip, "2001:db8::1");
	ck_assert_str_eq(list[0].asp, asp);
	ck_assert_str_eq(list[0].reason, "asp");
	ck_assert_int_eq(list[0].created, now);
	ck_assert(!list[1].success);
	ck_assert_str_eq(list[1].reason, "invalid");
	ck_assert_ptr_null(list[1].asp);
	CK_OK(store_authlog_list(env.store, user, now, 1, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 1);

	unsigned int purged = 0;
	CK_OK(store_authlog_purge(env.store, now, &purged, &err));
	ck_assert_uint_eq(purged, 1);
	CK_OK(store_authlog_purge(env.store, now + 7200, &purged, &err));
	ck_assert_uint_eq(purged, 2);
	CK_OK(store_authlog_list(env.store, user, now, 100, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 0);

	/* bad input */
	e.expires = e.created;
	CK_FAIL(env.store, store_authlog_add(env.store, &e, &err), STORE_ERR_INVALID);
	e.expires = now + 10;
	e.reason = "tab\there";
	CK_FAIL(env.store, store_authlog_add(env.store, &e, &err), STORE_ERR_INVALID);
	e.reason = NULL;
	memcpy(e.user, "0123456789abcdef01234567", STORE_ID_SIZE);
	CK_FAIL(env.store, store_authlog_add(env.store, &e, &err), STORE_ERR_NOT_FOUND);
}
END_TEST

START_TEST(login_state_of_users)
{
	char user[STORE_ID_SIZE];
	contract_user("frank", user);
	struct store_user *u, up = { .password_hash = "$pbkdf2-sha512$i=1$x$y" };
	/* rehash on login: the password field alone changes */
	CK_OK(store_user_update(env.store, user, STORE_USER_PASSWORD, &up, &err));
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_str_eq(u->password_hash, "$pbkdf2-sha512$i=1$x$y");
	ck_assert(!u->disabled && !u->suspended);
	up.disabled = true;
	CK_OK(store_user_update(env.store, user, STORE_USER_DISABLED, &up, &err));
	up.suspended = true;
	CK_OK(store_user_update(env.store, user, STORE_USER_SUSPENDED, &up, &err));
	CK_OK(store_user_get_by_username(env.store, "frank", env.pool, &u, &err));
	ck_assert(u->disabled && u->suspended);
	ck_assert_str_eq(u->password_hash, "$pbkdf2-sha512$i=1$x$y");
}
END_TEST

Suite *suite_auth(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, asp_create_list_delete);
	tcase_add_test(tc, totp_secret_and_steps);
	tcase_add_test(tc, authlog_ttl);
	tcase_add_test(tc, login_state_of_users);
	suite_add_tcase(s, tc);
	return s;
}
