/* Contract: users, addresses, address resolution, domain aliases. */
#include "contract.h"

#include <stdlib.h>
#include <string.h>

START_TEST(user_create_get)
{
	char id[STORE_ID_SIZE], id2[STORE_ID_SIZE];
	static const char *const tags[] = { "vip", "beta tester" };
	struct store_user in = {
		.username = "John.Doe",
		.password_hash = "$2a$10$hash",
		.address = "John.Doe@Example.COM",
		.quota = 1024 * 1024,
		.tags = tags,
		.tags_count = 2,
		.limits = { .imap_max_connections = 7, .recipients_per_day = 100 },
		.settings = "{\"spamLevel\":50}",
	};
	CK_OK(store_user_create(env.store, &in, id, &err));
	ck_assert_int_eq((int)strlen(id), 24);

	struct store_user *u;
	CK_OK(store_user_get(env.store, id, env.pool, &u, &err));
	ck_assert_str_eq(u->id, id);
	ck_assert_str_eq(u->username, "John.Doe");
	ck_assert_str_eq(u->password_hash, "$2a$10$hash");
	ck_assert_str_eq(u->address, "john.doe@example.com");
	ck_assert_uint_eq(u->quota, 1024 * 1024);
	ck_assert_uint_eq(u->storage_used, 0);
	ck_assert(!u->disabled && !u->suspended);
	ck_assert_uint_eq(u->tags_count, 2);
	ck_assert_str_eq(u->tags[1], "beta tester");
	ck_assert_uint_eq(u->limits.imap_max_connections, 7);
	ck_assert_uint_eq(u->limits.recipients_per_day, 100);
	ck_assert_str_eq(u->settings, "{\"spamLevel\":50}");
	ck_assert(u->created > 1600000000);

	/* username matches without case and dots */
	CK_OK(store_user_get_by_username(env.store, "johndoe", env.pool, &u, &err));
	ck_assert_str_eq(u->id, id);
	CK_FAIL(env.store, store_user_get_by_username(env.store, "nobody", env.pool, &u, &err),
		STORE_ERR_NOT_FOUND);

	/* the six default mailboxes */
	struct store_mailbox *boxes;
	unsigned int count;
	CK_OK(store_mailbox_list(env.store, id, env.pool, &boxes, &count, &err));
	ck_assert_uint_eq(count, 6);
	static const struct { const char *path; enum store_special_use use; } want[] = {
		{ "Archive", STORE_SPECIAL_ARCHIVE }, { "Drafts", STORE_SPECIAL_DRAFTS },
		{ "INBOX", STORE_SPECIAL_INBOX }, { "Junk", STORE_SPECIAL_JUNK },
		{ "Sent Mail", STORE_SPECIAL_SENT }, { "Trash", STORE_SPECIAL_TRASH },
	};
	for (unsigned int i = 0; i < 6; i++) {
		ck_assert_str_eq(boxes[i].path, want[i].path);
		ck_assert_int_eq(boxes[i].special_use, want[i].use);
		ck_assert_uint_eq(boxes[i].uid_next, 1);
		ck_assert_uint_eq(boxes[i].modify_index, 0);
		ck_assert(boxes[i].uid_validity > 0);
		ck_assert(boxes[i].subscribed);
	}
	ck_assert_str_eq(store_special_use_name(STORE_SPECIAL_JUNK), "\\Junk");

	/* taken username or address: nothing of the second user remains */
	in.username = "johndoe";
	in.address = "other@example.com";
	CK_FAIL(env.store, store_user_create(env.store, &in, id2, &err), STORE_ERR_EXISTS);
	in.username = "jane";
	in.address = "JOHN.DOE@example.com";
	CK_FAIL(env.store, store_user_create(env.store, &in, id2, &err), STORE_ERR_EXISTS);
	CK_FAIL(env.store, store_user_get_by_username(env.store, "jane", env.pool, &u, &err),
		STORE_ERR_NOT_FOUND);
	in.username = "";
	CK_FAIL(env.store, store_user_create(env.store, &in, id2, &err), STORE_ERR_INVALID);
	in.username = "jane";
	in.address = "not an address";
	CK_FAIL(env.store, store_user_create(env.store, &in, id2, &err), STORE_ERR_INVALID);
	CK_FAIL(env.store, store_user_get(env.store, "0123456789abcdef01234567", env.pool, &u,
					  &err), STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_user_get(env.store, "bad", env.pool, &u, &err),
		STORE_ERR_INVALID);
}
END_TEST

START_TEST(user_update_delete)
{
	char id[STORE_ID_SIZE];
	contract_user("alice", id);
	static const char *const tags[] = { "a" };
	struct store_user up = {
		.password_hash = "$2b$new",
		.quota = 5000,
		.disabled = true,
		.tags = tags,
		.tags_count = 1,
		.limits = { .imap_max_connections = 3, .forwards_per_day = 9 },
	};
	CK_OK(store_user_update(env.store, id, STORE_USER_PASSWORD | STORE_USER_QUOTA |
				STORE_USER_DISABLED | STORE_USER_TAGS | STORE_USER_LIMITS,
				&up, &err));
	struct store_user *u;
	CK_OK(store_user_get(env.store, id, env.pool, &u, &err));
	ck_assert_str_eq(u->password_hash, "$2b$new");
	ck_assert_uint_eq(u->quota, 5000);
	ck_assert(u->disabled && !u->suspended);
	ck_assert_uint_eq(u->tags_count, 1);
	ck_assert_uint_eq(u->limits.imap_max_connections, 3);
	ck_assert_uint_eq(u->limits.forwards_per_day, 9);

	/* fields outside the mask stay */
	up.quota = 1;
	up.suspended = true;
	CK_OK(store_user_update(env.store, id, STORE_USER_SUSPENDED, &up, &err));
	CK_OK(store_user_get(env.store, id, env.pool, &u, &err));
	ck_assert_uint_eq(u->quota, 5000);
	ck_assert(u->suspended);

	CK_FAIL(env.store, store_user_update(env.store, "0123456789abcdef01234567",
					     STORE_USER_QUOTA, &up, &err), STORE_ERR_NOT_FOUND);

	CK_OK(store_user_delete(env.store, id, &err));
	CK_FAIL(env.store, store_user_get(env.store, id, env.pool, &u, &err), STORE_ERR_NOT_FOUND);
	struct store_mailbox *boxes;
	unsigned int count;
	CK_OK(store_mailbox_list(env.store, id, env.pool, &boxes, &count, &err));
	ck_assert_uint_eq(count, 0);
	struct store_address_resolved r;
	CK_FAIL(env.store, store_address_resolve(env.store, "alice@example.com", env.pool, &r,
						 &err), STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_user_delete(env.store, id, &err), STORE_ERR_NOT_FOUND);
	/* the username is free again */
	contract_user("alice", id);
}
END_TEST

START_TEST(user_delete_releases_attachments)
{
	char a[STORE_ID_SIZE], b[STORE_ID_SIZE], inbox_a[STORE_ID_SIZE], inbox_b[STORE_ID_SIZE];
	contract_user("a", a);
	contract_user("b", b);
	contract_mailbox(a, "INBOX", inbox_a);
	contract_mailbox(b, "INBOX", inbox_b);
	struct store_attachment shared, own;
	contract_attachment(&shared, 70000, 1);
	contract_attachment(&own, 60000, 2);
	struct store_attachment both[] = { shared, own };
	contract_append(env.store, inbox_a, 1000, "", both, 2);
	contract_append(env.store, inbox_a, 1000, "", &shared, 1);
	contract_append(env.store, inbox_b, 1000, "", &shared, 1);
	ck_assert_uint_eq(contract_refcount(shared.id), 3);
	ck_assert_uint_eq(contract_refcount(own.id), 1);

	CK_OK(store_user_delete(env.store, a, &err));
	ck_assert_uint_eq(contract_refcount(shared.id), 1);
	ck_assert_uint_eq(contract_refcount(own.id), 0);
	CK_OK(store_user_delete(env.store, b, &err));
	ck_assert_uint_eq(contract_refcount(shared.id), 0);
	const unsigned char *data;
	size_t len;
	CK_FAIL(env.store, store_attachment_get(env.store, shared.id, env.pool, &data, &len, &err),
		STORE_ERR_NOT_FOUND);
	free((void *)shared.data);
	free((void *)own.data);
}
END_TEST

static void resolve_ok(const char *address, const char *user, const char *matched,
		       enum store_address_match match, const char *label, bool via_alias)
{
	struct store_address_resolved r;
	CK_OK(store_address_resolve(env.store, address, env.pool, &r, &err));
	ck_assert_msg(strcmp(r.user, user) == 0, "%s resolved to the wrong user", address);
	ck_assert_str_eq(r.address, matched);
	ck_assert_msg(r.match == match, "%s: match %d, want %d", address, r.match, match);
	if (label == NULL)
		ck_assert_ptr_null(r.label);
	else
		ck_assert_str_eq(r.label, label);
	ck_assert(r.via_domain_alias == via_alias);
}

START_TEST(address_resolution)
{
	char u1[STORE_ID_SIZE], u2[STORE_ID_SIZE], u3[STORE_ID_SIZE], u4[STORE_ID_SIZE];
	contract_user("first.last", u1);	/* first.last@example.com */
	contract_user("catchall", u2);
	contract_user("sales", u3);
	contract_user("shop", u4);
	CK_OK(store_address_add(env.store, u2, "*@example.com", false, &err));
	CK_OK(store_address_add(env.store, u3, "sales*@example.com", false, &err));
	CK_OK(store_address_add(env.store, u4, "sales.team.eu*@example.com", false, &err));
	CK_OK(store_address_add(env.store, u4, "first.last+shop@example.com", false, &err));
	CK_OK(store_address_add(env.store, u1, "андрис@уайлддак.орг", false, &err));
	CK_OK(store_address_add(env.store, u1, "Straße@xn--fa-hia.de", false, &err));

	/* exact, then without dots and +label */
	resolve_ok("first.last@example.com", u1, "first.last@example.com",
		   STORE_ADDRESS_MATCH_EXACT, NULL, false);
	resolve_ok("First.Last@EXAMPLE.com", u1, "first.last@example.com",
		   STORE_ADDRESS_MATCH_EXACT, NULL, false);
	resolve_ok("firstlast@example.com", u1, "first.last@example.com",
		   STORE_ADDRESS_MATCH_NORMALIZED, NULL, false);
	resolve_ok("f.i.r.s.t.l.a.s.t+news@example.com", u1, "first.last@example.com",
		   STORE_ADDRESS_MATCH_NORMALIZED, "news", false);
	/* a stored +label address wins over the label-less one */
	resolve_ok("first.last+shop@example.com", u4, "first.last+shop@example.com",
		   STORE_ADDRESS_MATCH_EXACT, NULL, false);
	resolve_ok("firstlast+shop@example.com", u4, "first.last+shop@example.com",
		   STORE_ADDRESS_MATCH_NORMALIZED, NULL, false);
	/* wildcards: longest prefix, then * */
	resolve_ok("sales.team.eu.north@example.com", u4, "sales.team.eu*@example.com",
		   STORE_ADDRESS_MATCH_PREFIX, NULL, false);
	resolve_ok("salesteameu+x@example.com", u4, "sales.team.eu*@example.com",
		   STORE_ADDRESS_MATCH_PREFIX, "x", false);
	resolve_ok("sales.us@example.com", u3, "sales*@example.com",
		   STORE_ADDRESS_MATCH_PREFIX, NULL, false);
	resolve_ok("sales@example.com", u3, "sales@example.com",
		   STORE_ADDRESS_MATCH_EXACT, NULL, false);
	resolve_ok("random@example.com", u2, "*@example.com",
		   STORE_ADDRESS_MATCH_WILDCARD, NULL, false);
	/* EAI and IDN: punycode input finds the U-label address */
	resolve_ok("АНДРИС@уайлддак.орг", u1, "андрис@уайлддак.орг",
		   STORE_ADDRESS_MATCH_EXACT, NULL, false);
	resolve_ok("андрис@xn--80aalaxjd5d.xn--c1avg", u1, "андрис@уайлддак.орг",
		   STORE_ADDRESS_MATCH_EXACT, NULL, false);
	resolve_ok("STRA\xE1\xBA\x9E" "E@xn--fa-hia.de", u1, "straße@faß.de",
		   STORE_ADDRESS_MATCH_EXACT, NULL, false);
	struct store_address_resolved r;
	CK_FAIL(env.store, store_address_resolve(env.store, "nobody@example.org", env.pool, &r,
						 &err), STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_address_resolve(env.store, "garbage", env.pool, &r, &err),
		STORE_ERR_NOT_FOUND);

	/* domain aliases: one hop, all the rules again */
	CK_OK(store_domain_alias_add(env.store, "Example.NET", "example.com", &err));
	CK_FAIL(env.store, store_domain_alias_add(env.store, "example.net", "example.org", &err),
		STORE_ERR_EXISTS);
	const char *target;
	CK_OK(store_domain_alias_get(env.store, "example.net", env.pool, &target, &err));
	ck_assert_str_eq(target, "example.com");
	resolve_ok("first.last+x@example.net", u1, "first.last@example.com",
		   STORE_ADDRESS_MATCH_NORMALIZED, "x", true);
	resolve_ok("sales.x@example.net", u3, "sales*@example.com",
		   STORE_ADDRESS_MATCH_PREFIX, NULL, true);
	resolve_ok("whoever@example.net", u2, "*@example.com",
		   STORE_ADDRESS_MATCH_WILDCARD, NULL, true);
	CK_OK(store_domain_alias_add(env.store, "уайлддак.рф", "уайлддак.орг", &err));
	resolve_ok("андрис@xn--80aalaxjd5d.xn--p1ai", u1, "андрис@уайлддак.орг",
		   STORE_ADDRESS_MATCH_EXACT, NULL, true);
	CK_OK(store_domain_alias_delete(env.store, "example.net", &err));
	CK_FAIL(env.store, store_address_resolve(env.store, "whoever@example.net", env.pool, &r,
						 &err), STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_domain_alias_delete(env.store, "example.net", &err),
		STORE_ERR_NOT_FOUND);
}
END_TEST

START_TEST(address_add_list_delete)
{
	char u1[STORE_ID_SIZE], u2[STORE_ID_SIZE];
	contract_user("bob", u1);
	contract_user("carol", u2);
	CK_OK(store_address_add(env.store, u1, "Bob.Alias@Example.com", false, &err));
	/* the same address, or one that differs only by dots, is taken */
	CK_FAIL(env.store, store_address_add(env.store, u2, "bob.alias@example.com", false, &err),
		STORE_ERR_EXISTS);
	CK_FAIL(env.store, store_address_add(env.store, u2, "bobalias@example.com", false, &err),
		STORE_ERR_EXISTS);
	CK_FAIL(env.store, store_address_add(env.store, u2, "x y@example.com", false, &err),
		STORE_ERR_INVALID);
	CK_FAIL(env.store, store_address_add(env.store, u2, "*@example.com", true, &err),
		STORE_ERR_INVALID);
	CK_FAIL(env.store, store_address_add(env.store, "0123456789abcdef01234567",
					     "z@example.com", false, &err), STORE_ERR_NOT_FOUND);

	struct store_address *list;
	unsigned int count;
	CK_OK(store_address_list(env.store, u1, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(list[0].address, "bob@example.com");
	ck_assert(list[0].main);
	ck_assert_str_eq(list[1].address, "bob.alias@example.com");
	ck_assert(!list[1].main);

	/* the main address can only be replaced, not deleted */
	CK_FAIL(env.store, store_address_delete(env.store, "bob@example.com", &err),
		STORE_ERR_INVALID);
	CK_OK(store_address_add(env.store, u1, "robert@example.com", true, &err));
	struct store_user *u;
	CK_OK(store_user_get(env.store, u1, env.pool, &u, &err));
	ck_assert_str_eq(u->address, "robert@example.com");
	CK_OK(store_address_delete(env.store, "BOB@example.com", &err));
	CK_FAIL(env.store, store_address_delete(env.store, "bob@example.com", &err),
		STORE_ERR_NOT_FOUND);
	CK_OK(store_address_list(env.store, u1, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(list[0].address, "robert@example.com");
}
END_TEST

Suite *suite_users(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("users");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, user_create_get);
	tcase_add_test(tc, user_update_delete);
	tcase_add_test(tc, user_delete_releases_attachments);
	tcase_add_test(tc, address_resolution);
	tcase_add_test(tc, address_add_list_delete);
	suite_add_tcase(s, tc);
	return s;
}
