/* The selected mailbox's view: sequence numbers from the UID list, and
 * the sync that reads the journal after the view's highest modseq and
 * tells the client what other sessions changed (EXISTS, EXPUNGE, FETCH). */
#include "imap_client.h"
#include "log.h"
#include "mem.h"
#include "imap_seqset.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

void imap_view_free(struct imap_view **viewp)
{
	struct imap_view *v = *viewp;
	if (v == NULL)
		return;
	free(v->path);
	free(v->uids);
	free(v);
	*viewp = NULL;
}

uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->count && v->uids[lo] == uid ? lo + 1 : 0;
}

void imap_view_append(struct imap_view *v, uint32_t uid)
{
	if (v->count > 0 && uid <= v->uids[v->count - 1])
		return; /* known already (a journal entry read twice) */
	if (v->count == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->uids = xrealloc(v->uids, v->cap * sizeof(uint32_t));
	}
	v->uids[v->count++] = uid;
	if (uid >= v->uid_next)
		v->uid_next = uid + 1;
}

void imap_view_remove_seq(struct imap_view *v, uint32_t seq)
{
	memmove(&v->uids[seq - 1], &v->uids[seq], (v->count - seq) * sizeof(uint32_t));
	v->count--;
}

/* ---- journal sync ---- */

struct sync_entry {
	enum store_journal_command command;
	uint32_t uid;
	uint64_t modseq;
	char *flags; /* space separated, for FLAGS */
};

struct sync_job {
	struct imap_job_status st;
	struct imap_client *client;
	char mailbox[STORE_ID_SIZE];
	uint64_t since;
	struct sync_entry *entries;
	size_t count, cap;
	bool expunges;
	void (*done)(void *ctx);
	void *ctx;
};

static int collect_entry(const struct store_journal_entry *e, void *context)
{
	struct sync_job *j = context;
	if (j->count == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 32;
		j->entries = xrealloc(j->entries, j->cap * sizeof(*j->entries));
	}
	struct sync_entry *se = &j->entries[j->count++];
	se->command = e->command;
	se->uid = e->uid;
	se->modseq = e->modseq;
	struct buffer b = BUFFER_INIT;
	for (unsigned int i = 0; i < e->flags_count; i++)
		buffer_printf(&b, "%s%s", i ? " " : "", e->flags[i]);
	se->flags = buffer_steal(&b, NULL);
	return 0;
}

static void sync_run(struct store *store, void *arg)
{
	struct sync_job *j = arg;
	const char *error;
	if (store_journal_since(store, j->mailbox, j->since, collect_entry, j, &error) < 0)
		imap_job_failed(&j->st, store, error);
}

static void sync_free(void *arg)
{
	struct sync_job *j = arg;
	for (size_t i = 0; i < j->count; i++)
		free(j->entries[i].flags);
	free(j->entries);
	free(j);
}

static bool own_change(const struct imap_client *c, uint64_t modseq)
{
	for (unsigned int i = 0; i < sizeof(c->own_modseqs) / sizeof(c->own_modseqs[0]); i++)
		if (c->own_modseqs[i] == modseq)
			return true;
	return false;
}

/* Applies the entries in modseq order; stops before an EXPUNGE that may
 * not be sent now, so it is read again at the next sync. */
static void sync_apply(struct imap_client *c, struct sync_job *j)
{
	struct imap_view *v = c->view;
	uint32_t before = v->count;
	bool exists = false, stopped = false;
	for (size_t i = 0; i < j->count; i++) {
		struct sync_entry *e = &j->entries[i];
		uint32_t seq = imap_view_seq(v, e->uid);
		if (e->command == STORE_JOURNAL_EXPUNGE && seq > 0) {
			if (!j->expunges) {
				stopped = true;
				break;
			}
			imap_printf(c, "* %u EXPUNGE\r\n", seq);
			imap_view_remove_seq(v, seq);
		} else if (e->command == STORE_JOURNAL_EXISTS) {
			uint32_t n = v->count;
			imap_view_append(v, e->uid);
			exists |= v->count != n;
		} else if (e->command == STORE_JOURNAL_FLAGS && seq > 0 && !own_change(c, e->modseq)) {
			imap_printf(c, "* %u FETCH (UID %u FLAGS (%s)", seq, e->uid, e->flags);
			if (c->condstore)
				imap_printf(c, " MODSEQ (%llu)", (unsigned long long)e->modseq);
			imap_printf(c, ")\r\n");
		}
		if (e->modseq > v->highest_modseq)
			v->highest_modseq = e->modseq;
	}
	if (exists || v->count > before)
		imap_printf(c, "* %u EXISTS\r\n", v->count);
	if (stopped)
		c->changed = true;
}

static void sync_done(void *arg)
{
	struct sync_job *j = arg;
	struct imap_client *c = j->client;
	c->syncing = false;
	if (j->st.error != STORE_OK)
		log_warn("event=sync_failed session=%s error=\"%s\"", conn_session_id(c->conn),
			 j->st.error_text);
	else if (c->view != NULL && strcmp(c->view->id, j->mailbox) == 0)
		sync_apply(c, j);
	void (*done)(void *) = j->done;
	void *ctx = j->ctx;
	sync_free(j);
	if (done != NULL)
		done(ctx);
	else if (c->idle_cmd != NULL && c->changed)
		imap_sync(c, true, NULL, NULL); /* more arrived while we read */
}

void imap_sync(struct imap_client *c, bool expunges, void (*done)(void *ctx), void *ctx)
{
	if (c->view == NULL || c->syncing) {
		if (done != NULL)
			done(ctx);
		return;
	}
	struct sync_job *j = xcalloc(1, sizeof(*j));
	j->client = c;
	memcpy(j->mailbox, c->view->id, STORE_ID_SIZE);
	j->since = c->view->highest_modseq;
	j->expunges = expunges;
	j->done = done;
	j->ctx = ctx;
	c->syncing = true;
	c->changed = false; /* a beacon arriving now sets it again */
	imap_job(c, sync_run, sync_done, sync_free, j);
}

/* Appends uid to a range list, merging with the last range. */
static void ranges_add(struct store_uid_range **r, unsigned int *n, unsigned int *cap, uint32_t uid)
{
	if (*n > 0 && (*r)[*n - 1].last + 1 == uid) {
		(*r)[*n - 1].last = uid;
		return;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*r = xrealloc(*r, *cap * sizeof(**r));
	}
	(*r)[(*n)++] = (struct store_uid_range){ uid, uid };
}

int imap_view_ranges(struct imap_cmd *cmd, const char *str, struct store_uid_range **ranges_r,
		     unsigned int *count_r, const char **error_r)
{
	struct imap_view *v = cmd->client->view;
	struct imap_seqset set;
	if (imap_seqset_parse(cmd->pool, str, &set, error_r) < 0)
		return -1;
	uint32_t max = cmd->uid ? (v->count > 0 ? v->uids[v->count - 1] : 0) : v->count;
	if (!cmd->uid && v->count == 0) {
		/* "1:*" in an empty mailbox: nothing, rather than an error */
		*ranges_r = pool_alloc(cmd->pool, sizeof(**ranges_r));
		*count_r = 0;
		return 0;
	}
	if (!cmd->uid) {
		for (unsigned int i = 0; i < set.count; i++) {
			if (set.ranges[i].lo > v->count || set.ranges[i].hi > v->count) {
				*error_r = "Invalid message sequence number";
				return -1;
			}
		}
	}
	imap_seqset_resolve(&set, max);
	struct store_uid_range *r = NULL;
	unsigned int n = 0, cap = 0;
	struct imap_seqset_iter it;
	uint32_t x;
	imap_seqset_iter_init(&set, &it);
	if (cmd->uid) {
		/* walk the view, not the set: "1:4294967295" must stay cheap */
		for (uint32_t i = 0; i < v->count; i++)
			if (imap_seqset_contains(&set, v->uids[i]))
				ranges_add(&r, &n, &cap, v->uids[i]);
	} else {
		while (imap_seqset_next(&set, &it, &x))
			ranges_add(&r, &n, &cap, v->uids[x - 1]);
	}
	*ranges_r = pool_alloc(cmd->pool, (n ? n : 1) * sizeof(*r));
	if (n > 0)
		memcpy(*ranges_r, r, n * sizeof(*r));
	free(r);
	*count_r = n;
	return 0;
}
