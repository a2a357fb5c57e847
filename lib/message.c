/* Raw messages in and out of the store through mime_store's split/join. */
#include "message.h"

#include "buffer.h"
#include "mail_date.h"
#include "mime.h"
#include "mime_imap.h"
#include "mime_store.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The cached IMAP strings and the few header values the store indexes. */
struct raw_summary {
	char *envelope, *bodystructure;
	const char *subject, *msgid;
	int64_t hdate;	/* the Date: header, 0 when missing or not a date */
};

static void summarize(struct pool *pool, const unsigned char *raw, size_t len,
		      struct raw_summary *sum_r)
{
	struct mime_message *mime;
	(void)mime_parse(raw, len, &mime);
	const struct mime_part *root = mime->root;
	size_t hdr_len = root->header_end - root->header_start;
	sum_r->subject = mime_header_get(pool, root->header, hdr_len, "subject");
	sum_r->msgid = mime_header_get(pool, root->header, hdr_len, "message-id");
	const char *date = mime_header_get(pool, root->header, hdr_len, "date");
	if (date == NULL || mail_date_parse(date, strlen(date), &sum_r->hdate) < 0)
		sum_r->hdate = 0;
	struct buffer buf = BUFFER_INIT;
	mime_imap_envelope(root, &buf);
	sum_r->envelope = pool_strdup(pool, buffer_cstr(&buf));
	buffer_truncate(&buf, 0);
	mime_imap_bodystructure(root, true, &buf);
	sum_r->bodystructure = pool_strdup(pool, buffer_cstr(&buf));
	buffer_free(&buf);
	mime_message_free(&mime);
}

int store_message_append_raw(struct store *store, const char *mailbox_id,
			     const unsigned char *raw, size_t len,
			     const struct message_append_opts *opts,
			     struct store_append_result *result_r, const char **error_r)
{
	struct mime_store_split_result split;
	if (mime_store_split(raw, len, NULL, &split, error_r) < 0)
		return -1;
	struct pool *pool = pool_create(4096);
	struct raw_summary sum;
	summarize(pool, raw, len, &sum);
	/* the split list points into raw and is de-duplicated already */
	struct store_attachment *atts = pool_alloc(pool, (split.attachment_count + 1) *
						   sizeof(*atts));
	for (size_t i = 0; i < split.attachment_count; i++) {
		memcpy(atts[i].id, split.attachments[i].id, sizeof(atts[i].id));
		atts[i].data = split.attachments[i].data;
		atts[i].len = split.attachments[i].len;
	}
	int64_t idate = opts->idate != 0 ? opts->idate : (int64_t)time(NULL);
	struct store_message_new msg = {
		.idate = idate,
		.hdate = sum.hdate != 0 ? sum.hdate : idate,
		.size = len,
		.msgid = sum.msgid,
		.subject = sum.subject,
		.envelope = sum.envelope,
		.bodystructure = sum.bodystructure,
		.thread = opts->thread,
		.flags = opts->flags,
		.flags_count = opts->flags_count,
		.tree = split.tree,
		.tree_len = split.tree_len,
		.attachments = atts,
		.attachments_count = (unsigned int)split.attachment_count,
	};
	int ret = store_message_append(store, mailbox_id, &msg, opts->append_flags, result_r,
				       error_r);
	mime_store_split_result_free(&split);
	pool_destroy(&pool);
	return ret;
}

struct message_prepared {
	struct pool *pool;
	struct mime_store_split_result split;
	struct raw_summary sum;
	struct store_attachment *atts;
	size_t len;
};

int message_prepare(const unsigned char *raw, size_t len,
		    struct message_prepared **prepared_r, const char **error_r)
{
	struct mime_store_split_result split;
	if (mime_store_split(raw, len, NULL, &split, error_r) < 0)
		return -1;
	struct pool *pool = pool_create(4096);
	struct message_prepared *p = pool_alloc(pool, sizeof(*p));
	p->pool = pool;
	p->split = split;
	p->len = len;
	summarize(pool, raw, len, &p->sum);
	p->atts = pool_alloc(pool, (split.attachment_count + 1) * sizeof(*p->atts));
	for (size_t i = 0; i < split.attachment_count; i++) {
		memcpy(p->atts[i].id, split.attachments[i].id, sizeof(p->atts[i].id));
		p->atts[i].data = split.attachments[i].data;
		p->atts[i].len = split.attachments[i].len;
	}
	*prepared_r = p;
	return 0;
}

void message_prepared_free(struct message_prepared **preparedp)
{
	struct message_prepared *p = *preparedp;
	if (p == NULL)
		return;
	*preparedp = NULL;
	mime_store_split_result_free(&p->split);
	struct pool *pool = p->pool;	/* p lives in it */
	pool_destroy(&pool);
}

int store_message_append_prepared(struct store *store, const char *mailbox_id,
				  const struct message_prepared *p,
				  const unsigned char *fields, size_t fields_len,
				  const struct message_append_opts *opts,
				  struct store_append_result *result_r, const char **error_r)
{
	struct buffer tree = BUFFER_INIT;
	const unsigned char *blob = p->split.tree;
	size_t blob_len = p->split.tree_len;
	if (fields_len > 0) {
		if (mime_store_prepend(blob, blob_len, fields, fields_len, &tree, error_r) < 0)
			return -1;
		blob = tree.data;
		blob_len = tree.len;
	}
	int64_t idate = opts->idate != 0 ? opts->idate : (int64_t)time(NULL);
	struct store_message_new msg = {
		.idate = idate,
		.hdate = p->sum.hdate != 0 ? p->sum.hdate : idate,
		.size = p->len + fields_len,
		.msgid = p->sum.msgid,
		.subject = p->sum.subject,
		.envelope = p->sum.envelope,
		.bodystructure = p->sum.bodystructure,
		.thread = opts->thread,
		.flags = opts->flags,
		.flags_count = opts->flags_count,
		.tree = blob,
		.tree_len = blob_len,
		.attachments = p->atts,
		.attachments_count = (unsigned int)p->split.attachment_count,
	};
	int ret = store_message_append(store, mailbox_id, &msg, opts->append_flags, result_r,
				       error_r);
	buffer_free(&tree);
	return ret;
}

static int fetch_attachment(void *ctx, const char *id, const unsigned char **data_r,
			    size_t *len_r)
{
	const struct store_message_content *content = ctx;
	for (unsigned int i = 0; i < content->attachments_count; i++) {
		if (strcmp(content->attachments[i].id, id) == 0) {
			*data_r = content->attachments[i].data;
			*len_r = content->attachments[i].len;
			return 0;
		}
	}
	return -1;
}

int message_rebuild(struct store *store, const char *message_id, struct buffer *out,
		    const char **error_r)
{
	/* error strings of join are static; the store's live in the handle */
	struct pool *pool = pool_create(4096);
	struct store_message_content *content;
	int ret = store_message_content(store, message_id, pool, &content, error_r);
	if (ret == 0)
		ret = mime_store_join(content->tree, content->tree_len, fetch_attachment,
				      content, out, error_r);
	pool_destroy(&pool);
	return ret;
}

int message_body_open(struct message_body *b, struct store *store, const char *message_id,
		      const char **error_r)
{
	memset(b, 0, sizeof(*b));
	b->store = store;
	b->pool = pool_create(4096);
	if (store_message_tree(store, message_id, b->pool, &b->tree, &b->tree_len, error_r) < 0 ||
	    mime_store_total_size(b->tree, b->tree_len, &b->size, error_r) < 0) {
		message_body_close(b);
		return -1;
	}
	return 0;
}

void message_body_close(struct message_body *b)
{
	pool_destroy(&b->pool);
	b->tree = NULL;
}

int message_body_range(struct message_body *b, size_t start, size_t len, struct buffer *out,
		       const char **error_r)
{
	struct mime_store_segment *segs;
	size_t n;
	if (mime_store_segments(b->tree, b->tree_len, start, len, &segs, &n, error_r) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (segs[i].type == MIME_STORE_SEGMENT_LITERAL) {
			buffer_append(out, segs[i].data, segs[i].len);
			continue;
		}
		/* only the slice is read from the store */
		unsigned char *dst = buffer_reserve(out, segs[i].len);
		ret = store_attachment_read(b->store, segs[i].id, segs[i].att_offset, segs[i].len,
					    dst, error_r);
		if (ret == 0)
			out->len += segs[i].len;
	}
	free(segs);
	return ret;
}
