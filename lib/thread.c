/* Thread ids from references with a subject fallback (see thread.h). The
 * tables: thread_refs (user, message id -> thread) and thread_subjects
 * (user, normalised subject -> the thread that last used it), in the
 * index file, changed only inside the indexer's write transactions. */
#include "thread.h"

#include "fts.h"
#include "mem.h"
#include "pool.h"
#include "store.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REFS 64

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

static int fail(sqlite3 *db, const char *what, const char **error_r)
{
	static __thread char err[256];
	snprintf(err, sizeof(err), "thread %s: %s", what, sqlite3_errmsg(db));
	*error_r = err;
	return -1;
}

static int exec_bound(sqlite3 *db, const char *sql, const char *a, const char *b,
		      const char *c, const char **error_r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(db, "prepare", error_r);
	const char *args[] = { a, b, c };
	for (int i = 0; i < 3; i++)
		if (args[i] != NULL)
			sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(db, "update", error_r);
}

/* Moves everything of thread `from` to `to`. */
static int merge(sqlite3 *db, const char *user, const char *from, const char *to,
		 thread_merge_cb *merged, void *ctx, const char **error_r)
{
	if (merged != NULL && merged(from, to, ctx) < 0) {
		*error_r = "thread merge: store update failed";
		return -1;
	}
	if (exec_bound(db, "UPDATE thread_refs SET thread = ?3 WHERE user = ?1 AND thread = ?2",
		       user, from, to, error_r) < 0 ||
	    exec_bound(db, "UPDATE thread_subjects SET thread = ?3 WHERE user = ?1 AND thread = ?2",
		       user, from, to, error_r) < 0 ||
	    exec_bound(db, "UPDATE docs SET thread = ?3 WHERE user = ?1 AND thread = ?2",
		       user, from, to, error_r) < 0)
		return -1;
	return 0;
}

int thread_assign(struct fts *fts, const struct thread_message *msg, thread_merge_cb *merged,
		  void *ctx, char *thread_r, const char **error_r)
{
	sqlite3 *db = fts_db(fts);
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

	/* every thread the ids already belong to, oldest (smallest id) first */
	char found[MAX_REFS][STORE_ID_SIZE];
	size_t nfound = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT thread FROM thread_refs WHERE user = ?1 AND ref = ?2",
			       -1, &st, NULL) != SQLITE_OK) {
		fail(db, "prepare", error_r);
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, msg->user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, ids[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			continue;
		const char *t = (const char *)sqlite3_column_text(st, 0);
		bool dup = false;
		for (size_t k = 0; k < nfound; k++)
			dup |= strcmp(found[k], t) == 0;
		if (!dup && strlen(t) < STORE_ID_SIZE)
			snprintf(found[nfound++], STORE_ID_SIZE, "%s", t);
	}
	sqlite3_finalize(st);

	char thread[STORE_ID_SIZE] = "";
	for (size_t k = 0; k < nfound; k++)
		if (thread[0] == '\0' || strcmp(found[k], thread) < 0)
			memcpy(thread, found[k], STORE_ID_SIZE);
	/* a reply whose references are all unknown (or missing) joins the
	 * thread of its subject */
	if (thread[0] == '\0' && subject[0] != '\0' && (reply || count > own)) {
		if (sqlite3_prepare_v2(db, "SELECT thread FROM thread_subjects WHERE user = ?1 AND "
				       "subject = ?2", -1, &st, NULL) != SQLITE_OK) {
			fail(db, "prepare", error_r);
			goto out;
		}
		sqlite3_bind_text(st, 1, msg->user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    strlen((const char *)sqlite3_column_text(st, 0)) < STORE_ID_SIZE)
			snprintf(thread, sizeof(thread), "%s", sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	if (thread[0] == '\0')
		store_id_generate(thread);
	for (size_t k = 0; k < nfound; k++)
		if (strcmp(found[k], thread) != 0 &&
		    merge(db, msg->user, found[k], thread, merged, ctx, error_r) < 0)
			goto out;
	for (size_t i = 0; i < count; i++)
		if (exec_bound(db, "INSERT INTO thread_refs (user, ref, thread) VALUES (?1, ?2, ?3) "
			       "ON CONFLICT (user, ref) DO UPDATE SET thread = excluded.thread",
			       msg->user, ids[i], thread, error_r) < 0)
			goto out;
	if (subject[0] != '\0' &&
	    exec_bound(db, "INSERT INTO thread_subjects (user, subject, thread) VALUES (?1, ?2, ?3) "
		       "ON CONFLICT (user, subject) DO UPDATE SET thread = excluded.thread",
		       msg->user, subject, thread, error_r) < 0)
		goto out;
	memcpy(thread_r, thread, STORE_ID_SIZE);
	ret = 0;
out:
	pool_destroy(&pool);
	return ret;
}
