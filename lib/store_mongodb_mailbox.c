/* MongoDB driver: mailboxes (WildDuck's "mailboxes": uidValidity, uidNext,
 * modifyIndex), UID/MODSEQ allocation by findAndModify $inc, the journal
 * and the per-user storage counter. */
#include "store_mongodb.h"

#include "pool.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const journal_names[] = {
	[STORE_JOURNAL_EXISTS] = "EXISTS",
	[STORE_JOURNAL_EXPUNGE] = "EXPUNGE",
	[STORE_JOURNAL_FLAGS] = "FETCH",
	/* WildDuck's names for mailbox changes */
	[STORE_JOURNAL_MAILBOX_CREATE] = "CREATE",
	[STORE_JOURNAL_MAILBOX_RENAME] = "RENAME",
	[STORE_JOURNAL_MAILBOX_DELETE] = "DELETE",
};

static int mailbox_journal(struct store *store, const char *user_id,
			   enum store_journal_command command, const char *mailbox_id,
			   const char *path);

/* UIDVALIDITY is the creation time as in WildDuck, but never reused: one
 * counter document goes up by at least one per mailbox (RFC 3501 2.3.1.1). */
static int next_uid_validity(struct store *store, int64_t *value_r)
{
	int64_t now = (int64_t)time(NULL);
	for (int attempt = 0; attempt < 100; attempt++) {
		bson_t *filter = BCON_NEW("_id", BCON_UTF8("uidvalidity"));
		/* every document of "settings" needs a kind and ukey of its own
		 * (the unique index of the API objects kept there) */
		bson_t *update = BCON_NEW("$inc", "{", "value", BCON_INT64(1), "}",
					  "$setOnInsert", "{", "kind", BCON_UTF8("#counter"),
					  "ukey", BCON_UTF8("uidvalidity"), "}");
		int64_t v = 0;
		int ret = mongo_counter_next(store, COL_SETTINGS, filter, update, "uidvalidity", &v);
		bson_destroy(filter);
		bson_destroy(update);
		if (ret < 0)
			return -1;
		if (v >= now) {
			*value_r = v;
			return 0;
		}
		/* behind the clock: jump to now unless someone moved it meanwhile */
		filter = BCON_NEW("_id", BCON_UTF8("uidvalidity"), "value", BCON_INT64(v));
		update = BCON_NEW("$set", "{", "value", BCON_INT64(now), "}");
		int64_t matched = 0;
		ret = mongo_update(store, COL_SETTINGS, filter, update, false, false, &matched);
		bson_destroy(filter);
		bson_destroy(update);
		if (ret < 0)
			return -1;
		if (matched > 0) {
			*value_r = now;
			return 0;
		}
	}
	return store_set_error(store, STORE_ERR_TEMPORARY, "uidvalidity: too much contention");
}

int mongo_mailbox_insert(struct store *store, const char *user_id, const char *path,
			 enum store_special_use special_use, char id_r[STORE_ID_SIZE])
{
	int64_t uid_validity = 0;
	if (next_uid_validity(store, &uid_validity) < 0)
		return -1;
	bson_oid_t id, user;
	bson_oid_init(&id, NULL);
	mongo_oid_str(&id, id_r);
	mongo_oid(&user, user_id);
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_OID(&doc, "user", &user);
	BSON_APPEND_UTF8(&doc, "path", path);
	/* WildDuck keeps INBOX without a specialUse */
	if (special_use != STORE_SPECIAL_NONE && special_use != STORE_SPECIAL_INBOX)
		BSON_APPEND_UTF8(&doc, "specialUse", store_special_use_name(special_use));
	BSON_APPEND_INT64(&doc, "uidValidity", uid_validity & 0xffffffff);
	BSON_APPEND_INT64(&doc, "uidNext", 1);
	BSON_APPEND_INT64(&doc, "modifyIndex", 0);
	BSON_APPEND_BOOL(&doc, "subscribed", true);
	BSON_APPEND_INT64(&doc, "retention", 0);
	mongo_append_date(&doc, "created", (int64_t)time(NULL));
	int ret = mongo_insert(store, COL_MAILBOXES, &doc);
	bson_destroy(&doc);
	if (ret < 0 && store->error == STORE_ERR_EXISTS)
		store_set_error(store, STORE_ERR_EXISTS, "mailbox already exists");
	return ret;
}

int mongo_mailbox_create(struct store *store, const char *user_id, const char *path,
			 enum store_special_use special_use, char id_r[STORE_ID_SIZE])
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&user));
	int64_t n = 0;
	int ret = mongo_count(store, COL_USERS, filter, &n);
	bson_destroy(filter);
	if (ret < 0)
		return -1;
	if (n == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	if (mongo_mailbox_insert(store, user_id, path, special_use, id_r) < 0)
		return -1;
	return mailbox_journal(store, user_id, STORE_JOURNAL_MAILBOX_CREATE, id_r, path);
}

static enum store_special_use special_use_parse(const char *name, const char *path)
{
	static const enum store_special_use uses[] = {
		STORE_SPECIAL_SENT, STORE_SPECIAL_DRAFTS, STORE_SPECIAL_TRASH,
		STORE_SPECIAL_JUNK, STORE_SPECIAL_ARCHIVE, STORE_SPECIAL_INBOX,
	};
	if (name == NULL)
		return strcmp(path == NULL ? "" : path, "INBOX") == 0 ? STORE_SPECIAL_INBOX :
			STORE_SPECIAL_NONE;
	for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
		if (strcmp(store_special_use_name(uses[i]), name) == 0)
			return uses[i];
	return STORE_SPECIAL_NONE;
}

static void mailbox_from_doc(struct pool *pool, const bson_t *doc, void *item)
{
	struct store_mailbox *box = item;
	memset(box, 0, sizeof(*box));
	mongo_id(doc, "_id", box->id);
	mongo_id(doc, "user", box->user);
	box->path = mongo_str(pool, doc, "path");
	box->special_use = special_use_parse(mongo_str(pool, doc, "specialUse"), box->path);
	box->uid_validity = (uint32_t)mongo_int(doc, "uidValidity");
	box->uid_next = (uint32_t)mongo_int(doc, "uidNext");
	box->modify_index = (uint64_t)mongo_int(doc, "modifyIndex");
	box->subscribed = mongo_bool(doc, "subscribed");
	box->retention_msecs = mongo_int(doc, "retention");
}

int mongo_mailbox_get(struct store *store, const char *mailbox_id, const char *user_id,
		      const char *path, struct pool *pool, struct store_mailbox **mailbox_r)
{
	bson_t filter = BSON_INITIALIZER, doc;
	bson_oid_t oid;
	if (mailbox_id != NULL) {
		mongo_oid(&oid, mailbox_id);
		BSON_APPEND_OID(&filter, "_id", &oid);
	} else {
		mongo_oid(&oid, user_id);
		BSON_APPEND_OID(&filter, "user", &oid);
		BSON_APPEND_UTF8(&filter, "path", path);
	}
	int ret = mongo_find_one(store, COL_MAILBOXES, &filter, NULL, &doc);
	bson_destroy(&filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such mailbox");
	if (ret < 0)
		return -1;
	*mailbox_r = pool_alloc(pool, sizeof(**mailbox_r));
	mailbox_from_doc(pool, &doc, *mailbox_r);
	bson_destroy(&doc);
	return 0;
}

int mongo_mailbox_list(struct store *store, const char *user_id, struct pool *pool,
		       struct store_mailbox **mailboxes_r, unsigned int *count_r)
{
	bson_oid_t user;
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("user", BCON_OID(&user));
	bson_t *opts = BCON_NEW("sort", "{", "path", BCON_INT32(1), "}");
	void *found = NULL;
	unsigned int count = 0;
	int ret = mongo_find_all(store, COL_MAILBOXES, filter, opts, pool,
				 sizeof(struct store_mailbox), mailbox_from_doc, "mailboxes",
				 &found, &count);
	bson_destroy(filter);
	bson_destroy(opts);
	struct store_mailbox *list = found;
	/* byte order like SQLite's ORDER BY path, whatever the server collates */
	for (unsigned int i = 1; i < count; i++) {
		struct store_mailbox tmp = list[i];
		unsigned int j = i;
		for (; j > 0 && strcmp(list[j - 1].path, tmp.path) > 0; j--)
			list[j] = list[j - 1];
		list[j] = tmp;
	}
	*mailboxes_r = list;
	*count_r = count;
	return ret;
}

static bool path_below(const char *path, const char *parent, size_t parent_len)
{
	return strncmp(path, parent, parent_len) == 0 &&
		(path[parent_len] == '\0' || path[parent_len] == '/');
}

int mongo_mailbox_rename(struct store *store, const char *mailbox_id, const char *new_path)
{
	struct pool *pool = pool_create(1024);
	struct store_mailbox *box, *all;
	unsigned int count;
	int ret = mongo_mailbox_get(store, mailbox_id, NULL, NULL, pool, &box);
	if (ret == 0)
		ret = mongo_mailbox_list(store, box->user, pool, &all, &count);
	if (ret < 0) {
		pool_destroy(&pool);
		return -1;
	}
	size_t old_len = strlen(box->path);
	if (strcmp(box->path, new_path) == 0) {
		pool_destroy(&pool);
		return store_set_error(store, STORE_ERR_EXISTS, "mailbox already exists");
	}
	if (path_below(new_path, box->path, old_len)) {
		pool_destroy(&pool);
		return store_set_error(store, STORE_ERR_INVALID, "cannot rename into itself");
	}
	/* every new path must be free (the unique index catches races) */
	for (unsigned int i = 0; i < count; i++) {
		if (!path_below(all[i].path, box->path, old_len))
			continue;
		const char *target = pool_printf(pool, "%s%s", new_path, all[i].path + old_len);
		for (unsigned int j = 0; j < count; j++) {
			if (strcmp(all[j].path, target) == 0 &&
			    !path_below(all[j].path, box->path, old_len)) {
				pool_destroy(&pool);
				return store_set_error(store, STORE_ERR_EXISTS,
						       "mailbox already exists");
			}
		}
	}
	for (unsigned int i = 0; ret == 0 && i < count; i++) {
		if (!path_below(all[i].path, box->path, old_len))
			continue;
		bson_oid_t oid;
		mongo_oid(&oid, all[i].id);
		const char *target = pool_printf(pool, "%s%s", new_path, all[i].path + old_len);
		bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
		bson_t *update = BCON_NEW("$set", "{", "path", BCON_UTF8(target), "}");
		ret = mongo_update(store, COL_MAILBOXES, filter, update, false, false, NULL);
		bson_destroy(filter);
		bson_destroy(update);
		if (ret == 0)
			ret = mailbox_journal(store, box->user, STORE_JOURNAL_MAILBOX_RENAME,
					      all[i].id, target);
	}
	pool_destroy(&pool);
	return ret;
}

int mongo_mailbox_purge(struct store *store, const char *mailbox_id)
{
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *filter = BCON_NEW("mailbox", BCON_OID(&oid));
	bson_t *opts = BCON_NEW("projection", "{", "attachments", BCON_INT32(1), "size",
				BCON_INT32(1), "user", BCON_INT32(1), "}");
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
		mongo_col(store, COL_MESSAGES), filter, opts, NULL);
	bson_destroy(opts);
	const bson_t *doc;
	int64_t total = 0;
	char user[STORE_ID_SIZE] = "";
	int ret = 0;
	while (ret == 0 && mongoc_cursor_next(cursor, &doc)) {
		total += mongo_int(doc, "size");
		if (user[0] == '\0')
			mongo_id(doc, "user", user);
		ret = mongo_message_release(store, doc);
	}
	bson_error_t error;
	if (ret == 0 && mongoc_cursor_error(cursor, &error))
		ret = mongo_fail(store, &error, "messages");
	mongoc_cursor_destroy(cursor);
	if (ret == 0)
		ret = mongo_delete(store, COL_MESSAGES, filter, true, NULL);
	if (ret == 0 && user[0] != '\0' && total > 0)
		ret = mongo_storage_add(store, user, -total);
	bson_destroy(filter);
	/* the message entries; mailbox changes stay for the user's journal
	 * (a user's delete removes them by user) */
	filter = BCON_NEW("mailbox", BCON_OID(&oid), "command", "{", "$in", "[",
			  BCON_UTF8(journal_names[STORE_JOURNAL_EXISTS]),
			  BCON_UTF8(journal_names[STORE_JOURNAL_EXPUNGE]),
			  BCON_UTF8(journal_names[STORE_JOURNAL_FLAGS]), "]", "}");
	if (ret == 0)
		ret = mongo_delete(store, COL_JOURNAL, filter, true, NULL);
	bson_destroy(filter);
	return ret;
}

/* The mailbox document goes first, so no append can start after it;
 * its messages are removed after. */
int mongo_mailbox_delete(struct store *store, const char *mailbox_id)
{
	struct pool *pool = pool_create(256);
	struct store_mailbox *box;
	int ret = mongo_mailbox_get(store, mailbox_id, NULL, NULL, pool, &box);
	if (ret == 0 && box->special_use == STORE_SPECIAL_INBOX)
		ret = store_set_error(store, STORE_ERR_INVALID, "INBOX cannot be deleted");
	if (ret < 0) {
		pool_destroy(&pool);
		return -1;
	}
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
	int64_t deleted = 0;
	ret = mongo_delete(store, COL_MAILBOXES, filter, false, &deleted);
	bson_destroy(filter);
	if (ret == 0 && deleted == 0)
		ret = store_set_error(store, STORE_ERR_NOT_FOUND, "no such mailbox");
	if (ret == 0)
		ret = mongo_mailbox_purge(store, mailbox_id);
	if (ret == 0)
		ret = mailbox_journal(store, box->user, STORE_JOURNAL_MAILBOX_DELETE, mailbox_id,
				      box->path);
	pool_destroy(&pool);
	return ret;
}

int mongo_mailbox_subscribe(struct store *store, const char *mailbox_id, bool subscribed)
{
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
	bson_t *update = BCON_NEW("$set", "{", "subscribed", BCON_BOOL(subscribed), "}");
	int64_t matched = 0;
	int ret = mongo_update(store, COL_MAILBOXES, filter, update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret == 0 && matched == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such mailbox");
	return ret;
}

static int count_where(struct store *store, const bson_oid_t *mailbox, const char *field,
		       bool value, uint32_t *count_r)
{
	bson_t *filter = BCON_NEW("mailbox", BCON_OID(mailbox), field, BCON_BOOL(value));
	int64_t n = 0;
	int ret = mongo_count(store, COL_MESSAGES, filter, &n);
	bson_destroy(filter);
	*count_r = (uint32_t)n;
	return ret;
}

/* One pass over the mailbox's messages (three small fields each): only for
 * servers whose $group cannot sum (FerretDB sums int64 fields as 0). */
static int counts_by_pass(struct store *store, const bson_oid_t *oid,
			  struct store_mailbox_counts *counts_r)
{
	bson_t *filter = BCON_NEW("mailbox", BCON_OID(oid));
	bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(0), "size", BCON_INT32(1),
				"seen", BCON_INT32(1), "deleted", BCON_INT32(1), "}");
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
		mongo_col(store, COL_MESSAGES), filter, opts, NULL);
	bson_destroy(filter);
	bson_destroy(opts);
	counts_r->messages = counts_r->unseen = counts_r->deleted = 0;
	counts_r->size = 0;
	const bson_t *doc;
	while (mongoc_cursor_next(cursor, &doc)) {
		counts_r->messages++;
		counts_r->unseen += !mongo_bool(doc, "seen");
		counts_r->deleted += mongo_bool(doc, "deleted");
		counts_r->size += (uint64_t)mongo_int(doc, "size");
	}
	bson_error_t error;
	int ret = mongoc_cursor_error(cursor, &error) ? mongo_fail(store, &error, "counts") : 0;
	mongoc_cursor_destroy(cursor);
	return ret;
}

/* Counts come from several reads, not one snapshot: HIGHESTMODSEQ is read
 * first, so it never claims more than the counts show. The server counts
 * and sums (indexes mailbox_uid and mailbox_seen), so a mailbox of 100k
 * messages costs a few small replies, not 100k documents. */
int mongo_mailbox_counts(struct store *store, const char *mailbox_id,
			 struct store_mailbox_counts *counts_r)
{
	struct mongo_mailbox_state state;
	memset(counts_r, 0, sizeof(*counts_r));
	if (mongo_mailbox_state(store, mailbox_id, &state) < 0)
		return -1;
	counts_r->uid_next = state.uid_next;
	counts_r->uid_validity = state.uid_validity;
	counts_r->highest_modseq = state.modify_index;
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *pipeline = BCON_NEW("pipeline", "[",
		"{", "$match", "{", "mailbox", BCON_OID(&oid), "}", "}",
		"{", "$group", "{", "_id", BCON_NULL, "n", "{", "$sum", BCON_INT32(1), "}",
		"size", "{", "$sum", BCON_UTF8("$size"), "}", "}", "}", "]");
	mongoc_cursor_t *cursor = mongoc_collection_aggregate(
		mongo_col(store, COL_MESSAGES), MONGOC_QUERY_NONE, pipeline, NULL, NULL);
	bson_destroy(pipeline);
	const bson_t *doc;
	if (mongoc_cursor_next(cursor, &doc)) {
		counts_r->messages = (uint32_t)mongo_int(doc, "n");
		counts_r->size = (uint64_t)mongo_int(doc, "size");
	}
	bson_error_t error;
	int ret = mongoc_cursor_error(cursor, &error) ? mongo_fail(store, &error, "counts") : 0;
	mongoc_cursor_destroy(cursor);
	/* every message has a size > 0, so 0 means the server did not sum */
	if (ret == 0 && counts_r->messages > 0 && counts_r->size == 0)
		return counts_by_pass(store, &oid, counts_r);
	if (ret == 0)
		ret = count_where(store, &oid, "seen", false, &counts_r->unseen);
	if (ret == 0)
		ret = count_where(store, &oid, "deleted", true, &counts_r->deleted);
	return ret;
}

static void state_from_doc(const bson_t *doc, struct mongo_mailbox_state *state_r)
{
	memset(state_r, 0, sizeof(*state_r));
	mongo_id(doc, "user", state_r->user);
	state_r->uid_next = (uint32_t)mongo_int(doc, "uidNext");
	state_r->uid_validity = (uint32_t)mongo_int(doc, "uidValidity");
	state_r->modify_index = (uint64_t)mongo_int(doc, "modifyIndex");
}

int mongo_mailbox_state(struct store *store, const char *mailbox_id,
			struct mongo_mailbox_state *state_r)
{
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
	bson_t doc;
	int ret = mongo_find_one(store, COL_MAILBOXES, filter, NULL, &doc);
	bson_destroy(filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such mailbox");
	if (ret < 0)
		return -1;
	state_from_doc(&doc, state_r);
	bson_destroy(&doc);
	return 0;
}

int mongo_mailbox_alloc(struct store *store, const char *mailbox_id, uint32_t count,
			struct mongo_mailbox_state *state_r)
{
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid), "uidNext", "{", "$lte",
				  BCON_INT64((int64_t)UINT32_MAX + 1 - count), "}");
	bson_t *update = BCON_NEW("$inc", "{", "uidNext", BCON_INT64(count), "modifyIndex",
				  BCON_INT64(1), "}");
	bson_t doc;
	int ret = mongo_find_modify(store, COL_MAILBOXES, filter, update, false, &doc);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		struct mongo_mailbox_state state;
		if (mongo_mailbox_state(store, mailbox_id, &state) < 0)
			return -1;
		return store_set_error(store, STORE_ERR_INVALID, "mailbox ran out of uids");
	}
	state_from_doc(&doc, state_r);
	bson_destroy(&doc);
	state_r->uid_next -= count;
	return 0;
}

static int journal_insert(struct store *store, const char *user_id, const char *mailbox_id,
			  enum store_journal_command command, uint32_t uid, uint64_t modseq,
			  const char *message_id, const char *const *flags,
			  unsigned int flags_count, const char *path)
{
	bson_oid_t id, mailbox, message, user;
	bson_oid_init(&id, NULL);
	mongo_oid(&mailbox, mailbox_id);
	mongo_oid(&user, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&user));
	bson_t *update = BCON_NEW("$inc", "{", "journalPosition", BCON_INT64(1), "}");
	bson_t udoc;
	int found = mongo_find_modify(store, COL_USERS, filter, update, false, &udoc);
	bson_destroy(filter);
	bson_destroy(update);
	if (found < 0)
		return -1;
	int64_t position = 0;
	if (found > 0) {
		position = mongo_int(&udoc, "journalPosition");
		bson_destroy(&udoc);
	}
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_OID(&doc, "_id", &id);
	BSON_APPEND_OID(&doc, "mailbox", &mailbox);
	BSON_APPEND_OID(&doc, "user", &user);
	BSON_APPEND_INT64(&doc, "position", position);
	BSON_APPEND_UTF8(&doc, "command", journal_names[command]);
	BSON_APPEND_INT64(&doc, "uid", uid);
	BSON_APPEND_INT64(&doc, "modseq", (int64_t)modseq);
	if (message_id != NULL) {
		mongo_oid(&message, message_id);
		BSON_APPEND_OID(&doc, "message", &message);
	}
	if (path != NULL)
		BSON_APPEND_UTF8(&doc, "path", path);
	else if (command != STORE_JOURNAL_EXPUNGE)
		mongo_append_strings(&doc, "flags", flags, flags_count);
	mongo_append_date(&doc, "created", (int64_t)time(NULL));
	int ret = mongo_insert(store, COL_JOURNAL, &doc);
	bson_destroy(&doc);
	return ret;
}

int mongo_journal_add(struct store *store, const char *user_id, const char *mailbox_id,
		      enum store_journal_command command, uint32_t uid, uint64_t modseq,
		      const char *message_id, const char *const *flags, unsigned int flags_count)
{
	return journal_insert(store, user_id, mailbox_id, command, uid, modseq, message_id,
			      flags, flags_count, NULL);
}

/* A mailbox change: an entry of that mailbox with its path, modseq 0; the
 * per-mailbox read (mongo_journal_since()) skips it by command. A delete's
 * entry is written after the purge, so it stays. */
static int mailbox_journal(struct store *store, const char *user_id,
			   enum store_journal_command command, const char *mailbox_id,
			   const char *path)
{
	return journal_insert(store, user_id, mailbox_id, command, 0, 0, NULL, NULL, 0, path);
}

enum store_journal_command mongo_journal_command(const char *name)
{
	for (unsigned int i = STORE_JOURNAL_EXISTS; i <= STORE_JOURNAL_MAILBOX_DELETE; i++)
		if (name != NULL && strcmp(journal_names[i], name) == 0)
			return (enum store_journal_command)i;
	return STORE_JOURNAL_FLAGS;
}

int mongo_journal_since(struct store *store, const char *mailbox_id, uint64_t since,
			store_journal_cb *callback, void *context)
{
	bson_oid_t oid;
	mongo_oid(&oid, mailbox_id);
	bson_t *filter = BCON_NEW("mailbox", BCON_OID(&oid), "modseq", "{", "$gt",
				  BCON_INT64((int64_t)since), "}", "command", "{", "$in", "[",
				  BCON_UTF8(journal_names[STORE_JOURNAL_EXISTS]),
				  BCON_UTF8(journal_names[STORE_JOURNAL_EXPUNGE]),
				  BCON_UTF8(journal_names[STORE_JOURNAL_FLAGS]), "]", "}");
	bson_t *opts = BCON_NEW("sort", "{", "modseq", BCON_INT32(1), "_id", BCON_INT32(1), "}");
	mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(
		mongo_col(store, COL_JOURNAL), filter, opts, NULL);
	bson_destroy(filter);
	bson_destroy(opts);
	struct pool *pool = pool_create(1024);
	const bson_t *doc;
	while (mongoc_cursor_next(cursor, &doc)) {
		struct store_journal_entry entry = {
			.command = mongo_journal_command(mongo_str(pool, doc, "command")),
			.uid = (uint32_t)mongo_int(doc, "uid"),
			.modseq = (uint64_t)mongo_int(doc, "modseq"),
		};
		char message[STORE_ID_SIZE];
		mongo_id(doc, "message", message);
		entry.message = message[0] == '\0' ? NULL : pool_strdup(pool, message);
		mongo_strings(pool, doc, "flags", &entry.flags, &entry.flags_count);
		int stop = callback(&entry, context);
		pool_clear(pool);
		if (stop != 0)
			break;
	}
	bson_error_t error;
	int ret = mongoc_cursor_error(cursor, &error) ? mongo_fail(store, &error, "journal") : 0;
	mongoc_cursor_destroy(cursor);
	pool_destroy(&pool);
	return ret;
}

int mongo_storage_add(struct store *store, const char *user_id, int64_t delta)
{
	bson_oid_t oid;
	mongo_oid(&oid, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
	bson_t *update = BCON_NEW("$inc", "{", "storageUsed", BCON_INT64(delta), "}");
	int ret = mongo_update(store, COL_USERS, filter, update, false, false, NULL);
	bson_destroy(filter);
	bson_destroy(update);
	return ret;
}

/* A compare-and-set on storageUsed (wdctl quota recalc). */
int mongo_user_storage_set(struct store *store, const char *user_id, uint64_t expected,
			   uint64_t value, bool *applied_r)
{
	bson_oid_t oid;
	mongo_oid(&oid, user_id);
	bson_t *filter = expected == 0 ?
		BCON_NEW("_id", BCON_OID(&oid), "storageUsed", "{", "$lte", BCON_INT64(0), "}") :
		BCON_NEW("_id", BCON_OID(&oid), "storageUsed", BCON_INT64((int64_t)expected));
	bson_t *update = BCON_NEW("$set", "{", "storageUsed", BCON_INT64((int64_t)value), "}");
	int64_t matched = 0;
	int ret = mongo_update(store, COL_USERS, filter, update, false, false, &matched);
	bson_destroy(filter);
	bson_destroy(update);
	if (ret < 0)
		return -1;
	*applied_r = matched > 0;
	if (*applied_r)
		return 0;
	filter = BCON_NEW("_id", BCON_OID(&oid));
	int64_t n = 0;
	ret = mongo_count(store, COL_USERS, filter, &n);
	bson_destroy(filter);
	if (ret == 0 && n == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	return ret;
}

/* Read, then add: two deliveries racing may both pass the check, as in
 * WildDuck; the storage counter itself stays exact ($inc). */
int mongo_quota_check(struct store *store, const char *user_id, uint64_t bytes)
{
	bson_oid_t oid;
	mongo_oid(&oid, user_id);
	bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
	bson_t doc;
	int ret = mongo_find_one(store, COL_USERS, filter, NULL, &doc);
	bson_destroy(filter);
	if (ret == 0)
		return store_set_error(store, STORE_ERR_NOT_FOUND, "no such user");
	if (ret < 0)
		return -1;
	uint64_t quota = (uint64_t)mongo_int(&doc, "quota");
	int64_t used_signed = mongo_int(&doc, "storageUsed");
	uint64_t used = used_signed < 0 ? 0 : (uint64_t)used_signed;
	bson_destroy(&doc);
	if (quota > 0 && used + bytes > quota)
		return store_set_error(store, STORE_ERR_OVER_QUOTA,
				       "quota exceeded (%llu + %llu > %llu bytes)",
				       (unsigned long long)used, (unsigned long long)bytes,
				       (unsigned long long)quota);
	return 0;
}
