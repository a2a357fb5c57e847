/* lib/mongo_pool: the process-wide mongoc client pools of the store and the
 * index. One pool per URI, options and process; the defaults a URI does
 * not override (timeouts, the store's majority write concern); never a
 * pool made by another pid; the once-per-pool index bookkeeping. No server
 * is needed: a pool does not connect until a command runs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mongo_pool.h"

#define URI "mongodb://127.0.0.1:1/"

static const struct mongo_pool_options store_opts = { "wd-test-store", 10000 };
static const struct mongo_pool_options index_opts = { "wd-test-index", 0 };

/* The settings a client of the pool works with. */
struct seen {
	int32_t selection, connect, wtimeout;
	bool majority;
};

static struct seen seen_of(struct mongo_pool *pool)
{
	mongoc_client_pool_t *clients = mongo_pool_clients(pool);
	mongoc_client_t *c = mongoc_client_pool_pop(clients);
	const mongoc_uri_t *uri = mongoc_client_get_uri(c);
	const mongoc_write_concern_t *wc = mongoc_client_get_write_concern(c);
	struct seen s = {
		.selection = mongoc_uri_get_option_as_int32(
			uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, -1),
		.connect = mongoc_uri_get_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, -1),
		.wtimeout = mongoc_write_concern_get_wtimeout(wc),
		.majority = mongoc_write_concern_get_wmajority(wc),
	};
	mongoc_client_pool_push(clients, c);
	return s;
}

START_TEST(one_pool_per_uri_and_options)
{
	bson_error_t error;
	struct mongo_pool *a = mongo_pool_get(URI, &store_opts, &error);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_eq(mongo_pool_get(URI, &store_opts, &error), a);
	struct mongo_pool *b = mongo_pool_get(URI, &index_opts, &error);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(b, a);
	ck_assert_ptr_ne(mongo_pool_clients(b), mongo_pool_clients(a));
	struct mongo_pool *c = mongo_pool_get("mongodb://127.0.0.1:2/", &store_opts, &error);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_ne(c, a);
}
END_TEST

START_TEST(defaults_unless_the_uri_says)
{
	bson_error_t error;
	struct seen s = seen_of(mongo_pool_get(URI, &store_opts, &error));
	ck_assert_int_eq(s.selection, MONGO_POOL_SELECTION_TIMEOUT_MSECS);
	ck_assert_int_eq(s.connect, MONGO_POOL_SELECTION_TIMEOUT_MSECS);
	ck_assert(s.majority);
	ck_assert_int_eq(s.wtimeout, 10000);

	s = seen_of(mongo_pool_get(URI, &index_opts, &error));
	ck_assert_int_eq(s.selection, MONGO_POOL_SELECTION_TIMEOUT_MSECS);
	ck_assert_int_eq(s.connect, MONGO_POOL_SELECTION_TIMEOUT_MSECS);
	ck_assert(!s.majority);

	s = seen_of(mongo_pool_get(URI "?w=1&serverSelectionTimeoutMS=1234&connectTimeoutMS=987",
				   &store_opts, &error));
	ck_assert_int_eq(s.selection, 1234);
	ck_assert_int_eq(s.connect, 987);
	ck_assert(!s.majority);
}
END_TEST

START_TEST(bad_uri)
{
	bson_error_t error;
	memset(&error, 0, sizeof(error));
	ck_assert_ptr_null(mongo_pool_get("http://nope", &store_opts, &error));
	ck_assert_str_ne(error.message, "");
}
END_TEST

/* A child of a plain fork() gets pools of its own, then reuses them. */
START_TEST(never_a_parents_pool)
{
	bson_error_t error;
	struct mongo_pool *parent = mongo_pool_get(URI, &store_opts, &error);
	(void)seen_of(parent);	/* the parent's pool has monitor threads now */
	mongo_pool_indexed_set(parent, "db");
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct mongo_pool *mine = mongo_pool_get(URI, &store_opts, &error);
		int bad = 0;
		if (mine == NULL || mine == parent || mongo_pool_clients(mine) == mongo_pool_clients(parent))
			bad |= 1;
		else if (mongo_pool_get(URI, &store_opts, &error) != mine)
			bad |= 2;
		else if (mongo_pool_indexed(mine, "db"))
			bad |= 4;	/* the parent's indexes say nothing here */
		else if (seen_of(mine).selection != MONGO_POOL_SELECTION_TIMEOUT_MSECS)
			bad |= 8;
		_exit(bad);
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_ptr_eq(mongo_pool_get(URI, &store_opts, &error), parent);
}
END_TEST

START_TEST(indexed_once_per_pool_and_key)
{
	bson_error_t error;
	struct mongo_pool *a = mongo_pool_get(URI, &store_opts, &error);
	struct mongo_pool *b = mongo_pool_get(URI, &index_opts, &error);
	ck_assert(!mongo_pool_indexed(a, "wildduck"));
	mongo_pool_indexed_set(a, "wildduck");
	ck_assert(mongo_pool_indexed(a, "wildduck"));
	ck_assert(!mongo_pool_indexed(a, "wild"));
	ck_assert(!mongo_pool_indexed(a, "duck"));
	ck_assert(!mongo_pool_indexed(b, "wildduck"));
	mongo_pool_indexed_set(a, "other/att");
	ck_assert(mongo_pool_indexed(a, "other/att"));
	ck_assert(mongo_pool_indexed(a, "wildduck"));
	ck_assert(!mongo_pool_indexed(a, "other"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mongo_pool");
	TCase *tc = tcase_create("mongo_pool");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, one_pool_per_uri_and_options);
	tcase_add_test(tc, defaults_unless_the_uri_says);
	tcase_add_test(tc, bad_uri);
	tcase_add_test(tc, never_a_parents_pool);
	tcase_add_test(tc, indexed_once_per_pool_and_key);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
