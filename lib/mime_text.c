/* Text, html, subject and attachments of a message, decoded to UTF-8.
 * What counts as "the text": text/plain and text/html leaves that are not
 * attachments (no attachment disposition, no filename) outside any attached
 * message; everything else that is a leaf, or an attached message, is an
 * attachment. */
#include "mime_text.h"
#include "charset.h"
#include "mem.h"
#include "mime_codec.h"
#include "pool.h"
#include "rfc2047.h"

#include <stdlib.h>
#include <string.h>

struct text_ctx {
	struct pool *pool;
	struct buffer text, html;
	struct mime_attachment_info *atts;
	size_t att_count, att_cap;
};

/* Decoded body as UTF-8 with LF line ends. */
static void decode_text(const struct mime_part *part, struct buffer *out)
{
	struct buffer raw = BUFFER_INIT, utf8 = BUFFER_INIT;
	mime_transfer_decode(part->encoding, part->body, part->body_end - part->body_start, &raw);
	charset_to_utf8(mime_param_get(part->type_params, "charset"), raw.data, raw.len, &utf8);
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		buffer_append_c(out, '\n');
	for (size_t i = 0; i < utf8.len; i++) {
		if (utf8.data[i] == '\r' && i + 1 < utf8.len && utf8.data[i + 1] == '\n')
			continue;
		buffer_append_c(out, utf8.data[i]);
	}
	buffer_free(&raw);
	buffer_free(&utf8);
}

static size_t decoded_size(const struct mime_part *part)
{
	size_t len = part->body_end - part->body_start;
	if (part->body == NULL || part->encoding == NULL ||
	    (strcmp(part->encoding, "base64") != 0 &&
	     strcmp(part->encoding, "quoted-printable") != 0))
		return len;
	struct buffer tmp = BUFFER_INIT;
	mime_transfer_decode(part->encoding, part->body, len, &tmp);
	size_t n = tmp.len;
	buffer_free(&tmp);
	return n;
}

static void add_attachment(struct text_ctx *ctx, const struct mime_part *part,
			   const char *id)
{
	if (ctx->att_count == ctx->att_cap) {
		ctx->att_cap = ctx->att_cap ? ctx->att_cap * 2 : 8;
		ctx->atts = xrealloc(ctx->atts, ctx->att_cap * sizeof(*ctx->atts));
	}
	struct mime_attachment_info *a = &ctx->atts[ctx->att_count++];
	memset(a, 0, sizeof(*a));
	a->part_id = pool_strdup(ctx->pool, id);
	a->filename = mime_part_filename(ctx->pool, part);
	a->content_type = pool_printf(ctx->pool, "%s/%s", part->type, part->subtype);
	a->disposition = part->disposition;
	a->content_id = part->content_id;
	a->encoded_size = part->body_end - part->body_start;
	a->size = decoded_size(part);
}

static bool is_attachment(const struct mime_part *part)
{
	if (part->disposition != NULL && strcmp(part->disposition, "attachment") == 0)
		return true;
	const char *f = mime_param_get(part->disposition_params, "filename");
	if (f == NULL || f[0] == '\0')
		f = mime_param_get(part->type_params, "name");
	return f != NULL && f[0] != '\0';
}

static void walk(struct text_ctx *ctx, const struct mime_part *part, const char *id)
{
	if (part->flags & MIME_PART_MULTIPART) {
		unsigned int i = 1;
		for (const struct mime_part *c = part->children; c != NULL; c = c->next, i++) {
			char *cid = id[0] == '\0' ? pool_printf(ctx->pool, "%u", i) :
				    pool_printf(ctx->pool, "%s.%u", id, i);
			walk(ctx, c, cid);
		}
		return;
	}
	const char *pid = id[0] == '\0' ? "1" : id;
	bool text = strcmp(part->type, "text") == 0;
	bool plain = text && strcmp(part->subtype, "plain") == 0;
	bool html = text && strcmp(part->subtype, "html") == 0;
	if ((plain || html) && !is_attachment(part)) {
		if (part->body != NULL)
			decode_text(part, plain ? &ctx->text : &ctx->html);
		return;
	}
	if (part->body_end > part->body_start || part->flags & MIME_PART_MESSAGE)
		add_attachment(ctx, part, pid);
}

int mime_message_text(const struct mime_message *msg, struct mime_text **text_r,
		      const char **error_r)
{
	struct text_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	struct mime_text *t = xcalloc(1, sizeof(*t));
	/* Strings of the result live in this pool, freed by mime_text_free. */
	ctx.pool = pool_create(4096);
	walk(&ctx, msg->root, "");
	const struct mime_part *root = msg->root;
	char *subject = mime_header_get(ctx.pool, root->header,
					root->header_end - root->header_start, "subject");
	if (subject != NULL) {
		struct buffer b = BUFFER_INIT;
		rfc2047_decode((const unsigned char *)subject, strlen(subject), &b);
		t->subject = buffer_steal(&b, NULL);
	}
	t->text = buffer_steal(&ctx.text, NULL);
	t->html = buffer_steal(&ctx.html, NULL);
	/* Copy what points into the message's pool: the result must not depend
	 * on msg staying alive. */
	for (size_t i = 0; i < ctx.att_count; i++) {
		struct mime_attachment_info *a = &ctx.atts[i];
		a->disposition = a->disposition ? pool_strdup(ctx.pool, a->disposition) : NULL;
		a->content_id = a->content_id ? pool_strdup(ctx.pool, a->content_id) : NULL;
	}
	t->attachments = ctx.atts;
	t->attachment_count = ctx.att_count;
	t->pool_ = ctx.pool;
	*text_r = t;
	(void)error_r;
	return 0;
}

void mime_text_free(struct mime_text **text)
{
	if (*text == NULL)
		return;
	free((*text)->subject);
	free((*text)->text);
	free((*text)->html);
	free((*text)->attachments);
	pool_destroy(&(*text)->pool_);
	XFREE(*text);
}
