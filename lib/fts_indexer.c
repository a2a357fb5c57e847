/* Text extraction and journal following for the full-text index (see
 * fts_indexer.h). The extraction mirrors imap/cmd_search.c's scan piece by
 * piece (each header value raw and RFC 2047-decoded, the text/plain text,
 * the text of the HTML), each piece folded on its own and joined by
 * FTS_SEP, so a substring without FTS_SEP matches the index exactly when
 * the scan would match. */
#include "fts_indexer.h"

#include "buffer.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "mime.h"
#include "mime_text.h"
#include "pool.h"
#include "rfc2047.h"
#include "store.h"
#include "store_thread.h"
#include "thread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Appends the folded piece and a separator; NUL bytes (never in a search
 * string, and they would cut SQLite's text) become separators too. */
static void add_piece(struct buffer *b, const char *text, size_t len)
{
	size_t flen;
	char *f = fts_fold(text, len, &flen);
	if (f == NULL)
		return; /* not UTF-8: the scan cannot match it either */
	for (size_t i = 0; i < flen; i++)
		if (f[i] == '\0')
			f[i] = FTS_SEP;
	buffer_append(b, f, flen);
	buffer_append_c(b, FTS_SEP);
	free(f);
}

static int header_field(const unsigned char *name, size_t len)
{
	static const char *const names[] = { "subject", "from", "to", "cc", "bcc" };
	static const enum fts_field fields[] = { FTS_SUBJECT, FTS_FROM, FTS_TO, FTS_CC, FTS_BCC };
	for (size_t i = 0; i < 5; i++)
		if (strlen(names[i]) == len && strncasecmp(names[i], (const char *)name, len) == 0)
			return (int)fields[i];
	return -1;
}

void fts_doc_extract(const struct mime_message *msg, const struct mime_text *text,
		     struct pool *pool, struct fts_doc *doc)
{
	struct buffer f[FTS_FIELD_COUNT];
	for (int i = 0; i < FTS_FIELD_COUNT; i++)
		buffer_init(&f[i]);
	const struct mime_part *root = msg->root;
	struct mime_header_iter it;
	const unsigned char *name, *value;
	size_t name_len, value_len;
	mime_header_iter_init(&it, root->header, root->header_end - root->header_start);
	while (mime_header_next(&it, &name, &name_len, &value, &value_len)) {
		struct buffer dec = BUFFER_INIT;
		rfc2047_decode(value, value_len, &dec);
		int which = header_field(name, name_len);
		struct buffer *targets[2] = { &f[FTS_HEADERS], which >= 0 ? &f[which] : NULL };
		for (int t = 0; t < 2 && targets[t] != NULL; t++) {
			add_piece(targets[t], (const char *)value, value_len);
			add_piece(targets[t], buffer_cstr(&dec), dec.len);
		}
		buffer_free(&dec);
	}
	if (text != NULL) {
		add_piece(&f[FTS_BODY], text->text, strlen(text->text));
		struct buffer html = BUFFER_INIT;
		fts_html_text(text->html, strlen(text->html), &html);
		add_piece(&f[FTS_BODY], buffer_cstr(&html), html.len);
		buffer_free(&html);
		for (size_t i = 0; i < text->attachment_count; i++)
			if (text->attachments[i].filename != NULL)
				add_piece(&f[FTS_FILES], text->attachments[i].filename,
					  strlen(text->attachments[i].filename));
	}
	for (int i = 0; i < FTS_FIELD_COUNT; i++) {
		doc->fields[i] = f[i].len > 0 ?
			pool_strndup(pool, (const char *)f[i].data, f[i].len) : "";
		buffer_free(&f[i]);
	}
}

/* The first value of a header field of the message, unfolded, or NULL. */
static const char *header_get(struct pool *pool, const struct mime_message *msg, const char *field)
{
	struct mime_header_iter it;
	const unsigned char *name, *value;
	size_t name_len, value_len;
	const struct mime_part *root = msg->root;
	mime_header_iter_init(&it, root->header, root->header_end - root->header_start);
	while (mime_header_next(&it, &name, &name_len, &value, &value_len))
		if (strlen(field) == name_len && strncasecmp(field, (const char *)name, name_len) == 0)
			return mime_header_unfold(pool, value, value_len);
	return NULL;
}

struct merge_ctx {
	struct store *store;
	struct fts *fts;
	const char *user;
	const char *to;		/* the thread being merged into */
	struct fts_index_stats *stats;
};

/* One indexed message of a thread that went away: its stored copy gets
 * the thread it went into (gone from the store: nothing to do). */
static int thread_doc_moved(const char *mailbox, uint32_t uid, void *context)
{
	struct merge_ctx *m = context;
	const char *error;
	if (store_message_thread_set(m->store, mailbox, uid, m->to, &error) < 0 &&
	    store_last_error(m->store) != STORE_ERR_NOT_FOUND) {
		log_warn("event=thread_repair_failed mailbox=%s uid=%u error=\"%s\"", mailbox, uid,
			 error);
		return -1;
	}
	m->stats->threads_changed++;
	return 0;
}

/* A thread went into another: move the store's messages of it. */
static int thread_merged(const char *from, const char *to, void *context)
{
	struct merge_ctx *m = context;
	const char *error;
	m->to = to;
	if (fts_thread_docs(m->fts, m->user, from, thread_doc_moved, m, &error) < 0)
		return -1;
	log_debug("event=thread_merged from=%s to=%s", from, to);
	return 0;
}

/* Indexes one stored message (inside the caller's write transaction). A
 * message gone from the store is skipped: its EXPUNGE follows. */
static int index_message(struct store *store, struct fts *fts, const char *user_id,
			 const char *mailbox_id, uint32_t uid, struct fts_index_stats *stats,
			 const char **error_r)
{
	struct pool *pool = pool_create(4096);
	struct store_message *m;
	struct buffer raw = BUFFER_INIT;
	struct mime_message *msg = NULL;
	struct mime_text *text = NULL;
	int ret = -1;
	if (store_message_get(store, mailbox_id, uid, pool, &m, error_r) < 0) {
		ret = store_last_error(store) == STORE_ERR_NOT_FOUND ? 0 : -1;
		goto out;
	}
	if (message_rebuild(store, m->id, &raw, error_r) < 0) {
		ret = store_last_error(store) == STORE_ERR_NOT_FOUND ? 0 : -1;
		goto out;
	}
	mime_parse(raw.data, raw.len, &msg);
	const char *terror;
	if (mime_message_text(msg, &text, &terror) < 0)
		text = NULL;
	struct thread_message tm = {
		.user = user_id,
		.message_id = header_get(pool, msg, "Message-ID"),
		.in_reply_to = header_get(pool, msg, "In-Reply-To"),
		.references = header_get(pool, msg, "References"),
		.subject = text != NULL ? text->subject : NULL,
	};
	struct merge_ctx mc = { .store = store, .fts = fts, .user = user_id, .stats = stats };
	char thread[STORE_ID_SIZE];
	if (thread_assign(fts, &tm, thread_merged, &mc, thread, error_r) < 0)
		goto out;
	if (m->thread == NULL || strcmp(m->thread, thread) != 0) {
		if (store_message_thread_set(store, mailbox_id, uid, thread, error_r) < 0 &&
		    store_last_error(store) != STORE_ERR_NOT_FOUND)
			goto out;
		stats->threads_changed++;
	}
	struct fts_doc doc = { .user = user_id, .message = m->id, .thread = thread };
	fts_doc_extract(msg, text, pool, &doc);
	if (fts_add(fts, mailbox_id, uid, &doc, error_r) < 0)
		goto out;
	stats->indexed++;
	ret = 0;
out:
	mime_text_free(&text);
	mime_message_free(&msg);
	buffer_free(&raw);
	pool_destroy(&pool);
	return ret;
}

struct entry {
	int64_t position;
	enum store_journal_command command;
	char mailbox[STORE_ID_SIZE];
	uint32_t uid;
};

struct entries {
	struct entry *items;
	size_t count, cap;
};

static int journal_collect(const struct store_journal_user_entry *e, void *context)
{
	struct entries *l = context;
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	struct entry *x = &l->items[l->count++];
	x->position = e->position;
	x->command = e->entry.command;
	memcpy(x->mailbox, e->mailbox, STORE_ID_SIZE);
	x->uid = e->entry.uid;
	return 0;
}

struct msg_ref {
	char mailbox[STORE_ID_SIZE];
	uint32_t uid;
};

struct msg_refs {
	struct msg_ref *items;
	size_t count, cap;
	const char *mailbox;
};

static int message_collect(const struct store_message *m, void *context)
{
	struct msg_refs *l = context;
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	memcpy(l->items[l->count].mailbox, l->mailbox, STORE_ID_SIZE);
	l->items[l->count++].uid = m->uid;
	return 0;
}

static int reindex_locked(struct store *store, struct fts *fts, const char *user_id,
			  fts_progress_cb *progress, void *ctx, struct fts_index_stats *stats,
			  const char **error_r)
{
	int64_t last;
	if (store_journal_user_last(store, user_id, &last, error_r) < 0)
		return -1;
	struct pool *pool = pool_create(4096);
	struct store_mailbox *boxes;
	unsigned int nboxes;
	struct msg_refs refs = { 0 };
	int ret = -1;
	if (store_mailbox_list(store, user_id, pool, &boxes, &nboxes, error_r) < 0)
		goto out;
	for (unsigned int i = 0; i < nboxes; i++) {
		refs.mailbox = boxes[i].id;
		if (store_message_list(store, boxes[i].id, NULL, 0, message_collect, &refs,
				       error_r) < 0)
			goto out;
	}
	if (fts_reindex_start(fts, user_id, error_r) < 0)
		goto out;
	for (size_t i = 0; i < refs.count; i++) {
		if (index_message(store, fts, user_id, refs.items[i].mailbox, refs.items[i].uid,
				  stats, error_r) < 0)
			goto out;
		if (progress != NULL && ((i + 1) % 500 == 0 || i + 1 == refs.count))
			progress(i + 1, refs.count, ctx);
	}
	if (refs.count == 0 && progress != NULL)
		progress(0, 0, ctx);
	if (fts_reindex_finish(fts, user_id, error_r) < 0)
		goto out;
	ret = fts_position_set(fts, user_id, last, error_r);
out:
	free(refs.items);
	pool_destroy(&pool);
	return ret;
}

int fts_reindex_user(struct store *store, struct fts *fts, const char *user_id,
		     fts_progress_cb *progress, void *ctx, struct fts_index_stats *stats,
		     const char **error_r)
{
	if (fts_begin(fts, true, error_r) < 0)
		return -1;
	if (reindex_locked(store, fts, user_id, progress, ctx, stats, error_r) < 0) {
		fts_rollback(fts);
		return -1;
	}
	return fts_commit(fts, error_r);
}

int fts_index_user(struct store *store, struct fts *fts, const char *user_id,
		   unsigned int batch, struct fts_index_stats *stats, const char **error_r)
{
	/* the position is read inside the write transaction: a second
	 * indexer waits here and then starts after what this one did */
	if (fts_begin(fts, true, error_r) < 0)
		return -1;
	int64_t position;
	bool found;
	struct entries l = { 0 };
	int ret = -1;
	if (fts_position_get(fts, user_id, &position, &found, error_r) < 0)
		goto fail;
	if (!found) {
		if (reindex_locked(store, fts, user_id, NULL, NULL, stats, error_r) < 0)
			goto fail;
		ret = 1;
		goto commit;
	}
	if (store_journal_user_since(store, user_id, position, batch, journal_collect, &l,
				     error_r) < 0)
		goto fail;
	for (size_t i = 0; i < l.count; i++) {
		struct entry *e = &l.items[i];
		if (e->command == STORE_JOURNAL_EXISTS) {
			if (index_message(store, fts, user_id, e->mailbox, e->uid, stats, error_r) < 0)
				goto fail;
		} else if (e->command == STORE_JOURNAL_EXPUNGE) {
			if (fts_remove(fts, e->mailbox, e->uid, error_r) < 0)
				goto fail;
			stats->removed++;
		} else if (e->command == STORE_JOURNAL_MAILBOX_DELETE) {
			/* its messages go without EXPUNGE entries */
			if (fts_remove_mailbox(fts, user_id, e->mailbox, error_r) < 0)
				goto fail;
		}
	}
	if (l.count > 0 && fts_position_set(fts, user_id, l.items[l.count - 1].position,
					     error_r) < 0)
		goto fail;
	ret = l.count == batch ? 1 : 0;
commit:
	free(l.items);
	if (fts_commit(fts, error_r) < 0)
		return -1;
	return ret;
fail:
	free(l.items);
	fts_rollback(fts);
	return -1;
}
