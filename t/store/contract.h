/* Shared fixture of the driver-agnostic store contract suite: every test
 * gets a fresh store (a temp dir for sqlite, a fresh database for mongodb)
 * chosen by WD_TEST_STORE ("sqlite" default, or "mongodb" with
 * WD_TEST_MONGODB_URI). */
#ifndef WD_T_STORE_CONTRACT_H
#define WD_T_STORE_CONTRACT_H

#include "pool.h"
#include "store.h"

#include <check.h>
#include <stdbool.h>

struct contract_env {
	char dir[256];
	char path[512];
	char database[64];
	struct store_settings set;
	struct store *store;
	struct pool *pool;
};
extern struct contract_env env;

void contract_setup(void);
void contract_teardown(void);
/* True when the driver under test is sqlite (file-size checks). */
bool contract_is_sqlite(void);
/* Opens one more handle on the test's store (after fork, in a thread). */
struct store *contract_open(void);

/* Creates user NAME (address NAME@example.com) and returns its id. */
void contract_user(const char *name, char id_r[STORE_ID_SIZE]);
/* The id of a user's mailbox by path. */
void contract_mailbox(const char *user_id, const char *path, char id_r[STORE_ID_SIZE]);
/* Appends a message of size bytes with the given flags ("" for none, space
 * separated) and attachments; fails the test on error. */
struct store_append_result contract_append(struct store *store, const char *mailbox_id,
					   uint64_t size, const char *flags,
					   const struct store_attachment *atts,
					   unsigned int atts_count);
/* Fills att with a deterministic attachment of len bytes made from seed,
 * its id the SHA-256 of the bytes; data is malloc()ed. */
void contract_attachment(struct store_attachment *att, size_t len, unsigned int seed);
uint32_t contract_refcount(const char *attachment_id);	/* 0 if freed */

/* The error_r every test passes, so the macros can print it. */
extern const char *err;

#define CK_OK(call) \
	do { \
		err = NULL; \
		int ck_ret_ = (call); \
		ck_assert_msg(ck_ret_ == 0, "%s failed: %s", #call, err == NULL ? "?" : err); \
	} while (0)
/* The call fails with the store error code. */
#define CK_FAIL(store, call, code) \
	do { \
		err = NULL; \
		int ck_ret_ = (call); \
		ck_assert_msg(ck_ret_ == -1, "%s succeeded", #call); \
		ck_assert_msg(store_last_error(store) == (code), "%s: got %s (%s), want %s", #call, \
			      store_error_name(store_last_error(store)), err, \
			      store_error_name(code)); \
	} while (0)

Suite *suite_users(void);
Suite *suite_mailboxes(void);
Suite *suite_messages(void);
Suite *suite_concurrency(void);
Suite *suite_auth(void);
Suite *suite_api(void);
Suite *suite_capabilities(void);
Suite *suite_objects(void);
Suite *suite_addresses(void);

/* MongoDB server features a test may need (test_capabilities.c). */
enum contract_cap {
	CAP_TTL_INDEX,
	CAP_TEXT_INDEX,
	CAP_HASHED_INDEX,
	CAP_PARTIAL_INDEX,
	CAP_TRANSACTIONS,
	CAP_CHANGE_STREAMS,
	CAP_COUNT
};
/* True if the server under test has cap; otherwise prints
 * "SKIP <test>: <why>" and the test returns early (and passes). */
bool contract_has(enum contract_cap cap, const char *test);

#endif
