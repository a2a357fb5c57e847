/* Contract: what the HTTP API reads (user pages, message pages, tree blobs,
 * access tokens, the user-wide journal), on every driver. */
#include "contract.h"

#include <string.h>

static int count_cb(const struct store_message *msg, void *context)
{
	uint32_t *uids = context;
	uids[++uids[0]] = msg->uid;
	return 0;
}

struct jlog {
	int64_t last;
	unsigned int count;
	bool ordered;
	char mailbox[STORE_ID_SIZE];
};

static int journal_cb(const struct store_journal_user_entry *e, void *context)
{
	struct jlog *log = context;
	if (e->position <= log->last)
		log->ordered = false;
	log->last = e->position;
	log->count++;
	memcpy(log->mailbox, e->mailbox, STORE_ID_SIZE);
	return 0;
}

START_TEST(api_reads)
{
	char a[STORE_ID_SIZE], b[STORE_ID_SIZE], c[STORE_ID_SIZE], inbox[STORE_ID_SIZE];
	contract_user("apia", a);
	contract_user("apib", b);
	contract_user("apic", c);
	uint64_t users;
	CK_OK(store_user_count(env.store, &users, &err));
	ck_assert_uint_eq(users, 3);
	struct store_user *list;
	unsigned int n;
	CK_OK(store_user_list(env.store, NULL, false, 2, env.pool, &list, &n, &err));
	ck_assert_uint_eq(n, 2);
	ck_assert_int_lt(strcmp(list[0].id, list[1].id), 0);
	char second[STORE_ID_SIZE];
	memcpy(second, list[1].id, STORE_ID_SIZE);
	CK_OK(store_user_list(env.store, second, false, 10, env.pool, &list, &n, &err));
	ck_assert_uint_eq(n, 1);
	CK_OK(store_user_list(env.store, second, true, 10, env.pool, &list, &n, &err));
	ck_assert_uint_eq(n, 1);

	contract_mailbox(a, "INBOX", inbox);
	struct store_append_result r[5];
	for (int i = 0; i < 5; i++)
		r[i] = contract_append(env.store, inbox, 100, "", NULL, 0);
	uint32_t uids[8] = { 0 };
	CK_OK(store_message_page(env.store, inbox, 1, UINT32_MAX, true, 3, count_cb, uids, &err));
	ck_assert_uint_eq(uids[0], 3);
	ck_assert_uint_eq(uids[1], 5);
	ck_assert_uint_eq(uids[3], 3);
	const unsigned char *tree;
	size_t len;
	CK_OK(store_message_tree(env.store, r[2].id, env.pool, &tree, &len, &err));
	ck_assert_uint_gt(len, 0);

	static const char hash[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char user[STORE_ID_SIZE];
	CK_OK(store_token_add(env.store, a, hash, 4000000000LL, &err));
	CK_OK(store_token_get(env.store, hash, 1700000000, user, &err));
	ck_assert_str_eq(user, a);
	CK_FAIL(env.store, store_token_get(env.store, hash, 4000000001LL, user, &err),
		STORE_ERR_NOT_FOUND);
	CK_OK(store_token_delete(env.store, hash, &err));
	CK_FAIL(env.store, store_token_get(env.store, hash, 1700000000, user, &err),
		STORE_ERR_NOT_FOUND);

	int64_t last = -1;
	CK_OK(store_journal_user_last(env.store, b, &last, &err));
	ck_assert_int_eq(last, 0);
	CK_OK(store_journal_user_last(env.store, a, &last, &err));
	ck_assert_int_gt(last, 0);
	struct jlog log = { .ordered = true };
	CK_OK(store_journal_user_since(env.store, a, 0, 100, journal_cb, &log, &err));
	ck_assert_uint_eq(log.count, 5);
	ck_assert(log.ordered);
	ck_assert_int_eq(log.last, last);
	ck_assert_str_eq(log.mailbox, inbox);
	struct jlog tail = { .last = 0, .ordered = true };
	CK_OK(store_journal_user_since(env.store, a, last, 100, journal_cb, &tail, &err));
	ck_assert_uint_eq(tail.count, 0);
}
END_TEST

Suite *suite_api(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("api");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_add_test(tc, api_reads);
	suite_add_tcase(s, tc);
	return s;
}
