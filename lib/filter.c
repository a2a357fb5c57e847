/* Filter matching and delivery rules. Header values are unfolded, RFC 2047
 * decoded and lower-cased once per message; queries are lower-cased per
 * match (they are short). */
#include "filter.h"

#include "buffer.h"
#include "mime.h"
#include "mime_text.h"
#include "pool.h"
#include "rfc2047.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicase.h>
#include <uninorm.h>

/* Text queries look at this much of the decoded text only. */
#define FILTER_TEXT_MAX (1024 * 1024)

static const char *lower(struct pool *pool, const char *s)
{
	if (s == NULL)
		return "";
	size_t len = 0;
	uint8_t *l = u8_tolower((const uint8_t *)s, strlen(s), NULL, UNINORM_NFC, NULL, &len);
	if (l == NULL)
		return pool_strdup(pool, s);
	char *out = pool_strndup(pool, (const char *)l, len);
	free(l);
	return out;
}

static const char *decoded(struct pool *pool, const char *raw)
{
	if (raw == NULL)
		return NULL;
	struct buffer b = BUFFER_INIT;
	rfc2047_decode((const unsigned char *)raw, strlen(raw), &b);
	const char *s = pool_strdup(pool, buffer_cstr(&b));
	buffer_free(&b);
	return s;
}

/* The first address in a header value: "<a@b>" or a bare a@b. */
static const char *first_address(struct pool *pool, const char *value)
{
	if (value == NULL)
		return NULL;
	const char *lt = strchr(value, '<');
	if (lt != NULL) {
		const char *gt = strchr(lt, '>');
		if (gt != NULL && gt > lt + 1)
			return lower(pool, pool_strndup(pool, lt + 1, (size_t)(gt - lt - 1)));
	}
	const char *at = strchr(value, '@');
	if (at == NULL)
		return NULL;
	const char *s = at, *e = at;
	while (s > value && strchr(" \t,;:\"(", s[-1]) == NULL)
		s--;
	while (*e != '\0' && strchr(" \t,;\")>", *e) == NULL)
		e++;
	return lower(pool, pool_strndup(pool, s, (size_t)(e - s)));
}

bool filter_spam_rule_match(const char *rules, const char *name, const char *value)
{
	if (rules == NULL || name == NULL || value == NULL)
		return false;
	const char *p = rules;
	while (*p != '\0') {
		size_t len = strcspn(p, ";");
		const char *colon = memchr(p, ':', len);
		if (colon != NULL) {
			const char *n = p, *ne = colon, *v = colon + 1, *ve = p + len;
			while (n < ne && (*n == ' ' || *n == '\t'))
				n++;
			while (ne > n && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			const char *val = value;
			while (*val == ' ' || *val == '\t')
				val++;
			if ((size_t)(ne - n) == strlen(name) && strncasecmp(n, name, (size_t)(ne - n)) == 0 &&
			    ve > v && strncasecmp(val, v, (size_t)(ve - v)) == 0)
				return true;
		}
		p += len;
		if (*p == ';')
			p++;
	}
	return false;
}

const char *filter_autoreply_refusal(const char *sender, const char *auto_submitted,
				     const char *precedence, bool list_headers,
				     bool auto_reply_headers)
{
	if (sender == NULL || sender[0] == '\0')
		return "null sender";
	const char *at = strrchr(sender, '@');
	size_t llen = at != NULL ? (size_t)(at - sender) : strlen(sender);
	static const char *const robots[] = { "mailer-daemon", "postmaster", "noreply",
					      "no-reply", "listserv", "majordomo", "owner-",
					      "bounce", NULL };
	for (const char *const *r = robots; *r != NULL; r++) {
		size_t rl = strlen(*r);
		if ((*r)[rl - 1] == '-' ? (llen >= rl && strncasecmp(sender, *r, rl) == 0) :
		    (llen == rl && strncasecmp(sender, *r, rl) == 0))
			return "sender is a robot";
	}
	if (llen > 8 && strncasecmp(sender + llen - 8, "-request", 8) == 0)
		return "sender is a list";
	if (auto_submitted != NULL) {
		const char *v = auto_submitted;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strncasecmp(v, "no", 2) != 0 || (v[2] != '\0' && v[2] != ';' && v[2] != ' '))
			return "Auto-Submitted";
	}
	if (precedence != NULL) {
		const char *v = precedence;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strncasecmp(v, "bulk", 4) == 0 || strncasecmp(v, "list", 4) == 0 ||
		    strncasecmp(v, "junk", 4) == 0 || strncasecmp(v, "auto_reply", 10) == 0)
			return "Precedence";
	}
	if (list_headers)
		return "mailing list";
	if (auto_reply_headers)
		return "automatic message";
	return NULL;
}

void filter_message_init(struct pool *pool, const struct mime_message *mime,
			 const char *spam_rules, struct filter_message *msg_r)
{
	memset(msg_r, 0, sizeof(*msg_r));
	msg_r->mime_ = mime;
	msg_r->pool_ = pool;
	msg_r->has_attachment_ = -1;
	msg_r->size = mime->size;
	const struct mime_part *root = mime->root;
	struct buffer to = BUFFER_INIT;
	const char *auto_submitted = NULL, *precedence = NULL;
	bool list = false, autoreply = false;
	const char **fwd = NULL;
	unsigned int fwd_count = 0, fwd_cap = 0;
	struct mime_header_iter it;
	const unsigned char *name, *value;
	size_t name_len, value_len;
	mime_header_iter_init(&it, root->header, root->header_end - root->header_start);
	while (mime_header_next(&it, &name, &name_len, &value, &value_len)) {
		char *n = pool_strndup(pool, (const char *)name, name_len);
		char *v = mime_header_unfold(pool, value, value_len);
#define IS(h) (strcasecmp(n, h) == 0)
		if (IS("from") && msg_r->from == NULL) {
			const char *d = decoded(pool, v);
			msg_r->from = lower(pool, d);
			msg_r->from_address = first_address(pool, v);
		} else if (IS("to") || IS("cc")) {
			const char *d = decoded(pool, v);
			if (to.len > 0)
				buffer_append_str(&to, ", ");
			buffer_append_str(&to, d);
		} else if (IS("subject") && msg_r->subject == NULL) {
			msg_r->subject_raw = decoded(pool, v);
			msg_r->subject = lower(pool, msg_r->subject_raw);
		} else if (IS("list-id") && msg_r->list_id == NULL) {
			msg_r->list_id = lower(pool, decoded(pool, v));
			list = true;
		} else if (IS("message-id") && msg_r->message_id == NULL) {
			msg_r->message_id = v;
		} else if (IS("auto-submitted") && auto_submitted == NULL) {
			auto_submitted = v;
		} else if (IS("precedence") && precedence == NULL) {
			precedence = v;
		} else if (IS("list-unsubscribe") || IS("list-post") || IS("list-help")) {
			list = true;
		} else if (IS("x-auto-response-suppress") || IS("x-autoreply") ||
			   IS("x-autorespond") || IS("feedback-id")) {
			autoreply = true;
		} else if (IS(FILTER_FORWARDED_HEADER)) {
			if (fwd_count == fwd_cap) {
				fwd_cap = fwd_cap == 0 ? 4 : fwd_cap * 2;
				const char **bigger = pool_alloc(pool, fwd_cap * sizeof(*bigger));
				if (fwd_count > 0)
					memcpy(bigger, fwd, fwd_count * sizeof(*bigger));
				fwd = bigger;
			}
			fwd[fwd_count++] = lower(pool, v);
		}
		if (!msg_r->spam && filter_spam_rule_match(spam_rules, n, v))
			msg_r->spam = true;
#undef IS
	}
	msg_r->to = lower(pool, buffer_cstr(&to));
	buffer_free(&to);
	if (msg_r->from == NULL)
		msg_r->from = "";
	if (msg_r->subject == NULL)
		msg_r->subject = "";
	if (msg_r->list_id == NULL)
		msg_r->list_id = "";
	msg_r->forwarded_by = fwd;
	msg_r->forwarded_by_count = fwd_count;
	/* the envelope sender is checked by the caller; here only headers */
	msg_r->no_autoreply = filter_autoreply_refusal("x", auto_submitted, precedence, list,
						       autoreply);
}

static void load_text(struct filter_message *msg)
{
	if (msg->has_attachment_ >= 0)
		return;
	struct mime_text *text;
	const char *error;
	msg->has_attachment_ = 0;
	msg->text_ = "";
	if (mime_message_text(msg->mime_, &text, &error) < 0)
		return;
	msg->has_attachment_ = text->attachment_count > 0;
	size_t len = strlen(text->text);
	if (len > FILTER_TEXT_MAX)
		len = FILTER_TEXT_MAX;
	msg->text_ = lower(msg->pool_, pool_strndup(msg->pool_, text->text, len));
	mime_text_free(&text);
}

static bool contains(struct pool *pool, const char *haystack, const char *query)
{
	if (query == NULL || query[0] == '\0')
		return true;
	return strstr(haystack, lower(pool, query)) != NULL;
}

bool filter_match(const struct store_filter *f, struct filter_message *msg)
{
	struct pool *pool = msg->pool_;
	if (f->disabled)
		return false;
	if (!contains(pool, msg->from, f->from) || !contains(pool, msg->to, f->to) ||
	    !contains(pool, msg->subject, f->subject) || !contains(pool, msg->list_id, f->list_id))
		return false;
	if (f->size > 0 && msg->size <= (uint64_t)f->size)
		return false;
	if (f->size < 0 && msg->size >= (uint64_t)-f->size)
		return false;
	if (f->has_attachment >= 0) {
		load_text(msg);
		if (f->has_attachment != msg->has_attachment_)
			return false;
	}
	if (f->text != NULL && f->text[0] != '\0') {
		load_text(msg);
		if (!contains(pool, msg->text_, f->text))
			return false;
	}
	return true;
}

static void push(struct pool *pool, const char ***list, unsigned int *count, const char *s)
{
	const char **bigger = pool_alloc(pool, (*count + 1) * sizeof(*bigger));
	if (*count > 0)
		memcpy(bigger, *list, *count * sizeof(*bigger));
	bigger[(*count)++] = s;
	*list = bigger;
}

void filter_apply(struct pool *pool, const struct store_filter *filters, unsigned int count,
		  struct filter_message *msg, struct filter_actions *actions_r)
{
	memset(actions_r, 0, sizeof(*actions_r));
	actions_r->seen = actions_r->flag = actions_r->spam = -1;
	const char **forward = NULL, **webhooks = NULL;
	for (unsigned int i = 0; i < count; i++) {
		const struct store_filter *f = &filters[i];
		if (!filter_match(f, msg))
			continue;
		actions_r->matched++;
		if (f->seen >= 0 && actions_r->seen < 0)
			actions_r->seen = f->seen;
		if (f->flag >= 0 && actions_r->flag < 0)
			actions_r->flag = f->flag;
		if (f->spam >= 0 && actions_r->spam < 0)
			actions_r->spam = f->spam;
		if (f->delete_message)
			actions_r->delete_message = true;
		if (f->mailbox != NULL && actions_r->mailbox == NULL)
			actions_r->mailbox = f->mailbox;
		if (f->forward != NULL) {
			char *copy = pool_strdup(pool, f->forward), *save = NULL;
			for (char *t = strtok_r(copy, ", ", &save); t != NULL;
			     t = strtok_r(NULL, ", ", &save))
				push(pool, &forward, &actions_r->forward_count, t);
		}
		if (f->webhook != NULL)
			push(pool, &webhooks, &actions_r->webhooks_count, f->webhook);
	}
	actions_r->forward = forward;
	actions_r->webhooks = webhooks;
}
