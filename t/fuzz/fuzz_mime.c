/* libFuzzer target for the MIME layer.  Oracle: join(split(x)) == x, the
 * blob loads, and ENVELOPE, BODYSTRUCTURE and the text views build. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "mime_imap.h"
#include "mime_store.h"
#include "mime_text.h"

static int fetch(void *ctx, const char *id, const unsigned char **data_r, size_t *len_r)
{
	const struct mime_store_split_result *r = ctx;
	for (size_t i = 0; i < r->attachment_count; i++) {
		if (strcmp(r->attachments[i].id, id) == 0) {
			*data_r = r->attachments[i].data;
			*len_r = r->attachments[i].len;
			return 0;
		}
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first byte picks the cut threshold, so small inputs get cut too. */
	struct mime_store_opts opts = { .attachment_threshold = size > 0 ? data[0] % 64 + 1 : 0 };
	struct mime_store_split_result r;
	const char *error;
	if (mime_store_split(data, size, &opts, &r, &error) < 0)
		abort();
	struct buffer out = BUFFER_INIT;
	if (mime_store_join(r.tree, r.tree_len, fetch, &r, &out, &error) < 0 ||
	    out.len != size || (size > 0 && memcmp(out.data, data, size) != 0))
		abort();
	buffer_truncate(&out, 0);

	struct mime_message *m;
	if (mime_store_load(r.tree, r.tree_len, &m, &error) < 0)
		abort();
	mime_imap_envelope(m->root, &out);
	mime_imap_bodystructure(m->root, true, &out);
	mime_imap_bodystructure(m->root, false, &out);
	mime_message_free(&m);

	mime_parse(data, size, &m);
	struct mime_text *t;
	if (mime_message_text(m, &t, &error) == 0)
		mime_text_free(&t);
	mime_message_free(&m);
	buffer_free(&out);
	mime_store_split_result_free(&r);
	return 0;
}
