/* Messages: listing (newest first, cursor pages), the parsed message, the
 * raw message.eml, attachments, flag changes and moves, deletion, upload
 * (raw or composed from JSON) and search. */
#include "api.h"

#include "api_message.h"
#include "fts.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEARCH_SCAN_MAX 20000

static const struct api_field address_obj[] = {
	{ "name", API_STRING, false, 0, 256, NULL, true },
	{ "address", API_STRING, true, 3, 320, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field header_obj[] = {
	{ "key", API_STRING, true, 1, 128, NULL, false },
	{ "value", API_STRING, true, 0, 4096, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field upload_fields[] = {
	{ "raw", API_TEXT, false, 1, 64LL << 20, NULL, false },
	{ "from", API_STRING_OR_OBJECT, false, 3, 320, address_obj, false },
	{ "replyTo", API_STRING_OR_OBJECT, false, 3, 320, address_obj, false },
	{ "to", API_OBJECT_ARRAY, false, 0, 500, address_obj, false },
	{ "cc", API_OBJECT_ARRAY, false, 0, 500, address_obj, false },
	{ "bcc", API_OBJECT_ARRAY, false, 0, 500, address_obj, false },
	{ "subject", API_STRING, false, 0, 2048, NULL, false },
	{ "text", API_TEXT, false, 0, 32LL << 20, NULL, false },
	{ "html", API_TEXT, false, 0, 32LL << 20, NULL, false },
	{ "headers", API_OBJECT_ARRAY, false, 0, 100, header_obj, false },
	{ "unseen", API_BOOL, false, 0, 0, NULL, false },
	{ "flagged", API_BOOL, false, 0, 0, NULL, false },
	{ "draft", API_BOOL, false, 0, 0, NULL, false },
	{ "date", API_STRING, false, 0, 64, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field update_fields[] = {
	{ "seen", API_BOOL, false, 0, 0, NULL, false },
	{ "flagged", API_BOOL, false, 0, 0, NULL, false },
	{ "deleted", API_BOOL, false, 0, 0, NULL, false },
	{ "draft", API_BOOL, false, 0, 0, NULL, false },
	{ "answered", API_BOOL, false, 0, 0, NULL, false },
	{ "moveTo", API_STRING, false, 24, 24, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

/* ---- collecting messages out of a store callback ---- */

struct collected {
	struct pool *pool;
	struct store_message *msgs;
	unsigned int count, cap;
};

static int collect(const struct store_message *msg, void *context)
{
	struct collected *c = context;
	if (c->count == c->cap) {
		unsigned int cap = c->cap == 0 ? 64 : c->cap * 2;
		struct store_message *bigger = pool_alloc(c->pool, cap * sizeof(*bigger));
		if (c->count > 0)
			memcpy(bigger, c->msgs, c->count * sizeof(*bigger));
		c->msgs = bigger;
		c->cap = cap;
	}
	struct store_message *m = &c->msgs[c->count++];
	*m = *msg;
#define DUP(f) m->f = msg->f == NULL ? NULL : pool_strdup(c->pool, msg->f)
	DUP(msgid);
	DUP(subject);
	DUP(envelope);
	DUP(thread);
#undef DUP
	m->bodystructure = NULL;
	const char **flags = pool_alloc(c->pool, (msg->flags_count + 1) * sizeof(*flags));
	for (unsigned int i = 0; i < msg->flags_count; i++)
		flags[i] = pool_strdup(c->pool, msg->flags[i]);
	m->flags = flags;
	return 0;
}

static json_t *summary_with_tree(struct store *store, const struct store_message *msg,
				 struct pool *pool)
{
	const unsigned char *tree = NULL;
	size_t len = 0;
	const char *error;
	if (store_message_tree(store, msg->id, pool, &tree, &len, &error) < 0)
		tree = NULL;
	return api_message_summary(msg, tree, len);
}

static bool uid_param(struct api_req *r, uint32_t *uid_r)
{
	uint64_t v;
	if (!api_uint_parse(api_param(r, "message"), 1, UINT32_MAX, &v)) {
		api_error(r, 400, "InputValidationError", "message must be a UID");
		return false;
	}
	*uid_r = (uint32_t)v;
	return true;
}

static void search_run(struct store *store, struct api_req *r, const char *q,
		       const char *only);

static void message_list(struct store *store, struct api_req *r)
{
	if (api_query(r, "q") != NULL) {
		/* WildDuck's listing takes a search too */
		search_run(store, r, api_query(r, "q"), api_param(r, "mailbox"));
		return;
	}
	unsigned int limit;
	const char *next, *previous, *error;
	if (api_page_params(r, &limit, &next, &previous) < 0)
		return;
	uint64_t cursor = 0;
	const char *c = next != NULL ? next : previous;
	if (c != NULL && !api_uint_parse(c, 0, UINT32_MAX, &cursor)) {
		api_error(r, 400, "InputValidationError", "bad cursor");
		return;
	}
	struct pool *pool = pool_create(16384);
	struct store_mailbox *mb = api_mailbox_load(store, r, NULL, pool);
	struct store_mailbox_counts counts;
	if (mb == NULL)
		goto out;
	if (store_mailbox_counts(store, mb->id, &counts, &error) < 0) {
		api_store_error(r, store, error, "NoSuchMailbox");
		goto out;
	}
	struct collected col = { .pool = pool };
	int ret;
	if (previous != NULL)
		ret = cursor >= UINT32_MAX ? 0 :
			store_message_page(store, mb->id, (uint32_t)cursor + 1, UINT32_MAX, false,
					   limit + 1, collect, &col, &error);
	else if (next != NULL)
		ret = cursor <= 1 ? 0 :
			store_message_page(store, mb->id, 1, (uint32_t)cursor - 1, true,
					   limit + 1, collect, &col, &error);
	else
		ret = store_message_page(store, mb->id, 1, UINT32_MAX, true, limit + 1, collect,
					 &col, &error);
	if (ret < 0) {
		api_store_error(r, store, error, "NoSuchMailbox");
		goto out;
	}
	bool more = col.count > limit;
	unsigned int n = more ? limit : col.count;
	json_t *results = json_array();
	for (unsigned int i = 0; i < n; i++) {
		/* previous pages come oldest first: show newest first */
		const struct store_message *m = &col.msgs[previous != NULL ? n - 1 - i : i];
		json_array_append_new(results, summary_with_tree(store, m, pool));
	}
	uint32_t newest = n > 0 ? col.msgs[previous != NULL ? n - 1 : 0].uid : 0;
	uint32_t oldest = n > 0 ? col.msgs[previous != NULL ? 0 : n - 1].uid : 0;
	char buf[16];
	json_t *next_c = json_false(), *prev_c = json_false();
	if (n > 0 && (previous != NULL || more)) {
		snprintf(buf, sizeof(buf), "%u", oldest);
		json_decref(next_c);
		next_c = json_string(buf);
	}
	if (n > 0 && (next != NULL || (previous != NULL && more))) {
		snprintf(buf, sizeof(buf), "%u", newest);
		json_decref(prev_c);
		prev_c = json_string(buf);
	}
	const char *special = store_special_use_name(mb->special_use);
	api_ok(r, json_pack("{s:I, s:o, s:o, s:o, s:o}", "total", (json_int_t)counts.messages,
			    "nextCursor", next_c, "previousCursor", prev_c, "specialUse",
			    special != NULL ? json_string(special) : json_null(),
			    "results", results));
out:
	pool_destroy(&pool);
}

/* Loads :mailbox and :message of :user; NULL with the reply set. */
static struct store_message *message_load(struct store *store, struct api_req *r,
					  struct pool *pool)
{
	uint32_t uid;
	const char *error;
	struct store_message *msg;
	if (!uid_param(r, &uid) || api_mailbox_load(store, r, NULL, pool) == NULL)
		return NULL;
	if (store_message_get(store, api_param(r, "mailbox"), uid, pool, &msg, &error) < 0) {
		api_store_error(r, store, error, "MessageNotFound");
		return NULL;
	}
	if (strcmp(msg->user, api_param(r, "user")) != 0) {
		api_error(r, 404, "MessageNotFound", "No such message");
		return NULL;
	}
	return msg;
}

static int rebuild(struct store *store, struct api_req *r, const struct store_message *msg,
		   struct buffer *raw)
{
	const char *error;
	if (message_rebuild(store, msg->id, raw, &error) < 0) {
		api_store_error(r, store, error, "MessageNotFound");
		return -1;
	}
	return 0;
}

static void message_get(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	struct store_message *msg = message_load(store, r, pool);
	struct buffer raw = BUFFER_INIT;
	if (msg != NULL && rebuild(store, r, msg, &raw) == 0)
		api_ok(r, api_message_full(msg, raw.data, raw.len));
	buffer_free(&raw);
	pool_destroy(&pool);
}

static void message_eml(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	struct store_message *msg = message_load(store, r, pool);
	if (msg != NULL && rebuild(store, r, msg, &r->raw_reply) == 0) {
		r->status = 200;
		r->content_type = xstrdup("message/rfc822");
	}
	pool_destroy(&pool);
}

/* A filename safe inside a quoted Content-Disposition parameter. */
static char *safe_filename(const char *name)
{
	char *out = xstrdup(name != NULL && name[0] != '\0' ? name : "attachment");
	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || *p == '/' ||
		    (unsigned char)*p >= 0x7f)
			*p = '_';
	return out;
}

static void attachment_get(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	struct store_message *msg = message_load(store, r, pool);
	struct buffer raw = BUFFER_INIT;
	char *ctype = NULL, *fname = NULL;
	if (msg != NULL && rebuild(store, r, msg, &raw) == 0) {
		if (api_message_attachment(raw.data, raw.len, api_param(r, "attachment"),
					   &r->raw_reply, &ctype, &fname) < 0) {
			api_error(r, 404, "AttachmentNotFound", "No such attachment");
		} else {
			bool safe_type = ctype != NULL && strpbrk(ctype, "\r\n;\" ") == NULL;
			r->status = 200;
			r->content_type = xstrdup(safe_type ? ctype : "application/octet-stream");
			char *safe = safe_filename(fname);
			r->disposition = xasprintf("attachment; filename=\"%s\"", safe);
			free(safe);
		}
	}
	free(ctype);
	free(fname);
	buffer_free(&raw);
	pool_destroy(&pool);
}

static void flag_change(json_t *body, const char *field, const char *flag, const char **add,
			unsigned int *nadd, const char **del, unsigned int *ndel)
{
	if (!api_json_has(body, field))
		return;
	if (api_json_bool(body, field, false))
		add[(*nadd)++] = flag;
	else
		del[(*ndel)++] = flag;
}

static void message_update(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	struct store_message *msg = message_load(store, r, pool);
	const char *error;
	if (msg == NULL)
		goto out;
	const char *add[5], *del[5];
	unsigned int nadd = 0, ndel = 0;
	flag_change(r->body, "seen", "\\Seen", add, &nadd, del, &ndel);
	flag_change(r->body, "flagged", "\\Flagged", add, &nadd, del, &ndel);
	flag_change(r->body, "deleted", "\\Deleted", add, &nadd, del, &ndel);
	flag_change(r->body, "draft", "\\Draft", add, &nadd, del, &ndel);
	flag_change(r->body, "answered", "\\Answered", add, &nadd, del, &ndel);
	struct store_uid_range range = { msg->uid, msg->uid };
	struct store_flags_result fr;
	for (int pass = 0; pass < 2; pass++) {
		unsigned int n = pass == 0 ? nadd : ndel;
		if (n == 0)
			continue;
		struct store_flags_update up = {
			.op = pass == 0 ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE,
			.flags = pass == 0 ? add : del,
			.flags_count = n,
		};
		if (store_flags_update(store, msg->mailbox, &range, 1, &up, pool, &fr,
				       &error) < 0) {
			api_store_error(r, store, error, "MessageNotFound");
			goto out;
		}
	}
	json_t *out = json_pack("{s:I}", "id", (json_int_t)msg->uid);
	const char *move_to = api_json_str(r->body, "moveTo");
	if (move_to != NULL) {
		struct store_mailbox *dst = api_mailbox_load(store, r, move_to, pool);
		struct store_copy_result cr;
		if (dst == NULL) {
			json_decref(out);
			goto notify;
		}
		if (strcmp(dst->id, msg->mailbox) != 0) {
			if (store_message_copy(store, msg->mailbox, &range, 1, dst->id,
					       STORE_COPY_MOVE, pool, &cr, &error) < 0) {
				json_decref(out);
				api_store_error(r, store, error, "MessageNotFound");
				goto notify;
			}
			json_object_set_new(out, "mailbox", json_string(dst->id));
			if (cr.uids_count > 0)
				json_object_set_new(out, "id", json_pack("[[I, I]]",
					(json_int_t)cr.uids[0].src_uid,
					(json_int_t)cr.uids[0].dst_uid));
		}
	}
	api_ok(r, out);
notify:
	api_changed(r, api_param(r, "user"));
out:
	pool_destroy(&pool);
}

static void message_delete(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	struct store_message *msg = message_load(store, r, pool);
	const char *error;
	if (msg == NULL)
		goto out;
	struct store_uid_range range = { msg->uid, msg->uid };
	const char *deleted[] = { "\\Deleted" };
	struct store_flags_update up = { .op = STORE_FLAGS_ADD, .flags = deleted,
					 .flags_count = 1 };
	struct store_flags_result fr;
	uint32_t *uids;
	unsigned int count;
	if (store_flags_update(store, msg->mailbox, &range, 1, &up, pool, &fr, &error) < 0 ||
	    store_message_expunge(store, msg->mailbox, &range, 1, pool, &uids, &count,
				  &error) < 0) {
		api_store_error(r, store, error, "MessageNotFound");
		goto out;
	}
	api_changed(r, api_param(r, "user"));
	api_ok(r, NULL);
out:
	pool_destroy(&pool);
}

static void message_upload(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	struct store_mailbox *mb = api_mailbox_load(store, r, NULL, pool);
	struct buffer composed = BUFFER_INIT;
	const char *error;
	if (mb == NULL)
		goto out;
	const unsigned char *raw = r->raw;
	size_t len = r->raw_len;
	json_t *body = r->body != NULL ? r->body : json_object();
	if (raw == NULL) {
		const char *text = api_json_str(body, "raw");
		if (text != NULL) {
			raw = (const unsigned char *)text;
			len = strlen(text);
		} else {
			char host[256];
			if (gethostname(host, sizeof(host)) < 0)
				snprintf(host, sizeof(host), "localhost");
			host[sizeof(host) - 1] = '\0';
			if (api_message_compose(body, host, &composed, &error) < 0) {
				api_error(r, 400, "InputValidationError", "%s", error);
				goto out_body;
			}
			raw = composed.data;
			len = composed.len;
		}
	}
	if (len == 0) {
		api_error(r, 400, "InputValidationError", "Empty message");
		goto out_body;
	}
	const char *flags[3];
	unsigned int nflags = 0;
	if (!api_json_bool(body, "unseen", false))
		flags[nflags++] = "\\Seen";
	if (api_json_bool(body, "flagged", false))
		flags[nflags++] = "\\Flagged";
	if (api_json_bool(body, "draft", false))
		flags[nflags++] = "\\Draft";
	struct message_append_opts opts = {
		.flags = flags,
		.flags_count = nflags,
		.append_flags = STORE_APPEND_CHECK_QUOTA,
	};
	struct store_append_result res;
	if (store_message_append_raw(store, mb->id, raw, len, &opts, &res, &error) < 0) {
		api_store_error(r, store, error, "NoSuchMailbox");
		goto out_body;
	}
	api_changed(r, api_param(r, "user"));
	api_ok(r, json_pack("{s:{s:I, s:s, s:I}}", "message", "id", (json_int_t)res.uid,
			    "mailbox", mb->id, "size", (json_int_t)len));
out_body:
	if (body != r->body)
		json_decref(body);
out:
	buffer_free(&composed);
	pool_destroy(&pool);
}

/* ---- search ---- */

/* The full-text index answers for the messages it has (exact substring of
 * the folded text: subject, addresses, every header, the body); messages
 * it has not indexed yet, and queries too short for it, fall back to the
 * subject and addresses of the envelope, so a just-delivered message is
 * never missed. */
struct search_found {
	unsigned int mailbox;	/* index into the id-sorted mailbox list */
	uint32_t uid;
};

struct search_ctx {
	const char *q;
	unsigned int mailbox;	/* the one being scanned */
	unsigned int scanned, page_seen;
	uint32_t page_last;
	bool truncated;
	struct search_found *found;
	size_t found_count, found_cap;
	/* the index's answer for the mailbox being scanned */
	uint32_t *indexed, *hits;
	size_t indexed_count, hits_count;
};

static bool json_has_text(json_t *v, const char *q)
{
	if (json_is_string(v))
		return strcasestr(json_string_value(v), q) != NULL;
	if (json_is_array(v) || json_is_object(v)) {
		size_t i;
		json_t *item;
		const char *key;
		if (json_is_array(v)) {
			json_array_foreach(v, i, item)
				if (json_has_text(item, q))
					return true;
		} else {
			json_object_foreach(v, key, item)
				if (json_has_text(item, q))
					return true;
		}
	}
	return false;
}

static bool uid_in(const uint32_t *uids, size_t count, uint32_t uid)
{
	size_t lo = 0, hi = count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < count && uids[lo] == uid;
}

static int search_match(const struct store_message *msg, void *context)
{
	struct search_ctx *s = context;
	s->page_seen++;
	s->page_last = msg->uid;
	if (++s->scanned > SEARCH_SCAN_MAX) {
		s->truncated = true;
		return 1;
	}
	bool hit;
	if (uid_in(s->indexed, s->indexed_count, msg->uid)) {
		hit = uid_in(s->hits, s->hits_count, msg->uid);
	} else {
		json_t *env = api_envelope_json(msg->envelope);
		hit = env != NULL && json_has_text(env, s->q);
		json_decref(env);
	}
	if (hit) {
		if (s->found_count == s->found_cap) {
			s->found_cap = s->found_cap == 0 ? 256 : s->found_cap * 2;
			s->found = xrealloc(s->found, s->found_cap * sizeof(*s->found));
		}
		s->found[s->found_count++] = (struct search_found){ s->mailbox, msg->uid };
	}
	return 0;
}

static void search_answers_free(struct search_ctx *s)
{
	free(s->indexed);
	free(s->hits);
	s->indexed = s->hits = NULL;
	s->indexed_count = s->hits_count = 0;
}

/* Asks the index about one mailbox; on any failure the scan does all. */
static void search_ask(struct search_ctx *s, struct fts *fts, const char *folded,
		       const char *mailbox_id)
{
	const char *error;
	search_answers_free(s);
	if (fts == NULL)
		return;
	if (fts_indexed(fts, mailbox_id, &s->indexed, &s->indexed_count, &error) < 0 ||
	    (s->indexed_count > 0 &&
	     fts_query(fts, mailbox_id, FTS_TEXT, folded, &s->hits, &s->hits_count,
		       &error) < 0)) {
		log_warn("event=fts_query_failed error=\"%s\"", error);
		search_answers_free(s);
	}
}

/* A search cursor names a result, "MAILBOXID:UID"; results go by mailbox
 * id, then newest first, so renames and new mail do not reorder pages. */
struct search_cursor {
	char mailbox[STORE_ID_SIZE];
	uint32_t uid;
};

static bool search_cursor_parse(const char *text, struct search_cursor *c)
{
	const char *colon = text != NULL ? strchr(text, ':') : NULL;
	uint64_t uid;
	if (colon == NULL || colon - text != STORE_ID_SIZE - 1)
		return false;
	memcpy(c->mailbox, text, STORE_ID_SIZE - 1);
	c->mailbox[STORE_ID_SIZE - 1] = '\0';
	if (!api_id_valid(c->mailbox) || !api_uint_parse(colon + 1, 1, UINT32_MAX, &uid))
		return false;
	c->uid = (uint32_t)uid;
	return true;
}

static json_t *search_cursor_json(const struct store_mailbox *mbs, const struct search_found *f)
{
	char buf[STORE_ID_SIZE + 16];
	snprintf(buf, sizeof(buf), "%s:%u", mbs[f->mailbox].id, f->uid);
	return json_string(buf);
}

/* <0: f comes before the cursor, 0: it is the cursor's, >0: after. */
static int search_cursor_cmp(const struct store_mailbox *mbs, const struct search_found *f,
			     const struct search_cursor *c)
{
	int cmp = strcmp(mbs[f->mailbox].id, c->mailbox);
	if (cmp != 0)
		return cmp;
	return f->uid > c->uid ? -1 : f->uid < c->uid ? 1 : 0;
}

static int mailbox_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_mailbox *)a)->id, ((const struct store_mailbox *)b)->id);
}

#define SEARCH_STORE_PAGE 1000

/* Scans one mailbox newest first, SEARCH_STORE_PAGE messages a call. */
static int search_mailbox(struct store *store, struct search_ctx *s, const char *mailbox_id,
			  const char **error_r)
{
	uint32_t last = UINT32_MAX;
	for (;;) {
		s->page_seen = 0;
		if (store_message_page(store, mailbox_id, 1, last, true, SEARCH_STORE_PAGE,
				       search_match, s, error_r) < 0)
			return -1;
		if (s->truncated || s->page_seen < SEARCH_STORE_PAGE || s->page_last <= 1)
			return 0;
		last = s->page_last - 1;
	}
}

/* Searches the user's mailboxes (only: one mailbox id, checked already).
 * Every page scans all (at most SEARCH_SCAN_MAX messages) for the total;
 * only the page's messages are loaded. */
static void search_run(struct store *store, struct api_req *r, const char *q, const char *only)
{
	const char *error;
	unsigned int limit;
	const char *next, *previous;
	struct search_cursor cursor;
	if (api_page_params(r, &limit, &next, &previous) < 0)
		return;
	if (q[0] == '\0' || strlen(q) > 256 || !api_text_valid(q, false)) {
		api_error(r, 400, "InputValidationError", "q is required (1..256 characters)");
		return;
	}
	if ((next != NULL || previous != NULL) &&
	    !search_cursor_parse(next != NULL ? next : previous, &cursor)) {
		api_error(r, 400, "InputValidationError", "bad cursor");
		return;
	}
	struct pool *pool = pool_create(16384);
	struct store_mailbox *mbs;
	unsigned int count;
	struct search_ctx s = { .q = q };
	char *folded = fts_fold(q, strlen(q), NULL);
	struct fts *fts = NULL;
	if (folded != NULL && fts_query_usable(folded)) {
		fts = fts_thread_reader(api_config());
		/* one snapshot of the index for every mailbox */
		if (fts != NULL && fts_begin(fts, false, &error) < 0)
			fts = NULL;
	}
	if (only != NULL && api_mailbox_load(store, r, only, pool) == NULL)
		goto out;
	if (store_mailbox_list(store, api_param(r, "user"), pool, &mbs, &count, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		goto out;
	}
	qsort(mbs, count, sizeof(*mbs), mailbox_id_cmp);
	for (unsigned int i = 0; i < count && !s.truncated; i++) {
		if (only != NULL && strcmp(only, mbs[i].id) != 0)
			continue;
		s.mailbox = i;
		search_ask(&s, fts, folded, mbs[i].id);
		if (search_mailbox(store, &s, mbs[i].id, &error) < 0) {
			api_store_error(r, store, error, "NoSuchMailbox");
			goto out;
		}
	}
	/* the page: [first, end) of the results in order */
	size_t first = 0, end;
	if (next != NULL) {
		while (first < s.found_count && search_cursor_cmp(mbs, &s.found[first], &cursor) <= 0)
			first++;
		end = first + limit < s.found_count ? first + limit : s.found_count;
	} else if (previous != NULL) {
		end = 0;
		while (end < s.found_count && search_cursor_cmp(mbs, &s.found[end], &cursor) < 0)
			end++;
		first = end > limit ? end - limit : 0;
	} else {
		end = limit < s.found_count ? limit : s.found_count;
	}
	json_t *results = json_array();
	for (size_t i = first; i < end; i++) {
		struct store_message *msg;
		const struct search_found *f = &s.found[i];
		if (store_message_get(store, mbs[f->mailbox].id, f->uid, pool, &msg, &error) < 0) {
			if (store_last_error(store) == STORE_ERR_NOT_FOUND)
				continue; /* expunged since the scan */
			json_decref(results);
			api_store_error(r, store, error, "NoSuchMessage");
			goto out;
		}
		json_array_append_new(results, summary_with_tree(store, msg, pool));
	}
	json_t *next_c = first < end && end < s.found_count ?
		search_cursor_json(mbs, &s.found[end - 1]) : json_false();
	json_t *prev_c = first < end && first > 0 ?
		search_cursor_json(mbs, &s.found[first]) : json_false();
	api_ok(r, json_pack("{s:s, s:I, s:o, s:o, s:o}", "query", q, "total",
			    (json_int_t)s.found_count, "nextCursor", next_c, "previousCursor",
			    prev_c, "results", results));
out:
	if (fts != NULL)
		fts_rollback(fts); /* a read snapshot: nothing to commit */
	search_answers_free(&s);
	free(s.found);
	free(folded);
	pool_destroy(&pool);
}

static void search(struct store *store, struct api_req *r)
{
	const char *q = api_query(r, "q");
	search_run(store, r, q != NULL ? q : "", api_query(r, "mailbox"));
}

/* ---- threads ---- */

struct threads_ctx {
	struct store *store;
	struct pool *pool;
	json_t *results;
	unsigned int count, limit;
	bool more;
	int64_t last;	/* the cursor of the next page */
};

static int thread_row(const struct fts_thread_row *row, void *context)
{
	struct threads_ctx *t = context;
	struct store_message *msg;
	if (t->count == t->limit) {
		t->more = true;
		return 1;
	}
	t->count++;
	const char *error;
	json_t *item = json_pack("{s:s, s:I}", "id", row->thread, "messages",
				 (json_int_t)row->messages);
	/* the newest message gives the thread its subject and date; gone
	 * since it was indexed: the thread is still listed */
	if (store_message_get(t->store, row->mailbox, row->uid, t->pool, &msg, &error) == 0) {
		char date[32];
		api_time_iso(msg->idate, date);
		json_object_set_new(item, "subject", json_string(msg->subject != NULL ?
								 msg->subject : ""));
		json_object_set_new(item, "date", json_string(date));
		json_object_set_new(item, "mailbox", json_string(row->mailbox));
		json_object_set_new(item, "message", json_integer(row->uid));
	}
	json_array_append_new(t->results, item);
	t->last = row->last;
	return 0;
}

static void threads_list(struct store *store, struct api_req *r)
{
	unsigned int limit;
	const char *next, *previous, *error;
	uint64_t cursor = 0;
	if (api_page_params(r, &limit, &next, &previous) < 0)
		return;
	if (next != NULL && !api_uint_parse(next, 1, INT64_MAX, &cursor)) {
		api_error(r, 400, "InputValidationError", "bad cursor");
		return;
	}
	struct fts *fts = fts_thread_reader(api_config());
	if (fts == NULL) {
		api_error(r, 503, "IndexUnavailable", "The full-text index is not available");
		return;
	}
	struct threads_ctx t = { .store = store, .pool = pool_create(4096),
				 .results = json_array(), .limit = limit };
	if (fts_begin(fts, false, &error) < 0 ||
	    fts_threads(fts, api_param(r, "user"), (int64_t)cursor, limit + 1, thread_row, &t,
			&error) < 0) {
		fts_rollback(fts);
		json_decref(t.results);
		api_error(r, 500, "InternalError", "%s", error);
		goto out;
	}
	fts_rollback(fts);
	json_t *next_c = json_false();
	if (t.more) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%lld", (long long)t.last);
		json_decref(next_c);
		next_c = json_string(buf);
	}
	api_ok(r, json_pack("{s:I, s:o, s:o, s:o}", "total", (json_int_t)t.count, "nextCursor",
			    next_c, "previousCursor", json_false(), "results", t.results));
out:
	pool_destroy(&t.pool);
}

const struct api_route api_routes_messages[] = {
	{ EVHTTP_REQ_GET, "/users/:user/mailboxes/:mailbox/messages", message_list, NULL, 0,
	  NULL, "List messages, newest first (paged)" },
	{ EVHTTP_REQ_POST, "/users/:user/mailboxes/:mailbox/messages", message_upload, NULL,
	  API_RAW_BODY, upload_fields, "Upload a raw message or one composed from JSON" },
	{ EVHTTP_REQ_GET, "/users/:user/mailboxes/:mailbox/messages/:message", message_get,
	  NULL, 0, NULL, "Get a parsed message" },
	{ EVHTTP_REQ_PUT, "/users/:user/mailboxes/:mailbox/messages/:message", message_update,
	  NULL, 0, update_fields, "Change flags or move a message" },
	{ EVHTTP_REQ_DELETE, "/users/:user/mailboxes/:mailbox/messages/:message",
	  message_delete, NULL, 0, NULL, "Delete a message" },
	{ EVHTTP_REQ_GET, "/users/:user/mailboxes/:mailbox/messages/:message/message.eml",
	  message_eml, NULL, 0, NULL, "Download the raw message" },
	{ EVHTTP_REQ_GET,
	  "/users/:user/mailboxes/:mailbox/messages/:message/attachments/:attachment",
	  attachment_get, NULL, 0, NULL, "Download an attachment" },
	{ EVHTTP_REQ_GET, "/users/:user/search", search, NULL, 0, NULL,
	  "Search messages (full-text index, else subject and addresses)" },
	{ EVHTTP_REQ_GET, "/users/:user/threads", threads_list, NULL, 0, NULL,
	  "List threads, the most recently active first (paged)" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
