/* API message views: see api_message.h. */
#include "api_message.h"

#include "charset.h"
#include "html_sanitize.h"
#include "mime.h"
#include "mime_codec.h"
#include "mime_imap.h"
#include "mime_store.h"
#include "mime_text.h"
#include "pool.h"
#include "rfc2047.h"
#include "store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistr.h>

#define INTRO_CHARS 128
#define ENVELOPE_MAX_DEPTH 4

/* ---- the IMAP ENVELOPE string ---- */

struct sexp {
	const char *p, *end;
};

static void skip_spaces(struct sexp *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

/* A string value as JSON, RFC 2047 decoded to valid UTF-8. */
static json_t *decoded_string(const unsigned char *data, size_t len)
{
	struct buffer b = BUFFER_INIT;
	rfc2047_decode(data, len, &b);
	json_t *v = json_stringn(buffer_cstr(&b), b.len);
	buffer_free(&b);
	return v != NULL ? v : json_string("");
}

static json_t *sexp_value(struct sexp *s, int depth)
{
	skip_spaces(s);
	if (s->p >= s->end || depth > ENVELOPE_MAX_DEPTH)
		return NULL;
	if (*s->p == '(') {
		s->p++;
		json_t *arr = json_array();
		for (;;) {
			skip_spaces(s);
			if (s->p >= s->end) {
				json_decref(arr);
				return NULL;
			}
			if (*s->p == ')') {
				s->p++;
				return arr;
			}
			json_t *v = sexp_value(s, depth + 1);
			if (v == NULL) {
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(arr, v);
		}
	}
	if (*s->p == '"') {
		struct buffer b = BUFFER_INIT;
		for (s->p++; s->p < s->end && *s->p != '"'; s->p++) {
			if (*s->p == '\\' && s->p + 1 < s->end)
				s->p++;
			buffer_append_c(&b, (unsigned char)*s->p);
		}
		if (s->p >= s->end) {
			buffer_free(&b);
			return NULL;
		}
		s->p++;
		json_t *v = decoded_string(b.data, b.len);
		buffer_free(&b);
		return v;
	}
	if (*s->p == '{') {
		char *close;
		unsigned long n = strtoul(s->p + 1, &close, 10);
		if (close >= s->end || *close != '}' || close + 3 > s->end || close[1] != '\r' ||
		    close[2] != '\n' || n > (size_t)(s->end - (close + 3)))
			return NULL;
		const char *data = close + 3;
		s->p = data + n;
		return decoded_string((const unsigned char *)data, n);
	}
	const char *start = s->p;
	while (s->p < s->end && *s->p != ' ' && *s->p != ')' && *s->p != '(')
		s->p++;
	if (s->p - start == 3 && memcmp(start, "NIL", 3) == 0)
		return json_null();
	return decoded_string((const unsigned char *)start, (size_t)(s->p - start));
}

static json_t *address_list(json_t *list)
{
	json_t *out = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a) {
		if (!json_is_array(a) || json_array_size(a) != 4)
			continue;
		const char *name = json_string_value(json_array_get(a, 0));
		const char *mailbox = json_string_value(json_array_get(a, 2));
		const char *host = json_string_value(json_array_get(a, 3));
		if (host == NULL)	/* group start or end */
			continue;
		char *addr = NULL;
		if (asprintf(&addr, "%s@%s", mailbox != NULL ? mailbox : "", host) < 0)
			abort();
		json_array_append_new(out, json_pack("{s:s, s:s}", "name", name != NULL ? name : "",
						     "address", addr));
		free(addr);
	}
	return out;
}

json_t *api_envelope_json(const char *envelope)
{
	if (envelope == NULL)
		return NULL;
	struct sexp s = { envelope, envelope + strlen(envelope) };
	json_t *env = sexp_value(&s, 0);
	if (env == NULL || !json_is_array(env) || json_array_size(env) != 10) {
		json_decref(env);
		return NULL;
	}
	json_t *out = json_object();
	json_t *subject = json_array_get(env, 1);
	json_object_set_new(out, "subject", json_is_string(subject) ? json_incref(subject) :
			    json_string(""));
	static const char *const names[] = { "from", "sender", "replyTo", "to", "cc", "bcc" };
	for (size_t i = 0; i < 6; i++)
		json_object_set_new(out, names[i], address_list(json_array_get(env, 2 + i)));
	json_object_set(out, "inReplyTo", json_array_get(env, 8));
	json_object_set(out, "messageId", json_array_get(env, 9));
	json_decref(env);
	return out;
}

void api_time_iso(int64_t unix_secs, char out[32])
{
	time_t t = (time_t)unix_secs;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int api_time_parse(const char *s, int64_t *t_r)
{
	*t_r = 0;
	if (s == NULL || s[0] == '\0')
		return 0;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL)
		return -1;
	if (*end == '.')
		while (*++end >= '0' && *end <= '9')
			;
	if (*end == 'Z')
		end++;
	if (*end != '\0')
		return -1;
	*t_r = (int64_t)timegm(&tm);
	return 0;
}

/* ---- summaries ---- */

static bool has_flag(const struct store_message *msg, const char *flag)
{
	for (unsigned int i = 0; i < msg->flags_count; i++)
		if (strcasecmp(msg->flags[i], flag) == 0)
			return true;
	return false;
}

/* Text with tags removed, for an intro of an html-only message. */
static void strip_tags(const char *html, struct buffer *out)
{
	bool in_tag = false;
	for (const char *p = html; *p != '\0' && out->len < INTRO_CHARS * 8; p++) {
		if (*p == '<')
			in_tag = true;
		else if (*p == '>')
			in_tag = false;
		else if (!in_tag)
			buffer_append_c(out, (unsigned char)*p);
	}
}

static json_t *intro_of(const char *text, const char *html)
{
	struct buffer stripped = BUFFER_INIT;
	if ((text == NULL || text[0] == '\0') && html != NULL) {
		strip_tags(html, &stripped);
		text = buffer_cstr(&stripped);
	}
	struct buffer b = BUFFER_INIT;
	size_t chars = 0;
	bool space = false;
	const uint8_t *p = (const uint8_t *)(text != NULL ? text : "");
	const uint8_t *end = p + strlen((const char *)p);
	while (p < end) {
		ucs4_t uc;
		int n = u8_mbtouc(&uc, p, (size_t)(end - p));
		if (n <= 0)
			break;
		if (uc == ' ' || uc == '\t' || uc == '\r' || uc == '\n' || uc == 0xa0) {
			space = b.len > 0;
		} else {
			if (chars >= INTRO_CHARS)
				break;
			if (space) {
				buffer_append_c(&b, ' ');
				chars++;
				space = false;
			}
			buffer_append(&b, p, (size_t)n);
			chars++;
		}
		p += n;
	}
	buffer_free(&stripped);
	json_t *v = json_stringn(buffer_cstr(&b), b.len);
	buffer_free(&b);
	return v != NULL ? v : json_string("");
}

static void set_address(json_t *out, json_t *env, const char *name, bool single)
{
	json_t *list = json_object_get(env, name);
	if (single) {
		json_t *first = json_array_get(list, 0);
		json_object_set_new(out, name, first != NULL ? json_incref(first) : json_null());
	} else {
		json_object_set_new(out, name, list != NULL ? json_incref(list) : json_array());
	}
}

static json_t *summary_base(const struct store_message *msg)
{
	char date[32], idate[32];
	api_time_iso(msg->hdate != 0 ? msg->hdate : msg->idate, date);
	api_time_iso(msg->idate, idate);
	json_t *flags = json_array();
	for (unsigned int i = 0; i < msg->flags_count; i++) {
		json_t *f = json_string(msg->flags[i]);
		if (f != NULL)
			json_array_append_new(flags, f);
	}
	json_t *out = json_pack("{s:I, s:s, s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:b, s:b, s:o}",
				"id", (json_int_t)msg->uid, "mailbox", msg->mailbox,
				"date", date, "idate", idate, "size", (json_int_t)msg->size,
				"seen", msg->seen, "deleted", msg->deleted, "flagged", msg->flagged,
				"draft", msg->draft, "answered", has_flag(msg, "\\Answered"),
				"forwarded", has_flag(msg, "$Forwarded"), "flags", flags);
	if (msg->thread != NULL)
		json_object_set_new(out, "thread", json_string(msg->thread));
	json_t *env = api_envelope_json(msg->envelope);
	if (env == NULL)
		env = json_pack("{s:s}", "subject", "");
	set_address(out, env, "from", true);
	set_address(out, env, "to", false);
	set_address(out, env, "cc", false);
	set_address(out, env, "bcc", false);
	set_address(out, env, "replyTo", false);
	json_t *subject = json_object_get(env, "subject");
	json_object_set_new(out, "subject", subject != NULL ? json_incref(subject) : json_string(""));
	json_t *mid = json_object_get(env, "messageId");
	json_object_set(out, "messageId", mid != NULL ? mid : json_null());
	json_decref(env);
	return out;
}

/* Bytes of a body decoded for an intro: a prefix is enough. */
#define INTRO_BODY_BYTES 4096

static bool summary_attachment(const struct mime_part *part)
{
	if (part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))
		return part->flags & MIME_PART_MESSAGE;
	if (part->disposition != NULL && strcmp(part->disposition, "attachment") == 0)
		return true;
	if (mime_param_get(part->disposition_params, "filename") != NULL ||
	    mime_param_get(part->type_params, "name") != NULL)
		return true;
	return part->type != NULL && strcmp(part->type, "text") != 0;
}

/* The listing's view of a tree: the first text part (plain preferred) for
 * the intro, decoded from a prefix only, and whether anything is attached.
 * Cheaper than mime_message_text(), which decodes every part whole. */
static void summary_walk(const struct mime_part *part, const struct mime_part **plain_r,
			 const struct mime_part **html_r, bool *attachments_r)
{
	for (; part != NULL; part = part->next) {
		if (part->flags & MIME_PART_MESSAGE) {
			*attachments_r = true;
			continue;
		}
		if (part->flags & MIME_PART_MULTIPART) {
			summary_walk(part->children, plain_r, html_r, attachments_r);
			continue;
		}
		if (summary_attachment(part)) {
			*attachments_r = true;
			continue;
		}
		const char *sub = part->subtype != NULL ? part->subtype : "plain";
		if (*plain_r == NULL && strcmp(sub, "plain") == 0)
			*plain_r = part;
		else if (*html_r == NULL && strcmp(sub, "html") == 0)
			*html_r = part;
	}
}

static char *part_prefix_utf8(const struct mime_part *part)
{
	if (part == NULL || part->body == NULL)
		return NULL;
	size_t len = part->body_end - part->body_start;
	if (len > INTRO_BODY_BYTES)
		len = INTRO_BODY_BYTES;
	struct buffer raw = BUFFER_INIT, utf8 = BUFFER_INIT;
	mime_transfer_decode(part->encoding, part->body, len, &raw);
	const char *charset = mime_param_get(part->type_params, "charset");
	(void)charset_to_utf8(charset != NULL ? charset : "us-ascii", raw.data, raw.len, &utf8);
	buffer_free(&raw);
	return buffer_steal(&utf8, NULL);
}

json_t *api_message_summary(const struct store_message *msg, const unsigned char *tree,
			    size_t tree_len)
{
	json_t *out = summary_base(msg);
	struct mime_message *mime = NULL;
	const char *error;
	const struct mime_part *plain = NULL, *html = NULL;
	bool attachments = false;
	char *text = NULL;
	if (tree != NULL && mime_store_load(tree, tree_len, &mime, &error) == 0) {
		const struct mime_part *root = mime->root;
		if (root->flags & MIME_PART_MULTIPART)
			summary_walk(root->children, &plain, &html, &attachments);
		else
			summary_walk(root, &plain, &html, &attachments);
		text = part_prefix_utf8(plain != NULL ? plain : html);
	}
	json_object_set_new(out, "intro", plain != NULL ? intro_of(text, NULL) :
			    intro_of(NULL, text));
	json_object_set_new(out, "attachments", json_boolean(attachments));
	free(text);
	if (mime != NULL)
		mime_message_free(&mime);
	return out;
}

/* ---- the whole message ---- */

static json_t *headers_json(const struct mime_part *root)
{
	json_t *arr = json_array();
	struct mime_header_iter it;
	mime_header_iter_init(&it, root->header, root->header_end - root->header_start);
	const unsigned char *name, *value;
	size_t nlen, vlen;
	struct pool *pool = pool_create(1024);
	while (mime_header_next(&it, &name, &nlen, &value, &vlen)) {
		struct buffer key = BUFFER_INIT, val = BUFFER_INIT;
		for (size_t i = 0; i < nlen; i++)
			buffer_append_c(&key, (unsigned char)tolower(name[i]));
		char *unfolded = mime_header_unfold(pool, value, vlen);
		rfc2047_decode((const unsigned char *)unfolded, strlen(unfolded), &val);
		struct buffer safe_key = BUFFER_INIT;
		charset_utf8_sanitize(key.data, key.len, &safe_key);
		json_t *k = json_stringn(buffer_cstr(&safe_key), safe_key.len);
		json_t *v = json_stringn(buffer_cstr(&val), val.len);
		if (k != NULL && v != NULL)
			json_array_append_new(arr, json_pack("{s:o, s:o}", "key", k, "value", v));
		else {
			json_decref(k);
			json_decref(v);
		}
		buffer_free(&key);
		buffer_free(&safe_key);
		buffer_free(&val);
	}
	pool_destroy(&pool);
	return arr;
}

static json_t *str_or_null(const char *s)
{
	json_t *v = s != NULL ? json_string(s) : NULL;
	return v != NULL ? v : json_null();
}

json_t *api_message_full(const struct store_message *msg, const unsigned char *raw,
			 size_t len)
{
	json_t *out = summary_base(msg);
	struct mime_message *mime;
	mime_parse(raw, len, &mime);
	json_object_set_new(out, "headers", headers_json(mime->root));
	struct mime_text *text = NULL;
	const char *error;
	json_t *atts = json_array();
	if (mime_message_text(mime, &text, &error) == 0) {
		json_object_set_new(out, "intro", intro_of(text->text, text->html));
		json_t *t = json_string(text->text);
		json_object_set_new(out, "text", t != NULL ? t : json_string(""));
		json_t *html = json_array();
		if (text->html[0] != '\0') {
			struct buffer clean = BUFFER_INIT;
			html_sanitize(text->html, strlen(text->html), &clean);
			/* the sanitiser keeps bytes of valid UTF-8 input whole */
			json_t *h = json_stringn(buffer_cstr(&clean), clean.len);
			if (h != NULL)
				json_array_append_new(html, h);
			buffer_free(&clean);
		}
		json_object_set_new(out, "html", html);
		for (size_t i = 0; i < text->attachment_count; i++) {
			const struct mime_attachment_info *a = &text->attachments[i];
			char id[32];
			snprintf(id, sizeof(id), "ATT%05zu", i + 1);
			json_array_append_new(atts, json_pack(
				"{s:s, s:o, s:o, s:o, s:o, s:s, s:I, s:I}", "id", id,
				"filename", str_or_null(a->filename),
				"contentType", str_or_null(a->content_type),
				"disposition", str_or_null(a->disposition),
				"cid", str_or_null(a->content_id), "part", a->part_id,
				"size", (json_int_t)a->size,
				"sizeKb", (json_int_t)((a->size + 1023) / 1024)));
		}
	} else {
		json_object_set_new(out, "text", json_string(""));
		json_object_set_new(out, "html", json_array());
	}
	json_object_set_new(out, "attachments", atts);
	const struct mime_part *root = mime->root;
	char ct[256];
	snprintf(ct, sizeof(ct), "%s/%s", root->type != NULL ? root->type : "text",
		 root->subtype != NULL ? root->subtype : "plain");
	json_t *ctv = json_string(ct);
	json_object_set_new(out, "contentType", json_pack("{s:o}", "value",
							  ctv != NULL ? ctv : json_string("")));
	mime_text_free(&text);
	mime_message_free(&mime);
	return out;
}

int api_message_attachment(const unsigned char *raw, size_t len, const char *att_id,
			   struct buffer *out, char **content_type_r, char **filename_r)
{
	unsigned long index;
	char *end;
	if (strncmp(att_id, "ATT", 3) != 0 || strlen(att_id) != 8)
		return -1;
	index = strtoul(att_id + 3, &end, 10);
	if (*end != '\0' || index == 0)
		return -1;
	struct mime_message *mime;
	mime_parse(raw, len, &mime);
	struct mime_text *text = NULL;
	const char *error;
	int ret = -1;
	if (mime_message_text(mime, &text, &error) == 0 && index <= text->attachment_count) {
		const struct mime_attachment_info *a = &text->attachments[index - 1];
		const struct mime_part *part = mime_part_find(mime, a->part_id);
		if (part != NULL && part->body != NULL) {
			mime_transfer_decode(part->encoding, part->body,
					     part->body_end - part->body_start, out);
			*content_type_r = strdup(a->content_type != NULL ? a->content_type :
						 "application/octet-stream");
			*filename_r = a->filename != NULL ? strdup(a->filename) : NULL;
			ret = 0;
		}
	}
	mime_text_free(&text);
	mime_message_free(&mime);
	return ret;
}

/* ---- composing ---- */

static int append_address(json_t *v, struct buffer *out, const char **error_r)
{
	const char *name = NULL, *addr;
	if (json_is_string(v)) {
		addr = json_string_value(v);
	} else {
		name = json_string_value(json_object_get(v, "name"));
		addr = json_string_value(json_object_get(v, "address"));
	}
	if (addr == NULL || strchr(addr, '@') == NULL || strpbrk(addr, "<>\r\n\" ,;") != NULL) {
		*error_r = "an address is not valid";
		return -1;
	}
	if (name != NULL && name[0] != '\0') {
		bool ascii = true;
		for (const char *p = name; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x7f || *p == '"' || *p == '\\' ||
			    (unsigned char)*p < 0x20)
				ascii = false;
		if (ascii)
			buffer_printf(out, "\"%s\" ", name);
		else {
			rfc2047_encode(name, out);
			buffer_append_c(out, ' ');
		}
		buffer_printf(out, "<%s>", addr);
	} else {
		buffer_printf(out, "%s", addr);
	}
	return 0;
}

static int address_header(json_t *obj, const char *field, const char *header,
			  struct buffer *out, const char **error_r)
{
	json_t *v = json_object_get(obj, field);
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_array(v) && json_array_size(v) == 0)
		return 0;
	buffer_printf(out, "%s: ", header);
	if (json_is_array(v)) {
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			if (i > 0)
				buffer_append_str(out, ",\r\n ");
			if (append_address(item, out, error_r) < 0)
				return -1;
		}
	} else if (append_address(v, out, error_r) < 0) {
		return -1;
	}
	buffer_append_str(out, "\r\n");
	return 0;
}

static void body_part(const char *type, const char *text, struct buffer *out)
{
	buffer_printf(out, "Content-Type: %s; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: base64\r\n\r\n", type);
	/* CRLF line ends in the text, as RFC 5322 wants */
	struct buffer crlf = BUFFER_INIT;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\n' && (p == text || p[-1] != '\r'))
			buffer_append_c(&crlf, '\r');
		buffer_append_c(&crlf, (unsigned char)*p);
	}
	struct buffer b64 = BUFFER_INIT;
	mime_base64_encode(crlf.data, crlf.len, &b64);
	for (size_t i = 0; i < b64.len; i += 76) {
		size_t n = b64.len - i < 76 ? b64.len - i : 76;
		buffer_append(out, b64.data + i, n);
		buffer_append_str(out, "\r\n");
	}
	buffer_free(&b64);
	buffer_free(&crlf);
}

int api_message_compose(json_t *obj, const char *hostname, struct buffer *out,
			const char **error_r)
{
	unsigned char rnd[12];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	char boundary[64];
	snprintf(boundary, sizeof(boundary), "----=_wd_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	if (address_header(obj, "from", "From", out, error_r) < 0 ||
	    address_header(obj, "replyTo", "Reply-To", out, error_r) < 0 ||
	    address_header(obj, "to", "To", out, error_r) < 0 ||
	    address_header(obj, "cc", "Cc", out, error_r) < 0 ||
	    address_header(obj, "bcc", "Bcc", out, error_r) < 0)
		return -1;
	const char *subject = json_string_value(json_object_get(obj, "subject"));
	if (subject != NULL) {
		buffer_append_str(out, "Subject: ");
		rfc2047_encode(subject, out);
		buffer_append_str(out, "\r\n");
	}
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buffer_printf(out, "Date: %s\r\n", date);
	buffer_printf(out, "Message-ID: <%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x@%s>\r\n",
		      rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8],
		      rnd[9], rnd[10], rnd[11], hostname);
	buffer_append_str(out, "MIME-Version: 1.0\r\n");
	const char *text = json_string_value(json_object_get(obj, "text"));
	const char *html = json_string_value(json_object_get(obj, "html"));
	if (text != NULL && html != NULL) {
		buffer_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
			      "--%s\r\n", boundary, boundary);
		body_part("text/plain", text, out);
		buffer_printf(out, "--%s\r\n", boundary);
		body_part("text/html", html, out);
		buffer_printf(out, "--%s--\r\n", boundary);
	} else {
		body_part(html != NULL ? "text/html" : "text/plain",
			  html != NULL ? html : text != NULL ? text : "", out);
	}
	return 0;
}
