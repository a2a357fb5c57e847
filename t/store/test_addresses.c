/* Contract: addresses across users (store_address_page(): the API's
 * domain-wide listing) and forwarded addresses by id
 * (store_forwarded_add/get_id/update_id/delete_id/list), on every driver. */
#include "contract.h"

#include <stdio.h>
#include <string.h>

/* Walks every page of limit forwards, then backwards from the end, and
 * checks the order, that nothing repeats and how many there are. */
static unsigned int walk(const char *domain, const char *query, unsigned int limit,
			 const char **want, unsigned int want_count)
{
	const char *seen[512];
	unsigned int n = 0;
	const char *after = NULL;
	for (;;) {
		struct store_address *page;
		unsigned int count;
		CK_OK(store_address_page(env.store, domain, query, after, false, limit, env.pool,
					 &page, &count, &err));
		ck_assert_uint_le(count, limit);
		for (unsigned int i = 0; i < count; i++) {
			ck_assert_uint_lt(n, 512);
			if (n > 0)
				ck_assert_msg(strcmp(seen[n - 1], page[i].address) < 0,
					      "%s after %s", page[i].address, seen[n - 1]);
			ck_assert_int_eq(strlen(page[i].user), STORE_ID_SIZE - 1);
			seen[n++] = page[i].address;
		}
		if (count < limit)
			break;
		after = page[count - 1].address;
	}
	if (want != NULL) {
		ck_assert_uint_eq(n, want_count);
		for (unsigned int i = 0; i < n; i++)
			ck_assert_str_eq(seen[i], want[i]);
	}
	/* backwards from beyond the last one gives the same, reversed */
	unsigned int back = n;
	const char *before = "\x7f";
	for (;;) {
		struct store_address *page;
		unsigned int count;
		CK_OK(store_address_page(env.store, domain, query, before, true, limit, env.pool,
					 &page, &count, &err));
		for (unsigned int i = 0; i < count; i++) {
			ck_assert_uint_gt(back, 0);
			ck_assert_str_eq(page[i].address, seen[--back]);
		}
		if (count < limit)
			break;
		before = page[count - 1].address;
	}
	ck_assert_uint_eq(back, 0);
	return n;
}

START_TEST(address_page)
{
	char u1[STORE_ID_SIZE], u2[STORE_ID_SIZE];
	contract_user("pa", u1);
	contract_user("pb", u2);
	/* 40 more on two domains, and wildcards */
	for (unsigned int i = 0; i < 20; i++) {
		char a[64];
		snprintf(a, sizeof(a), "list%02u@one.test", i);
		CK_OK(store_address_add(env.store, i % 2 ? u1 : u2, a, false, &err));
		snprintf(a, sizeof(a), "list%02u@two.test", i);
		CK_OK(store_address_add(env.store, u1, a, false, &err));
	}
	CK_OK(store_address_add(env.store, u2, "*@one.test", false, &err));
	CK_OK(store_address_add(env.store, u2, "list*@two.test", false, &err));
	CK_OK(store_address_add(env.store, u1, "Mixed.Case@Two.TEST", false, &err));

	ck_assert_uint_eq(walk(NULL, NULL, 7, NULL, 0), 2 + 40 + 3);
	ck_assert_uint_eq(walk(NULL, NULL, 1000, NULL, 0), 45);
	ck_assert_uint_eq(walk("one.test", NULL, 5, NULL, 0), 21);
	ck_assert_uint_eq(walk("ONE.test", NULL, 5, NULL, 0), 21);
	ck_assert_uint_eq(walk("two.test", NULL, 3, NULL, 0), 22);
	ck_assert_uint_eq(walk("nowhere.test", NULL, 3, NULL, 0), 0);
	/* substring, case-insensitive, regex and LIKE characters are plain */
	static const char *const seven[] = { "list07@one.test", "list07@two.test" };
	walk(NULL, "T07@", 2, (const char **)seven, 2);
	static const char *const star[] = { "*@one.test", "list*@two.test" };
	walk(NULL, "*", 10, (const char **)star, 2);
	static const char *const mixed[] = { "mixed.case@two.test" };
	walk("two.test", "D.c", 10, (const char **)mixed, 1);
	ck_assert_uint_eq(walk(NULL, ".*", 10, NULL, 0), 0);
	ck_assert_uint_eq(walk(NULL, "%", 10, NULL, 0), 0);
	ck_assert_uint_eq(walk(NULL, "_", 10, NULL, 0), 0);
	ck_assert_uint_eq(walk(NULL, "list1", 4, NULL, 0), 20);

	/* the user ids are the owners' */
	struct store_address *page;
	unsigned int count;
	CK_OK(store_address_page(env.store, NULL, "pa@", NULL, false, 10, env.pool, &page, &count,
				 &err));
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(page[0].user, u1);
	ck_assert(page[0].main);
	/* a deleted user's addresses are gone from it */
	CK_OK(store_user_delete(env.store, u2, &err));
	ck_assert_uint_eq(walk(NULL, NULL, 6, NULL, 0), 45 - 1 - 10 - 2);

	CK_FAIL(env.store, store_address_page(env.store, NULL, NULL, NULL, false, 0, env.pool,
					      &page, &count, &err), STORE_ERR_INVALID);
	CK_FAIL(env.store, store_address_page(env.store, NULL, NULL, NULL, false, 1001, env.pool,
					      &page, &count, &err), STORE_ERR_INVALID);
}
END_TEST

START_TEST(forwarded_by_id)
{
	char user[STORE_ID_SIZE], id[STORE_ID_SIZE], id2[STORE_ID_SIZE];
	contract_user("fwd", user);
	const char *t1[] = { "a@example.org", "b@example.org" };
	const char *t2[] = { "c@example.org" };
	CK_OK(store_forwarded_add(env.store, "sales@example.com", t1, 2, id, &err));
	ck_assert_int_eq(strlen(id), STORE_ID_SIZE - 1);
	/* the same delivery key again (dots, +label, case) is taken */
	CK_FAIL(env.store, store_forwarded_add(env.store, "Sa.les+x@example.com", t2, 1, id2,
					       &err), STORE_ERR_EXISTS);
	CK_OK(store_forwarded_add(env.store, "info@example.com", t2, 1, id2, &err));
	ck_assert_str_ne(id, id2);

	struct store_forwarded f;
	CK_OK(store_forwarded_get_id(env.store, id, env.pool, &f, &err));
	ck_assert_str_eq(f.id, id);
	ck_assert_str_eq(f.address, "sales@example.com");
	ck_assert_uint_eq(f.count, 2);
	ck_assert_str_eq(f.targets[1], "b@example.org");
	ck_assert_int_gt(f.created, 0);

	/* update keeps the id; delivery (by address) sees the new targets */
	CK_OK(store_forwarded_update_id(env.store, id, t2, 1, &err));
	CK_OK(store_forwarded_get_id(env.store, id, env.pool, &f, &err));
	ck_assert_uint_eq(f.count, 1);
	ck_assert_str_eq(f.targets[0], "c@example.org");
	const char *const *targets;
	unsigned int count;
	CK_OK(store_forwarded_get(env.store, "s.a.l.e.s@example.com", env.pool, NULL, &targets,
				  &count, &err));
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(targets[0], "c@example.org");
	/* another handle finds it by id too */
	struct store *other = contract_open();
	CK_OK(store_forwarded_get_id(other, id, env.pool, &f, &err));
	ck_assert_str_eq(f.address, "sales@example.com");
	store_close(&other);

	struct store_forwarded *list;
	CK_OK(store_forwarded_list(env.store, env.pool, &list, &count, &err));
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(list[0].address, "info@example.com");
	ck_assert_str_eq(list[1].address, "sales@example.com");
	ck_assert_str_eq(list[1].id, id);

	/* bad input */
	const char *bad[] = { "no-at-sign" };
	err = NULL;
	ck_assert_int_eq(store_forwarded_update_id(env.store, id, bad, 1, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(store_forwarded_update_id(env.store, id, t1, 0, &err), -1);
	ck_assert_int_eq(store_forwarded_add(env.store, "x@example.com", t1, 0, id2, &err), -1);

	/* unknown and malformed ids; an id of another kind is not one */
	static const char nobody[] = "000000000000000000000000";
	CK_FAIL(env.store, store_forwarded_get_id(env.store, nobody, env.pool, &f, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_forwarded_get_id(env.store, "../x", env.pool, &f, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_forwarded_update_id(env.store, nobody, t2, 1, &err),
		STORE_ERR_NOT_FOUND);
	char other_id[STORE_ID_SIZE];
	CK_OK(store_object_add(env.store, "webhook", NULL, NULL, "{}", false, other_id, &err));
	CK_FAIL(env.store, store_forwarded_get_id(env.store, other_id, env.pool, &f, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_forwarded_delete_id(env.store, other_id, &err),
		STORE_ERR_NOT_FOUND);

	CK_OK(store_forwarded_delete_id(env.store, id, &err));
	CK_FAIL(env.store, store_forwarded_get_id(env.store, id, env.pool, &f, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_forwarded_delete_id(env.store, id, &err), STORE_ERR_NOT_FOUND);
	CK_OK(store_forwarded_get(env.store, "sales@example.com", env.pool, NULL, &targets,
				  &count, &err));
	ck_assert_uint_eq(count, 0);
	/* the address is free again */
	CK_OK(store_forwarded_add(env.store, "sales@example.com", t1, 2, id, &err));
}
END_TEST

Suite *suite_addresses(void)
{
	Suite *s = suite_create("addresses");
	TCase *tc = tcase_create("addresses");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_add_test(tc, address_page);
	tcase_add_test(tc, forwarded_by_id);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
