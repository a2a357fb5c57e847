/* Contract: many writers at once (processes and threads) and attachment
 * de-duplication measured on disk. */
#include "contract.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PER_WRITER 1000

struct check_log {
	uint32_t next_uid;
	uint64_t last_modseq;
	uint64_t size;
	unsigned int count;
	bool ok;
	char why[128];
};

static int check_dense(const struct store_message *msg, void *context)
{
	struct check_log *log = context;
	if (msg->uid != log->next_uid || msg->modseq <= log->last_modseq) {
		snprintf(log->why, sizeof(log->why), "uid %u (want %u) modseq %llu after %llu",
			 msg->uid, log->next_uid, (unsigned long long)msg->modseq,
			 (unsigned long long)log->last_modseq);
		log->ok = false;
		return 1;
	}
	log->next_uid++;
	log->last_modseq = msg->modseq;
	log->size += msg->size;
	log->count++;
	return 0;
}

/* uids 1..n dense, modseq strictly increasing with uid, storage exact. */
static void verify_mailbox(const char *user, const char *inbox, unsigned int n,
			   uint64_t want_size)
{
	struct check_log log = { .next_uid = 1, .ok = true };
	CK_OK(store_message_list(env.store, inbox, NULL, 0, check_dense, &log, &err));
	ck_assert_msg(log.ok, "%s", log.why);
	ck_assert_uint_eq(log.count, n);
	ck_assert_uint_eq(log.size, want_size);
	struct store_user *u;
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	ck_assert_uint_eq(u->storage_used, want_size);
	struct store_mailbox_counts c;
	CK_OK(store_mailbox_counts(env.store, inbox, &c, &err));
	ck_assert_uint_eq(c.uid_next, n + 1);
	ck_assert_uint_eq(c.highest_modseq, log.last_modseq);
}

static int append_many(struct store *store, const char *inbox, unsigned int writer)
{
	struct store_message_new msg = { .idate = 1, .hdate = 1 };
	for (unsigned int i = 0; i < PER_WRITER; i++) {
		struct store_append_result r;
		const char *error;
		msg.size = 100 + writer * 10000 + i;
		if (store_message_append(store, inbox, &msg, STORE_APPEND_CHECK_QUOTA, &r,
					 &error) < 0) {
			fprintf(stderr, "writer %u append %u: %s\n", writer, i, error);
			return -1;
		}
	}
	return 0;
}

static uint64_t expected_size(unsigned int writers)
{
	uint64_t sum = 0;
	for (unsigned int w = 0; w < writers; w++)
		for (unsigned int i = 0; i < PER_WRITER; i++)
			sum += 100 + w * 10000 + i;
	return sum;
}

START_TEST(two_processes_append)
{
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE];
	contract_user("proc", user);
	contract_mailbox(user, "INBOX", inbox);
	pid_t pids[2];
	for (unsigned int w = 0; w < 2; w++) {
		pids[w] = fork();
		ck_assert_int_ge(pids[w], 0);
		if (pids[w] == 0) {
			/* the parent's handle is never touched here: a store is
			 * opened after fork(), never inherited */
			struct store *store;
			const char *error;
			if (store_open(&env.set, &store, &error) < 0) {
				fprintf(stderr, "child open: %s\n", error);
				_exit(2);
			}
			int ret = append_many(store, inbox, w);
			store_close(&store);
			_exit(ret == 0 ? 0 : 1);
		}
	}
	for (unsigned int w = 0; w < 2; w++) {
		int status;
		ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "writer %u failed (status %d)", w, status);
	}
	verify_mailbox(user, inbox, 2 * PER_WRITER, expected_size(2));
}
END_TEST

struct thread_arg {
	const char *inbox;
	unsigned int writer;
	int ret;
};

static void *thread_main(void *p)
{
	struct thread_arg *arg = p;
	struct store *store;
	const char *error;
	if (store_open(&env.set, &store, &error) < 0) {
		fprintf(stderr, "thread open: %s\n", error);
		arg->ret = -1;
		return NULL;
	}
	arg->ret = append_many(store, arg->inbox, arg->writer);
	store_close(&store);
	return NULL;
}

START_TEST(two_threads_append)
{
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE];
	contract_user("thr", user);
	contract_mailbox(user, "INBOX", inbox);
	pthread_t threads[2];
	struct thread_arg args[2];
	for (unsigned int w = 0; w < 2; w++) {
		args[w] = (struct thread_arg){ .inbox = inbox, .writer = w };
		ck_assert_int_eq(pthread_create(&threads[w], NULL, thread_main, &args[w]), 0);
	}
	for (unsigned int w = 0; w < 2; w++) {
		pthread_join(threads[w], NULL);
		ck_assert_int_eq(args[w].ret, 0);
	}
	verify_mailbox(user, inbox, 2 * PER_WRITER, expected_size(2));
}
END_TEST

/* Bytes the sqlite store occupies on disk after a full checkpoint. */
static uint64_t sqlite_disk_bytes(void)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(env.path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	uint64_t total = 0;
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	for (unsigned int i = 0; i < 3; i++) {
		char path[600];
		struct stat st;
		snprintf(path, sizeof(path), "%s%s", env.path, suffixes[i]);
		if (stat(path, &st) == 0 && i != 2)	/* -shm is an index, not data */
			total += (uint64_t)st.st_size;
	}
	return total;
}

START_TEST(dedup_shared_attachment)
{
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE];
	contract_user("dd", user);
	contract_mailbox(user, "INBOX", inbox);
	struct store_attachment att;
	contract_attachment(&att, 1024 * 1024, 42);
	uint64_t before = contract_is_sqlite() ? sqlite_disk_bytes() : 0;
	for (int i = 0; i < 100; i++)
		contract_append(env.store, inbox, 1024 * 1024 + 2000, "", &att, 1);
	ck_assert_uint_eq(contract_refcount(att.id), 100);
	struct store_attachment_info info;
	CK_OK(store_attachment_info(env.store, att.id, env.pool, &info, &err));
	ck_assert_uint_le(info.stored_size, 1024 * 1024);
	if (contract_is_sqlite()) {
		uint64_t growth = sqlite_disk_bytes() - before;
		/* 100 messages of ~0.5 KB metadata each are "their text" */
		fprintf(stderr, "dedup: 100 messages sharing a 1 MiB attachment grew the store "
			"by %llu bytes\n", (unsigned long long)growth);
		ck_assert_uint_lt(growth, 1200 * 1024);
	}
	/* deleting the messages frees it */
	static const char *const del[] = { "\\Deleted" };
	struct store_flags_update up = { .op = STORE_FLAGS_ADD, .flags = del, .flags_count = 1 };
	struct store_flags_result fr;
	CK_OK(store_flags_update(env.store, inbox, NULL, 0, &up, env.pool, &fr, &err));
	uint32_t *uids;
	unsigned int count;
	CK_OK(store_message_expunge(env.store, inbox, NULL, 0, env.pool, &uids, &count, &err));
	ck_assert_uint_eq(count, 100);
	ck_assert_uint_eq(contract_refcount(att.id), 0);
	if (contract_is_sqlite()) {
		/* the bytes went with the last reference, not only the refcount */
		sqlite3 *db;
		sqlite3_stmt *stmt;
		ck_assert_int_eq(sqlite3_open(env.path, &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM attachment_data",
						    -1, &stmt, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(stmt, 0), 0);
		sqlite3_finalize(stmt);
		sqlite3_close(db);
	}
	free((void *)att.data);
}
END_TEST

Suite *suite_concurrency(void)
{
	Suite *s = suite_create("concurrency");
	TCase *tc = tcase_create("concurrency");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, two_processes_append);
	tcase_add_test(tc, two_threads_append);
	tcase_add_test(tc, dedup_shared_attachment);
	suite_add_tcase(s, tc);
	return s;
}
