/* libFuzzer target for THREAD (RFC 5256): messages whose Message-IDs,
 * References, subjects and dates come from the input (small alphabets, so
 * duplicates, loops and shared parents are common). Oracles: both
 * algorithms list every message exactly once, in balanced parentheses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "imap_thread.h"

#define MAX_MSGS 64

static const char *const ids[] = { NULL, "a", "b", "c", "d", "e", "f", "g" };
static const char *const subjects[] = { "", "A", "B", "C" };

static void check(struct buffer *out, size_t count)
{
	buffer_cstr(out); /* strtoul below stops at its NUL at the latest */
	unsigned int seen[MAX_MSGS + 1] = { 0 };
	int depth = 0;
	for (size_t i = 0; i < out->len; i++) {
		char ch = (char)out->data[i];
		if (ch == '(') {
			depth++;
		} else if (ch == ')') {
			if (--depth < 0)
				abort();
		} else if (ch >= '0' && ch <= '9') {
			unsigned long n = strtoul((const char *)out->data + i, NULL, 10);
			if (n == 0 || n > count || seen[n]++ > 0)
				abort();
			while (i + 1 < out->len && out->data[i + 1] >= '0' && out->data[i + 1] <= '9')
				i++;
		} else if (ch != ' ') {
			abort();
		}
	}
	for (size_t n = 1; n <= count; n++)
		if (seen[n] != 1 || depth != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_thread_msg msgs[MAX_MSGS];
	const char *refs[MAX_MSGS][3];
	size_t count = 0;
	for (; size >= 3 && count < MAX_MSGS; data += 3, size -= 3, count++) {
		struct imap_thread_msg *m = &msgs[count];
		m->number = m->seq = (uint32_t)count + 1;
		m->message_id = ids[data[0] & 7];
		m->refs_count = 0;
		for (unsigned int r = 0; r < (unsigned int)(data[0] >> 6); r++) {
			const char *id = ids[(data[1] >> (r * 3)) & 7];
			if (id != NULL)
				refs[count][m->refs_count++] = id;
		}
		m->refs = refs[count];
		m->subject = subjects[(data[0] >> 3) & 3];
		m->reply = data[0] & 0x20;
		m->date = data[2] & 0x0f;
	}
	struct buffer out = BUFFER_INIT;
	imap_thread_references(msgs, count, &out);
	check(&out, count);
	buffer_truncate(&out, 0);
	imap_thread_orderedsubject(msgs, count, &out);
	check(&out, count);
	buffer_free(&out);
	return 0;
}
