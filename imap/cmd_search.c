/* SEARCH and UID SEARCH: lib/imap_search parses the program, a store
 * thread evaluates it over the mailbox's messages, loading a message's
 * text only when a HEADER/BODY/TEXT key needs it (a substring scan), except
 * where the indexer's full-text index (lib/fts) already answers exactly:
 * see fts_prepare(). SORT and THREAD (RFC 5256) are a SEARCH whose hits
 * lib/imap_sort orders by keys from the cached ENVELOPE, or lib/imap_thread
 * threads (REFERENCES reads each hit's References: from its tree blob). */
#include "config.h"
#include "daemon.h"
#include "fts.h"
#include "imap_client.h"
#include "imap_search.h"
#include "imap_sort.h"
#include "imap_thread.h"
#include "imap_seqset.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "mime.h"
#include "mime_store.h"
#include "mime_text.h"
#include "pool.h"
#include "rfc2047.h"
#include "thread.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unicase.h>
#include <uninorm.h>

struct search_msg {
	char id[STORE_ID_SIZE];
	uint32_t uid, seq;
	uint64_t modseq, size;
	int64_t idate, hdate;
	char *flags; /* " \Seen kw " with spaces around each */
	char *envelope, *subject, *msgid; /* SORT and THREAD only */
};

enum thread_algorithm {
	THREAD_NONE,
	THREAD_ORDEREDSUBJECT,
	THREAD_REFERENCES,
};

/* Answers of the full-text index for the text keys of one SEARCH: the
 * mailbox's indexed uids, and per key the uids that match. */
#define FTS_KEYS_MAX 16
struct fts_answers {
	uint32_t *indexed;
	size_t indexed_count;
	struct {
		const struct imap_search_key *key;
		uint32_t *uids;
		size_t count;
	} keys[FTS_KEYS_MAX];
	size_t count;
};

struct search_job {
	struct imap_job_status st;
	struct imap_cmd *cmd;
	char mailbox[STORE_ID_SIZE];
	struct imap_search_key *root;
	const uint32_t *view_uids;
	uint32_t view_count;
	struct search_msg *msgs;
	size_t count, cap;
	const struct imap_sort_program *sort; /* NULL: SEARCH */
	enum thread_algorithm thread;
	struct buffer threads; /* THREAD's answer */
	uint32_t *hits;
	size_t hits_count;
	uint64_t max_modseq; /* of the hits, for the (MODSEQ n) reply */
	bool has_modseq;
	struct fts_answers fts;
};

/* What a content key needs of one message, loaded on first use. */
struct search_content {
	struct store *store;
	bool loaded, failed;
	struct buffer raw;
	struct mime_message *msg;
	struct mime_text *text;
	struct buffer html; /* the text of text->html, made on first use */
	bool html_done;
};

static uint32_t view_seq(const struct search_job *j, uint32_t uid)
{
	uint32_t lo = 0, hi = j->view_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (j->view_uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < j->view_count && j->view_uids[lo] == uid ? lo + 1 : 0;
}

static int collect(const struct store_message *m, void *ctx)
{
	struct search_job *j = ctx;
	uint32_t seq = view_seq(j, m->uid);
	if (seq == 0)
		return 0; /* not yet announced to this session */
	if (j->count == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 256;
		j->msgs = xrealloc(j->msgs, j->cap * sizeof(*j->msgs));
	}
	struct search_msg *s = &j->msgs[j->count++];
	memcpy(s->id, m->id, STORE_ID_SIZE);
	s->uid = m->uid;
	s->seq = seq;
	s->modseq = m->modseq;
	s->size = m->size;
	s->idate = m->idate;
	s->hdate = m->hdate;
	struct buffer b = BUFFER_INIT;
	buffer_append_c(&b, ' ');
	for (unsigned int i = 0; i < m->flags_count; i++)
		buffer_printf(&b, "%s ", m->flags[i]);
	s->flags = buffer_steal(&b, NULL);
	bool keys = j->sort != NULL || j->thread != THREAD_NONE;
	s->envelope = j->sort != NULL && m->envelope != NULL ? xstrdup(m->envelope) : NULL;
	s->subject = keys && m->subject != NULL ? xstrdup(m->subject) : NULL;
	s->msgid = j->thread != THREAD_NONE && m->msgid != NULL ? xstrdup(m->msgid) : NULL;
	return 0;
}

/* Case-insensitive substring test over UTF-8 (i;unicode-casemap style). */
static bool contains_folded(const char *hay, size_t hay_len, const char *needle)
{
	if (needle[0] == '\0')
		return true;
	size_t hl = 0, nl = 0;
	uint8_t *h = u8_casefold((const uint8_t *)hay, hay_len, NULL, UNINORM_NFC, NULL, &hl);
	uint8_t *n = u8_casefold((const uint8_t *)needle, strlen(needle), NULL, UNINORM_NFC, NULL, &nl);
	bool found = false;
	if (h != NULL && n != NULL && nl <= hl)
		found = memmem(h, hl, n, nl) != NULL;
	free(h);
	free(n);
	return found;
}

static int load_content(struct search_content *c, const struct search_msg *m)
{
	if (c->loaded)
		return c->failed ? -1 : 0;
	c->loaded = true;
	const char *error;
	if (message_rebuild(c->store, m->id, &c->raw, &error) < 0) {
		c->failed = true;
		return -1;
	}
	mime_parse(c->raw.data, c->raw.len, &c->msg);
	if (mime_message_text(c->msg, &c->text, &error) < 0)
		c->text = NULL;
	return 0;
}

static void content_free(struct search_content *c)
{
	buffer_free(&c->raw);
	mime_message_free(&c->msg);
	mime_text_free(&c->text);
	buffer_free(&c->html);
	c->loaded = c->failed = c->html_done = false;
}

/* HEADER key: any field of that name (any field for "") contains str,
 * raw or with encoded words decoded. */
static bool header_matches(struct search_content *c, const char *name, const char *str)
{
	const struct mime_part *root = c->msg->root;
	struct mime_header_iter it;
	const unsigned char *fname, *value;
	size_t fname_len, value_len;
	mime_header_iter_init(&it, root->header, root->header_end - root->header_start);
	while (mime_header_next(&it, &fname, &fname_len, &value, &value_len)) {
		if (name[0] != '\0' && (strlen(name) != fname_len ||
					strncasecmp(name, (const char *)fname, fname_len) != 0))
			continue;
		if (str[0] == '\0')
			return true; /* HEADER name "" tests for presence */
		struct buffer dec = BUFFER_INIT;
		rfc2047_decode(value, value_len, &dec);
		bool hit = contains_folded((const char *)value, value_len, str) ||
			contains_folded(buffer_cstr(&dec), dec.len, str);
		buffer_free(&dec);
		if (hit)
			return true;
	}
	return false;
}

static bool body_matches(struct search_content *c, const char *str)
{
	if (c->text == NULL)
		return false;
	if (contains_folded(c->text->text, strlen(c->text->text), str))
		return true;
	/* the text of the HTML, as the index has it: no matches in markup */
	if (!c->html_done) {
		fts_html_text(c->text->html, strlen(c->text->html), &c->html);
		c->html_done = true;
	}
	return contains_folded(buffer_cstr(&c->html), c->html.len, str);
}

/* ---- the full-text index hook ---- */

static int fts_field_of(const struct imap_search_key *k)
{
	static const char *const names[] = { "subject", "from", "to", "cc", "bcc" };
	static const enum fts_field fields[] = { FTS_SUBJECT, FTS_FROM, FTS_TO, FTS_CC, FTS_BCC };
	if (k->type == IMAP_SEARCH_BODY)
		return FTS_BODY;
	if (k->type == IMAP_SEARCH_TEXT)
		return FTS_TEXT;
	if (k->type == IMAP_SEARCH_HEADER && k->header != NULL)
		for (size_t i = 0; i < 5; i++)
			if (strcasecmp(k->header, names[i]) == 0)
				return (int)fields[i];
	return -1;
}

static int fts_ask(struct search_job *j, struct fts *fts, const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		if (fts_ask(j, fts, k->children) < 0)
			return -1;
		int field = fts_field_of(k);
		if (field < 0 || k->str == NULL || j->fts.count == FTS_KEYS_MAX)
			continue;
		char *folded = fts_fold(k->str, strlen(k->str), NULL);
		const char *error;
		int ret = 0;
		if (folded != NULL && fts_query_usable(folded)) {
			size_t n = j->fts.count;
			ret = fts_query(fts, j->mailbox, (enum fts_field)field, folded,
					&j->fts.keys[n].uids, &j->fts.keys[n].count, &error);
			if (ret == 0)
				j->fts.keys[j->fts.count++].key = k;
			else
				log_warn("event=fts_query_failed error=\"%s\"", error);
		}
		free(folded);
		if (ret < 0)
			return -1;
	}
	return 0;
}

static void fts_answers_free(struct fts_answers *a)
{
	free(a->indexed);
	for (size_t i = 0; i < a->count; i++)
		free(a->keys[i].uids);
	memset(a, 0, sizeof(*a));
}

/* Asks the index, in one snapshot, for the mailbox's indexed uids and the
 * matches of each text key it can answer exactly (3+ characters). Any
 * failure leaves no answers: the scan does everything. */
static void fts_prepare(struct search_job *j)
{
	struct fts *fts = fts_thread_reader(daemon_config());
	const char *error;
	if (fts == NULL || fts_begin(fts, false, &error) < 0)
		return;
	if (fts_indexed(fts, j->mailbox, &j->fts.indexed, &j->fts.indexed_count, &error) < 0 ||
	    (j->fts.indexed_count > 0 && fts_ask(j, fts, j->root) < 0))
		fts_answers_free(&j->fts);
	fts_rollback(fts); /* a read snapshot: nothing to commit */
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

/* 1 or 0 when the index answers key k for the message, -1 when the scan
 * must (the message is not indexed yet, or the key is not indexable). */
static int fts_answer(const struct search_job *j, const struct imap_search_key *k, uint32_t uid)
{
	for (size_t i = 0; i < j->fts.count; i++)
		if (j->fts.keys[i].key == k)
			return uid_in(j->fts.indexed, j->fts.indexed_count, uid) ?
				uid_in(j->fts.keys[i].uids, j->fts.keys[i].count, uid) : -1;
	return -1;
}

static bool flag_set(const struct search_msg *m, const char *flag)
{
	char needle[256];
	snprintf(needle, sizeof(needle), " %s ", flag);
	return strcasestr(m->flags, needle) != NULL;
}

static bool day_cmp(enum imap_search_type t, int64_t when, time_t day)
{
	int64_t d = (int64_t)day;
	switch (t) {
	case IMAP_SEARCH_BEFORE: case IMAP_SEARCH_SENTBEFORE: return when < d;
	case IMAP_SEARCH_ON: case IMAP_SEARCH_SENTON: return when >= d && when < d + 86400;
	default: return when >= d;
	}
}

static bool eval(struct search_job *j, const struct imap_search_key *k, const struct search_msg *m,
		 struct search_content *c)
{
	/* the index's exact answer where it has one, else the scan below */
	int known = fts_answer(j, k, m->uid);
	if (known >= 0)
		return known == 1;
	switch (k->type) {
	case IMAP_SEARCH_AND:
		for (const struct imap_search_key *ch = k->children; ch != NULL; ch = ch->next)
			if (!eval(j, ch, m, c))
				return false;
		return true;
	case IMAP_SEARCH_OR:
		return eval(j, k->children, m, c) || eval(j, k->children->next, m, c);
	case IMAP_SEARCH_NOT:
		return !eval(j, k->children, m, c);
	case IMAP_SEARCH_ALL: case IMAP_SEARCH_OLD: return true;
	case IMAP_SEARCH_NEW: case IMAP_SEARCH_RECENT: return false; /* no \Recent */
	case IMAP_SEARCH_FLAG: case IMAP_SEARCH_KEYWORD: return flag_set(m, k->str);
	case IMAP_SEARCH_BEFORE: case IMAP_SEARCH_ON: case IMAP_SEARCH_SINCE:
		return day_cmp(k->type, m->idate, k->date);
	case IMAP_SEARCH_SENTBEFORE: case IMAP_SEARCH_SENTON: case IMAP_SEARCH_SENTSINCE:
		return day_cmp(k->type, m->hdate, k->date);
	case IMAP_SEARCH_LARGER: return m->size > k->number;
	case IMAP_SEARCH_SMALLER: return m->size < k->number;
	case IMAP_SEARCH_SEQSET: return imap_seqset_contains(&k->seqset, m->seq);
	case IMAP_SEARCH_UID: return imap_seqset_contains(&k->seqset, m->uid);
	case IMAP_SEARCH_MODSEQ: return m->modseq >= k->number;
	case IMAP_SEARCH_HEADER:
		return load_content(c, m) == 0 && header_matches(c, k->header, k->str);
	case IMAP_SEARCH_BODY:
		return load_content(c, m) == 0 && body_matches(c, k->str);
	case IMAP_SEARCH_TEXT:
		return load_content(c, m) == 0 &&
		       (header_matches(c, "", k->str) || body_matches(c, k->str));
	}
	return false;
}

/* "*" in sequence sets and UID sets means the last message of the view. */
static void resolve_sets(struct search_job *j, struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		if (k->type == IMAP_SEARCH_SEQSET)
			imap_seqset_resolve(&k->seqset, j->view_count);
		else if (k->type == IMAP_SEARCH_UID)
			imap_seqset_resolve(&k->seqset, j->view_count ? j->view_uids[j->view_count - 1] : 0);
		else if (k->type == IMAP_SEARCH_MODSEQ)
			j->has_modseq = true;
		resolve_sets(j, k->children);
	}
}

/* Orders the hits (indexes into msgs) and replaces them by numbers. */
static void sort_hits(struct search_job *j)
{
	struct imap_sort_msg *keys = xcalloc(j->hits_count + 1, sizeof(*keys));
	for (size_t i = 0; i < j->hits_count; i++) {
		const struct search_msg *m = &j->msgs[j->hits[i]];
		keys[i] = (struct imap_sort_msg){ .seq = m->seq, .uid = m->uid, .arrival = m->idate,
						  .date = m->hdate, .size = m->size };
		imap_sort_msg_keys(&keys[i], j->sort, m->envelope, m->subject);
	}
	imap_sort(j->sort, keys, j->hits_count);
	for (size_t i = 0; i < j->hits_count; i++) {
		j->hits[i] = j->cmd->uid ? keys[i].uid : keys[i].seq;
		imap_sort_msg_free(&keys[i]);
	}
	free(keys);
}

#define THREAD_REFS_MAX 64

/* The References: ids of a message (In-Reply-To's without any), from its
 * tree blob; none when it cannot be read. */
static void thread_refs(struct store *store, const struct search_msg *m, struct pool *pool,
			struct imap_thread_msg *t)
{
	const unsigned char *tree;
	size_t tree_len;
	struct mime_message *mime;
	const char *error;
	if (store_message_tree(store, m->id, pool, &tree, &tree_len, &error) < 0 ||
	    mime_store_load(tree, tree_len, &mime, &error) < 0)
		return;
	const struct mime_part *root = mime->root;
	size_t hdr_len = root->header_end - root->header_start;
	const char **ids = pool_alloc(pool, THREAD_REFS_MAX * sizeof(*ids));
	size_t count = 0;
	thread_refs_parse(pool, mime_header_get(pool, root->header, hdr_len, "references"), ids,
			  THREAD_REFS_MAX, &count);
	if (count == 0)
		thread_refs_parse(pool, mime_header_get(pool, root->header, hdr_len, "in-reply-to"),
				  ids, 1, &count);
	mime_message_free(&mime);
	t->refs = ids;
	t->refs_count = count;
}

/* Threads the hits (indexes into msgs) into j->threads. */
static void thread_hits(struct search_job *j, struct store *store)
{
	struct pool *pool = pool_create(4096);
	struct imap_thread_msg *t = xcalloc(j->hits_count + 1, sizeof(*t));
	for (size_t i = 0; i < j->hits_count; i++) {
		const struct search_msg *m = &j->msgs[j->hits[i]];
		t[i] = (struct imap_thread_msg){ .number = j->cmd->uid ? m->uid : m->seq,
						 .seq = m->seq, .date = m->hdate };
		const char *own[1];
		size_t own_count = 0;
		thread_refs_parse(pool, m->msgid, own, 1, &own_count);
		t[i].message_id = own_count > 0 ? own[0] : NULL;
		char *base = imap_sort_base_subject(m->subject, &t[i].reply);
		for (char *p = base; *p != '\0'; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		t[i].subject = pool_strdup(pool, base);
		free(base);
		if (j->thread == THREAD_REFERENCES)
			thread_refs(store, m, pool, &t[i]);
	}
	if (j->thread == THREAD_REFERENCES)
		imap_thread_references(t, j->hits_count, &j->threads);
	else
		imap_thread_orderedsubject(t, j->hits_count, &j->threads);
	free(t);
	pool_destroy(&pool);
}

static void search_run(struct store *store, void *arg)
{
	struct search_job *j = arg;
	const char *error;
	if (store_message_list(store, j->mailbox, NULL, 0, collect, j, &error) < 0) {
		imap_job_failed(&j->st, store, error);
		return;
	}
	fts_prepare(j);
	j->hits = xcalloc(j->count + 1, sizeof(uint32_t));
	struct search_content c = { .store = store, .raw = BUFFER_INIT, .html = BUFFER_INIT };
	for (size_t i = 0; i < j->count; i++) {
		struct search_msg *m = &j->msgs[i];
		if (eval(j, j->root, m, &c)) {
			j->hits[j->hits_count++] = j->sort != NULL || j->thread != THREAD_NONE ?
				(uint32_t)i : j->cmd->uid ? m->uid : m->seq;
			if (m->modseq > j->max_modseq)
				j->max_modseq = m->modseq;
		}
		content_free(&c);
	}
	if (j->sort != NULL)
		sort_hits(j);
	else if (j->thread != THREAD_NONE)
		thread_hits(j, store);
}

static void search_free(void *arg)
{
	struct search_job *j = arg;
	for (size_t i = 0; i < j->count; i++) {
		free(j->msgs[i].flags);
		free(j->msgs[i].envelope);
		free(j->msgs[i].subject);
		free(j->msgs[i].msgid);
	}
	buffer_free(&j->threads);
	free(j->msgs);
	free(j->hits);
	fts_answers_free(&j->fts);
	free(j);
}

static void search_done(void *arg)
{
	struct search_job *j = arg;
	struct imap_cmd *cmd = j->cmd;
	if (j->st.error != STORE_OK) {
		imap_cmd_store_error(cmd, j->st.error, j->st.error_text);
		search_free(j);
		return;
	}
	if (j->thread != THREAD_NONE) {
		imap_printf(cmd->client, "* THREAD%s%s\r\n", j->threads.len > 0 ? " " : "",
			    buffer_cstr(&j->threads));
		search_free(j);
		imap_cmd_done(cmd, "OK THREAD completed");
		return;
	}
	struct buffer out = BUFFER_INIT;
	buffer_append_str(&out, j->sort != NULL ? "* SORT" : "* SEARCH");
	for (size_t i = 0; i < j->hits_count; i++)
		buffer_printf(&out, " %u", j->hits[i]);
	if (j->has_modseq && j->hits_count > 0)
		buffer_printf(&out, " (MODSEQ %llu)", (unsigned long long)j->max_modseq);
	buffer_append_str(&out, "\r\n");
	imap_write(cmd->client, out.data, out.len);
	buffer_free(&out);
	const char *done = j->sort != NULL ? "OK SORT completed" : "OK SEARCH completed";
	search_free(j);
	imap_cmd_done(cmd, done);
}

static bool charset_known(const char *charset)
{
	return charset == NULL || strcasecmp(charset, "UTF-8") == 0 ||
	       strcasecmp(charset, "US-ASCII") == 0;
}

static void search_start(struct imap_cmd *cmd, struct imap_search_key *root,
			 const struct imap_sort_program *sort, enum thread_algorithm thread)
{
	struct imap_client *c = cmd->client;
	struct search_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->root = root;
	j->sort = sort;
	j->thread = thread;
	j->threads = (struct buffer)BUFFER_INIT;
	memcpy(j->mailbox, c->view->id, STORE_ID_SIZE);
	j->view_uids = c->view->uids;
	j->view_count = c->view->count;
	resolve_sets(j, root);
	if (j->has_modseq)
		c->condstore = true;
	imap_job(c, search_run, search_done, search_free, j);
}

static void cmd_search(struct imap_cmd *cmd)
{
	const char *charset, *error;
	struct imap_search_key *root;
	if (imap_search_parse(cmd->pool, cmd->args, cmd->args_count, &charset, &root, &error) < 0) {
		imap_cmd_donef(cmd, "BAD %s", error);
		return;
	}
	if (!charset_known(charset)) {
		imap_cmd_done(cmd, "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return;
	}
	search_start(cmd, root, NULL, THREAD_NONE);
}

/* SORT and THREAD: the charset argument before the search keys. */
static bool charset_arg_ok(struct imap_cmd *cmd, const struct imap_arg *cs, const char *charset)
{
	if (charset != NULL || (cs->type != IMAP_ARG_ATOM && cs->type != IMAP_ARG_STRING)) {
		imap_cmd_done(cmd, "BAD The charset comes before the search keys");
		return false;
	}
	if (!charset_known(cs->str)) {
		imap_cmd_done(cmd, "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return false;
	}
	return true;
}

/* SORT (criteria) charset search-key... (RFC 5256 section 3) */
static void cmd_sort(struct imap_cmd *cmd)
{
	const char *charset, *error;
	struct imap_search_key *root;
	struct imap_sort_program *sort = pool_alloc(cmd->pool, sizeof(*sort));
	if (cmd->args_count < 3) {
		imap_cmd_done(cmd, "BAD SORT needs criteria, a charset and search keys");
		return;
	}
	if (imap_sort_parse(&cmd->args[0], sort, &error) < 0 ||
	    imap_search_parse(cmd->pool, cmd->args + 2, cmd->args_count - 2, &charset, &root,
			      &error) < 0) {
		imap_cmd_donef(cmd, "BAD %s", error);
		return;
	}
	if (charset_arg_ok(cmd, &cmd->args[1], charset))
		search_start(cmd, root, sort, THREAD_NONE);
}

/* THREAD algorithm charset search-key... (RFC 5256 section 3) */
static void cmd_thread(struct imap_cmd *cmd)
{
	const char *charset, *error;
	struct imap_search_key *root;
	if (cmd->args_count < 3 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_cmd_done(cmd, "BAD THREAD needs an algorithm, a charset and search keys");
		return;
	}
	enum thread_algorithm algorithm;
	if (strcasecmp(cmd->args[0].str, "REFERENCES") == 0) {
		algorithm = THREAD_REFERENCES;
	} else if (strcasecmp(cmd->args[0].str, "ORDEREDSUBJECT") == 0) {
		algorithm = THREAD_ORDEREDSUBJECT;
	} else {
		imap_cmd_done(cmd, "BAD Unknown threading algorithm");
		return;
	}
	if (imap_search_parse(cmd->pool, cmd->args + 2, cmd->args_count - 2, &charset, &root,
			      &error) < 0) {
		imap_cmd_donef(cmd, "BAD %s", error);
		return;
	}
	if (charset_arg_ok(cmd, &cmd->args[1], charset))
		search_start(cmd, root, NULL, algorithm);
}

const struct imap_command imap_search_commands[] = {
	{ "SEARCH", cmd_search, IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ "SORT", cmd_sort, IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ "THREAD", cmd_thread, IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ NULL, NULL, 0 },
};
