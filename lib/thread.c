/* Thread ids from references with a subject fallback (see thread.h). The
 * tables (message id -> thread, normalised subject -> the thread that last
 * used it) belong to the index's backend (lib/fts.h: fts_thread_*); this
 * file only decides. Every step can be repeated, so a batch the indexer
 * applies again after a crash comes out the same without transactions. */
#include "thread.h"

#include "fts.h"
#include "mem.h"
#include "pool.h"
#include "store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REFS 64

_Static_assert(FTS_THREAD_SIZE == STORE_ID_SIZE, "thread ids are store ids");

static const char *const reply_prefixes[] = {
	"re", "fw", "fwd", "aw", "sv", "vs", "wg", "antw", "ref", "tr", "rif", "odp", NULL,
};

/* Length of a "re:", "fwd[2]:" style prefix at s, 0 if none. */
static size_t prefix_len(const char *s)
{
	for (const char *const *p = reply_prefixes; *p != NULL; p++) {
		size_t n = strlen(*p);
		if (strncasecmp(s, *p, n) != 0)
			continue;
		size_t i = n;
		if (s[i] == '[') { /* Re[2]: */
			while (isdigit((unsigned char)s[++i]))
				;
			if (s[i] != ']')
				continue;
			i++;
		}
		while (s[i] == ' ')
			i++;
		if (s[i] == ':')
			return i + 1;
		if (strncmp(s + i, "\xef\xbc\x9a", 3) == 0) /* full-width colon */
			return i + 3;
	}
	return 0;
}

const char *thread_subject_normalize(struct pool *pool, const char *subject, bool *reply_r)
{
	*reply_r = false;
	if (subject == NULL)
		return "";
	const char *s = subject;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		size_t n = prefix_len(s);
		if (n > 0) {
			*reply_r = true;
			s += n;
			continue;
		}
		if (*s == '[') { /* [list-tag] */
			const char *end = strchr(s, ']');
			if (end != NULL && end - s < 64) {
				s = end + 1;
				continue;
			}
		}
		break;
	}
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
			   s[len - 1] == '\n'))
		len--;
	if (len >= 5 && strncasecmp(s + len - 5, "(fwd)", 5) == 0) {
		*reply_r = true;
		len -= 5;
		while (len > 0 && s[len - 1] == ' ')
			len--;
	}
	/* inner runs of white space count as one */
	char *flat = xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		bool space = s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n';
		if (space && o > 0 && flat[o - 1] == ' ')
			continue;
		flat[o++] = space ? ' ' : s[i];
	}
	size_t folded_len;
	char *folded = fts_fold(flat, o, &folded_len);
	const char *ret = pool_strdup(pool, folded != NULL ? folded : "");
	if (folded == NULL) /* not UTF-8: compare as written */
		ret = pool_strndup(pool, flat, o);
	free(folded);
	free(flat);
	return ret;
}

void thread_refs_parse(struct pool *pool, const char *value, const char **ids, size_t max,
		       size_t *count_r)
{
	if (value == NULL)
		return;
	const char *p = value;
	while (*count_r < max && (p = strchr(p, '<')) != NULL) {
		const char *end = strchr(p + 1, '>');
		if (end == NULL)
			break;
		const char *start = p + 1;
		size_t len = (size_t)(end - start);
		/* drop white space a folded header left inside */
		char *id = pool_alloc(pool, len + 1);
		size_t o = 0;
		for (size_t i = 0; i < len; i++)
			if (!isspace((unsigned char)start[i]))
				id[o++] = start[i];
		id[o] = '\0';
		p = end + 1;
		if (o == 0 || strchr(id, '@') == NULL)
			continue;
		bool dup = false;
		for (size_t i = 0; i < *count_r; i++)
			dup |= strcmp(ids[i], id) == 0;
		if (!dup)
			ids[(*count_r)++] = id;
	}
}

struct found {
	char threads[MAX_REFS][STORE_ID_SIZE];
	size_t count;
};

static int found_add(const char *thread, void *ctx)
{
	struct found *f = ctx;
	bool dup = false;
	for (size_t k = 0; k < f->count; k++)
		dup |= strcmp(f->threads[k], thread) == 0;
	if (!dup && f->count < MAX_REFS && strlen(thread) < STORE_ID_SIZE)
		snprintf(f->threads[f->count++], STORE_ID_SIZE, "%s", thread);
	return 0;
}

int thread_assign(struct fts *fts, const struct thread_message *msg, thread_merge_cb *merged,
		  void *ctx, char *thread_r, const char **error_r)
{
	struct pool *pool = pool_create(1024);
	const char *ids[MAX_REFS];
	size_t count = 0;
	thread_refs_parse(pool, msg->message_id, ids, MAX_REFS, &count);
	size_t own = count; /* ids[0..own) name this message itself */
	thread_refs_parse(pool, msg->in_reply_to, ids, MAX_REFS, &count);
	thread_refs_parse(pool, msg->references, ids, MAX_REFS, &count);
	bool reply;
	const char *subject = thread_subject_normalize(pool, msg->subject, &reply);
	int ret = -1;

	/* every thread the ids already belong to; the smallest id (the
	 * oldest) is the one that stays */
	struct found found = { .count = 0 };
	if (fts_thread_find(fts, msg->user, ids, count, found_add, &found, error_r) < 0)
		goto out;
	char thread[STORE_ID_SIZE] = "";
	for (size_t k = 0; k < found.count; k++)
		if (thread[0] == '\0' || strcmp(found.threads[k], thread) < 0)
			memcpy(thread, found.threads[k], STORE_ID_SIZE);
	/* a reply whose references are all unknown (or missing) joins the
	 * thread of its subject */
	if (thread[0] == '\0' && subject[0] != '\0' && (reply || count > own)) {
		bool hit;
		if (fts_thread_subject_get(fts, msg->user, subject, thread, &hit, error_r) < 0)
			goto out;
		if (!hit)
			thread[0] = '\0';
	}
	if (thread[0] == '\0')
		store_id_generate(thread);
	/* the store's messages first: a crash before the index's tables
	 * follow finds the same threads again and repeats the merge */
	for (size_t k = 0; k < found.count; k++) {
		if (strcmp(found.threads[k], thread) == 0)
			continue;
		if (merged != NULL && merged(found.threads[k], thread, ctx) < 0) {
			*error_r = "thread merge: store update failed";
			goto out;
		}
		if (fts_thread_move(fts, msg->user, found.threads[k], thread, error_r) < 0)
			goto out;
	}
	if (fts_thread_link(fts, msg->user, thread, ids, count, subject, error_r) < 0)
		goto out;
	memcpy(thread_r, thread, STORE_ID_SIZE);
	ret = 0;
out:
	pool_destroy(&pool);
	return ret;
}
