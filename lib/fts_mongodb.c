/* The MongoDB backend of the full-text index (fts_backend.h), for a cluster
 * where every host must see one index and one set of thread ids. In the
 * store's database:
 *   search             one document per indexed message, _id "MAILBOX:UID":
 *                      user, mailbox, uid, message, thread, seq (the order
 *                      of indexing, for thread listings), the folded fields
 *                      and grams, the distinct trigrams of all fields as
 *                      int64 (three 21-bit code points: exact, no hashing);
 *                      indexes {mailbox, grams} (multikey), {mailbox, uid},
 *                      {user, thread}
 *   indexer_positions  {_id: user, position, updated}
 *   threads            one document per thread as WildDuck names it: _id
 *                      (the thread id), user, ids (message ids), subject (the
 *                      normalised subject it used last), updated;
 *                      indexes {user, ids}, {user, subject, updated}
 * A query takes the trigrams of the folded search string, asks for the
 * mailbox's documents having all of them ($all: no text index, which
 * FerretDB lacks and which is word-based anyway), then checks the exact
 * substring in the field here, so answers equal the scan's. A message
 * whose text would not fit a document is stored without text ("skip") and
 * left out of fts_indexed(): the scan answers for it.
 *
 * No multi-document transactions (FerretDB has none, and DESIGN forbids
 * depending on them): every write is an upsert or delete keyed by what it
 * writes, so the indexer can apply a batch again after a crash and end in
 * the same state; begin/commit/rollback only mark a batch. All three
 * collections are per user: shard them by {user: 1} (INSTALL). */
#include "fts_backend.h"

#include "log.h"
#include "mem.h"
#include "mongo_pool.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistr.h>

/* Bigger texts are not indexed (BSON documents end at 16 MB). */
#define DOC_TEXT_MAX (6 * 1024 * 1024)
#define DOC_GRAMS_MAX 400000
/* A query asks for at most this many of the string's trigrams. */
#define QUERY_GRAMS_MAX 16

enum { C_SEARCH, C_POSITIONS, C_THREADS, C_COUNT };
static const char *const col_names[C_COUNT] = { "search", "indexer_positions", "threads" };

static const char *const field_keys[FTS_FIELD_COUNT] = {
	"subject", "hfrom", "hto", "hcc", "hbcc", "headers", "body", "files",
};

struct mfts {
	mongoc_client_pool_t *pool;	/* process-wide, not ours */
	mongoc_client_t *client;
	mongoc_collection_t *cols[C_COUNT];
	char pass[25];			/* the running re-index, "" none */
	int64_t seq;
};

static struct mfts *ctx_of(struct fts *fts)
{
	return fts->ctx;
}

static int fail(struct fts *fts, const char *what, const bson_error_t *error)
{
	return fts_set_error(fts, "mongodb %s: %s", what, error->message);
}

/* The index's pools (mongo_pool.c), apart from the store's: its own
 * application name and the URI's write concern. The registry's timeouts
 * make an unreachable server fail a search (the scan answers) within
 * seconds. */
static const struct mongo_pool_options pool_options = {
	.appname = "wildduck-c-index",
	.majority_wtimeout_msecs = 0,
};

/* ---- open ---- */

static const struct {
	int col;
	const char *name;
	const char *keys[3];
} index_defs[] = {
	{ C_SEARCH, "mailbox_grams", { "mailbox", "grams", NULL } },
	{ C_SEARCH, "mailbox_uid", { "mailbox", "uid", NULL } },
	{ C_SEARCH, "user_thread", { "user", "thread", NULL } },
	{ C_THREADS, "user_ids", { "user", "ids", NULL } },
	{ C_THREADS, "user_subject", { "user", "subject", "updated" } },
};

static int ensure_indexes(struct fts *fts, mongoc_database_t *db)
{
	for (size_t i = 0; i < sizeof(index_defs) / sizeof(index_defs[0]); i++) {
		bson_t cmd = BSON_INITIALIZER, arr, idx, key, reply;
		BSON_APPEND_UTF8(&cmd, "createIndexes", col_names[index_defs[i].col]);
		BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &idx);
		BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
		for (int k = 0; k < 3 && index_defs[i].keys[k] != NULL; k++)
			BSON_APPEND_INT32(&key, index_defs[i].keys[k], 1);
		bson_append_document_end(&idx, &key);
		BSON_APPEND_UTF8(&idx, "name", index_defs[i].name);
		bson_append_document_end(&arr, &idx);
		bson_append_array_end(&cmd, &arr);
		bson_error_t error;
		bool ok = mongoc_database_write_command_with_opts(db, &cmd, NULL, &reply, &error);
		bson_destroy(&cmd);
		bson_destroy(&reply);
		if (!ok)
			return fail(fts, "create index", &error);
	}
	return 0;
}

int fts_mongodb_open(struct fts *fts, const char *uri, const char *database, bool create)
{
	if (uri == NULL || uri[0] == '\0')
		return fts_set_error(fts, "mongodb index: no store.mongodb_uri");
	const char *dbname = database == NULL || database[0] == '\0' ? "wildduck" : database;
	bson_error_t error;
	struct mongo_pool *pool = mongo_pool_get(uri, &pool_options, &error);
	if (pool == NULL)
		return fts_set_error(fts, "mongodb URI: %s", error.message);
	struct mfts *m = xcalloc(1, sizeof(*m));
	m->pool = mongo_pool_clients(pool);
	m->client = mongoc_client_pool_pop(m->pool);
	for (int i = 0; i < C_COUNT; i++)
		m->cols[i] = mongoc_client_get_collection(m->client, dbname, col_names[i]);
	fts->ctx = m;
	if (!create)
		return 0;
	/* once per process and database: createIndexes is idempotent, not free */
	if (mongo_pool_indexed(pool, dbname))
		return 0;
	mongoc_database_t *db = mongoc_client_get_database(m->client, dbname);
	int ret = ensure_indexes(fts, db);
	mongoc_database_destroy(db);
	if (ret < 0) {
		fts->ops->close(fts);
		return -1;
	}
	mongo_pool_indexed_set(pool, dbname);
	return 0;
}

static void mongodb_close(struct fts *fts)
{
	struct mfts *m = ctx_of(fts);
	for (int i = 0; i < C_COUNT; i++)
		mongoc_collection_destroy(m->cols[i]);
	mongoc_client_pool_push(m->pool, m->client);
	free(m);
	fts->ctx = NULL;
}

/* No transactions: a batch is only a batch (see the top). */
static int mongodb_begin(struct fts *fts, bool write)
{
	return 0;
}

static int mongodb_commit(struct fts *fts)
{
	return 0;
}

static void mongodb_rollback(struct fts *fts)
{
}

/* ---- helpers ---- */

static const char *str_of(const bson_t *doc, const char *key, uint32_t *len_r)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	return bson_iter_utf8(&it, len_r);
}

static int64_t int_of(const bson_t *doc, const char *key)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_NUMBER(&it))
		return 0;
	return bson_iter_as_int64(&it);
}

static void append_str(bson_t *doc, const char *key, const char *s)
{
	if (s == NULL)
		BSON_APPEND_NULL(doc, key);
	else
		BSON_APPEND_UTF8(doc, key, s);
}

static void doc_id(char *out, size_t size, const char *mailbox_id, uint32_t uid)
{
	snprintf(out, size, "%s:%u", mailbox_id, uid);
}

/* Increasing within a process, microseconds: the order in which messages
 * were indexed, close enough across hosts for a listing of threads. */
static int64_t next_seq(struct mfts *m)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	int64_t now = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	m->seq = now > m->seq ? now : m->seq + 1;
	return m->seq;
}

/* ---- trigrams ---- */

struct grams {
	int64_t *items;
	size_t count, cap;
};

static void grams_push(struct grams *g, int64_t v)
{
	if (g->count == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 256;
		g->items = xrealloc(g->items, g->cap * sizeof(*g->items));
	}
	g->items[g->count++] = v;
}

/* Appends the trigrams of text in order (none across FTS_SEP: a search
 * string never contains it). */
static void grams_of(const char *text, size_t len, struct grams *g)
{
	const uint8_t *p = (const uint8_t *)text, *end = p + len;
	ucs4_t w[3] = { 0, 0, 0 };
	int have = 0;
	while (p < end) {
		ucs4_t c;
		int n = u8_mbtouc(&c, p, (size_t)(end - p));
		p += n > 0 ? n : 1;
		if (c == FTS_SEP || c == 0) {
			have = 0;
			continue;
		}
		w[0] = w[1];
		w[1] = w[2];
		w[2] = c;
		if (++have >= 3)
			grams_push(g, ((int64_t)w[0] << 42) | ((int64_t)w[1] << 21) | (int64_t)w[2]);
	}
}

static int cmp_gram(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void grams_unique(struct grams *g)
{
	if (g->count == 0)
		return;
	qsort(g->items, g->count, sizeof(*g->items), cmp_gram);
	size_t n = 1;
	for (size_t i = 1; i < g->count; i++)
		if (g->items[i] != g->items[n - 1])
			g->items[n++] = g->items[i];
	g->count = n;
}

static void append_grams(bson_t *doc, const char *key, const int64_t *items, size_t count)
{
	bson_t arr;
	BSON_APPEND_ARRAY_BEGIN(doc, key, &arr);
	for (size_t i = 0; i < count; i++) {
		char k[16];
		const char *kp;
		size_t kl = bson_uint32_to_string((uint32_t)i, &kp, k, sizeof(k));
		bson_append_int64(&arr, kp, (int)kl, items[i]);
	}
	bson_append_array_end(doc, &arr);
}

/* ---- messages ---- */

static int mongodb_add(struct fts *fts, const char *mailbox_id, uint32_t uid,
		       const struct fts_doc *doc)
{
	struct mfts *m = ctx_of(fts);
	char id[64];
	doc_id(id, sizeof(id), mailbox_id, uid);
	size_t total = 0;
	for (int i = 0; i < FTS_FIELD_COUNT; i++)
		total += doc->fields[i] != NULL ? strlen(doc->fields[i]) : 0;
	struct grams g = { 0 };
	if (total <= DOC_TEXT_MAX) {
		for (int i = 0; i < FTS_FIELD_COUNT; i++)
			if (doc->fields[i] != NULL)
				grams_of(doc->fields[i], strlen(doc->fields[i]), &g);
		grams_unique(&g);
	}
	bool skip = total > DOC_TEXT_MAX || g.count > DOC_GRAMS_MAX;
	bson_t filter = BSON_INITIALIZER, rep = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "_id", id);
	/* the shard key: an upsert on a sharded collection needs it (it
	 * costs FerretDB a collection scan, ~15 ms -> ~200 ms per add at 500
	 * documents; a real server uses the _id index) */
	append_str(&filter, "user", doc->user);
	append_str(&rep, "user", doc->user);
	BSON_APPEND_UTF8(&rep, "mailbox", mailbox_id);
	BSON_APPEND_INT64(&rep, "uid", uid);
	append_str(&rep, "message", doc->message);
	append_str(&rep, "thread", doc->thread);
	BSON_APPEND_INT64(&rep, "seq", next_seq(m));
	if (m->pass[0] != '\0')
		BSON_APPEND_UTF8(&rep, "pass", m->pass);
	if (skip) {
		BSON_APPEND_BOOL(&rep, "skip", true);
	} else {
		for (int i = 0; i < FTS_FIELD_COUNT; i++)
			BSON_APPEND_UTF8(&rep, field_keys[i],
					 doc->fields[i] != NULL ? doc->fields[i] : "");
		append_grams(&rep, "grams", g.items, g.count);
	}
	free(g.items);
	bson_t opts = BSON_INITIALIZER;
	BSON_APPEND_BOOL(&opts, "upsert", true);
	bson_error_t error;
	bool ok = mongoc_collection_replace_one(m->cols[C_SEARCH], &filter, &rep, &opts, NULL,
						&error);
	bson_destroy(&opts);
	bson_destroy(&filter);
	bson_destroy(&rep);
	if (skip)
		log_info("event=fts_not_indexed mailbox=%s uid=%u text_bytes=%zu reason=too_big",
			 mailbox_id, uid, total);
	return ok ? 0 : fail(fts, "add", &error);
}

static int delete_where(struct fts *fts, int col, const bson_t *filter, bool many,
			const char *what)
{
	bson_error_t error;
	bool ok = many ?
		mongoc_collection_delete_many(ctx_of(fts)->cols[col], filter, NULL, NULL, &error) :
		mongoc_collection_delete_one(ctx_of(fts)->cols[col], filter, NULL, NULL, &error);
	return ok ? 0 : fail(fts, what, &error);
}

static int mongodb_remove(struct fts *fts, const char *mailbox_id, uint32_t uid)
{
	char id[64];
	doc_id(id, sizeof(id), mailbox_id, uid);
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "_id", id);
	int ret = delete_where(fts, C_SEARCH, &filter, false, "remove");
	bson_destroy(&filter);
	return ret;
}

/* The user is in the filter: the shard key of the search collection. */
static int mongodb_remove_mailbox(struct fts *fts, const char *user_id, const char *mailbox_id)
{
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "user", user_id);
	BSON_APPEND_UTF8(&filter, "mailbox", mailbox_id);
	int ret = delete_where(fts, C_SEARCH, &filter, true, "remove mailbox");
	bson_destroy(&filter);
	return ret;
}

static int mongodb_remove_user(struct fts *fts, const char *user_id)
{
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "user", user_id);
	int ret = delete_where(fts, C_SEARCH, &filter, true, "remove user");
	bson_destroy(&filter);
	return ret;
}

/* A re-index marks what it adds with a pass id and then drops the user's
 * documents of other passes: searches keep the old documents until then. */
static int mongodb_reindex_start(struct fts *fts, const char *user_id)
{
	bson_oid_t oid;
	bson_oid_init(&oid, NULL);
	bson_oid_to_string(&oid, ctx_of(fts)->pass);
	return 0;
}

static int mongodb_reindex_finish(struct fts *fts, const char *user_id)
{
	struct mfts *m = ctx_of(fts);
	if (m->pass[0] == '\0')
		return 0;
	bson_t filter = BSON_INITIALIZER, ne;
	BSON_APPEND_UTF8(&filter, "user", user_id);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "pass", &ne);
	BSON_APPEND_UTF8(&ne, "$ne", m->pass);
	bson_append_document_end(&filter, &ne);
	int ret = delete_where(fts, C_SEARCH, &filter, true, "reindex prune");
	bson_destroy(&filter);
	m->pass[0] = '\0';
	return ret;
}

/* ---- positions ---- */

static int mongodb_position_get(struct fts *fts, const char *user_id, int64_t *position_r,
				bool *found_r)
{
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "_id", user_id);
	mongoc_cursor_t *c = mongoc_collection_find_with_opts(ctx_of(fts)->cols[C_POSITIONS],
							      &filter, NULL, NULL);
	const bson_t *doc;
	*found_r = false;
	*position_r = 0;
	if (mongoc_cursor_next(c, &doc)) {
		*found_r = true;
		*position_r = int_of(doc, "position");
	}
	bson_error_t error;
	int ret = mongoc_cursor_error(c, &error) ? fail(fts, "position", &error) : 0;
	mongoc_cursor_destroy(c);
	bson_destroy(&filter);
	return ret;
}

static int mongodb_position_set(struct fts *fts, const char *user_id, int64_t position)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set, opts = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "_id", user_id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "position", position);
	BSON_APPEND_DATE_TIME(&set, "updated", (int64_t)time(NULL) * 1000);
	bson_append_document_end(&update, &set);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	bson_error_t error;
	bool ok = mongoc_collection_update_one(ctx_of(fts)->cols[C_POSITIONS], &filter, &update,
					       &opts, NULL, &error);
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	return ok ? 0 : fail(fts, "position set", &error);
}

static int mongodb_position_clear(struct fts *fts, const char *user_id)
{
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "_id", user_id);
	int ret = delete_where(fts, C_POSITIONS, &filter, false, "position clear");
	bson_destroy(&filter);
	return ret;
}

/* ---- queries ---- */

typedef int doc_cb(struct fts *fts, const bson_t *doc, void *ctx);

static int find_each(struct fts *fts, int col, const bson_t *filter, const bson_t *opts,
		     doc_cb *cb, void *ctx, const char *what)
{
	mongoc_cursor_t *c = mongoc_collection_find_with_opts(ctx_of(fts)->cols[col], filter,
							      opts, NULL);
	const bson_t *doc;
	int ret = 0;
	while (ret == 0 && mongoc_cursor_next(c, &doc))
		ret = cb(fts, doc, ctx);
	bson_error_t error;
	if (ret == 0 && mongoc_cursor_error(c, &error))
		ret = fail(fts, what, &error);
	mongoc_cursor_destroy(c);
	return ret < 0 ? -1 : 0;
}

struct uid_list {
	uint32_t *uids;
	size_t count, cap;
	enum fts_field field;
	const char *needle;
	size_t needle_len;
};

static void uid_push(struct uid_list *l, uint32_t uid)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->uids = xrealloc(l->uids, l->cap * sizeof(*l->uids));
	}
	l->uids[l->count++] = uid;
}

static int indexed_row(struct fts *fts, const bson_t *doc, void *ctx)
{
	bson_iter_t it;
	if (bson_iter_init_find(&it, doc, "skip") && bson_iter_as_bool(&it))
		return 0; /* not indexed: the scan answers for it */
	uid_push(ctx, (uint32_t)int_of(doc, "uid"));
	return 0;
}

static void projection(bson_t *opts, const char *const *keys)
{
	bson_t proj;
	BSON_APPEND_DOCUMENT_BEGIN(opts, "projection", &proj);
	for (; *keys != NULL; keys++)
		BSON_APPEND_INT32(&proj, *keys, 1);
	bson_append_document_end(opts, &proj);
}

static int mongodb_indexed(struct fts *fts, const char *mailbox_id, uint32_t **uids_r,
			   size_t *count_r)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "mailbox", mailbox_id);
	projection(&opts, (const char *const[]){ "uid", "skip", NULL });
	struct uid_list l = { 0 };
	int ret = find_each(fts, C_SEARCH, &filter, &opts, indexed_row, &l, "indexed");
	bson_destroy(&filter);
	bson_destroy(&opts);
	if (ret < 0) {
		free(l.uids);
		return -1;
	}
	*uids_r = l.uids;
	*count_r = fts_uids_sort(l.uids, l.count);
	return 0;
}

static bool field_has(const bson_t *doc, const char *key, const struct uid_list *l)
{
	uint32_t len;
	const char *text = str_of(doc, key, &len);
	return text != NULL && memmem(text, len, l->needle, l->needle_len) != NULL;
}

/* A candidate with every trigram: the exact check. */
static int query_row(struct fts *fts, const bson_t *doc, void *ctx)
{
	struct uid_list *l = ctx;
	bool hit = l->field == FTS_TEXT ?
		field_has(doc, field_keys[FTS_HEADERS], l) || field_has(doc, field_keys[FTS_BODY], l) :
		field_has(doc, field_keys[l->field], l);
	if (hit)
		uid_push(l, (uint32_t)int_of(doc, "uid"));
	return 0;
}

static int mongodb_query(struct fts *fts, const char *mailbox_id, enum fts_field field,
			 const char *folded, uint32_t **uids_r, size_t *count_r)
{
	/* the string's distinct trigrams, at most QUERY_GRAMS_MAX spread over
	 * it: fewer only means more candidates for the exact check */
	struct grams g = { 0 };
	grams_of(folded, strlen(folded), &g);
	size_t n = 0;
	for (size_t i = 0; i < g.count; i++) {
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = g.items[k] == g.items[i];
		if (!dup)
			g.items[n++] = g.items[i];
	}
	int64_t pick[QUERY_GRAMS_MAX];
	size_t npick = n <= QUERY_GRAMS_MAX ? n : QUERY_GRAMS_MAX;
	for (size_t i = 0; i < npick; i++)
		pick[i] = g.items[n <= QUERY_GRAMS_MAX ? i : i * n / QUERY_GRAMS_MAX];
	free(g.items);
	if (npick == 0)
		return fts_set_error(fts, "query: no trigrams (not fts_query_usable)");

	bson_t filter = BSON_INITIALIZER, grams, opts = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "mailbox", mailbox_id);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "grams", &grams);
	append_grams(&grams, "$all", pick, npick);
	bson_append_document_end(&filter, &grams);
	if (field == FTS_TEXT)
		projection(&opts, (const char *const[]){ "uid", field_keys[FTS_HEADERS],
							 field_keys[FTS_BODY], NULL });
	else
		projection(&opts, (const char *const[]){ "uid", field_keys[field], NULL });
	struct uid_list l = { .field = field, .needle = folded, .needle_len = strlen(folded) };
	int ret = find_each(fts, C_SEARCH, &filter, &opts, query_row, &l, "query");
	bson_destroy(&filter);
	bson_destroy(&opts);
	if (ret < 0) {
		free(l.uids);
		return -1;
	}
	*uids_r = l.uids;
	*count_r = fts_uids_sort(l.uids, l.count);
	return 0;
}

static int mongodb_count(struct fts *fts, const char *user_id, uint64_t *count_r)
{
	bson_t filter = BSON_INITIALIZER;
	if (user_id != NULL)
		BSON_APPEND_UTF8(&filter, "user", user_id);
	bson_error_t error;
	int64_t n = mongoc_collection_count_documents(ctx_of(fts)->cols[C_SEARCH], &filter, NULL,
						      NULL, NULL, &error);
	bson_destroy(&filter);
	if (n < 0)
		return fail(fts, "count", &error);
	*count_r = (uint64_t)n;
	return 0;
}

/* ---- thread listing: grouped here (FerretDB's $group is thin) ---- */

struct trow {
	char thread[FTS_THREAD_SIZE];
	char mailbox[FTS_THREAD_SIZE];
	uint32_t uid;
	int64_t seq;
};

struct trows {
	struct trow *items;
	size_t count, cap;
};

static int thread_row(struct fts *fts, const bson_t *doc, void *ctx)
{
	struct trows *l = ctx;
	const char *thread = str_of(doc, "thread", NULL), *mailbox = str_of(doc, "mailbox", NULL);
	if (thread == NULL || mailbox == NULL || strlen(thread) >= FTS_THREAD_SIZE ||
	    strlen(mailbox) >= FTS_THREAD_SIZE)
		return 0;
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	struct trow *r = &l->items[l->count++];
	memcpy(r->thread, thread, strlen(thread) + 1);
	memcpy(r->mailbox, mailbox, strlen(mailbox) + 1);
	r->uid = (uint32_t)int_of(doc, "uid");
	r->seq = int_of(doc, "seq");
	return 0;
}

static int cmp_trow_thread(const void *a, const void *b)
{
	const struct trow *x = a, *y = b;
	int c = strcmp(x->thread, y->thread);
	return c != 0 ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct tgroup {
	const struct trow *last;
	uint64_t messages;
};

static int cmp_group_last(const void *a, const void *b)
{
	const struct tgroup *x = a, *y = b;
	return x->last->seq > y->last->seq ? -1 : x->last->seq < y->last->seq;
}

static int mongodb_threads(struct fts *fts, const char *user_id, int64_t cursor,
			   unsigned int limit, fts_thread_cb *cb, void *ctx)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "user", user_id);
	projection(&opts, (const char *const[]){ "thread", "mailbox", "uid", "seq", NULL });
	struct trows l = { 0 };
	int ret = find_each(fts, C_SEARCH, &filter, &opts, thread_row, &l, "threads");
	bson_destroy(&filter);
	bson_destroy(&opts);
	if (ret < 0 || l.count == 0) {
		free(l.items);
		return ret;
	}
	qsort(l.items, l.count, sizeof(*l.items), cmp_trow_thread);
	struct tgroup *groups = xmalloc(l.count * sizeof(*groups));
	size_t ng = 0;
	for (size_t i = 0; i < l.count; i++) {
		if (i == 0 || strcmp(l.items[i].thread, l.items[i - 1].thread) != 0)
			groups[ng++] = (struct tgroup){ .messages = 0 };
		groups[ng - 1].last = &l.items[i]; /* sorted by seq within a thread */
		groups[ng - 1].messages++;
	}
	qsort(groups, ng, sizeof(*groups), cmp_group_last);
	unsigned int sent = 0;
	for (size_t i = 0; i < ng && sent < limit; i++) {
		if (cursor != 0 && groups[i].last->seq >= cursor)
			continue;
		struct fts_thread_row row = {
			.thread = groups[i].last->thread,
			.messages = groups[i].messages,
			.mailbox = groups[i].last->mailbox,
			.uid = groups[i].last->uid,
			.last = groups[i].last->seq,
		};
		sent++;
		if (cb(&row, ctx) != 0)
			break;
	}
	free(groups);
	free(l.items);
	return 0;
}

/* ---- the threads collection ---- */

static int found_row(struct fts *fts, const bson_t *doc, void *ctx)
{
	void **a = ctx;
	const char *id = str_of(doc, "_id", NULL);
	return id != NULL ? ((fts_thread_found_cb *)a[0])(id, a[1]) : 0;
}

static int mongodb_thread_find(struct fts *fts, const char *user_id, const char *const *refs,
			       size_t count, fts_thread_found_cb *cb, void *ctx)
{
	if (count == 0)
		return 0;
	bson_t filter = BSON_INITIALIZER, ids, in, opts = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "user", user_id);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "ids", &ids);
	BSON_APPEND_ARRAY_BEGIN(&ids, "$in", &in);
	for (size_t i = 0; i < count; i++) {
		char k[16];
		const char *kp;
		size_t kl = bson_uint32_to_string((uint32_t)i, &kp, k, sizeof(k));
		bson_append_utf8(&in, kp, (int)kl, refs[i], -1);
	}
	bson_append_array_end(&ids, &in);
	bson_append_document_end(&filter, &ids);
	projection(&opts, (const char *const[]){ "_id", NULL });
	void *a[2] = { (void *)cb, ctx };
	int ret = find_each(fts, C_THREADS, &filter, &opts, found_row, a, "thread find");
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ret;
}

struct subject_hit {
	char *thread;
	bool found;
};

static int subject_row(struct fts *fts, const bson_t *doc, void *ctx)
{
	struct subject_hit *h = ctx;
	const char *id = str_of(doc, "_id", NULL);
	if (id != NULL && strlen(id) < FTS_THREAD_SIZE && !h->found) {
		memcpy(h->thread, id, strlen(id) + 1);
		h->found = true;
	}
	return 0;
}

static int mongodb_thread_subject_get(struct fts *fts, const char *user_id, const char *subject,
				      char thread_r[FTS_THREAD_SIZE], bool *found_r)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	BSON_APPEND_UTF8(&filter, "user", user_id);
	BSON_APPEND_UTF8(&filter, "subject", subject);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "updated", -1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", 1);
	projection(&opts, (const char *const[]){ "_id", NULL });
	struct subject_hit h = { thread_r, false };
	int ret = find_each(fts, C_THREADS, &filter, &opts, subject_row, &h, "thread subject");
	bson_destroy(&filter);
	bson_destroy(&opts);
	*found_r = h.found;
	return ret;
}

/* Adds ids to thread's document (made if missing); subject "": unchanged. */
static int thread_upsert(struct fts *fts, const char *user_id, const char *thread,
		const char *const *refs, size_t count, const char *subject)
{
	struct mfts *m = ctx_of(fts);
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set, add, each,
		opts = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "_id", thread);
	BSON_APPEND_UTF8(&filter, "user", user_id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "updated", next_seq(m));
	if (subject != NULL && subject[0] != '\0')
		BSON_APPEND_UTF8(&set, "subject", subject);
	bson_append_document_end(&update, &set);
	if (count > 0) {
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$addToSet", &add);
		BSON_APPEND_DOCUMENT_BEGIN(&add, "ids", &each);
		bson_t arr;
		BSON_APPEND_ARRAY_BEGIN(&each, "$each", &arr);
		for (size_t i = 0; i < count; i++) {
			char k[16];
			const char *kp;
			size_t kl = bson_uint32_to_string((uint32_t)i, &kp, k, sizeof(k));
			bson_append_utf8(&arr, kp, (int)kl, refs[i], -1);
		}
		bson_append_array_end(&each, &arr);
		bson_append_document_end(&add, &each);
		bson_append_document_end(&update, &add);
	}
	BSON_APPEND_BOOL(&opts, "upsert", true);
	bson_error_t error;
	bool ok = mongoc_collection_update_one(m->cols[C_THREADS], &filter, &update, &opts, NULL,
					       &error);
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	return ok ? 0 : fail(fts, "thread link", &error);
}

static int mongodb_thread_link(struct fts *fts, const char *user_id, const char *thread,
			       const char *const *refs, size_t count, const char *subject)
{
	if (count == 0 && subject[0] == '\0')
		return 0; /* nothing could ever find it */
	return thread_upsert(fts, user_id, thread, refs, count, subject);
}

struct old_thread {
	char **ids;
	size_t count;
};

static int old_row(struct fts *fts, const bson_t *doc, void *ctx)
{
	struct old_thread *o = ctx;
	bson_iter_t it, arr;
	if (!bson_iter_init_find(&it, doc, "ids") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr))
		return 0;
	while (bson_iter_next(&arr))
		if (BSON_ITER_HOLDS_UTF8(&arr)) {
			o->ids = xrealloc(o->ids, (o->count + 1) * sizeof(*o->ids));
			o->ids[o->count++] = xstrdup(bson_iter_utf8(&arr, NULL));
		}
	return 0;
}

/* In an order that a crash at any point leaves repeatable: the ids go to
 * `to` first (both threads then hold them and are found and merged
 * again), the messages next, `from` last. */
static int mongodb_thread_move(struct fts *fts, const char *user_id, const char *from,
			       const char *to)
{
	struct mfts *m = ctx_of(fts);
	bson_t filter = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "_id", from);
	BSON_APPEND_UTF8(&filter, "user", user_id);
	struct old_thread o = { 0 };
	int ret = find_each(fts, C_THREADS, &filter, NULL, old_row, &o, "thread move");
	if (ret == 0 && o.count > 0)
		ret = thread_upsert(fts, user_id, to, (const char *const *)o.ids, o.count, NULL);
	for (size_t i = 0; i < o.count; i++)
		free(o.ids[i]);
	free(o.ids);
	if (ret == 0) {
		bson_t f = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
		BSON_APPEND_UTF8(&f, "user", user_id);
		BSON_APPEND_UTF8(&f, "thread", from);
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		BSON_APPEND_UTF8(&set, "thread", to);
		bson_append_document_end(&update, &set);
		bson_error_t error;
		if (!mongoc_collection_update_many(m->cols[C_SEARCH], &f, &update, NULL, NULL,
						   &error))
			ret = fail(fts, "thread move", &error);
		bson_destroy(&f);
		bson_destroy(&update);
	}
	if (ret == 0)
		ret = delete_where(fts, C_THREADS, &filter, false, "thread move");
	bson_destroy(&filter);
	return ret;
}

struct docs_ctx {
	fts_thread_doc_cb *cb;
	void *ctx;
};

static int doc_row(struct fts *fts, const bson_t *doc, void *ctx)
{
	struct docs_ctx *d = ctx;
	const char *mailbox = str_of(doc, "mailbox", NULL);
	if (mailbox == NULL)
		return 0;
	if (d->cb(mailbox, (uint32_t)int_of(doc, "uid"), d->ctx) != 0)
		return fts_set_error(fts, "thread docs: stopped");
	return 0;
}

static int mongodb_thread_docs(struct fts *fts, const char *user_id, const char *thread,
			       fts_thread_doc_cb *cb, void *ctx)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&filter, "user", user_id);
	BSON_APPEND_UTF8(&filter, "thread", thread);
	projection(&opts, (const char *const[]){ "mailbox", "uid", NULL });
	struct docs_ctx d = { cb, ctx };
	int ret = find_each(fts, C_SEARCH, &filter, &opts, doc_row, &d, "thread docs");
	bson_destroy(&filter);
	bson_destroy(&opts);
	return ret;
}

const struct fts_ops fts_mongodb_ops = {
	.name = "mongodb",
	.transactions = false,
	.close = mongodb_close,
	.begin = mongodb_begin,
	.commit = mongodb_commit,
	.rollback = mongodb_rollback,
	.add = mongodb_add,
	.remove = mongodb_remove,
	.remove_mailbox = mongodb_remove_mailbox,
	.remove_user = mongodb_remove_user,
	.reindex_start = mongodb_reindex_start,
	.reindex_finish = mongodb_reindex_finish,
	.position_get = mongodb_position_get,
	.position_set = mongodb_position_set,
	.position_clear = mongodb_position_clear,
	.indexed = mongodb_indexed,
	.query = mongodb_query,
	.count = mongodb_count,
	.threads = mongodb_threads,
	.thread_find = mongodb_thread_find,
	.thread_subject_get = mongodb_thread_subject_get,
	.thread_link = mongodb_thread_link,
	.thread_move = mongodb_thread_move,
	.thread_docs = mongodb_thread_docs,
};
