/* The index the unit tests of lib/fts and lib/thread run on: an SQLite
 * file, or with WD_TEST_FTS=mongodb a fresh database at
 * WD_TEST_MONGODB_URI (t/run_tests.py runs them so on the FerretDB test
 * server). The same cases run on both backends. */
#ifndef WD_TEST_FTS_TEST_H
#define WD_TEST_FTS_TEST_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fts.h"

static char fts_test_db[64];

static bool fts_test_mongodb(void)
{
	const char *b = getenv("WD_TEST_FTS");
	return b != NULL && strcmp(b, "mongodb") == 0;
}

/* A new index for one test: path is the SQLite file (ignored on MongoDB,
 * where each call with create makes a new database). */
static int fts_test_open(const char *path, bool create, struct fts **fts_r, const char **error_r)
{
	if (!fts_test_mongodb())
		return fts_open(path, create, fts_r, error_r);
	static int seq;
	if (create || fts_test_db[0] == '\0')
		snprintf(fts_test_db, sizeof(fts_test_db), "ftstest_%d_%d", (int)getpid(), ++seq);
	const char *uri = getenv("WD_TEST_MONGODB_URI");
	if (uri == NULL) {
		*error_r = "WD_TEST_MONGODB_URI is not set";
		return -1;
	}
	return fts_open_mongodb(uri, fts_test_db, create, fts_r, error_r);
}

/* Drops the test's database (the SQLite file goes with its folder). */
static void fts_test_drop(void)
{
	if (!fts_test_mongodb() || fts_test_db[0] == '\0')
		return;
	mongoc_log_set_handler(NULL, NULL); /* FerretDB has no endSessions: not our news */
	mongoc_client_t *c = mongoc_client_new(getenv("WD_TEST_MONGODB_URI"));
	if (c != NULL) {
		mongoc_database_t *db = mongoc_client_get_database(c, fts_test_db);
		(void)mongoc_database_drop(db, NULL);
		mongoc_database_destroy(db);
		mongoc_client_destroy(c);
	}
	fts_test_db[0] = '\0';
}

#endif
