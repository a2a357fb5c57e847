/* Contract: append, list, content, flags (CONDSTORE), copy, move, expunge,
 * quota and the journal. */
#include "contract.h"

#include <stdlib.h>
#include <string.h>

struct journal_log {
	struct store_journal_entry e[64];
	char flags[64][64];
	unsigned int count;
};

static int journal_collect(const struct store_journal_entry *entry, void *context)
{
	struct journal_log *log = context;
	ck_assert_uint_lt(log->count, 64);
	log->e[log->count] = *entry;
	log->e[log->count].message = NULL;
	log->e[log->count].flags = NULL;
	char *out = log->flags[log->count];
	out[0] = '\0';
	for (unsigned int i = 0; i < entry->flags_count; i++) {
		strcat(out, i == 0 ? "" : " ");
		strcat(out, entry->flags[i]);
	}
	log->count++;
	return 0;
}

static void journal(const char *mailbox, uint64_t since, struct journal_log *log)
{
	memset(log, 0, sizeof(*log));
	CK_OK(store_journal_since(env.store, mailbox, since, journal_collect, log, &err));
}

struct uid_log {
	uint32_t uid[4096];
	uint64_t modseq[4096];
	bool seen[4096];
	unsigned int count, stop_after;
};

static int list_collect(const struct store_message *msg, void *context)
{
	struct uid_log *log = context;
	ck_assert_uint_lt(log->count, 4096);
	log->uid[log->count] = msg->uid;
	log->modseq[log->count] = msg->modseq;
	log->seen[log->count] = msg->seen;
	log->count++;
	return log->stop_after != 0 && log->count >= log->stop_after;
}

START_TEST(append_uids_modseq_journal)
{
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE];
	contract_user("ap", user);
	contract_mailbox(user, "INBOX", inbox);
	uint64_t last_modseq = 0;
	for (uint32_t i = 1; i <= 10; i++) {
		struct store_append_result r = contract_append(env.store, inbox, 100 * i,
							       i % 2 ? "\\Seen $Label1" : "", NULL, 0);
		ck_assert_uint_eq(r.uid, i);
		ck_assert_uint_gt(r.modseq, last_modseq);
		last_modseq = r.modseq;
		ck_assert_int_eq((int)strlen(r.id), 24);
	}
	struct store_mailbox_counts c;
	CK_OK(store_mailbox_counts(env.store, inbox, &c, &err));
	ck_assert_uint_eq(c.messages, 10);
	ck_assert_uint_eq(c.unseen, 5);
	ck_assert_uint_eq(c.uid_next, 11);
	ck_assert_uint_eq(c.highest_modseq, last_modseq);
	ck_assert_uint_eq(c.size, 5500);
	struct store_user *u;
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_uint_eq(u->storage_used, 5500);

	struct store_message *m;
	CK_OK(store_message_get(env.store, inbox, 3, env.pool, &m, &err));
	ck_assert_uint_eq(m->uid, 3);
	ck_assert(m->seen && !m->flagged && !m->deleted && !m->draft);
	ck_assert_uint_eq(m->flags_count, 2);
	ck_assert_str_eq(m->flags[1], "$Label1");
	ck_assert_str_eq(m->subject, "Hello");
	ck_assert_str_eq(m->msgid, "<m@example.com>");
	ck_assert_uint_eq(m->size, 300);
	ck_assert(m->idate == 1700000000);
	ck_assert_ptr_nonnull(m->envelope);
	ck_assert_ptr_nonnull(m->bodystructure);
	CK_FAIL(env.store, store_message_get(env.store, inbox, 11, env.pool, &m, &err),
		STORE_ERR_NOT_FOUND);

	struct journal_log log;
	journal(inbox, 0, &log);
	ck_assert_uint_eq(log.count, 10);
	for (unsigned int i = 0; i < 10; i++) {
		ck_assert_int_eq(log.e[i].command, STORE_JOURNAL_EXISTS);
		ck_assert_uint_eq(log.e[i].uid, i + 1);
	}
	ck_assert_str_eq(log.flags[0], "\\Seen $Label1");
	journal(inbox, log.e[7].modseq, &log);
	ck_assert_uint_eq(log.count, 2);
	ck_assert_uint_eq(log.e[0].uid, 9);

	/* ranges, in uid order, overlapping ones merged, stop early */
	struct uid_log ul = { .count = 0 };
	struct store_uid_range ranges[] = { { 8, UINT32_MAX }, { 2, 3 }, { 3, 4 } };
	CK_OK(store_message_list(env.store, inbox, ranges, 3, list_collect, &ul, &err));
	ck_assert_uint_eq(ul.count, 6);
	static const uint32_t want[] = { 2, 3, 4, 8, 9, 10 };
	for (unsigned int i = 0; i < 6; i++)
		ck_assert_uint_eq(ul.uid[i], want[i]);
	memset(&ul, 0, sizeof(ul));
	ul.stop_after = 4;
	CK_OK(store_message_list(env.store, inbox, NULL, 0, list_collect, &ul, &err));
	ck_assert_uint_eq(ul.count, 4);

	/* bad input */
	struct store_message_new bad = { .size = 1 };
	static const char *const bad_flags[] = { "has space" };
	bad.flags = bad_flags;
	bad.flags_count = 1;
	struct store_append_result r;
	CK_FAIL(env.store, store_message_append(env.store, inbox, &bad, 0, &r, &err),
		STORE_ERR_INVALID);
	bad.flags_count = 0;
	CK_FAIL(env.store, store_message_append(env.store, "0123456789abcdef01234567", &bad, 0,
						&r, &err), STORE_ERR_NOT_FOUND);
	struct store_uid_range zero = { 0, 5 };
	CK_FAIL(env.store, store_message_list(env.store, inbox, &zero, 1, list_collect, &ul, &err),
		STORE_ERR_INVALID);
}
END_TEST

START_TEST(content_roundtrip_compression)
{
	store_close(&env.store);
	env.set.compress_level = 3;
	env.store = contract_open();
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE];
	contract_user("ct", user);
	contract_mailbox(user, "INBOX", inbox);
	struct store_attachment atts[3];
	contract_attachment(&atts[0], 50000, 7);	/* incompressible */
	/* compressible: base64-like text */
	unsigned char *text = malloc(80000);
	for (size_t i = 0; i < 80000; i++)
		text[i] = (i % 77 == 76) ? '\n' : (unsigned char)('A' + (i * 7 % 26));
	struct store_attachment tmp;
	contract_attachment(&tmp, 1, 0);
	free((void *)tmp.data);
	atts[1] = tmp;
	atts[1].data = text;
	atts[1].len = 80000;
	/* id need not be checked by the store, but keep it well-formed */
	memcpy(atts[1].id, "aa", 2);
	atts[2] = atts[0];	/* the same attachment twice in one message */
	struct store_append_result r = contract_append(env.store, inbox, 130000, "", atts, 3);
	ck_assert_uint_eq(contract_refcount(atts[0].id), 1);

	struct store_attachment_info info;
	CK_OK(store_attachment_info(env.store, atts[1].id, env.pool, &info, &err));
	ck_assert_uint_eq(info.size, 80000);
	ck_assert_str_eq(info.codec, "zstd");
	ck_assert_uint_lt(info.stored_size, 10000);
	CK_OK(store_attachment_info(env.store, atts[0].id, env.pool, &info, &err));
	ck_assert_str_eq(info.codec, "none");

	struct store_message_content *c;
	CK_OK(store_message_content(env.store, r.id, env.pool, &c, &err));
	ck_assert_uint_eq(c->tree_len, 19);
	ck_assert(memcmp(c->tree, "\xD7\x01 opaque tree blob", 19) == 0);
	ck_assert_uint_eq(c->attachments_count, 2);
	for (unsigned int i = 0; i < 2; i++) {
		ck_assert_str_eq(c->attachments[i].id, atts[i].id);
		ck_assert_uint_eq(c->attachments[i].len, atts[i].len);
		ck_assert(memcmp(c->attachments[i].data, atts[i].data, atts[i].len) == 0);
	}
	const unsigned char *data;
	size_t len;
	CK_OK(store_attachment_get(env.store, atts[1].id, env.pool, &data, &len, &err));
	ck_assert_uint_eq(len, 80000);
	ck_assert(memcmp(data, text, len) == 0);
	CK_FAIL(env.store, store_message_content(env.store, "0123456789abcdef01234567", env.pool,
						 &c, &err), STORE_ERR_NOT_FOUND);
	/* slices: stored as is (blob I/O) and compressed (whole, then sliced) */
	unsigned char slice[1000];
	for (unsigned int i = 0; i < 2; i++) {
		size_t offs[] = { 0, 12345, atts[i].len - 1000 };
		for (size_t k = 0; k < 3; k++) {
			CK_OK(store_attachment_read(env.store, atts[i].id, offs[k], sizeof(slice), slice,
						    &err));
			ck_assert(memcmp(slice, atts[i].data + offs[k], sizeof(slice)) == 0);
		}
		CK_FAIL(env.store, store_attachment_read(env.store, atts[i].id, atts[i].len - 10,
							 sizeof(slice), slice, &err), STORE_ERR_INVALID);
	}
	CK_FAIL(env.store, store_attachment_read(env.store, "00000000000000000000000000000000"
						 "00000000000000000000000000000000", 0, 1, slice,
						 &err), STORE_ERR_NOT_FOUND);
	free((void *)atts[0].data);
	free(text);
}
END_TEST

START_TEST(quota_exact)
{
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE], trash[STORE_ID_SIZE];
	contract_user("qu", user);
	contract_mailbox(user, "INBOX", inbox);
	contract_mailbox(user, "Trash", trash);
	struct store_user up = { .quota = 1000 };
	CK_OK(store_user_update(env.store, user, STORE_USER_QUOTA, &up, &err));
	contract_append(env.store, inbox, 600, "", NULL, 0);
	contract_append(env.store, inbox, 400, "", NULL, 0);	/* exactly full */
	struct store_message_new msg = { .size = 1 };
	struct store_append_result r;
	CK_FAIL(env.store, store_message_append(env.store, inbox, &msg, STORE_APPEND_CHECK_QUOTA,
						&r, &err), STORE_ERR_OVER_QUOTA);
	struct store_mailbox_counts c;
	CK_OK(store_mailbox_counts(env.store, inbox, &c, &err));
	ck_assert_uint_eq(c.messages, 2);
	ck_assert_uint_eq(c.uid_next, 3);	/* the failed append used no uid */
	/* a copy is checked too; a move within the user is not */
	struct store_copy_result cr;
	struct store_uid_range one = { 1, 1 };
	CK_FAIL(env.store, store_message_copy(env.store, inbox, &one, 1, trash,
					      STORE_COPY_CHECK_QUOTA, env.pool, &cr, &err),
		STORE_ERR_OVER_QUOTA);
	CK_OK(store_message_copy(env.store, inbox, &one, 1, trash,
				 STORE_COPY_MOVE | STORE_COPY_CHECK_QUOTA, env.pool, &cr, &err));
	/* without the check (e.g. the server's own writes) it is allowed */
	CK_OK(store_message_append(env.store, inbox, &msg, 0, &r, &err));
	struct store_user *u;
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_uint_eq(u->storage_used, 1001);
}
END_TEST

START_TEST(flags_condstore)
{
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE];
	contract_user("fl", user);
	contract_mailbox(user, "INBOX", inbox);
	for (int i = 0; i < 5; i++)
		contract_append(env.store, inbox, 10, i == 0 ? "\\Seen" : "", NULL, 0);
	struct store_mailbox_counts c;
	CK_OK(store_mailbox_counts(env.store, inbox, &c, &err));
	uint64_t base = c.highest_modseq;

	static const char *const seen[] = { "\\SEEN" };
	struct store_flags_update up = { .op = STORE_FLAGS_ADD, .flags = seen, .flags_count = 1 };
	struct store_flags_result res;
	struct store_uid_range all = { 1, UINT32_MAX };
	CK_OK(store_flags_update(env.store, inbox, &all, 1, &up, env.pool, &res, &err));
	/* uid 1 had \Seen already (case-insensitive): unchanged, no new modseq */
	ck_assert_uint_eq(res.changed_count, 4);
	ck_assert_uint_eq(res.changed[0].uid, 2);
	ck_assert_uint_gt(res.modseq, base);
	ck_assert_uint_eq(res.changed[0].modseq, res.modseq);
	ck_assert_uint_eq(res.modified_count, 0);
	struct store_message *m;
	CK_OK(store_message_get(env.store, inbox, 1, env.pool, &m, &err));
	ck_assert_uint_le(m->modseq, base);
	CK_OK(store_message_get(env.store, inbox, 2, env.pool, &m, &err));
	ck_assert(m->seen);
	ck_assert_uint_eq(m->modseq, res.modseq);
	uint64_t after_seen = res.modseq;

	/* a no-op changes nothing and allocates no modseq */
	CK_OK(store_flags_update(env.store, inbox, &all, 1, &up, env.pool, &res, &err));
	ck_assert_uint_eq(res.changed_count, 0);
	ck_assert_uint_eq(res.modseq, 0);
	CK_OK(store_mailbox_counts(env.store, inbox, &c, &err));
	ck_assert_uint_eq(c.highest_modseq, after_seen);
	ck_assert_uint_eq(c.unseen, 0);

	/* UNCHANGEDSINCE: uid 1 (old modseq) passes, uids 2..5 fail */
	static const char *const kw[] = { "\\Flagged", "$Important" };
	struct store_flags_update cond = { .op = STORE_FLAGS_SET, .flags = kw, .flags_count = 2,
					   .unchanged_since = base };
	CK_OK(store_flags_update(env.store, inbox, &all, 1, &cond, env.pool, &res, &err));
	ck_assert_uint_eq(res.changed_count, 1);
	ck_assert_uint_eq(res.changed[0].uid, 1);
	ck_assert_uint_eq(res.changed[0].flags_count, 2);
	ck_assert_uint_eq(res.modified_count, 4);
	ck_assert_uint_eq(res.modified[0], 2);
	ck_assert_uint_eq(res.modified[3], 5);
	CK_OK(store_message_get(env.store, inbox, 1, env.pool, &m, &err));
	ck_assert(m->flagged && !m->seen);
	ck_assert_uint_gt(m->modseq, after_seen);

	/* remove on a subset */
	static const char *const rm[] = { "$important" };
	struct store_flags_update del = { .op = STORE_FLAGS_REMOVE, .flags = rm, .flags_count = 1 };
	struct store_uid_range r1 = { 1, 2 };
	CK_OK(store_flags_update(env.store, inbox, &r1, 1, &del, env.pool, &res, &err));
	ck_assert_uint_eq(res.changed_count, 1);
	ck_assert_uint_eq(res.changed[0].flags_count, 1);
	ck_assert_str_eq(res.changed[0].flags[0], "\\Flagged");

	/* the journal holds one FLAGS entry per change, in modseq order */
	struct journal_log log;
	journal(inbox, base, &log);
	ck_assert_uint_eq(log.count, 6);
	for (unsigned int i = 0; i < log.count; i++)
		ck_assert_int_eq(log.e[i].command, STORE_JOURNAL_FLAGS);
	ck_assert_uint_eq(log.e[4].uid, 1);
	ck_assert_str_eq(log.flags[5], "\\Flagged");
	ck_assert_uint_ge(log.e[5].modseq, log.e[4].modseq);

	static const char *const badf[] = { "a(b" };
	struct store_flags_update bad = { .op = STORE_FLAGS_ADD, .flags = badf, .flags_count = 1 };
	CK_FAIL(env.store, store_flags_update(env.store, inbox, &all, 1, &bad, env.pool, &res,
					      &err), STORE_ERR_INVALID);
}
END_TEST

START_TEST(copy_move_expunge)
{
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE], arch[STORE_ID_SIZE], trash[STORE_ID_SIZE];
	contract_user("cp", user);
	contract_mailbox(user, "INBOX", inbox);
	contract_mailbox(user, "Archive", arch);
	contract_mailbox(user, "Trash", trash);
	struct store_attachment att;
	contract_attachment(&att, 60000, 9);
	for (int i = 0; i < 4; i++)
		contract_append(env.store, inbox, 100, i == 1 ? "\\Deleted" : "", &att, 1);
	contract_append(env.store, arch, 100, "", NULL, 0);	/* archive uid 1 */
	ck_assert_uint_eq(contract_refcount(att.id), 4);

	/* copy 2,4 -> Archive: new uids 2,3 there, refcount +2, storage +200 */
	struct store_copy_result cr;
	struct store_uid_range two_four[] = { { 4, 4 }, { 2, 2 } };
	CK_OK(store_message_copy(env.store, inbox, two_four, 2, arch, 0, env.pool, &cr, &err));
	ck_assert_uint_eq(cr.uids_count, 2);
	ck_assert_uint_eq(cr.uids[0].src_uid, 2);
	ck_assert_uint_eq(cr.uids[0].dst_uid, 2);
	ck_assert_uint_eq(cr.uids[1].src_uid, 4);
	ck_assert_uint_eq(cr.uids[1].dst_uid, 3);
	ck_assert_uint_ne(cr.dst_uid_validity, 0);
	ck_assert_uint_eq(contract_refcount(att.id), 6);
	struct store_user *u;
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_uint_eq(u->storage_used, 700);
	struct store_message *m;
	CK_OK(store_message_get(env.store, arch, 2, env.pool, &m, &err));
	ck_assert(m->deleted);	/* flags travel with the copy */
	struct journal_log log;
	journal(arch, 0, &log);
	ck_assert_uint_eq(log.count, 3);
	ck_assert_int_eq(log.e[2].command, STORE_JOURNAL_EXISTS);
	ck_assert_uint_eq(log.e[2].uid, 3);

	/* the copy is independent: expunging the original keeps it */
	struct store_mailbox_counts before;
	CK_OK(store_mailbox_counts(env.store, inbox, &before, &err));
	uint32_t *uids;
	unsigned int count;
	CK_OK(store_message_expunge(env.store, inbox, NULL, 0, env.pool, &uids, &count, &err));
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(uids[0], 2);
	ck_assert_uint_eq(contract_refcount(att.id), 5);
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_uint_eq(u->storage_used, 600);
	journal(inbox, before.highest_modseq, &log);
	ck_assert_uint_eq(log.count, 1);
	ck_assert_int_eq(log.e[0].command, STORE_JOURNAL_EXPUNGE);
	ck_assert_uint_eq(log.e[0].uid, 2);
	ck_assert_uint_gt(log.e[0].modseq, before.highest_modseq);
	CK_OK(store_message_content(env.store, m->id, env.pool,
				    &(struct store_message_content *){ NULL }, &err));

	/* move 1,3 -> Trash: ids kept, EXPUNGE in the source, refcounts same */
	struct store_message *orig;
	CK_OK(store_message_get(env.store, inbox, 3, env.pool, &orig, &err));
	CK_OK(store_mailbox_counts(env.store, inbox, &before, &err));
	struct store_uid_range r13 = { 1, 3 };
	CK_OK(store_message_copy(env.store, inbox, &r13, 1, trash, STORE_COPY_MOVE, env.pool,
				 &cr, &err));
	ck_assert_uint_eq(cr.uids_count, 2);
	ck_assert_uint_eq(cr.uids[1].src_uid, 3);
	ck_assert_uint_eq(cr.uids[1].dst_uid, 2);
	ck_assert_uint_eq(contract_refcount(att.id), 5);
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_uint_eq(u->storage_used, 600);
	CK_OK(store_message_get(env.store, trash, 2, env.pool, &m, &err));
	ck_assert_str_eq(m->id, orig->id);
	CK_FAIL(env.store, store_message_get(env.store, inbox, 3, env.pool, &m, &err),
		STORE_ERR_NOT_FOUND);
	journal(inbox, before.highest_modseq, &log);
	ck_assert_uint_eq(log.count, 2);
	ck_assert_int_eq(log.e[0].command, STORE_JOURNAL_EXPUNGE);
	ck_assert_uint_eq(log.e[1].uid, 3);
	journal(trash, 0, &log);
	ck_assert_uint_eq(log.count, 2);
	ck_assert_int_eq(log.e[0].command, STORE_JOURNAL_EXISTS);
	CK_FAIL(env.store, store_message_copy(env.store, inbox, &r13, 1, inbox, STORE_COPY_MOVE,
					      env.pool, &cr, &err), STORE_ERR_INVALID);

	/* UID EXPUNGE: only \Deleted messages inside the given uids */
	static const char *const del[] = { "\\Deleted" };
	struct store_flags_update up = { .op = STORE_FLAGS_ADD, .flags = del, .flags_count = 1 };
	struct store_flags_result fr;
	struct store_uid_range all = { 1, UINT32_MAX };
	CK_OK(store_flags_update(env.store, arch, &all, 1, &up, env.pool, &fr, &err));
	struct store_uid_range r2 = { 2, 2 };
	CK_OK(store_message_expunge(env.store, arch, &r2, 1, env.pool, &uids, &count, &err));
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(uids[0], 2);
	CK_OK(store_message_expunge(env.store, arch, NULL, 0, env.pool, &uids, &count, &err));
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(uids[0], 1);
	ck_assert_uint_eq(uids[1], 3);
	CK_OK(store_message_expunge(env.store, arch, NULL, 0, env.pool, &uids, &count, &err));
	ck_assert_uint_eq(count, 0);
	/* left: inbox 4 and the two moved to Trash: 3 references */
	ck_assert_uint_eq(contract_refcount(att.id), 3);
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_uint_eq(u->storage_used, 300);
	free((void *)att.data);
}
END_TEST

Suite *suite_messages(void)
{
	Suite *s = suite_create("messages");
	TCase *tc = tcase_create("messages");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, append_uids_modseq_journal);
	tcase_add_test(tc, content_roundtrip_compression);
	tcase_add_test(tc, quota_exact);
	tcase_add_test(tc, flags_condstore);
	tcase_add_test(tc, copy_move_expunge);
	suite_add_tcase(s, tc);
	return s;
}
