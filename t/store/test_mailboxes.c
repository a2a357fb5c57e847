/* Contract: mailboxes (create, rename with children, delete, subscribe). */
#include "contract.h"

#include <stdlib.h>
#include <string.h>

START_TEST(mailbox_create_get)
{
	char user[STORE_ID_SIZE], id[STORE_ID_SIZE], id2[STORE_ID_SIZE];
	contract_user("mb", user);
	CK_OK(store_mailbox_create(env.store, user, "Projects/2024/Entwürfe", STORE_SPECIAL_NONE,
				   id, &err));
	struct store_mailbox *box;
	CK_OK(store_mailbox_get(env.store, id, env.pool, &box, &err));
	ck_assert_str_eq(box->path, "Projects/2024/Entwürfe");
	ck_assert_str_eq(box->user, user);
	ck_assert_uint_eq(box->uid_next, 1);
	CK_OK(store_mailbox_get_by_path(env.store, user, "Projects/2024/Entwürfe", env.pool, &box,
					&err));
	ck_assert_str_eq(box->id, id);
	CK_FAIL(env.store, store_mailbox_create(env.store, user, "Projects/2024/Entwürfe",
						STORE_SPECIAL_NONE, id2, &err), STORE_ERR_EXISTS);
	CK_FAIL(env.store, store_mailbox_get_by_path(env.store, user, "projects/2024/entwürfe",
						     env.pool, &box, &err), STORE_ERR_NOT_FOUND);
	static const char *const bad[] = { "", "/a", "a/", "a//b", "a\x01" "b", "\xC3" };
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CK_FAIL(env.store, store_mailbox_create(env.store, user, bad[i], STORE_SPECIAL_NONE,
							id2, &err), STORE_ERR_INVALID);
	CK_FAIL(env.store, store_mailbox_create(env.store, "0123456789abcdef01234567", "X",
						STORE_SPECIAL_NONE, id2, &err),
		STORE_ERR_NOT_FOUND);

	/* a recreated mailbox never gets its old UIDVALIDITY */
	uint32_t old_validity = box->uid_validity;
	CK_OK(store_mailbox_delete(env.store, id, &err));
	CK_OK(store_mailbox_create(env.store, user, "Projects/2024/Entwürfe", STORE_SPECIAL_NONE,
				   id2, &err));
	CK_OK(store_mailbox_get(env.store, id2, env.pool, &box, &err));
	ck_assert_uint_ne(box->uid_validity, old_validity);
	ck_assert_str_ne(id, id2);

	CK_OK(store_mailbox_subscribe(env.store, id2, false, &err));
	CK_OK(store_mailbox_get(env.store, id2, env.pool, &box, &err));
	ck_assert(!box->subscribed);
	CK_FAIL(env.store, store_mailbox_subscribe(env.store, id, true, &err), STORE_ERR_NOT_FOUND);
}
END_TEST

START_TEST(mailbox_rename_children)
{
	char user[STORE_ID_SIZE], other[STORE_ID_SIZE], a[STORE_ID_SIZE], tmp[STORE_ID_SIZE];
	contract_user("rn", user);
	contract_user("rn2", other);
	static const char *const paths[] = { "A", "A/B", "A/B/C", "AB", "A_x", "Ä/A" };
	for (unsigned int i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		CK_OK(store_mailbox_create(env.store, user, paths[i], STORE_SPECIAL_NONE,
					   i == 0 ? a : tmp, &err));
	CK_OK(store_mailbox_create(env.store, other, "A/B", STORE_SPECIAL_NONE, tmp, &err));
	struct store_mailbox *box;
	CK_OK(store_mailbox_get(env.store, a, env.pool, &box, &err));
	uint32_t validity = box->uid_validity;
	char a_id[STORE_ID_SIZE];
	memcpy(a_id, box->id, sizeof(a_id));

	CK_OK(store_mailbox_rename(env.store, a, "Zürich/Neu", &err));
	struct store_mailbox *boxes;
	unsigned int count;
	CK_OK(store_mailbox_list(env.store, user, env.pool, &boxes, &count, &err));
	const char *got[16];
	for (unsigned int i = 0; i < count; i++)
		got[i] = boxes[i].path;
	/* children moved, siblings sharing a prefix ("AB", "A_x") did not */
	static const char *const want[] = { "AB", "A_x", "Archive", "Drafts", "INBOX", "Junk",
		"Sent Mail", "Trash", "Zürich/Neu", "Zürich/Neu/B", "Zürich/Neu/B/C", "Ä/A" };
	ck_assert_uint_eq(count, sizeof(want) / sizeof(want[0]));
	for (unsigned int i = 0; i < count; i++)
		ck_assert_str_eq(got[i], want[i]);
	CK_OK(store_mailbox_get(env.store, a, env.pool, &box, &err));
	ck_assert_uint_eq(box->uid_validity, validity);
	ck_assert_str_eq(box->id, a_id);
	/* another user's mailboxes are untouched */
	CK_OK(store_mailbox_get_by_path(env.store, other, "A/B", env.pool, &box, &err));

	CK_FAIL(env.store, store_mailbox_rename(env.store, a, "AB", &err), STORE_ERR_EXISTS);
	CK_FAIL(env.store, store_mailbox_rename(env.store, a, "Zürich/Neu/B/X", &err),
		STORE_ERR_INVALID);
	/* a child's new path taken: nothing moves */
	CK_OK(store_mailbox_create(env.store, user, "Q/B", STORE_SPECIAL_NONE, tmp, &err));
	CK_FAIL(env.store, store_mailbox_rename(env.store, a, "Q", &err), STORE_ERR_EXISTS);
	CK_OK(store_mailbox_get_by_path(env.store, user, "Zürich/Neu/B/C", env.pool, &box, &err));
	CK_FAIL(env.store, store_mailbox_rename(env.store, "0123456789abcdef01234567", "X", &err),
		STORE_ERR_NOT_FOUND);
}
END_TEST

START_TEST(mailbox_delete_releases)
{
	char user[STORE_ID_SIZE], box[STORE_ID_SIZE], inbox[STORE_ID_SIZE], child[STORE_ID_SIZE];
	contract_user("del", user);
	contract_mailbox(user, "INBOX", inbox);
	CK_OK(store_mailbox_create(env.store, user, "Old", STORE_SPECIAL_NONE, box, &err));
	CK_OK(store_mailbox_create(env.store, user, "Old/Child", STORE_SPECIAL_NONE, child, &err));
	struct store_attachment only, shared;
	contract_attachment(&only, 100000, 3);
	contract_attachment(&shared, 100000, 4);
	struct store_attachment both[] = { only, shared };
	contract_append(env.store, box, 300, "", both, 2);
	contract_append(env.store, box, 200, "\\Seen", NULL, 0);
	contract_append(env.store, inbox, 50, "", &shared, 1);
	struct store_user *u;
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_uint_eq(u->storage_used, 550);

	CK_OK(store_mailbox_delete(env.store, box, &err));
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_uint_eq(u->storage_used, 50);
	ck_assert_uint_eq(contract_refcount(only.id), 0);
	ck_assert_uint_eq(contract_refcount(shared.id), 1);
	struct store_mailbox *mb;
	CK_FAIL(env.store, store_mailbox_get(env.store, box, env.pool, &mb, &err),
		STORE_ERR_NOT_FOUND);
	CK_OK(store_mailbox_get(env.store, child, env.pool, &mb, &err));
	CK_FAIL(env.store, store_mailbox_delete(env.store, box, &err), STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_mailbox_delete(env.store, inbox, &err), STORE_ERR_INVALID);
	free((void *)only.data);
	free((void *)shared.data);
}
END_TEST

Suite *suite_mailboxes(void)
{
	Suite *s = suite_create("mailboxes");
	TCase *tc = tcase_create("mailboxes");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, mailbox_create_get);
	tcase_add_test(tc, mailbox_rename_children);
	tcase_add_test(tc, mailbox_delete_releases);
	suite_add_tcase(s, tc);
	return s;
}
