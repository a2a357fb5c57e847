/* mboxrd writer (see mbox.h): moved here from wdctl so that wd-api's audit
 * export produces the same bytes as `wdctl export-mbox`. */
#include "mbox.h"

#include "buffer.h"
#include "mem.h"
#include "message.h"
#include "mime.h"
#include "pool.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The envelope sender for the From_ line: Return-Path, else the address in
 * From:, else MAILER-DAEMON; never with spaces. */
static void from_sender(struct pool *pool, const unsigned char *raw, size_t len, char *out,
			size_t outlen)
{
	struct mime_message *mime;
	(void)mime_parse(raw, len, &mime);
	const struct mime_part *root = mime->root;
	size_t hlen = root->header_end - root->header_start;
	const char *v = mime_header_get(pool, root->header, hlen, "return-path");
	if (v == NULL || strchr(v, '@') == NULL)
		v = mime_header_get(pool, root->header, hlen, "from");
	mime_message_free(&mime);
	snprintf(out, outlen, "MAILER-DAEMON");
	if (v == NULL)
		return;
	const char *start = strrchr(v, '<'), *end;
	if (start != NULL && (end = strchr(start, '>')) != NULL) {
		start++;
	} else {
		const char *at = strchr(v, '@');
		if (at == NULL)
			return;
		start = at;
		while (start > v && start[-1] != ' ' && start[-1] != '\t' && start[-1] != ',')
			start--;
		end = at + strcspn(at, " \t,>");
	}
	size_t n = (size_t)(end - start);
	if (n == 0 || n >= outlen || memchr(start, ' ', n) != NULL)
		return;
	memcpy(out, start, n);
	out[n] = '\0';
}

void mbox_append_message(struct buffer *out, const unsigned char *raw, size_t len,
			 int64_t idate)
{
	struct pool *pool = pool_create(1024);
	char sender[256];
	from_sender(pool, raw, len, sender, sizeof(sender));
	pool_destroy(&pool);
	time_t t = (time_t)idate;
	struct tm tm;
	char date[64];
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	buffer_printf(out, "From %s %s\n", sender, date);
	size_t pos = 0;
	while (pos < len) {
		const unsigned char *nl = memchr(raw + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - raw) : len, line_end = end;
		if (line_end > pos && raw[line_end - 1] == '\r')
			line_end--;
		size_t q = pos;
		while (q < line_end && raw[q] == '>')
			q++;
		if (line_end - q >= 5 && memcmp(raw + q, "From ", 5) == 0)
			buffer_append_c(out, '>');
		buffer_append(out, raw + pos, line_end - pos);
		buffer_append_c(out, '\n');
		pos = nl != NULL ? end + 1 : len;
	}
	buffer_append_c(out, '\n');
}

struct export_item {
	char id[STORE_ID_SIZE];
	int64_t idate;
};

struct export_list {
	struct export_item *items;
	size_t count;
};

static int export_cb(const struct store_message *msg, void *context)
{
	struct export_list *l = context;
	l->items = xrealloc(l->items, (l->count + 1) * sizeof(*l->items));
	memcpy(l->items[l->count].id, msg->id, STORE_ID_SIZE);
	l->items[l->count].idate = msg->idate;
	l->count++;
	return 0;
}

int mbox_export_mailbox(struct store *store, const char *mailbox_id, mbox_write_fn *write,
			void *context, size_t *count_r, const char **error_r)
{
	/* the list first: no store call may run inside its callback */
	struct export_list list = { 0 };
	*count_r = 0;
	if (store_message_list(store, mailbox_id, NULL, 0, export_cb, &list, error_r) < 0) {
		free(list.items);
		return -1;
	}
	int ret = 0;
	struct buffer raw = BUFFER_INIT, out = BUFFER_INIT;
	for (size_t i = 0; i < list.count && ret == 0; i++) {
		buffer_truncate(&raw, 0);
		buffer_truncate(&out, 0);
		if (message_rebuild(store, list.items[i].id, &raw, error_r) < 0) {
			ret = -1;
			break;
		}
		mbox_append_message(&out, raw.data, raw.len, list.items[i].idate);
		if (write(out.data, out.len, context) != 0) {
			*error_r = "write failed";
			ret = -1;
		} else {
			(*count_r)++;
		}
	}
	buffer_free(&raw);
	buffer_free(&out);
	free(list.items);
	return ret;
}
