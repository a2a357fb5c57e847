/* Contract: server capabilities. TTL, text, hashed and partial indexes,
 * transactions and change streams are features of a MongoDB server that
 * the test servers here lack (FerretDB has none of them); the driver may
 * use them but never depends on them. This file probes the server of
 * WD_TEST_MONGODB_URI once, says which are there, and runs the checks that
 * need one only where it is, printing "SKIP <test>: <why>" otherwise, so
 * that the same suite runs unchanged against a real mongod. */
#include "contract.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cap_names[CAP_COUNT] = {
	[CAP_TTL_INDEX] = "ttl_index",
	[CAP_TEXT_INDEX] = "text_index",
	[CAP_HASHED_INDEX] = "hashed_index",
	[CAP_PARTIAL_INDEX] = "partial_index",
	[CAP_TRANSACTIONS] = "transactions",
	[CAP_CHANGE_STREAMS] = "change_streams",
};

static mongoc_client_t *probe_client(void)
{
	static bool inited;
	if (!inited) {
		mongoc_init();
		inited = true;
	}
	mongoc_client_t *client = mongoc_client_new(getenv("WD_TEST_MONGODB_URI"));
	ck_assert_ptr_nonnull(client);
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	return client;
}

/* createIndexes with one index spec on a scratch collection. */
static bool index_ok(mongoc_database_t *db, bson_t *spec)
{
	bson_t cmd = BSON_INITIALIZER, arr, reply;
	BSON_APPEND_UTF8(&cmd, "createIndexes", "capprobe");
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
	BSON_APPEND_DOCUMENT(&arr, "0", spec);
	bson_append_array_end(&cmd, &arr);
	bson_error_t error;
	bool ok = mongoc_database_write_command_with_opts(db, &cmd, NULL, &reply, &error);
	bson_destroy(&cmd);
	bson_destroy(&reply);
	bson_destroy(spec);
	return ok;
}

static bool have[CAP_COUNT];

/* Probes the server once per process (each test runs in its own). */
static void probe(void)
{
	static bool known;
	if (!known) {
		mongoc_client_t *client = probe_client();
		mongoc_database_t *db = mongoc_client_get_database(client, env.database);
		have[CAP_TTL_INDEX] = index_ok(db, BCON_NEW("key", "{", "t", BCON_INT32(1), "}",
			"name", "ttl", "expireAfterSeconds", BCON_INT32(60)));
		have[CAP_TEXT_INDEX] = index_ok(db, BCON_NEW("key", "{", "x", "text", "}",
			"name", "text"));
		have[CAP_HASHED_INDEX] = index_ok(db, BCON_NEW("key", "{", "h", "hashed", "}",
			"name", "hashed"));
		have[CAP_PARTIAL_INDEX] = index_ok(db, BCON_NEW("key", "{", "p", BCON_INT32(1), "}",
			"name", "partial", "partialFilterExpression", "{", "p", "{", "$exists",
			BCON_BOOL(true), "}", "}"));
		/* transactions and change streams need a replica set or mongos */
		bson_t *cmd = BCON_NEW("hello", BCON_INT32(1)), reply;
		bson_error_t error;
		bool replicated = false;
		if (mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &error)) {
			bson_iter_t it;
			replicated = bson_iter_init_find(&it, &reply, "setName") ||
				(bson_iter_init_find(&it, &reply, "msg") && BSON_ITER_HOLDS_UTF8(&it) &&
				 strcmp(bson_iter_utf8(&it, NULL), "isdbgrid") == 0);
		}
		bson_destroy(&reply);
		bson_destroy(cmd);
		have[CAP_TRANSACTIONS] = have[CAP_CHANGE_STREAMS] = replicated;
		mongoc_database_destroy(db);
		mongoc_client_destroy(client);
		known = true;
	}
}

bool contract_has(enum contract_cap cap, const char *test)
{
	if (contract_is_sqlite()) {
		fprintf(stderr, "SKIP %s: %s is a MongoDB server feature (driver sqlite)\n", test,
			cap_names[cap]);
		return false;
	}
	probe();
	if (!have[cap])
		fprintf(stderr, "SKIP %s: the MongoDB server lacks %s\n", test, cap_names[cap]);
	return have[cap];
}

START_TEST(capabilities_reported)
{
	if (contract_is_sqlite()) {
		fprintf(stderr, "capabilities: none to probe (driver sqlite)\n");
		return;
	}
	char line[256] = "";
	probe();
	for (int c = 0; c < CAP_COUNT; c++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s=%s", cap_names[c],
			 have[c] ? "yes" : "no");
	fprintf(stderr, "capabilities:%s\n", line);
}
END_TEST

/* Where the server has TTL indexes, the driver made them (auth log,
 * counters, journal) when it opened the store. */
START_TEST(ttl_indexes_made)
{
	if (!contract_has(CAP_TTL_INDEX, "ttl_indexes_made"))
		return;
	mongoc_client_t *client = probe_client();
	static const char *const cols[] = { "authlog", "counters", "journal" };
	for (unsigned int i = 0; i < 3; i++) {
		mongoc_collection_t *col = mongoc_client_get_collection(client, env.database,
									cols[i]);
		mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts(col, NULL);
		const bson_t *doc;
		bool found = false;
		while (mongoc_cursor_next(cursor, &doc)) {
			bson_iter_t it;
			found = found || bson_iter_init_find(&it, doc, "expireAfterSeconds");
		}
		mongoc_cursor_destroy(cursor);
		mongoc_collection_destroy(col);
		ck_assert_msg(found, "no TTL index on %s", cols[i]);
	}
	mongoc_client_destroy(client);
}
END_TEST

/* Nothing in the driver may need transactions or change streams: the
 * whole suite passes without them. Where the server has them, a delivery
 * and a flag change still show up in the journal a change stream would
 * otherwise be used for (the indexer follows the journal). */
START_TEST(journal_not_change_streams)
{
	bool streams = contract_has(CAP_CHANGE_STREAMS, "journal_not_change_streams");
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE];
	contract_user("cs", user);
	contract_mailbox(user, "INBOX", inbox);
	contract_append(env.store, inbox, 10, "", NULL, 0);
	int64_t last = 0;
	CK_OK(store_journal_user_last(env.store, user, &last, &err));
	ck_assert_int_gt(last, 0);
	if (!streams)
		fprintf(stderr, "journal_not_change_streams: journal position %lld without change "
			"streams\n", (long long)last);
}
END_TEST

/* mongodb: the attachments bucket can live in a database of its own. */
START_TEST(attachments_database)
{
	if (contract_is_sqlite()) {
		fprintf(stderr, "SKIP attachments_database: a mongodb setting (driver sqlite)\n");
		return;
	}
	char att_db[80];
	snprintf(att_db, sizeof(att_db), "%s_att", env.database);
	store_close(&env.store);
	env.set.attachments_database = att_db;
	env.store = contract_open();
	char user[STORE_ID_SIZE], inbox[STORE_ID_SIZE];
	contract_user("attdb", user);
	contract_mailbox(user, "INBOX", inbox);
	struct store_attachment att;
	contract_attachment(&att, 300 * 1024, 7);
	struct store_append_result r = contract_append(env.store, inbox, 400000, "", &att, 1);
	struct store_message_content *content;
	CK_OK(store_message_content(env.store, r.id, env.pool, &content, &err));
	ck_assert_uint_eq(content->attachments_count, 1);
	ck_assert_uint_eq(content->attachments[0].len, att.len);
	ck_assert_int_eq(memcmp(content->attachments[0].data, att.data, att.len), 0);
	/* the bytes are in the other database, not in the main one */
	mongoc_client_t *client = probe_client();
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(att.id));
	mongoc_collection_t *col = mongoc_client_get_collection(client, att_db, "attachments.files");
	ck_assert_int_eq(mongoc_collection_count_documents(col, filter, NULL, NULL, NULL, NULL), 1);
	mongoc_collection_destroy(col);
	col = mongoc_client_get_collection(client, env.database, "attachments.files");
	ck_assert_int_eq(mongoc_collection_count_documents(col, filter, NULL, NULL, NULL, NULL), 0);
	mongoc_collection_destroy(col);
	bson_destroy(filter);
	mongoc_client_destroy(client);
	free((void *)att.data);
}
END_TEST

Suite *suite_capabilities(void)
{
	Suite *s = suite_create("capabilities");
	TCase *tc = tcase_create("capabilities");
	tcase_add_checked_fixture(tc, contract_setup, contract_teardown);
	tcase_add_test(tc, capabilities_reported);
	tcase_add_test(tc, ttl_indexes_made);
	tcase_add_test(tc, journal_not_change_streams);
	tcase_add_test(tc, attachments_database);
	suite_add_tcase(s, tc);
	return s;
}
