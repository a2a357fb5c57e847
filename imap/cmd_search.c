/* SEARCH and UID SEARCH: lib/imap_search parses the program, a store
 * thread evaluates it over the mailbox's messages, loading a message's
 * text only when a HEADER/BODY/TEXT key needs it (a substring scan; the
 * indexer's full-text index will take over where it exists). */
#include "imap_client.h"
#include "imap_search.h"
#include "imap_seqset.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "mime.h"
#include "mime_text.h"
#include "pool.h"
#include "rfc2047.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicase.h>
#include <uninorm.h>

struct search_msg {
	char id[STORE_ID_SIZE];
	uint32_t uid, seq;
	uint64_t modseq, size;
	int64_t idate, hdate;
	char *flags; /* " \Seen kw " with spaces around each */
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
	uint32_t *hits;
	size_t hits_count;
	uint64_t max_modseq; /* of the hits, for the (MODSEQ n) reply */
	bool has_modseq;
};

/* What a content key needs of one message, loaded on first use. */
struct search_content {
	struct store *store;
	bool loaded, failed;
	struct buffer raw;
	struct mime_message *msg;
	struct mime_text *text;
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
	c->loaded = c->failed = false;
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
	return contains_folded(c->text->text, strlen(c->text->text), str) ||
	       contains_folded(c->text->html, strlen(c->text->html), str);
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

static void search_run(struct store *store, void *arg)
{
	struct search_job *j = arg;
	const char *error;
	if (store_message_list(store, j->mailbox, NULL, 0, collect, j, &error) < 0) {
		imap_job_failed(&j->st, store, error);
		return;
	}
	j->hits = xcalloc(j->count + 1, sizeof(uint32_t));
	struct search_content c = { .store = store, .raw = BUFFER_INIT };
	for (size_t i = 0; i < j->count; i++) {
		struct search_msg *m = &j->msgs[i];
		if (eval(j, j->root, m, &c)) {
			j->hits[j->hits_count++] = j->cmd->uid ? m->uid : m->seq;
			if (m->modseq > j->max_modseq)
				j->max_modseq = m->modseq;
		}
		content_free(&c);
	}
}

static void search_free(void *arg)
{
	struct search_job *j = arg;
	for (size_t i = 0; i < j->count; i++)
		free(j->msgs[i].flags);
	free(j->msgs);
	free(j->hits);
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
	struct buffer out = BUFFER_INIT;
	buffer_append_str(&out, "* SEARCH");
	for (size_t i = 0; i < j->hits_count; i++)
		buffer_printf(&out, " %u", j->hits[i]);
	if (j->has_modseq && j->hits_count > 0)
		buffer_printf(&out, " (MODSEQ %llu)", (unsigned long long)j->max_modseq);
	buffer_append_str(&out, "\r\n");
	imap_write(cmd->client, out.data, out.len);
	buffer_free(&out);
	search_free(j);
	imap_cmd_done(cmd, "OK SEARCH completed");
}

static void cmd_search(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	const char *charset, *error;
	struct imap_search_key *root;
	if (imap_search_parse(cmd->pool, cmd->args, cmd->args_count, &charset, &root, &error) < 0) {
		imap_cmd_donef(cmd, "BAD %s", error);
		return;
	}
	if (charset != NULL && strcasecmp(charset, "UTF-8") != 0 && strcasecmp(charset, "US-ASCII") != 0) {
		imap_cmd_done(cmd, "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return;
	}
	struct search_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->root = root;
	memcpy(j->mailbox, c->view->id, STORE_ID_SIZE);
	j->view_uids = c->view->uids;
	j->view_count = c->view->count;
	resolve_sets(j, root);
	if (j->has_modseq)
		c->condstore = true;
	imap_job(c, search_run, search_done, search_free, j);
}

const struct imap_command imap_search_commands[] = {
	{ "SEARCH", cmd_search, IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ NULL, NULL, 0 },
};
