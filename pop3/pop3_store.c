/* Store jobs of wd-pop3, run on store threads. POP3 changes nothing until
 * QUIT: the UPDATE job then sets \Seen on retrieved messages and moves the
 * deleted ones to Trash (WildDuck's behaviour: DELE never destroys mail),
 * so a dropped connection leaves the mailbox as it was. */
#include "pop3.h"

#include "mem.h"
#include "message.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct listing {
	struct pop3_msg *msgs;
	unsigned int count, cap;
};

static int collect(const struct store_message *m, void *ctx)
{
	struct listing *l = ctx;
	if (m->deleted)
		return 0;	/* \Deleted by IMAP: on its way out */
	if (l->count == l->cap) {
		l->cap = l->cap == 0 ? 64 : l->cap * 2;
		l->msgs = xrealloc(l->msgs, l->cap * sizeof(*l->msgs));
	}
	struct pop3_msg *p = &l->msgs[l->count++];
	memset(p, 0, sizeof(*p));
	p->uid = m->uid;
	memcpy(p->id, m->id, STORE_ID_SIZE);
	p->size = m->size;
	p->seen = m->seen;
	return 0;
}

static void fail(struct pop3_job *job, struct store *store, const char *error)
{
	job->ret = store != NULL && store_last_error(store) == STORE_ERR_NOT_FOUND ? -2 : -1;
	snprintf(job->error, sizeof(job->error), "%s", error);
}

static void job_load(struct store *store, struct pop3_job *job)
{
	struct pool *pool = pool_create(1024);
	struct store_mailbox *boxes;
	unsigned int count;
	const char *error;
	if (store_mailbox_list(store, job->user, pool, &boxes, &count, &error) < 0) {
		fail(job, store, error);
		goto out;
	}
	for (unsigned int i = 0; i < count; i++) {
		if (boxes[i].special_use == STORE_SPECIAL_INBOX)
			memcpy(job->inbox, boxes[i].id, STORE_ID_SIZE);
		else if (boxes[i].special_use == STORE_SPECIAL_TRASH)
			memcpy(job->trash, boxes[i].id, STORE_ID_SIZE);
	}
	if (job->inbox[0] == '\0') {
		fail(job, NULL, "no INBOX");
		goto out;
	}
	struct listing l = { 0 };
	if (store_message_list(store, job->inbox, NULL, 0, collect, &l, &error) < 0) {
		free(l.msgs);
		fail(job, store, error);
		goto out;
	}
	/* the newest max_messages, oldest first */
	unsigned int skip = l.count > pop3_max_messages ? l.count - pop3_max_messages : 0;
	if (skip > 0)
		memmove(l.msgs, l.msgs + skip, (l.count - skip) * sizeof(*l.msgs));
	job->msgs = l.msgs;
	job->count = l.count - skip;
out:
	pool_destroy(&pool);
}

/* One chunk per job, stuffed here, off the event loop. */
static void job_fetch(struct store *store, struct pop3_job *job)
{
	const char *error;
	struct message_body body;
	struct buffer raw = BUFFER_INIT;
	if (message_body_open(&body, store, job->message_id, &error) < 0) {
		fail(job, store, error);
		return;
	}
	size_t n = body.size > job->offset ? body.size - job->offset : 0;
	if (n > POP3_FETCH_CHUNK)
		n = POP3_FETCH_CHUNK;
	if (n > 0 && message_body_range(&body, job->offset, n, &raw, &error) < 0) {
		fail(job, store, error);
	} else {
		job->offset += n;
		bool more = pop3_stuff_chunk(&job->stuffer, &job->out, raw.data, raw.len);
		if (!more || job->offset >= body.size) {
			pop3_stuff_end(&job->stuffer, &job->out);
			job->finished = true;
		}
	}
	buffer_free(&raw);
	message_body_close(&body);
}

static void job_update(struct store *store, struct pop3_job *job)
{
	const char *error;
	struct pool *pool = pool_create(1024);
	struct store_uid_range *seen = xcalloc(job->count + 1, sizeof(*seen));
	struct store_uid_range *gone = xcalloc(job->count + 1, sizeof(*gone));
	unsigned int nseen = 0, ngone = 0;
	for (unsigned int i = 0; i < job->count; i++) {
		const struct pop3_msg *m = &job->msgs[i];
		if (m->deleted)
			gone[ngone++] = (struct store_uid_range){ m->uid, m->uid };
		else if (m->retrieved && !m->seen)
			seen[nseen++] = (struct store_uid_range){ m->uid, m->uid };
	}
	if (nseen > 0) {
		static const char *const flag[] = { "\\Seen" };
		struct store_flags_update up = { .op = STORE_FLAGS_ADD, .flags = flag,
						 .flags_count = 1 };
		struct store_flags_result res;
		if (store_flags_update(store, job->inbox, seen, nseen, &up, pool, &res, &error) < 0) {
			fail(job, store, error);
			goto out;
		}
	}
	if (ngone > 0) {
		struct store_copy_result res;
		if (job->trash[0] == '\0') {
			/* no Trash: flag and expunge, as a last resort */
			static const char *const flag[] = { "\\Deleted" };
			struct store_flags_update up = { .op = STORE_FLAGS_ADD, .flags = flag,
							 .flags_count = 1 };
			struct store_flags_result fres;
			uint32_t *uids;
			unsigned int n;
			if (store_flags_update(store, job->inbox, gone, ngone, &up, pool, &fres,
					       &error) < 0 ||
			    store_message_expunge(store, job->inbox, gone, ngone, pool, &uids, &n,
						  &error) < 0)
				fail(job, store, error);
		} else if (store_message_copy(store, job->inbox, gone, ngone, job->trash,
					      STORE_COPY_MOVE, pool, &res, &error) < 0) {
			fail(job, store, error);
		}
	}
out:
	free(seen);
	free(gone);
	pool_destroy(&pool);
}

void pop3_job_run(void *thread_ctx, void *arg)
{
	struct pop3_job *job = arg;
	struct store *store = thread_ctx;
	if (store == NULL) {
		fail(job, NULL, "store unavailable");
		return;
	}
	switch (job->kind) {
	case POP3_JOB_LOAD: job_load(store, job); break;
	case POP3_JOB_FETCH: job_fetch(store, job); break;
	case POP3_JOB_UPDATE: job_update(store, job); break;
	}
}
