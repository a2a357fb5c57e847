/* Contract: the indexer's thread ids (store_thread.h), the API objects and
 * the webhook queue (store_objects.c), on every driver. */
#include "contract.h"

#include "store_thread.h"

#include <string.h>

START_TEST(thread_set)
{
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE], junk[STORE_ID_SIZE];
	contract_user("thr", user);
	contract_mailbox(user, "INBOX", inbox);
	contract_mailbox(user, "Junk", junk);
	struct store_append_result r1 = contract_append(env.store, inbox, 100, "", NULL, 0);
	struct store_append_result r2 = contract_append(env.store, inbox, 100, "", NULL, 0);
	struct store_append_result r3 = contract_append(env.store, inbox, 100, "\\Deleted", NULL,
							0);
	static const char t1[] = "aaaaaaaaaaaaaaaaaaaaaaaa", t2[] = "bbbbbbbbbbbbbbbbbbbbbbbb";
	CK_OK(store_message_thread_set(env.store, inbox, r1.uid, t1, &err));
	CK_OK(store_message_thread_set(env.store, inbox, r2.uid, t1, &err));
	CK_OK(store_message_thread_set(env.store, inbox, r2.uid, t2, &err));
	struct store_message *m;
	CK_OK(store_message_get(env.store, inbox, r1.uid, env.pool, &m, &err));
	ck_assert_ptr_nonnull(m->thread);
	ck_assert_str_eq(m->thread, t1);
	CK_OK(store_message_get(env.store, inbox, r2.uid, env.pool, &m, &err));
	ck_assert_str_eq(m->thread, t2);
	/* a new handle sees it too */
	struct store *other = contract_open();
	CK_OK(store_message_get(other, inbox, r1.uid, env.pool, &m, &err));
	ck_assert_str_eq(m->thread, t1);
	store_close(&other);

	/* gone: the wrong mailbox, a uid never given, an expunged one */
	CK_FAIL(env.store, store_message_thread_set(env.store, junk, r1.uid, t2, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_message_thread_set(env.store, inbox, r3.uid + 10, t2, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_message_thread_set(env.store, "000000000000000000000000",
						    r1.uid, t2, &err), STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_message_thread_set(env.store, "../x", r1.uid, t2, &err),
		STORE_ERR_NOT_FOUND);
	CK_OK(store_message_thread_set(env.store, inbox, r3.uid, t2, &err));
	struct store_uid_range range = { r3.uid, r3.uid };
	uint32_t *uids;
	unsigned int count;
	CK_OK(store_message_expunge(env.store, inbox, &range, 1, env.pool, &uids, &count, &err));
	ck_assert_uint_eq(count, 1);
	CK_FAIL(env.store, store_message_thread_set(env.store, inbox, r3.uid, t2, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_message_thread_set(env.store, inbox, r2.uid, "", &err),
		STORE_ERR_INVALID);
	/* the failures changed nothing */
	CK_OK(store_message_get(env.store, inbox, r2.uid, env.pool, &m, &err));
	ck_assert_str_eq(m->thread, t2);
	/* NULL clears it */
	CK_OK(store_message_thread_set(env.store, inbox, r2.uid, NULL, &err));
	CK_OK(store_message_get(env.store, inbox, r2.uid, env.pool, &m, &err));
	ck_assert_ptr_null(m->thread);
}
END_TEST

Suite *suite_objects(void)
{
	Suite *s = suite_create("objects");
	TCase *tc = tcase_create("objects");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_add_test(tc, thread_set);
	suite_add_tcase(s, tc);
	return s;
}
