/* Contract: what the HTTP API reads (user pages, message pages, tree blobs,
 * access tokens, the user-wide journal), on every driver. */
#include "contract.h"

#include <stdio.h>
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

struct mlog {
	unsigned int count;
	enum store_journal_command commands[16];
	char mailboxes[16][STORE_ID_SIZE];
	char paths[16][64];
};

static int mailbox_entries_cb(const struct store_journal_user_entry *e, void *context)
{
	struct mlog *log = context;
	if (e->entry.command < STORE_JOURNAL_MAILBOX_CREATE || log->count == 16)
		return 0;
	log->commands[log->count] = e->entry.command;
	memcpy(log->mailboxes[log->count], e->mailbox, STORE_ID_SIZE);
	ck_assert_ptr_nonnull(e->entry.path);
	snprintf(log->paths[log->count], sizeof(log->paths[0]), "%s", e->entry.path);
	log->count++;
	return 0;
}

static int mailbox_journal_count_cb(const struct store_journal_entry *e, void *context)
{
	unsigned int *counts = context;
	counts[e->command > STORE_JOURNAL_FLAGS ? 1 : 0]++;
	return 0;
}

/* Mailbox create, rename (children too) and delete are in the user-wide
 * journal with id and path, a delete's entry outliving the mailbox; the
 * per-mailbox journal (IMAP's) has message entries only. */
START_TEST(journal_mailbox_changes)
{
	char u[STORE_ID_SIZE], inbox[STORE_ID_SIZE], a[STORE_ID_SIZE], ab[STORE_ID_SIZE];
	contract_user("jmbox", u);
	contract_mailbox(u, "INBOX", inbox);
	int64_t start;
	CK_OK(store_journal_user_last(env.store, u, &start, &err));
	CK_OK(store_mailbox_create(env.store, u, "A", STORE_SPECIAL_NONE, a, &err));
	CK_OK(store_mailbox_create(env.store, u, "A/B", STORE_SPECIAL_NONE, ab, &err));
	contract_append(env.store, a, 100, "", NULL, 0);
	CK_OK(store_mailbox_rename(env.store, a, "C", &err));
	CK_OK(store_mailbox_delete(env.store, ab, &err));

	struct mlog log = { 0 };
	CK_OK(store_journal_user_since(env.store, u, start, 100, mailbox_entries_cb, &log, &err));
	ck_assert_uint_eq(log.count, 5);
	static const enum store_journal_command want[] = {
		STORE_JOURNAL_MAILBOX_CREATE, STORE_JOURNAL_MAILBOX_CREATE,
		STORE_JOURNAL_MAILBOX_RENAME, STORE_JOURNAL_MAILBOX_RENAME,
		STORE_JOURNAL_MAILBOX_DELETE,
	};
	for (unsigned int i = 0; i < 5; i++)
		ck_assert_int_eq(log.commands[i], want[i]);
	ck_assert_str_eq(log.mailboxes[0], a);
	ck_assert_str_eq(log.paths[0], "A");
	ck_assert_str_eq(log.mailboxes[1], ab);
	ck_assert_str_eq(log.paths[1], "A/B");
	/* the two renames in either order */
	bool a_first = strcmp(log.mailboxes[2], a) == 0;
	ck_assert_str_eq(log.mailboxes[a_first ? 2 : 3], a);
	ck_assert_str_eq(log.paths[a_first ? 2 : 3], "C");
	ck_assert_str_eq(log.mailboxes[a_first ? 3 : 2], ab);
	ck_assert_str_eq(log.paths[a_first ? 3 : 2], "C/B");
	ck_assert_str_eq(log.mailboxes[4], ab);
	ck_assert_str_eq(log.paths[4], "C/B");

	unsigned int counts[2] = { 0, 0 };
	CK_OK(store_journal_since(env.store, a, 0, mailbox_journal_count_cb, counts, &err));
	ck_assert_uint_eq(counts[0], 1);
	ck_assert_uint_eq(counts[1], 0);
	counts[0] = counts[1] = 0;
	CK_OK(store_journal_since(env.store, inbox, 0, mailbox_journal_count_cb, counts, &err));
	ck_assert_uint_eq(counts[1], 0);
	int64_t last;
	CK_OK(store_journal_user_last(env.store, u, &last, &err));
	ck_assert_int_gt(last, start);
}
END_TEST

/* A follower at the newest position must see what comes next, even when
 * the newest entries go with their deleted mailbox. */
START_TEST(journal_positions_not_reused)
{
	char u[STORE_ID_SIZE], inbox[STORE_ID_SIZE], d[STORE_ID_SIZE];
	contract_user("jreuse", u);
	contract_mailbox(u, "INBOX", inbox);
	CK_OK(store_mailbox_create(env.store, u, "Doomed", STORE_SPECIAL_NONE, d, &err));
	contract_append(env.store, d, 100, "", NULL, 0);
	contract_append(env.store, d, 100, "", NULL, 0);
	int64_t seen;
	CK_OK(store_journal_user_last(env.store, u, &seen, &err));
	CK_OK(store_mailbox_delete(env.store, d, &err));
	struct mlog log = { 0 };
	CK_OK(store_journal_user_since(env.store, u, seen, 100, mailbox_entries_cb, &log, &err));
	ck_assert_uint_eq(log.count, 1);
	ck_assert_int_eq(log.commands[0], STORE_JOURNAL_MAILBOX_DELETE);
	ck_assert_str_eq(log.mailboxes[0], d);
}
END_TEST

Suite *suite_api(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("api");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_add_test(tc, api_reads);
	tcase_add_test(tc, journal_mailbox_changes);
	tcase_add_test(tc, journal_positions_not_reused);
	suite_add_tcase(s, tc);
	return s;
}
