/* FETCH and UID FETCH: message data items (FLAGS, UID, INTERNALDATE,
 * RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY, MODSEQ) and body sections
 * (BODY[...]<partial>, BODY.PEEK, RFC822*), built on a store thread in
 * batches so a large FETCH never holds all of its output in memory. */
#include "imap_client.h"
#include "imap_write.h"
#include "log.h"
#include "mem.h"
#include "mime.h"
#include "mime_imap.h"
#include "mime_store.h"
#include "fetch_body.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A batch ends after this many messages or this much output. */
#define FETCH_BATCH_MESSAGES 200
#define FETCH_BATCH_BYTES (2 * 1024 * 1024)
/* Literals larger than this are streamed in chunks of this size. */
#define FETCH_STREAM_CHUNK (1024 * 1024)

enum fetch_type { F_UID, F_FLAGS, F_INTERNALDATE, F_SIZE, F_ENVELOPE, F_BODYSTRUCTURE,
		  F_BODY, F_MODSEQ, F_SECTION };

enum section_kind { S_ALL, S_HEADER, S_TEXT, S_MIME, S_FIELDS, S_FIELDS_NOT };

struct fetch_item {
	enum fetch_type type;
	/* F_SECTION */
	const char *label;     /* "BODY[1.HEADER]", "RFC822", ... as answered */
	char *part;            /* "1.2" or "" */
	enum section_kind kind;
	const char **fields;   /* S_FIELDS, S_FIELDS_NOT */
	unsigned int fields_count;
	bool peek, partial;
	uint64_t offset, length;
};

struct fetch_msg {
	char id[STORE_ID_SIZE];
	uint32_t uid;
	uint64_t modseq, size;
	int64_t idate;
	bool seen, seen_changed;
	char *flags, *envelope, *bodystructure; /* flags space separated */
};

struct fetch_job {
	struct imap_job_status st;
	struct imap_cmd *cmd;
	char mailbox[STORE_ID_SIZE];
	struct fetch_item *items;
	unsigned int items_count;
	bool need_content, set_seen, uid_cmd, condstore;
	uint64_t changed_since;
	struct store_uid_range *ranges;
	unsigned int ranges_count;
	const uint32_t *view_uids; /* read-only while the command runs */
	uint32_t view_count;
	uint32_t next_uid;         /* the next batch starts here */
	uint64_t batch_bytes;
	bool stopped;              /* the batch is full, more may follow */
	bool listed;               /* a batch was read */
	bool finished;
	unsigned int cur;          /* the message to write next */
	struct {                   /* a large literal sent over several batches */
		bool active;
		unsigned int msg, next_item;
		size_t pos, end;
	} stream;
	uint64_t seen_modseq;      /* \Seen set by this batch, 0 if none */
	struct fetch_msg *msgs;
	unsigned int msgs_count;
	struct buffer out;
};

/* Parses "1.2.HEADER.FIELDS (From To)" into part, kind and fields. */
static int parse_section(struct pool *pool, const char *spec, struct fetch_item *it)
{
	const char *p = spec;
	while (*p >= '1' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p != '.')
			break;
		if (p[1] >= '1' && p[1] <= '9')
			p++;
		else
			break;
	}
	it->part = pool_strndup(pool, spec, (size_t)(p - spec));
	if (*p == '.' && p > spec)
		p++;
	else if (*p != '\0' && p > spec)
		return -1;
	it->kind = S_ALL;
	if (*p == '\0')
		return 0;
	if (strncasecmp(p, "HEADER.FIELDS.NOT ", 18) == 0) {
		it->kind = S_FIELDS_NOT;
		p += 18;
	} else if (strncasecmp(p, "HEADER.FIELDS ", 14) == 0) {
		it->kind = S_FIELDS;
		p += 14;
	} else if (strcasecmp(p, "HEADER") == 0) {
		it->kind = S_HEADER;
		return 0;
	} else if (strcasecmp(p, "TEXT") == 0) {
		it->kind = S_TEXT;
		return 0;
	} else if (strcasecmp(p, "MIME") == 0 && it->part[0] != '\0') {
		it->kind = S_MIME;
		return 0;
	} else {
		return -1;
	}
	/* (name name "name") */
	if (*p++ != '(')
		return -1;
	const char *end = strchr(p, ')');
	if (end == NULL || end[1] != '\0')
		return -1;
	it->fields = pool_alloc(pool, (strlen(p) / 2 + 2) * sizeof(char *));
	while (p < end) {
		while (*p == ' ')
			p++;
		if (p >= end)
			break;
		bool quoted = *p == '"';
		const char *s = quoted ? ++p : p;
		while (p < end && (quoted ? *p != '"' : *p != ' '))
			p++;
		if (p == s)
			return -1;
		it->fields[it->fields_count++] = pool_strndup(pool, s, (size_t)(p - s));
		if (quoted)
			p++;
	}
	return it->fields_count > 0 ? 0 : -1;
}

static int add_atom_item(struct fetch_job *j, struct pool *pool, const char *name)
{
	static const struct { const char *name; enum fetch_type type; } simple[] = {
		{ "UID", F_UID }, { "FLAGS", F_FLAGS }, { "INTERNALDATE", F_INTERNALDATE },
		{ "RFC822.SIZE", F_SIZE }, { "ENVELOPE", F_ENVELOPE },
		{ "BODYSTRUCTURE", F_BODYSTRUCTURE }, { "BODY", F_BODY }, { "MODSEQ", F_MODSEQ },
	};
	struct fetch_item *it = &j->items[j->items_count];
	memset(it, 0, sizeof(*it));
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (strcasecmp(name, simple[i].name) == 0) {
			it->type = simple[i].type;
			j->items_count++;
			return 0;
		}
	}
	/* RFC822 forms are BODY[] aliases with their own names */
	it->type = F_SECTION;
	it->part = "";
	if (strcasecmp(name, "RFC822") == 0) {
		it->label = "RFC822";
	} else if (strcasecmp(name, "RFC822.HEADER") == 0) {
		it->label = "RFC822.HEADER";
		it->kind = S_HEADER;
		it->peek = true;
	} else if (strcasecmp(name, "RFC822.TEXT") == 0) {
		it->label = "RFC822.TEXT";
		it->kind = S_TEXT;
	} else {
		return -1;
	}
	(void)pool;
	j->items_count++;
	return 0;
}

static int add_section_item(struct fetch_job *j, struct pool *pool, const struct imap_arg *arg)
{
	const struct imap_arg_section *s = &arg->section;
	struct fetch_item *it = &j->items[j->items_count];
	memset(it, 0, sizeof(*it));
	it->type = F_SECTION;
	if (strcasecmp(s->name, "BODY.PEEK") == 0)
		it->peek = true;
	else if (strcasecmp(s->name, "BODY") != 0)
		return -1; /* BINARY is not offered */
	if (parse_section(pool, s->spec, it) < 0)
		return -1;
	it->partial = s->has_partial;
	it->offset = s->offset;
	it->length = s->has_length ? s->length : UINT64_MAX;
	it->label = s->has_partial ? pool_printf(pool, "BODY[%s]<%llu>", s->spec,
						 (unsigned long long)s->offset)
		: pool_printf(pool, "BODY[%s]", s->spec);
	j->items_count++;
	return 0;
}

static int add_item(struct fetch_job *j, struct pool *pool, const struct imap_arg *arg)
{
	const char *name;
	if (arg->type == IMAP_ARG_SECTION)
		return add_section_item(j, pool, arg);
	if (!imap_arg_get_atom(arg, &name))
		return -1;
	static const struct { const char *macro, *items[5]; } macros[] = {
		{ "ALL", { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL } },
		{ "FAST", { "FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL } },
		{ "FULL", { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY" } },
	};
	for (size_t m = 0; m < 3; m++) {
		if (strcasecmp(name, macros[m].macro) != 0)
			continue;
		for (size_t i = 0; i < 5 && macros[m].items[i] != NULL; i++)
			add_atom_item(j, pool, macros[m].items[i]);
		return 0;
	}
	return add_atom_item(j, pool, name);
}

/* ---- the store thread's side ---- */

static int collect(const struct store_message *m, void *ctx)
{
	struct fetch_job *j = ctx;
	if (m->uid < j->next_uid)
		return 0;
	if (j->changed_since > 0 && m->modseq <= j->changed_since) {
		j->next_uid = m->uid + 1;
		return 0;
	}
	if (j->msgs_count == FETCH_BATCH_MESSAGES) {
		j->stopped = true;
		return 1; /* the rest in the next batch */
	}
	struct fetch_msg *f = &j->msgs[j->msgs_count++];
	memcpy(f->id, m->id, STORE_ID_SIZE);
	f->uid = m->uid;
	f->modseq = m->modseq;
	f->size = m->size;
	f->idate = m->idate;
	f->seen = m->seen;
	f->seen_changed = false;
	struct buffer b = BUFFER_INIT;
	for (unsigned int i = 0; i < m->flags_count; i++)
		buffer_printf(&b, "%s%s", i ? " " : "", m->flags[i]);
	f->flags = buffer_steal(&b, NULL);
	f->envelope = m->envelope != NULL ? xstrdup(m->envelope) : NULL;
	f->bodystructure = m->bodystructure != NULL ? xstrdup(m->bodystructure) : NULL;
	j->next_uid = m->uid + 1;
	j->batch_bytes += j->need_content ? f->size : 0;
	if (j->batch_bytes > FETCH_BATCH_BYTES) {
		j->stopped = true;
		return 1;
	}
	return 0;
}

static void msgs_clear(struct fetch_job *j)
{
	for (unsigned int i = 0; i < j->msgs_count; i++) {
		free(j->msgs[i].flags);
		free(j->msgs[i].envelope);
		free(j->msgs[i].bodystructure);
	}
	j->msgs_count = 0;
}

static enum mime_section mime_kind(enum section_kind k)
{
	switch (k) {
	case S_TEXT: return MIME_SECTION_TEXT;
	case S_MIME: return MIME_SECTION_MIME;
	case S_ALL: return MIME_SECTION_ALL;
	default: return MIME_SECTION_HEADER;
	}
}

static void write_internaldate(struct buffer *out, int64_t t)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	buffer_printf(out, "INTERNALDATE \"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
		      months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A body section: small ones inline, large ones announced as a literal
 * whose bytes the following batches stream (j->stream). Returns 1 when
 * streaming started. */
static int write_section(struct fetch_job *j, struct message_body *body, unsigned int msg,
			 unsigned int item, const char **error_r)
{
	const struct fetch_item *it = &j->items[item];
	struct buffer *out = &j->out;
	size_t start = 0, len = 0;
	if (fetch_body_section(body, it->part, mime_kind(it->kind), &start, &len) < 0)
		len = 0; /* no such part: an empty string (RFC 3501) */
	struct buffer hdr = BUFFER_INIT;
	if (it->kind == S_FIELDS || it->kind == S_FIELDS_NOT) {
		struct buffer raw = BUFFER_INIT;
		int ret = len > 0 ? message_body_range(body, start, len, &raw, error_r) : 0;
		if (ret == 0)
			fetch_header_filter(it->fields, it->fields_count, it->kind == S_FIELDS_NOT, &raw, &hdr);
		buffer_free(&raw);
		if (ret < 0)
			return -1;
		start = 0;
		len = hdr.len;
	}
	size_t off = it->partial ? (size_t)(it->offset < len ? it->offset : len) : 0;
	len -= off;
	if (it->partial && it->length < len)
		len = (size_t)it->length;
	buffer_printf(out, "%s {%zu}\r\n", it->label, len);
	if (hdr.data != NULL) {
		buffer_append(out, hdr.data + off, len);
		buffer_free(&hdr);
		return 0;
	}
	if (len <= FETCH_STREAM_CHUNK)
		return message_body_range(body, start + off, len, out, error_r);
	j->stream.active = true;
	j->stream.msg = msg;
	j->stream.next_item = item + 1;
	j->stream.pos = start + off;
	j->stream.end = start + off + len;
	return 1;
}

static int write_item(struct fetch_job *j, struct message_body *body, unsigned int msg,
		      unsigned int item, const char **error_r)
{
	const struct fetch_item *it = &j->items[item];
	struct buffer *out = &j->out;
	struct fetch_msg *f = &j->msgs[msg];
	switch (it->type) {
	case F_UID: buffer_printf(out, "UID %u", f->uid); return 0;
	case F_FLAGS: buffer_printf(out, "FLAGS (%s)", f->flags); return 0;
	case F_INTERNALDATE: write_internaldate(out, f->idate); return 0;
	case F_SIZE: buffer_printf(out, "RFC822.SIZE %llu", (unsigned long long)f->size); return 0;
	case F_MODSEQ: buffer_printf(out, "MODSEQ (%llu)", (unsigned long long)f->modseq); return 0;
	case F_ENVELOPE:
		buffer_append_str(out, "ENVELOPE ");
		if (f->envelope != NULL) {
			buffer_append_str(out, f->envelope);
			return 0;
		}
		return fetch_body_structure(body, FETCH_ENVELOPE, out, error_r);
	case F_BODYSTRUCTURE:
		buffer_append_str(out, "BODYSTRUCTURE ");
		if (f->bodystructure != NULL) {
			buffer_append_str(out, f->bodystructure);
			return 0;
		}
		return fetch_body_structure(body, FETCH_BODYSTRUCTURE, out, error_r);
	case F_BODY:
		buffer_append_str(out, "BODY ");
		return fetch_body_structure(body, FETCH_BODY, out, error_r);
	case F_SECTION:
		return write_section(j, body, msg, item, error_r);
	}
	return 0;
}

static bool item_requested(const struct fetch_job *j, enum fetch_type type)
{
	for (unsigned int i = 0; i < j->items_count; i++)
		if (j->items[i].type == type)
			return true;
	return false;
}

static uint32_t seq_of(const struct fetch_job *j, uint32_t uid)
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

/* Writes items [first, end) of message msg and, unless a section starts
 * streaming, the end of its FETCH response. Returns 1 when streaming. */
static int write_items(struct fetch_job *j, struct message_body *body, unsigned int msg,
		       unsigned int first, const char **error_r)
{
	struct fetch_msg *f = &j->msgs[msg];
	for (unsigned int i = first; i < j->items_count; i++) {
		if (i > 0 || (j->uid_cmd && !item_requested(j, F_UID)))
			buffer_append_c(&j->out, ' ');
		int r = write_item(j, body, msg, i, error_r);
		if (r != 0)
			return r;
	}
	if (f->seen_changed && !item_requested(j, F_FLAGS))
		buffer_printf(&j->out, " FLAGS (%s)", f->flags);
	if (j->condstore && !item_requested(j, F_MODSEQ))
		buffer_printf(&j->out, " MODSEQ (%llu)", (unsigned long long)f->modseq);
	buffer_append_str(&j->out, ")\r\n");
	return 0;
}

static bool needs_body(const struct fetch_job *j, const struct fetch_msg *f)
{
	return j->need_content || (item_requested(j, F_ENVELOPE) && f->envelope == NULL) ||
	       (item_requested(j, F_BODYSTRUCTURE) && f->bodystructure == NULL);
}

static int write_message(struct store *store, struct fetch_job *j, unsigned int msg,
			 const char **error_r)
{
	struct fetch_msg *f = &j->msgs[msg];
	struct message_body body = { 0 };
	if (needs_body(j, f) && message_body_open(&body, store, f->id, error_r) < 0)
		return -1;
	size_t mark = j->out.len;
	buffer_printf(&j->out, "* %u FETCH (", seq_of(j, f->uid));
	if (j->uid_cmd && !item_requested(j, F_UID))
		buffer_printf(&j->out, "UID %u", f->uid);
	int r = write_items(j, &body, msg, 0, error_r);
	if (r < 0)
		buffer_truncate(&j->out, mark);
	message_body_close(&body);
	return r;
}

/* The next chunk of a streamed literal; at its end the rest of that
 * message's response. */
static int stream_chunk(struct store *store, struct fetch_job *j, const char **error_r)
{
	struct message_body body;
	struct fetch_msg *f = &j->msgs[j->stream.msg];
	if (message_body_open(&body, store, f->id, error_r) < 0)
		return -1;
	size_t n = j->stream.end - j->stream.pos;
	if (n > FETCH_STREAM_CHUNK)
		n = FETCH_STREAM_CHUNK;
	int r = message_body_range(&body, j->stream.pos, n, &j->out, error_r);
	j->stream.pos += n;
	if (r == 0 && j->stream.pos == j->stream.end) {
		j->stream.active = false;
		r = write_items(j, &body, j->stream.msg, j->stream.next_item, error_r);
		if (r == 0)
			j->cur++;
	}
	message_body_close(&body);
	return r < 0 ? -1 : 0;
}

/* BODY[...] without PEEK marks messages \Seen (RFC 3501 6.4.5): one
 * store call for the batch, so they share one modseq. */
static void mark_seen(struct store *store, struct fetch_job *j, struct pool *pool)
{
	static const char *const seen[] = { "\\Seen" };
	struct store_uid_range *r = pool_alloc(pool, (j->msgs_count + 1) * sizeof(*r));
	unsigned int n = 0;
	for (unsigned int i = 0; i < j->msgs_count; i++)
		if (!j->msgs[i].seen)
			r[n++] = (struct store_uid_range){ j->msgs[i].uid, j->msgs[i].uid };
	struct store_flags_update u = { STORE_FLAGS_ADD, seen, 1, 0 };
	struct store_flags_result res;
	const char *error;
	if (n == 0 || store_flags_update(store, j->mailbox, r, n, &u, pool, &res, &error) < 0)
		return;
	j->seen_modseq = res.modseq;
	for (unsigned int k = 0; k < res.changed_count; k++) {
		for (unsigned int i = 0; i < j->msgs_count; i++) {
			struct fetch_msg *f = &j->msgs[i];
			if (f->uid != res.changed[k].uid)
				continue;
			char *flags = xasprintf("%s%s\\Seen", f->flags, f->flags[0] ? " " : "");
			free(f->flags);
			f->flags = flags;
			f->modseq = res.modseq;
			f->seen_changed = true;
		}
	}
}

/* Clips the ranges to what the next batch still has to read. */
static unsigned int remaining_ranges(const struct fetch_job *j, struct store_uid_range *r)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < j->ranges_count; i++) {
		if (j->ranges[i].last < j->next_uid)
			continue;
		r[n] = j->ranges[i];
		if (r[n].first < j->next_uid)
			r[n].first = j->next_uid;
		n++;
	}
	return n;
}

/* Reads the next batch of message metadata; false when none is left. */
static bool next_batch(struct store *store, struct fetch_job *j)
{
	const char *error = NULL;
	msgs_clear(j);
	j->cur = 0;
	if (!j->stopped && j->listed)
		return false;
	struct store_uid_range *r = xcalloc(j->ranges_count + 1, sizeof(*r));
	unsigned int n = remaining_ranges(j, r);
	j->stopped = false;
	j->listed = true;
	j->batch_bytes = 0;
	int ret = n == 0 ? 0 : store_message_list(store, j->mailbox, r, n, collect, j, &error);
	free(r);
	if (ret < 0) {
		imap_job_failed(&j->st, store, error);
		return false;
	}
	if (j->set_seen && j->msgs_count > 0) {
		struct pool *pool = pool_create(1024);
		mark_seen(store, j, pool);
		pool_destroy(&pool);
	}
	return j->msgs_count > 0;
}

/* One batch: continue a streamed literal, or write messages until the
 * output reaches FETCH_BATCH_BYTES. */
static void fetch_run(struct store *store, void *arg)
{
	struct fetch_job *j = arg;
	const char *error = NULL;
	buffer_truncate(&j->out, 0);
	j->seen_modseq = 0;
	if (j->stream.active) {
		if (stream_chunk(store, j, &error) < 0)
			goto failed;
		if (j->stream.active || j->out.len >= FETCH_BATCH_BYTES)
			return;
	}
	while (j->out.len < FETCH_BATCH_BYTES) {
		if (j->cur >= j->msgs_count && !next_batch(store, j)) {
			j->finished = true;
			return;
		}
		int r = write_message(store, j, j->cur, &error);
		if (r > 0)
			return; /* streaming: the next batches carry the literal */
		/* an expunged message vanishes from a FETCH; anything else fails it */
		if (r < 0 && store_last_error(store) != STORE_ERR_NOT_FOUND)
			goto failed;
		j->cur++;
	}
	return;
failed:
	imap_job_failed(&j->st, store, error);
	j->finished = true;
}

/* ---- the loop's side ---- */

static void fetch_free(void *arg)
{
	struct fetch_job *j = arg;
	msgs_clear(j);
	free(j->msgs);
	buffer_free(&j->out);
	free(j);
}

static void fetch_done(void *arg);

static void fetch_next(struct imap_client *c, void *arg)
{
	struct fetch_job *j = arg;
	imap_job(c, fetch_run, fetch_done, fetch_free, j);
}

static void fetch_done(void *arg)
{
	struct fetch_job *j = arg;
	struct imap_cmd *cmd = j->cmd;
	struct imap_client *c = cmd->client;
	imap_write(c, j->out.data, j->out.len);
	buffer_truncate(&j->out, 0);
	if (j->seen_modseq != 0) {
		c->own_modseqs[c->own_next++ % 16] = j->seen_modseq;
		imap_notify_changed(c->user_id);
	}
	if (j->st.error != STORE_OK) {
		imap_cmd_store_error(cmd, j->st.error, j->st.error_text);
		fetch_free(j);
		return;
	}
	if (!j->finished) {
		/* flow control: the next batch once the client has read this one */
		imap_when_output_drained(c, fetch_next, j);
		return;
	}
	fetch_free(j);
	imap_cmd_done(cmd, "OK FETCH completed");
}

static void cmd_fetch(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	struct fetch_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->uid_cmd = cmd->uid;
	j->condstore = c->condstore;
	memcpy(j->mailbox, c->view->id, STORE_ID_SIZE);
	const char *set, *error;
	if (cmd->args_count < 2 || cmd->args_count > 3 || !imap_arg_get_atom(&cmd->args[0], &set))
		goto bad;
	const struct imap_arg *list = &cmd->args[1];
	unsigned int n = 1;
	if (list->type == IMAP_ARG_LIST && !imap_arg_get_list(&cmd->args[1], &list, &n))
		goto bad;
	j->items = pool_alloc(cmd->pool, (n * 5 + 1) * sizeof(*j->items));
	for (unsigned int i = 0; i < n; i++)
		if (add_item(j, cmd->pool, &list[i]) < 0)
			goto bad;
	if (cmd->args_count == 3) {
		const struct imap_arg *mods;
		unsigned int m;
		const char *v;
		char *end;
		if (!imap_arg_get_list(&cmd->args[2], &mods, &m) || m != 2 ||
		    !imap_arg_atom_equals(&mods[0], "CHANGEDSINCE") || !imap_arg_get_atom(&mods[1], &v) ||
		    (j->changed_since = strtoull(v, &end, 10), *end != '\0') || j->changed_since == 0)
			goto bad;
		c->condstore = j->condstore = true;
	}
	for (unsigned int i = 0; i < j->items_count; i++) {
		const struct fetch_item *it = &j->items[i];
		j->need_content |= it->type == F_SECTION || it->type == F_BODY;
		j->set_seen |= it->type == F_SECTION && !it->peek && !c->view->readonly;
		if (it->type == F_MODSEQ)
			c->condstore = j->condstore = true;
	}
	if (imap_view_ranges(cmd, set, &j->ranges, &j->ranges_count, &error) < 0) {
		imap_cmd_donef(cmd, "BAD %s", error);
		fetch_free(j);
		return;
	}
	if (j->ranges_count == 0) {
		fetch_free(j);
		imap_cmd_done(cmd, "OK FETCH completed");
		return;
	}
	j->view_uids = c->view->uids;
	j->view_count = c->view->count;
	j->msgs = xcalloc(FETCH_BATCH_MESSAGES, sizeof(*j->msgs));
	imap_job(c, fetch_run, fetch_done, fetch_free, j);
	return;
bad:
	fetch_free(j);
	imap_cmd_done(cmd, "BAD Invalid FETCH arguments");
}

const struct imap_command imap_fetch_commands[] = {
	{ "FETCH", cmd_fetch, IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ NULL, NULL, 0 },
};
