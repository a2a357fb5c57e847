/* Contract: the indexer's thread ids (store_thread.h), the API objects and
 * the webhook queue (store_objects.c), on every driver. */
#include "contract.h"

#include "store_quota.h"
#include "store_thread.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NOBODY "000000000000000000000000"

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

/* The object of a list with this id, or NULL. */
static const struct store_object *find_obj(const struct store_object *objs, unsigned int n,
					   const char *id)
{
	for (unsigned int i = 0; i < n; i++)
		if (strcmp(objs[i].id, id) == 0)
			return &objs[i];
	return NULL;
}

START_TEST(objects_crud)
{
	char a[STORE_ID_SIZE], b[STORE_ID_SIZE];
	contract_user("obja", a);
	contract_user("objb", b);
	struct store_object *objs, *o;
	unsigned int n;

	/* unique keys: per kind, taken until deleted */
	char d1[STORE_ID_SIZE], d2[STORE_ID_SIZE], dx[STORE_ID_SIZE];
	CK_OK(store_object_add(env.store, "dkim", NULL, "a.test", "{\"s\":1}", true, d1, &err));
	CK_FAIL(env.store, store_object_add(env.store, "dkim", NULL, "a.test", "{\"s\":2}", true,
					    dx, &err), STORE_ERR_EXISTS);
	CK_OK(store_object_add(env.store, "dkim", NULL, "b.test", "{\"s\":3}", true, d2, &err));
	ck_assert_str_ne(d1, d2);
	static const char *const kinds[] = { "cert", "forwarded", "setting", "audit", "x-other" };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		CK_OK(store_object_add(env.store, kinds[i], NULL, "a.test", "{}", true, dx, &err));
		CK_FAIL(env.store, store_object_add(env.store, kinds[i], NULL, "a.test", "{}",
						    true, dx, &err), STORE_ERR_EXISTS);
		CK_OK(store_object_list(env.store, kinds[i], NULL, NULL, env.pool, &objs, &n,
					&err));
		ck_assert_uint_eq(n, 1);
		ck_assert_str_eq(objs[0].kind, kinds[i]);
		ck_assert_str_eq(objs[0].id, dx);
	}
	/* not unique: the same key twice, and no key at all twice */
	char a1[STORE_ID_SIZE], a2[STORE_ID_SIZE];
	CK_OK(store_object_add(env.store, "audit", a, "k", "{\"n\":1}", false, a1, &err));
	CK_OK(store_object_add(env.store, "audit", a, "k", "{\"n\":2}", false, a2, &err));
	CK_OK(store_object_list(env.store, "audit", NULL, "k", env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_nonnull(find_obj(objs, n, a1));
	ck_assert_ptr_nonnull(find_obj(objs, n, a2));

	CK_OK(store_object_list(env.store, "dkim", NULL, "a.test", env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(objs[0].id, d1);
	ck_assert_str_eq(objs[0].kind, "dkim");
	ck_assert_str_eq(objs[0].key, "a.test");
	ck_assert_str_eq(objs[0].doc, "{\"s\":1}");
	ck_assert_str_eq(objs[0].user, "");
	ck_assert_int_gt(objs[0].created, 1700000000);
	CK_OK(store_object_list(env.store, "dkim", NULL, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 2);
	CK_OK(store_object_list(env.store, "dkim", NULL, "c.test", env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 0);
	CK_OK(store_object_list(env.store, "nothing", NULL, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 0);

	/* owners: the user filter, an unknown owner */
	char w1[STORE_ID_SIZE], w2[STORE_ID_SIZE], w3[STORE_ID_SIZE], w4[STORE_ID_SIZE];
	CK_OK(store_object_add(env.store, "webhook", a, NULL, "{\"url\":1}", false, w1, &err));
	CK_OK(store_object_add(env.store, "webhook", a, NULL, "{\"url\":2}", false, w2, &err));
	CK_OK(store_object_add(env.store, "webhook", b, NULL, "{\"url\":3}", false, w3, &err));
	CK_OK(store_object_add(env.store, "webhook", NULL, NULL, "{\"url\":4}", false, w4, &err));
	CK_FAIL(env.store, store_object_add(env.store, "webhook", NOBODY, NULL, "{}", false, dx,
					    &err), STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_object_add(env.store, "webhook", "../x", NULL, "{}", false, dx,
					    &err), STORE_ERR_INVALID);
	CK_OK(store_object_list(env.store, "webhook", a, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_nonnull(find_obj(objs, n, w1));
	ck_assert_str_eq(find_obj(objs, n, w2)->doc, "{\"url\":2}");
	ck_assert_str_eq(objs[0].user, a);
	CK_OK(store_object_list(env.store, "webhook", b, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(objs[0].id, w3);
	CK_OK(store_object_list(env.store, "webhook", NOBODY, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 0);
	CK_OK(store_object_list(env.store, "webhook", NULL, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(find_obj(objs, n, w4)->user, "");
	/* oldest first (a second apart: the stored time has seconds) */
	sleep(1);
	char w5[STORE_ID_SIZE];
	CK_OK(store_object_add(env.store, "webhook", b, NULL, "{\"url\":5}", false, w5, &err));
	CK_OK(store_object_list(env.store, "webhook", b, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(objs[0].id, w3);
	ck_assert_str_eq(objs[1].id, w5);

	/* get: by kind and id */
	CK_OK(store_object_get(env.store, "webhook", w1, env.pool, &o, &err));
	ck_assert_str_eq(o->id, w1);
	ck_assert_str_eq(o->kind, "webhook");
	ck_assert_str_eq(o->user, a);
	ck_assert_ptr_null(o->key);
	ck_assert_str_eq(o->doc, "{\"url\":1}");
	CK_FAIL(env.store, store_object_get(env.store, "dkim", w1, env.pool, &o, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_object_get(env.store, "webhook", NOBODY, env.pool, &o, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_object_get(env.store, "webhook", "../x", env.pool, &o, &err),
		STORE_ERR_NOT_FOUND);

	/* delete: once, by its kind; a deleted unique key is free again */
	CK_FAIL(env.store, store_object_delete(env.store, "webhook", d1, &err),
		STORE_ERR_NOT_FOUND);
	CK_OK(store_object_delete(env.store, "dkim", d1, &err));
	CK_FAIL(env.store, store_object_delete(env.store, "dkim", d1, &err), STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_object_get(env.store, "dkim", d1, env.pool, &o, &err),
		STORE_ERR_NOT_FOUND);
	CK_OK(store_object_add(env.store, "dkim", NULL, "a.test", "{\"s\":4}", true, d1, &err));
	CK_OK(store_object_list(env.store, "dkim", NULL, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 2);

	/* a deleted user takes its objects along */
	CK_OK(store_user_delete(env.store, a, &err));
	CK_OK(store_object_list(env.store, "webhook", NULL, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_null(find_obj(objs, n, w1));
	ck_assert_ptr_nonnull(find_obj(objs, n, w4));
	CK_OK(store_object_list(env.store, "audit", NULL, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 1);
}
END_TEST

/* Forwarded addresses ride on the objects (kind "forwarded"). */
START_TEST(forwarded_addresses)
{
	const char *fwd[] = { "x@far.test", "y@far.test" }, *stored;
	const char *const *t;
	unsigned int count = 9;
	CK_OK(store_forwarded_get(env.store, "only.fwd@example.test", env.pool, NULL, &t,
				  &count, &err));
	ck_assert_uint_eq(count, 0);
	CK_OK(store_forwarded_set(env.store, "Only.Fwd@Example.test", fwd, 2, &err));
	/* matched by delivery key: dots and +label do not count */
	CK_OK(store_forwarded_get(env.store, "onlyfwd+tag@example.test", env.pool, &stored, &t,
				  &count, &err));
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(t[0], "x@far.test");
	ck_assert_str_eq(t[1], "y@far.test");
	ck_assert_str_eq(stored, "Only.Fwd@Example.test");
	/* set replaces */
	CK_OK(store_forwarded_set(env.store, "only.fwd@example.test", fwd + 1, 1, &err));
	CK_OK(store_forwarded_get(env.store, "only.fwd@example.test", env.pool, NULL, &t,
				  &count, &err));
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(t[0], "y@far.test");
	struct store_object *objs;
	unsigned int n;
	CK_OK(store_object_list(env.store, "forwarded", NULL, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 1);
	/* count 0 removes */
	CK_OK(store_forwarded_set(env.store, "only.fwd@example.test", NULL, 0, &err));
	CK_OK(store_forwarded_get(env.store, "only.fwd@example.test", env.pool, NULL, &t,
				  &count, &err));
	ck_assert_uint_eq(count, 0);
	CK_OK(store_object_list(env.store, "forwarded", NULL, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, 0);
}
END_TEST

static uint64_t storage_used(const char *user)
{
	struct store_user *u;
	CK_OK(store_user_get(env.store, user, env.pool, &u, &err));
	return u->storage_used;
}

/* The storage counter: a compare-and-set, and a recalc that repairs it. */
START_TEST(storage_set_and_recalc)
{
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE], trash[STORE_ID_SIZE];
	contract_user("quotafix", user);
	contract_mailbox(user, "INBOX", inbox);
	contract_mailbox(user, "Trash", trash);
	contract_append(env.store, inbox, 1000, "", NULL, 0);
	contract_append(env.store, inbox, 234, "", NULL, 0);
	contract_append(env.store, trash, 66, "", NULL, 0);
	ck_assert_uint_eq(storage_used(user), 1300);

	/* compare-and-set: only from the expected value */
	bool applied = true;
	CK_OK(store_user_storage_set(env.store, user, 999, 5, &applied, &err));
	ck_assert(!applied);
	ck_assert_uint_eq(storage_used(user), 1300);
	CK_OK(store_user_storage_set(env.store, user, 1300, 77, &applied, &err));
	ck_assert(applied);
	ck_assert_uint_eq(storage_used(user), 77);
	CK_FAIL(env.store, store_user_storage_set(env.store, NOBODY, 0, 1, &applied, &err),
		STORE_ERR_NOT_FOUND);
	CK_FAIL(env.store, store_user_storage_set(env.store, "../x", 0, 1, &applied, &err),
		STORE_ERR_NOT_FOUND);

	/* recalc puts the recount back, and later appends count from there */
	struct store_quota_recount r;
	CK_OK(store_quota_recalc(env.store, user, env.pool, &r, &err));
	ck_assert(r.corrected);
	ck_assert_uint_eq(r.previous, 77);
	ck_assert_uint_eq(r.counted, 1300);
	ck_assert_uint_eq(r.used, 1300);
	ck_assert_uint_eq(r.messages, 3);
	ck_assert_uint_eq(storage_used(user), 1300);
	contract_append(env.store, inbox, 100, "", NULL, 0);
	ck_assert_uint_eq(storage_used(user), 1400);
	CK_OK(store_quota_recalc(env.store, user, env.pool, &r, &err));
	ck_assert(!r.corrected);
	ck_assert_uint_eq(r.used, 1400);

	/* too high is repaired as well as too low */
	CK_OK(store_user_storage_set(env.store, user, 1400, 1u << 30, &applied, &err));
	ck_assert(applied);
	CK_OK(store_quota_recalc(env.store, user, env.pool, &r, &err));
	ck_assert(r.corrected);
	ck_assert_uint_eq(r.previous, 1u << 30);
	ck_assert_uint_eq(storage_used(user), 1400);
	CK_FAIL(env.store, store_quota_recalc(env.store, NOBODY, env.pool, &r, &err),
		STORE_ERR_NOT_FOUND);
}
END_TEST

#define RACERS 4
#define RACE_ROUNDS 10

struct racer {
	struct store *store;
	pthread_barrier_t *barrier;
	unsigned int won, lost, other;
	char why[128];
};

/* Every racer adds the same unique key in each round. */
static void *race_add(void *arg)
{
	struct racer *r = arg;
	for (unsigned int round = 0; round < RACE_ROUNDS; round++) {
		char key[32], id[STORE_ID_SIZE];
		snprintf(key, sizeof(key), "race%u.test", round);
		const char *error;
		pthread_barrier_wait(r->barrier);
		if (store_object_add(r->store, "dkim", NULL, key, "{}", true, id, &error) == 0)
			r->won++;
		else if (store_last_error(r->store) == STORE_ERR_EXISTS)
			r->lost++;
		else
			snprintf(r->why, sizeof(r->why), "%s", error), r->other++;
	}
	return NULL;
}

START_TEST(objects_unique_race)
{
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, RACERS);
	struct racer racers[RACERS];
	pthread_t threads[RACERS];
	for (int i = 0; i < RACERS; i++) {
		memset(&racers[i], 0, sizeof(racers[i]));
		racers[i].store = contract_open();
		racers[i].barrier = &barrier;
	}
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, race_add, &racers[i]), 0);
	unsigned int won = 0, lost = 0;
	for (int i = 0; i < RACERS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(racers[i].other == 0, "racer %d: %s", i, racers[i].why);
		won += racers[i].won;
		lost += racers[i].lost;
		store_close(&racers[i].store);
	}
	pthread_barrier_destroy(&barrier);
	ck_assert_uint_eq(won, RACE_ROUNDS);
	ck_assert_uint_eq(lost, RACE_ROUNDS * (RACERS - 1));
	struct store_object *objs;
	unsigned int n;
	CK_OK(store_object_list(env.store, "dkim", NULL, NULL, env.pool, &objs, &n, &err));
	ck_assert_uint_eq(n, RACE_ROUNDS);
}
END_TEST

/* Claims at now and checks the urls of the calls, in order. */
static struct store_webhook_call *claim(int64_t now, unsigned int limit, unsigned int want,
					const char *const *urls)
{
	struct store_webhook_call *calls;
	unsigned int n;
	CK_OK(store_webhook_claim(env.store, now, 60, limit, env.pool, &calls, &n, &err));
	ck_assert_msg(n == want, "claim at %lld: %u calls, want %u", (long long)now, n, want);
	for (unsigned int i = 0; i < n; i++)
		ck_assert_str_eq(calls[i].url, urls[i]);
	return calls;
}

START_TEST(webhook_queue)
{
	char a[STORE_ID_SIZE];
	contract_user("hooka", a);
	struct store_webhook_call *c;
	c = claim(1000, 10, 0, NULL);
	CK_OK(store_webhook_enqueue(env.store, a, "http://h.test/1", "e1", "{\"n\":1}", &err));
	CK_OK(store_webhook_enqueue(env.store, a, "http://h.test/2", "e2", NULL, &err));
	CK_OK(store_webhook_enqueue(env.store, a, "http://h.test/3", "e3", "{}", &err));
	static const char *const u123[] = { "http://h.test/1", "http://h.test/2",
					    "http://h.test/3" };
	static const char *const u3[] = { "http://h.test/3" };
	static const char *const u2[] = { "http://h.test/2" };
	static const char *const u23[] = { "http://h.test/2", "http://h.test/3" };

	/* oldest first, at most limit, then leased for 60 s */
	c = claim(1000, 2, 2, u123);
	int64_t id1 = c[0].id, id2 = c[1].id;
	ck_assert_int_ne(id1, id2);
	ck_assert_str_eq(c[0].user, a);
	ck_assert_str_eq(c[0].event, "e1");
	ck_assert_str_eq(c[0].payload, "{\"n\":1}");
	ck_assert_uint_eq(c[0].attempts, 0);
	ck_assert_int_gt(c[0].created, 1700000000);
	ck_assert_str_eq(c[1].user, a);
	ck_assert_ptr_null(c[1].payload);
	c = claim(1000, 10, 1, u3);
	int64_t id3 = c[0].id;
	claim(1000, 10, 0, NULL);
	claim(1059, 10, 0, NULL);
	/* the lease ran out: all of them again, same ids */
	c = claim(1060, 10, 3, u123);
	ck_assert_int_eq(c[0].id, id1);
	ck_assert_int_eq(c[2].id, id3);

	/* done removes, retry counts an attempt and sets the next try */
	CK_OK(store_webhook_done(env.store, id1, &err));
	CK_OK(store_webhook_retry(env.store, id2, 5000, &err));
	CK_FAIL(env.store, store_webhook_retry(env.store, id1, 5000, &err), STORE_ERR_NOT_FOUND);
	c = claim(2000, 10, 1, u3);
	ck_assert_uint_eq(c[0].attempts, 0);
	claim(2059, 10, 0, NULL);
	claim(4999, 10, 1, u3);
	c = claim(5000, 10, 1, u2);
	ck_assert_int_eq(c[0].id, id2);
	ck_assert_uint_eq(c[0].attempts, 1);
	/* a retry due before a leased call comes first */
	CK_OK(store_webhook_retry(env.store, id2, 5001, &err));
	c = claim(9000, 10, 2, u23);
	ck_assert_uint_eq(c[0].attempts, 2);
	ck_assert_uint_eq(c[1].attempts, 0);
	CK_OK(store_webhook_done(env.store, id2, &err));
	CK_OK(store_webhook_done(env.store, id3, &err));
	claim(99999, 10, 0, NULL);
	/* a new call next to a queued one gets an id of its own */
	CK_OK(store_webhook_enqueue(env.store, a, "http://h.test/4", "e4", "{}", &err));
	CK_OK(store_webhook_enqueue(env.store, a, "http://h.test/5", "e5", "{}", &err));
	c = claim(99999, 10, 2, (const char *const[]){ "http://h.test/4", "http://h.test/5" });
	ck_assert_int_ne(c[0].id, c[1].id);
	/* ids are never reused, even with the queue emptied: the late done() of
	 * a sender whose lease ran out must not delete a newer call */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_ne(c[i].id, id1);
		ck_assert_int_ne(c[i].id, id2);
		ck_assert_int_ne(c[i].id, id3);
	}
	store_webhook_done(env.store, id1, &err);
	store_webhook_done(env.store, id3, &err);
	claim(200000, 10, 2, (const char *const[]){ "http://h.test/4", "http://h.test/5" });
}
END_TEST

/* MongoDB only: entries queued before the queue had int64 ids and a
 * nextTry (ObjectId ids) are renumbered and sent, not left behind. */
START_TEST(webhook_queue_older_entries)
{
	if (contract_is_sqlite())
		return;
	char a[STORE_ID_SIZE];
	contract_user("hookold", a);
	mongoc_init();
	mongoc_client_t *client = mongoc_client_new(getenv("WD_TEST_MONGODB_URI"));
	ck_assert_ptr_nonnull(client);
	mongoc_collection_t *col = mongoc_client_get_collection(client, env.database,
								 "webhookqueue");
	bson_oid_t id, user;
	bson_oid_init_from_string(&user, a);
	for (int i = 0; i < 2; i++) {
		bson_oid_init(&id, NULL);
		bson_t *doc = BCON_NEW("_id", BCON_OID(&id), "user", BCON_OID(&user),
				       "url", BCON_UTF8(i == 0 ? "http://h.test/old0" :
							"http://h.test/old1"),
				       "event", BCON_UTF8("old"), "payload", BCON_UTF8("{}"),
				       "created", BCON_DATE_TIME(1700000000000LL));
		bson_error_t error;
		ck_assert_msg(mongoc_collection_insert_one(col, doc, NULL, NULL, &error), "%s",
			      error.message);
		bson_destroy(doc);
	}
	CK_OK(store_webhook_enqueue(env.store, a, "http://h.test/new", "new", "{}", &err));
	struct store_webhook_call *calls;
	unsigned int n;
	CK_OK(store_webhook_claim(env.store, 1000, 60, 10, env.pool, &calls, &n, &err));
	ck_assert_uint_eq(n, 3);
	unsigned int old = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (strcmp(calls[i].event, "old") == 0) {
			old++;
			ck_assert_str_eq(calls[i].user, a);
			ck_assert_str_eq(calls[i].payload, "{}");
		}
		CK_OK(store_webhook_done(env.store, calls[i].id, &err));
	}
	ck_assert_uint_eq(old, 2);
	CK_OK(store_webhook_claim(env.store, 99999, 60, 10, env.pool, &calls, &n, &err));
	ck_assert_uint_eq(n, 0);
	bson_t empty = BSON_INITIALIZER;
	bson_error_t error;
	ck_assert_int_eq(mongoc_collection_count_documents(col, &empty, NULL, NULL, NULL, &error),
			 0);
	mongoc_collection_destroy(col);
	mongoc_client_destroy(client);
}
END_TEST

#define QUEUED 40

struct claimer {
	struct store *store;
	pthread_barrier_t *barrier;
	int64_t ids[QUEUED];
	unsigned int count;
	char why[128];
};

static void *race_claim(void *arg)
{
	struct claimer *c = arg;
	struct pool *pool = pool_create(4096);
	pthread_barrier_wait(c->barrier);
	for (;;) {
		struct store_webhook_call *calls;
		unsigned int n;
		const char *error;
		if (store_webhook_claim(c->store, 1000, 600, 3, pool, &calls, &n, &error) < 0) {
			snprintf(c->why, sizeof(c->why), "%s", error);
			break;
		}
		if (n == 0)
			break;
		for (unsigned int i = 0; i < n && c->count < QUEUED; i++)
			c->ids[c->count++] = calls[i].id;
	}
	pool_destroy(&pool);
	return NULL;
}

/* Senders in several processes claim at once: each call goes to one. */
START_TEST(webhook_claim_race)
{
	char a[STORE_ID_SIZE];
	contract_user("hookr", a);
	for (int i = 0; i < QUEUED; i++)
		CK_OK(store_webhook_enqueue(env.store, a, "http://h.test/", "e", "{}", &err));
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, RACERS);
	static struct claimer claimers[RACERS];
	pthread_t threads[RACERS];
	for (int i = 0; i < RACERS; i++) {
		memset(&claimers[i], 0, sizeof(claimers[i]));
		claimers[i].store = contract_open();
		claimers[i].barrier = &barrier;
	}
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, race_claim, &claimers[i]), 0);
	int64_t all[QUEUED * RACERS];
	unsigned int total = 0;
	for (int i = 0; i < RACERS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(claimers[i].why[0] == '\0', "claimer %d: %s", i, claimers[i].why);
		for (unsigned int j = 0; j < claimers[i].count; j++)
			all[total++] = claimers[i].ids[j];
		store_close(&claimers[i].store);
	}
	pthread_barrier_destroy(&barrier);
	ck_assert_uint_eq(total, QUEUED);
	for (unsigned int i = 0; i < total; i++)
		for (unsigned int j = i + 1; j < total; j++)
			ck_assert_msg(all[i] != all[j], "call %lld claimed twice", (long long)all[i]);
}
END_TEST

Suite *suite_objects(void)
{
	Suite *s = suite_create("objects");
	TCase *tc = tcase_create("objects");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_add_test(tc, thread_set);
	tcase_add_test(tc, objects_crud);
	tcase_add_test(tc, objects_unique_race);
	tcase_add_test(tc, forwarded_addresses);
	tcase_add_test(tc, storage_set_and_recalc);
	tcase_add_test(tc, webhook_queue);
	tcase_add_test(tc, webhook_claim_race);
	tcase_add_test(tc, webhook_queue_older_entries);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
