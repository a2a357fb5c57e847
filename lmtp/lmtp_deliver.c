/* Store jobs of wd-lmtp, run on store threads: the recipient check at RCPT
 * time and the delivery at the end of DATA. A message is split and parsed
 * once for all its recipients; each recipient then gets its filters, its
 * mailbox (INBOX, Junk or a filter's), its quota check and its append with
 * its own Delivered-To/Return-Path fields, and only then its forwards and
 * autoreply. A recipient may also be a forwarded address (no user): it
 * only sends copies. Forward targets that are local addresses get their
 * copy appended here; the rest goes to the outbound spool, behind the
 * counters of lmtp_gate.c. A reply is 250 only after the append has
 * committed. */
#include "lmtp.h"

#include "address.h"
#include "audit.h"
#include "filter.h"
#include "log.h"
#include "message.h"
#include "mime.h"
#include "pool.h"
#include "settings.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void set_reply(struct pool *pool, struct lmtp_reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_reply(struct pool *pool, struct lmtp_reply *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->code = code;
	r->text = pool_strdup(pool, buf);
}

static void quota_reply(struct pool *pool, struct lmtp_reply *r, const char *address)
{
	if (lmtp_set.over_quota_permanent)
		set_reply(pool, r, 552, "5.2.2 <%s> Mailbox full", address);
	else
		set_reply(pool, r, 452, "4.2.2 <%s> Mailbox full, try again later", address);
}

void lmtp_rcpt_job_run(void *thread_ctx, void *arg)
{
	struct lmtp_rcpt_job *job = arg;
	struct store *store = thread_ctx;
	struct store_address_resolved res;
	struct store_user *user;
	const char *error;
	if (store == NULL) {
		set_reply(job->pool, &job->reply, 451, "4.3.0 Store unavailable");
		return;
	}
	if (job->accepted >= (unsigned long long)settings_get_int(store, "const:max:rcpt_to",
								 lmtp_set.max_recipients)) {
		set_reply(job->pool, &job->reply, 452, "4.5.3 Too many recipients");
		return;
	}
	int resolved = store_address_resolve(store, job->address, job->pool, &res, &error);
	if (resolved < 0 && store_last_error(store) != STORE_ERR_NOT_FOUND) {
		set_reply(job->pool, &job->reply, 451, "4.3.0 Temporary lookup failure");
		return;
	}
	/* a forwarded address is a real address: it comes before a user's
	 * wildcard of its domain, as in WildDuck's one addresses collection */
	if (resolved < 0 || res.match == STORE_ADDRESS_MATCH_PREFIX ||
	    res.match == STORE_ADDRESS_MATCH_WILDCARD) {
		const char *const *targets, *stored = NULL;
		unsigned int count = 0;
		if (store_forwarded_get(store, job->address, job->pool, &stored, &targets,
					&count, &error) < 0 &&
		    store_last_error(store) == STORE_ERR_TEMPORARY) {
			set_reply(job->pool, &job->reply, 451, "4.3.0 Temporary lookup failure");
			return;
		}
		if (count > 0) {
			/* a forwarded address: no user, only targets */
			job->user[0] = '\0';
			job->matched = stored;
			set_reply(job->pool, &job->reply, 250, "2.1.5 <%s> Recipient OK (forwarded)",
				  job->address);
			return;
		}
		if (resolved < 0) {
			set_reply(job->pool, &job->reply, 550, "5.1.1 <%s> No such user here",
				  job->address);
			return;
		}
	}
	if (store_user_get(store, res.user, job->pool, &user, &error) < 0) {
		if (store_last_error(store) == STORE_ERR_NOT_FOUND)
			set_reply(job->pool, &job->reply, 550, "5.1.1 <%s> No such user here",
				  job->address);
		else
			set_reply(job->pool, &job->reply, 451, "4.3.0 Temporary lookup failure");
		return;
	}
	if (user->disabled || user->suspended) {
		set_reply(job->pool, &job->reply, 550, "5.2.1 <%s> Mailbox disabled",
			  job->address);
		return;
	}
	if (user->quota > 0 && user->storage_used >= user->quota) {
		quota_reply(job->pool, &job->reply, job->address);
		return;
	}
	memcpy(job->user, res.user, STORE_ID_SIZE);
	job->matched = res.address;
	set_reply(job->pool, &job->reply, 250, "2.1.5 <%s> Recipient OK", job->address);
}

static const char *special_mailbox(struct store *store, struct pool *pool, const char *user_id,
				   enum store_special_use use)
{
	struct store_mailbox *boxes;
	unsigned int count;
	const char *error;
	if (store_mailbox_list(store, user_id, pool, &boxes, &count, &error) < 0)
		return NULL;
	for (unsigned int i = 0; i < count; i++)
		if (boxes[i].special_use == use)
			return pool_strdup(pool, boxes[i].id);
	return NULL;
}

/* A filter's mailbox, if it still exists and is the user's. */
static const char *own_mailbox(struct store *store, struct pool *pool, const char *user_id,
			       const char *mailbox_id)
{
	struct store_mailbox *mb;
	const char *error;
	if (mailbox_id == NULL || store_mailbox_get(store, mailbox_id, pool, &mb, &error) < 0 ||
	    strcmp(mb->user, user_id) != 0)
		return NULL;
	return pool_strdup(pool, mb->id);
}

static void json_str(struct buffer *b, const char *s)
{
	buffer_append_c(b, '"');
	for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			buffer_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			buffer_printf(b, "\\u%04x", *p);
		else
			buffer_append_c(b, *p);
	}
	buffer_append_c(b, '"');
}

static void queue_webhooks(struct store *store, const struct lmtp_data_job *job,
			   const struct lmtp_rcpt *rcpt, const struct filter_actions *actions,
			   const struct filter_message *fm, const char *message_id)
{
	const char *error;
	for (unsigned int i = 0; i < actions->webhooks_count; i++) {
		struct buffer payload = BUFFER_INIT;
		buffer_append_str(&payload, "{\"user\":");
		json_str(&payload, rcpt->user);
		buffer_append_str(&payload, ",\"address\":");
		json_str(&payload, rcpt->address);
		buffer_append_str(&payload, ",\"message\":");
		json_str(&payload, message_id);
		buffer_append_str(&payload, ",\"from\":");
		json_str(&payload, job->mail_from);
		buffer_append_str(&payload, ",\"subject\":");
		json_str(&payload, fm->subject_raw);
		buffer_append_str(&payload, "}");
		if (store_webhook_enqueue(store, rcpt->user, actions->webhooks[i], "message.filter",
					  buffer_cstr(&payload), &error) < 0)
			log_warn("event=webhook_queue_failed user=%s error=\"%s\"", rcpt->user, error);
		buffer_free(&payload);
	}
}

static int64_t today(void)
{
	return (int64_t)time(NULL) / 86400;
}

/* A day's forward counter outlives the day a little (clock skew). */
#define FORWARDS_TTL (86400 + 3600)

/* The audits of a user that gets mail: asked before the user's append,
 * since a reload of the list may copy what the user has (a catch-up) and
 * must not find this message there yet. */
struct audit_set {
	char inboxes[AUDIT_MAX_TARGETS][STORE_ID_SIZE];
	unsigned int count;
};

static void audit_lookup(struct store *store, const char *user_id, struct audit_set *set)
{
	set->count = audit_targets(store, user_id, (int64_t)time(NULL), set->inboxes);
}

/* Each audit gets its own copy, with the fields the user's copy got; a
 * failure is logged and changes no reply. */
static void audit_copy(struct store *store, const struct audit_set *set, const char *user_id,
		       const char *message_id, const struct message_prepared *prepared,
		       const char *fields)
{
	/* tagged with the user's copy, if it was stored (not for a message a
	 * filter discarded), so that a catch-up does not copy it again */
	char flag[64];
	const char *flags[1] = { flag };
	struct message_append_opts opts = { 0 };
	if (message_id[0] != '\0') {
		audit_source_flag(message_id, flag);
		opts.flags = flags;
		opts.flags_count = 1;
	}
	for (unsigned int i = 0; i < set->count; i++) {
		struct store_append_result res;
		const char *error;
		if (store_message_append_prepared(store, set->inboxes[i], prepared,
						  (const unsigned char *)fields, strlen(fields),
						  &opts, &res, &error) < 0)
			log_error("event=audit_copy_failed user=%s mailbox=%s error=\"%s\"",
				  user_id, set->inboxes[i], error);
		else
			log_info("event=audit_copy user=%s message=%s", user_id, res.id);
	}
}

/* A forward target that is a local address gets the copy in its INBOX,
 * with the loop header; no filters, forwards or autoreplies of its own
 * (so a local copy cannot loop). 0 if it was local and handled. */
static void wake_later(struct lmtp_data_job *job, const char *user)
{
	if (job->woken_count == job->woken_cap) {
		unsigned int cap = job->woken_cap ? job->woken_cap * 2 : 8;
		const char **w = pool_alloc(job->pool, cap * sizeof(*w));
		if (job->woken_count > 0)
			memcpy(w, job->woken, job->woken_count * sizeof(*w));
		job->woken = w;
		job->woken_cap = cap;
	}
	job->woken[job->woken_count++] = pool_strdup(job->pool, user);
}

static int forward_local(struct store *store, struct pool *pool, struct lmtp_data_job *job,
			 const struct message_prepared *prepared, const char *target,
			 const char *me)
{
	struct store_address_resolved res;
	const char *error, *norm;
	if (strstr(target, "://") != NULL ||
	    address_normalize(pool, target, 0, &norm, &error) < 0 ||
	    store_address_resolve(store, norm, pool, &res, &error) < 0)
		return -1;
	const char *inbox = special_mailbox(store, pool, res.user, STORE_SPECIAL_INBOX);
	const char *fields = pool_printf(pool, "Delivered-To: %s\r\nReturn-Path: <%s>\r\n"
					 FILTER_FORWARDED_HEADER ": %s\r\n", norm, job->mail_from,
					 me);
	struct message_append_opts opts = { .append_flags = STORE_APPEND_CHECK_QUOTA };
	struct store_append_result ar;
	struct audit_set audits;
	audit_lookup(store, res.user, &audits);
	if (inbox == NULL)
		log_error("event=forward_local_failed user=%s error=\"no INBOX\"", res.user);
	else if (store_message_append_prepared(store, inbox, prepared,
					       (const unsigned char *)fields, strlen(fields),
					       &opts, &ar, &error) < 0)
		log_error("event=forward_local_failed user=%s error=\"%s\"", res.user, error);
	else {
		log_info("event=forwarded_local from=%s user=%s message=%s", me, res.user, ar.id);
		wake_later(job, res.user);
		audit_copy(store, &audits, res.user, ar.id, prepared, fields);
	}
	return 0;
}

/* Sends copies of the job's message to targets on behalf of me (the
 * forwarding address): local addresses straight into their INBOX, the
 * others through the outbound spool, counted against limit per day under
 * counter_id. -1 if the message has looped. */
static int forward_to(struct store *store, struct pool *pool, struct lmtp_data_job *job,
		      const struct message_prepared *prepared, const struct filter_message *fm,
		      const char *counter_id, const char *me, const char *const *targets,
		      unsigned int count, unsigned int limit)
{
	const char *error;
	/* loop detection: a copy we forwarded already, or too many hops */
	if (fm->forwarded_by_count >= FILTER_MAX_FORWARD_HOPS) {
		log_warn("event=forward_loop user=%s hops=%u", counter_id, fm->forwarded_by_count);
		return -1;
	}
	for (unsigned int i = 0; i < fm->forwarded_by_count; i++) {
		if (strcasecmp(fm->forwarded_by[i], me) == 0) {
			log_warn("event=forward_loop user=%s", counter_id);
			return -1;
		}
	}
	const char **remote = pool_alloc(pool, (count + 1) * sizeof(*remote));
	unsigned int n = 0;
	for (unsigned int i = 0; i < count; i++)
		if (forward_local(store, pool, job, prepared, targets[i], me) < 0)
			remote[n++] = targets[i];
	if (n == 0)
		return 0;
	if (lmtp_set.outbound_spool[0] == '\0') {
		log_warn("event=forward_skipped user=%s reason=\"no outbound spool\"", counter_id);
		return 0;
	}
	const char *key = pool_printf(pool, "forwards:%s:%lld", counter_id, (long long)today());
	const char *prefix = pool_printf(pool, FILTER_FORWARDED_HEADER ": %s\r\n", me);
	if (lmtp_set.redis_counters) {
		lmtp_gate_add(job, LMTP_GATE_LIMIT, counter_id, key, FORWARDS_TTL, limit,
			      job->mail_from, remote, n, prefix, NULL, 0);
		return 0;
	}
	if (lmtp_gate_store_check(store, LMTP_GATE_LIMIT, key, FORWARDS_TTL, limit) < 0) {
		log_warn("event=forward_limit user=%s limit=%u", counter_id, limit);
		return 0;
	}
	if (lmtp_outbound_write(job->mail_from, remote, n, (const unsigned char *)prefix,
				strlen(prefix), job->raw, job->len, &error) < 0)
		log_error("event=forward_failed user=%s error=\"%s\"", counter_id, error);
	else
		log_info("event=forwarded user=%s targets=%u", counter_id, n);
	return 0;
}

/* The daily forward limit of users without their own (/settings). */
static unsigned int forwards_per_day(struct store *store)
{
	return (unsigned int)settings_get_int(store, "const:max:forwards",
					      lmtp_set.forwards_per_day);
}

static void forward(struct store *store, struct pool *pool, struct lmtp_data_job *job,
		    const struct message_prepared *prepared, const struct lmtp_rcpt *rcpt,
		    const struct store_user *user, const struct filter_actions *actions,
		    const struct filter_message *fm)
{
	const char *const *targets;
	unsigned int tcount;
	const char *error;
	if (store_user_targets_get(store, rcpt->user, pool, &targets, &tcount, &error) < 0)
		tcount = 0;
	unsigned int count = tcount + actions->forward_count;
	if (count == 0)
		return;
	const char *me = user->address != NULL ? user->address : rcpt->matched;
	const char **all = pool_alloc(pool, count * sizeof(*all));
	unsigned int n = 0;
	for (unsigned int i = 0; i < tcount; i++)
		all[n++] = targets[i];
	for (unsigned int i = 0; i < actions->forward_count; i++)
		all[n++] = actions->forward[i];
	unsigned int limit = user->limits.forwards_per_day > 0 ? user->limits.forwards_per_day :
			     forwards_per_day(store);
	(void)forward_to(store, pool, job, prepared, fm, rcpt->user, me, all, n, limit);
}

/* A recipient that is a forwarded address: no mailbox, only copies. */
static void deliver_forwarded(struct store *store, struct pool *pool, struct lmtp_data_job *job,
			      unsigned int i, const struct message_prepared *prepared,
			      const struct filter_message *fm)
{
	const struct lmtp_rcpt *rcpt = &job->rcpts[i];
	struct lmtp_reply *r = &job->replies[i];
	const char *const *targets;
	unsigned int count;
	const char *error;
	if (store_forwarded_get(store, rcpt->matched, pool, NULL, &targets, &count, &error) < 0) {
		set_reply(job->pool, r, 451, "4.3.0 <%s> Temporary failure", rcpt->address);
		return;
	}
	if (count == 0) {
		set_reply(job->pool, r, 550, "5.1.1 <%s> No such user here", rcpt->address);
		return;
	}
	if (forward_to(store, pool, job, prepared, fm, rcpt->matched, rcpt->matched, targets,
		       count, forwards_per_day(store)) < 0) {
		set_reply(job->pool, r, 554, "5.4.6 <%s> Forwarding loop detected", rcpt->address);
		return;
	}
	set_reply(job->pool, r, 250, "2.0.0 <%s> Forwarded to %u target%s", rcpt->address, count,
		  count == 1 ? "" : "s");
}

static void autoreply(struct store *store, struct pool *pool, struct lmtp_data_job *job,
		      const struct lmtp_rcpt *rcpt, const struct store_user *user,
		      const struct filter_message *fm)
{
	struct store_autoreply *ar;
	const char *error;
	if (lmtp_set.outbound_spool[0] == '\0' ||
	    store_autoreply_get(store, rcpt->user, pool, &ar, &error) < 0 || !ar->status)
		return;
	int64_t now = (int64_t)time(NULL);
	if ((ar->start > 0 && now < ar->start) || (ar->end > 0 && now > ar->end))
		return;
	const char *why = fm->no_autoreply != NULL ? fm->no_autoreply :
			  filter_autoreply_refusal(job->mail_from, NULL, NULL, false, false);
	if (why != NULL) {
		log_debug("event=autoreply_skipped user=%s reason=\"%s\"", rcpt->user, why);
		return;
	}
	/* once per sender per interval: Redis decides after this job (see
	 * lmtp_gate.c), else the store's counter now */
	const char *key = pool_printf(pool, "autoreply:%s:%s", rcpt->user, job->mail_from);
	int64_t interval = settings_get_int(store, "const:autoreply:interval",
					    lmtp_set.autoreply_interval * 1000) / 1000;
	if (!lmtp_set.redis_counters &&
	    lmtp_gate_store_check(store, LMTP_GATE_ONCE, key, interval, 1) < 0)
		return;
	const char *me = user->address != NULL ? user->address : rcpt->matched;
	struct buffer msg = BUFFER_INIT;
	lmtp_autoreply_build(pool, ar, me, job->mail_from, fm, &msg);
	const char *rcpts[1] = { job->mail_from };
	if (lmtp_set.redis_counters) {
		size_t len;
		unsigned char *data = (unsigned char *)buffer_steal(&msg, &len);
		lmtp_gate_add(job, LMTP_GATE_ONCE, rcpt->user, key, interval, 1,
			      "", rcpts, 1, NULL, data, len);
		return;
	}
	if (lmtp_outbound_write("", rcpts, 1, NULL, 0, msg.data, msg.len, &error) < 0)
		log_error("event=autoreply_failed user=%s error=\"%s\"", rcpt->user, error);
	else
		log_info("event=autoreply user=%s to=<%s>", rcpt->user, job->mail_from);
	buffer_free(&msg);
}

static void deliver_one(struct store *store, struct lmtp_data_job *job, unsigned int i,
			const struct message_prepared *prepared, struct filter_message *fm)
{
	const struct lmtp_rcpt *rcpt = &job->rcpts[i];
	struct lmtp_reply *r = &job->replies[i];
	struct pool *pool = pool_create(2048);
	struct store_user *user;
	struct store_filter *filters;
	unsigned int filters_count;
	const char *error;
	if (rcpt->user[0] == '\0') {
		deliver_forwarded(store, pool, job, i, prepared, fm);
		goto out;
	}
	if (store_user_get(store, rcpt->user, pool, &user, &error) < 0) {
		if (store_last_error(store) == STORE_ERR_NOT_FOUND)
			set_reply(job->pool, r, 550, "5.1.1 <%s> No such user here", rcpt->address);
		else
			set_reply(job->pool, r, 451, "4.3.0 <%s> Temporary failure", rcpt->address);
		goto out;
	}
	if (store_filter_list(store, rcpt->user, pool, &filters, &filters_count, &error) < 0) {
		set_reply(job->pool, r, 451, "4.3.0 <%s> Temporary failure", rcpt->address);
		goto out;
	}
	struct filter_actions actions;
	filter_apply(pool, filters, filters_count, fm, &actions);
	struct audit_set audits;
	audit_lookup(store, rcpt->user, &audits);
	bool spam = actions.spam >= 0 ? actions.spam == 1 : fm->spam;
	const char *message_id = "";
	if (actions.delete_message) {
		set_reply(job->pool, r, 250, "2.0.0 <%s> Accepted (discarded by a filter)",
			  rcpt->address);
	} else {
		const char *mailbox = own_mailbox(store, pool, rcpt->user, actions.mailbox);
		if (mailbox == NULL)
			mailbox = special_mailbox(store, pool, rcpt->user,
						  spam ? STORE_SPECIAL_JUNK : STORE_SPECIAL_INBOX);
		if (mailbox == NULL && spam)
			mailbox = special_mailbox(store, pool, rcpt->user, STORE_SPECIAL_INBOX);
		if (mailbox == NULL) {
			set_reply(job->pool, r, 451, "4.3.0 <%s> No INBOX", rcpt->address);
			goto out;
		}
		const char *flags[2];
		unsigned int nflags = 0;
		if (actions.seen == 1)
			flags[nflags++] = "\\Seen";
		if (actions.flag == 1)
			flags[nflags++] = "\\Flagged";
		const char *fields = pool_printf(pool, "Delivered-To: %s\r\nReturn-Path: <%s>\r\n",
						 rcpt->address, job->mail_from);
		struct message_append_opts opts = {
			.flags = flags,
			.flags_count = nflags,
			.append_flags = STORE_APPEND_CHECK_QUOTA,
		};
		struct store_append_result res;
		if (store_message_append_prepared(store, mailbox, prepared,
						  (const unsigned char *)fields, strlen(fields),
						  &opts, &res, &error) < 0) {
			if (store_last_error(store) == STORE_ERR_OVER_QUOTA)
				quota_reply(job->pool, r, rcpt->address);
			else
				set_reply(job->pool, r, 451, "4.3.0 <%s> Temporary failure",
					  rcpt->address);
			goto out;
		}
		message_id = pool_strdup(pool, res.id);
		set_reply(job->pool, r, 250, "2.0.0 <%s> Message stored as %s%s", rcpt->address,
			  res.id, spam && actions.mailbox == NULL ? " (Junk)" : "");
	}
	/* what follows never changes the reply: the message is stored */
	audit_copy(store, &audits, rcpt->user, message_id, prepared,
		   pool_printf(pool, "Delivered-To: %s\r\nReturn-Path: <%s>\r\n", rcpt->address,
			       job->mail_from));
	queue_webhooks(store, job, rcpt, &actions, fm, message_id);
	forward(store, pool, job, prepared, rcpt, user, &actions, fm);
	if (!spam)
		autoreply(store, pool, job, rcpt, user, fm);
out:
	pool_destroy(&pool);
}

void lmtp_data_job_run(void *thread_ctx, void *arg)
{
	struct lmtp_data_job *job = arg;
	struct store *store = thread_ctx;
	struct message_prepared *prepared = NULL;
	struct mime_message *mime = NULL;
	const char *error;
	if (store == NULL || message_prepare(job->raw, job->len, &prepared, &error) < 0) {
		for (unsigned int i = 0; i < job->rcpts_count; i++)
			set_reply(job->pool, &job->replies[i], 451, "4.3.0 <%s> Temporary failure",
				  job->rcpts[i].address);
		return;
	}
	mime_parse(job->raw, job->len, &mime);
	struct pool *pool = pool_create(4096);
	struct filter_message fm;
	filter_message_init(pool, mime, lmtp_set.spam_headers, &fm);
	for (unsigned int i = 0; i < job->rcpts_count; i++)
		deliver_one(store, job, i, prepared, &fm);
	pool_destroy(&pool);
	mime_message_free(&mime);
	message_prepared_free(&prepared);
}
