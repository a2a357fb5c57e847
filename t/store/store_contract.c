/* Store contract suite: fixture and main. The same binary runs against any
 * driver (WD_TEST_STORE); only measurements of files on disk are
 * sqlite-specific. */
#include "contract.h"

#include "log.h"

#include <ftw.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct contract_env env;
const char *err;

bool contract_is_sqlite(void)
{
	return strcmp(env.set.driver, "sqlite") == 0;
}

void contract_setup(void)
{
	memset(&env, 0, sizeof(env));
	const char *driver = getenv("WD_TEST_STORE");
	env.set.driver = driver == NULL || driver[0] == '\0' ? "sqlite" : driver;
	const char *tmp = getenv("TMPDIR");
	snprintf(env.dir, sizeof(env.dir), "%s/wd-store-XXXXXX", tmp == NULL ? "/tmp" : tmp);
	ck_assert_ptr_nonnull(mkdtemp(env.dir));
	if (contract_is_sqlite()) {
		snprintf(env.path, sizeof(env.path), "%s/store.db", env.dir);
		env.set.path = env.path;
	} else {
		const char *uri = getenv("WD_TEST_MONGODB_URI");
		ck_assert_msg(uri != NULL, "WD_TEST_MONGODB_URI is not set");
		env.set.path = uri;
		/* a fresh database per test, named after the temp dir */
		snprintf(env.database, sizeof(env.database), "wdtest_%d_%s", (int)getpid(),
			 strrchr(env.dir, '-') + 1);
		env.set.database = env.database;
	}
	env.set.busy_timeout_msecs = 30000;
	const char *error;
	int ret = store_open(&env.set, &env.store, &error);
	ck_assert_msg(ret == 0, "store_open: %s", ret == 0 ? "" : error);
	env.pool = pool_create(4096);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void contract_teardown(void)
{
	store_close(&env.store);
	pool_destroy(&env.pool);
	(void)nftw(env.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

struct store *contract_open(void)
{
	struct store *store;
	const char *error;
	int ret = store_open(&env.set, &store, &error);
	ck_assert_msg(ret == 0, "store_open: %s", ret == 0 ? "" : error);
	return store;
}

void contract_user(const char *name, char id_r[STORE_ID_SIZE])
{
	char address[128];
	snprintf(address, sizeof(address), "%s@example.com", name);
	struct store_user user = {
		.username = name,
		.password_hash = "$2a$10$opaque",
		.address = address,
	};
	CK_OK(store_user_create(env.store, &user, id_r, &err));
}

void contract_mailbox(const char *user_id, const char *path, char id_r[STORE_ID_SIZE])
{
	struct store_mailbox *box;
	CK_OK(store_mailbox_get_by_path(env.store, user_id, path, env.pool, &box, &err));
	memcpy(id_r, box->id, STORE_ID_SIZE);
}

struct store_append_result contract_append(struct store *store, const char *mailbox_id,
					   uint64_t size, const char *flags,
					   const struct store_attachment *atts,
					   unsigned int atts_count)
{
	struct pool *pool = pool_create(512);
	const char *const *list;
	unsigned int count;
	char *copy = pool_strdup(pool, flags);
	/* split on spaces without the store's helpers (they are internal) */
	const char **arr = pool_alloc(pool, 16 * sizeof(*arr));
	count = 0;
	for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok != NULL && count < 16;
	     tok = strtok_r(NULL, " ", &save))
		arr[count++] = tok;
	list = arr;
	static const unsigned char tree[] = "\xD7\x01 opaque tree blob";
	struct store_message_new msg = {
		.idate = 1700000000,
		.hdate = 1700000000,
		.size = size,
		.msgid = "<m@example.com>",
		.subject = "Hello",
		.envelope = "(NIL \"Hello\" NIL NIL NIL NIL NIL NIL NIL NIL)",
		.bodystructure = "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 5 1)",
		.flags = list,
		.flags_count = count,
		.tree = tree,
		.tree_len = sizeof(tree) - 1,
		.attachments = atts,
		.attachments_count = atts_count,
	};
	struct store_append_result res;
	const char *error = NULL;
	int ret = store_message_append(store, mailbox_id, &msg, STORE_APPEND_CHECK_QUOTA, &res,
				       &error);
	ck_assert_msg(ret == 0, "append: %s", ret == 0 ? "" : error);
	pool_destroy(&pool);
	return res;
}

void contract_attachment(struct store_attachment *att, size_t len, unsigned int seed)
{
	unsigned char *data = malloc(len + 1);
	ck_assert_ptr_nonnull(data);
	/* xorshift: incompressible, reproducible */
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256(data, len, digest);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(att->id + i * 2, 3, "%02x", digest[i]);
	att->data = data;
	att->len = len;
}

uint32_t contract_refcount(const char *attachment_id)
{
	struct store_attachment_info info;
	const char *error;
	if (store_attachment_info(env.store, attachment_id, env.pool, &info, &error) < 0) {
		ck_assert_int_eq(store_last_error(env.store), STORE_ERR_NOT_FOUND);
		return 0;
	}
	return info.refcount;
}

int main(void)
{
	log_open("store_contract", true);
	if (getenv("WD_TEST_DEBUG") != NULL)
		log_set_level(LOG_LEVEL_DEBUG);
	SRunner *sr = srunner_create(suite_users());
	srunner_add_suite(sr, suite_mailboxes());
	srunner_add_suite(sr, suite_messages());
	srunner_add_suite(sr, suite_concurrency());
	srunner_add_suite(sr, suite_auth());
	srunner_add_suite(sr, suite_api());
	srunner_add_suite(sr, suite_capabilities());
	srunner_add_suite(sr, suite_objects());
	srunner_add_suite(sr, suite_addresses());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
