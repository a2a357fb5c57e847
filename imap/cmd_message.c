/* Commands that change messages: APPEND, STORE, COPY, MOVE, EXPUNGE (and
 * their UID forms). Each runs one store job; the replies report new UIDs
 * (UIDPLUS), changed flags and modseqs (CONDSTORE) and expunges. */
#include "imap_client.h"
#include "config.h"
#include "imap_seqset.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum msg_op { OP_APPEND, OP_STORE, OP_COPY, OP_EXPUNGE };

struct msg_job {
	struct imap_job_status st;
	struct imap_cmd *cmd;
	enum msg_op op;
	char user[STORE_ID_SIZE];
	char mailbox[STORE_ID_SIZE];  /* the selected (source) mailbox */
	char *dst_path;               /* APPEND, COPY: target path */
	struct pool *pool;            /* results, owned by the job */
	struct store_uid_range *ranges;
	unsigned int ranges_count;
	/* APPEND */
	const unsigned char *raw;
	size_t raw_len;
	struct message_append_opts append;
	struct store_append_result appended;
	char dst_id[STORE_ID_SIZE];
	/* STORE */
	struct store_flags_update update;
	struct store_flags_result flags;
	bool silent;
	/* COPY/MOVE */
	bool move;
	struct store_copy_result copied;
	/* EXPUNGE, MOVE */
	uint32_t *expunged;
	unsigned int expunged_count;
};

static bool flag_valid(const char *f)
{
	static const char *const system[] = { "\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
					      "\\Draft", NULL };
	if (f[0] != '\\')
		return f[0] != '\0';
	for (const char *const *s = system; *s != NULL; s++)
		if (strcasecmp(*s, f) == 0)
			return true;
	return false;
}

/* A flag list "(\Seen kw)" or a single flag into an array from pool. */
static int parse_flags(struct imap_cmd *cmd, const struct imap_arg *arg, const char ***flags_r,
		       unsigned int *count_r)
{
	const struct imap_arg *list = arg;
	unsigned int n = 1;
	if (arg->type == IMAP_ARG_LIST && !imap_arg_get_list(arg, &list, &n))
		return -1;
	const char **flags = pool_alloc(cmd->pool, (n + 1) * sizeof(char *));
	for (unsigned int i = 0; i < n; i++) {
		const char *f;
		if (!imap_arg_get_atom(&list[i], &f) || !flag_valid(f))
			return -1;
		/* system flags in their canonical case */
		if (f[0] == '\\') {
			char *c = pool_strdup(cmd->pool, f);
			for (char *p = c + 2; *p != '\0'; p++)
				*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
			c[1] = (char)(c[1] >= 'a' && c[1] <= 'z' ? c[1] - 32 : c[1]);
			f = c;
		}
		flags[i] = f;
	}
	*flags_r = flags;
	*count_r = n;
	return 0;
}

static const char *const month_names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* "17-Jul-1996 02:44:25 -0700" (RFC 3501 date-time) to unix seconds. */
static int parse_date_time(const char *s, int64_t *t_r)
{
	int day, year, hh, mm, ss, zone;
	char mon[4];
	if (sscanf(s, "%2d-%3s-%4d %2d:%2d:%2d %5d", &day, mon, &year, &hh, &mm, &ss, &zone) != 7)
		return -1;
	int m = -1;
	for (int i = 0; i < 12; i++)
		if (strcasecmp(mon, month_names[i]) == 0)
			m = i;
	if (m < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1900)
		return -1;
	struct tm tm = { .tm_year = year - 1900, .tm_mon = m, .tm_mday = day,
			 .tm_hour = hh, .tm_min = mm, .tm_sec = ss };
	int sign = zone < 0 ? -1 : 1, az = zone * sign;
	*t_r = (int64_t)timegm(&tm) - sign * ((az / 100) * 3600 + (az % 100) * 60);
	return 0;
}

static struct msg_job *job_new(struct imap_cmd *cmd, enum msg_op op)
{
	struct msg_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->op = op;
	j->pool = pool_create(1024);
	memcpy(j->user, cmd->client->user_id, STORE_ID_SIZE);
	if (cmd->client->view != NULL)
		memcpy(j->mailbox, cmd->client->view->id, STORE_ID_SIZE);
	return j;
}

static void job_free(void *arg)
{
	struct msg_job *j = arg;
	pool_destroy(&j->pool);
	free(j->dst_path);
	free(j);
}

static int run_op(struct store *store, struct msg_job *j, const char **error)
{
	struct store_mailbox *dst;
	switch (j->op) {
	case OP_APPEND:
		if (store_mailbox_get_by_path(store, j->user, j->dst_path, j->pool, &dst, error) < 0)
			return -1;
		memcpy(j->dst_id, dst->id, STORE_ID_SIZE);
		return store_message_append_raw(store, dst->id, j->raw, j->raw_len, &j->append,
						&j->appended, error);
	case OP_STORE:
		return store_flags_update(store, j->mailbox, j->ranges, j->ranges_count, &j->update,
					  j->pool, &j->flags, error);
	case OP_COPY:
		if (store_mailbox_get_by_path(store, j->user, j->dst_path, j->pool, &dst, error) < 0)
			return -1;
		memcpy(j->dst_id, dst->id, STORE_ID_SIZE);
		return store_message_copy(store, j->mailbox, j->ranges, j->ranges_count, dst->id,
					  (j->move ? STORE_COPY_MOVE : 0) | STORE_COPY_CHECK_QUOTA,
					  j->pool, &j->copied, error);
	case OP_EXPUNGE:
		return store_message_expunge(store, j->mailbox, j->ranges, j->ranges_count, j->pool,
					     &j->expunged, &j->expunged_count, error);
	}
	return -1;
}

static void job_run(struct store *store, void *arg)
{
	struct msg_job *j = arg;
	const char *error = NULL;
	if (run_op(store, j, &error) < 0)
		imap_job_failed(&j->st, store, error);
}

/* "* n EXPUNGE" for each uid still in the view, keeping numbers right. */
static void send_expunges(struct imap_client *c, const uint32_t *uids, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint32_t seq = imap_view_seq(c->view, uids[i]);
		if (seq > 0) {
			imap_printf(c, "* %u EXPUNGE\r\n", seq);
			imap_view_remove_seq(c->view, seq);
		}
	}
}

static void copyuid(struct buffer *out, const struct store_copy_result *r)
{
	buffer_printf(out, "COPYUID %u ", r->dst_uid_validity);
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned int i = 0; i < r->uids_count; i++) {
			uint32_t u = pass == 0 ? r->uids[i].src_uid : r->uids[i].dst_uid;
			buffer_printf(out, "%s%u", i ? "," : "", u);
		}
		if (pass == 0)
			buffer_append_c(out, ' ');
	}
}

static void store_done(struct imap_cmd *cmd, struct msg_job *j)
{
	struct imap_client *c = cmd->client;
	struct store_flags_result *r = &j->flags;
	if (r->modseq != 0)
		c->own_modseqs[c->own_next++ % 16] = r->modseq;
	for (unsigned int i = 0; i < r->changed_count; i++) {
		const struct store_flags_changed *ch = &r->changed[i];
		uint32_t seq = imap_view_seq(c->view, ch->uid);
		if (seq == 0 || (j->silent && !c->condstore))
			continue;
		imap_printf(c, "* %u FETCH (", seq);
		if (!j->silent) {
			imap_printf(c, "FLAGS (");
			for (unsigned int k = 0; k < ch->flags_count; k++)
				imap_printf(c, "%s%s", k ? " " : "", ch->flags[k]);
			imap_printf(c, ")%s", cmd->uid || c->condstore ? " " : "");
		}
		if (cmd->uid || c->condstore)
			imap_printf(c, "UID %u", ch->uid);
		if (c->condstore)
			imap_printf(c, " MODSEQ (%llu)", (unsigned long long)ch->modseq);
		imap_printf(c, ")\r\n");
	}
	if (r->changed_count > 0)
		imap_notify_changed(c->user_id);
	if (r->modified_count > 0) {
		struct buffer set = BUFFER_INIT;
		for (unsigned int i = 0; i < r->modified_count; i++) {
			uint32_t n = cmd->uid ? r->modified[i] : imap_view_seq(c->view, r->modified[i]);
			buffer_printf(&set, "%s%u", i ? "," : "", n);
		}
		imap_cmd_donef(cmd, "OK [MODIFIED %s] Conditional STORE failed", buffer_cstr(&set));
		buffer_free(&set);
		return;
	}
	imap_cmd_done(cmd, "OK STORE completed");
}

static void msg_done(void *arg)
{
	struct msg_job *j = arg;
	struct imap_cmd *cmd = j->cmd;
	struct imap_client *c = cmd->client;
	if (j->st.error != STORE_OK) {
		if (j->st.error == STORE_ERR_NOT_FOUND && j->dst_path != NULL)
			imap_cmd_done(cmd, "NO [TRYCREATE] Mailbox does not exist");
		else
			imap_cmd_store_error(cmd, j->st.error, j->st.error_text);
		job_free(j);
		return;
	}
	struct buffer code = BUFFER_INIT;
	switch (j->op) {
	case OP_APPEND:
		imap_notify_changed(c->user_id);
		if (c->view != NULL && strcmp(c->view->id, j->dst_id) == 0)
			c->changed = true; /* the client hears EXISTS before OK */
		imap_cmd_donef(cmd, "OK [APPENDUID %u %u] APPEND completed",
			       j->appended.uid_validity, j->appended.uid);
		break;
	case OP_STORE:
		store_done(cmd, j);
		break;
	case OP_COPY:
		imap_notify_changed(c->user_id);
		copyuid(&code, &j->copied);
		if (j->move) {
			imap_printf(c, "* OK [%s] Moved\r\n", buffer_cstr(&code));
			uint32_t *src = pool_alloc(j->pool, (j->copied.uids_count + 1) * sizeof(uint32_t));
			for (unsigned int i = 0; i < j->copied.uids_count; i++)
				src[i] = j->copied.uids[i].src_uid;
			send_expunges(c, src, j->copied.uids_count);
			imap_cmd_done(cmd, "OK MOVE completed");
		} else {
			imap_cmd_donef(cmd, "OK [%s] COPY completed", buffer_cstr(&code));
		}
		break;
	case OP_EXPUNGE:
		send_expunges(c, j->expunged, j->expunged_count);
		if (j->expunged_count > 0)
			imap_notify_changed(c->user_id);
		imap_cmd_done(cmd, "OK EXPUNGE completed");
		break;
	}
	buffer_free(&code);
	job_free(j);
}

static void submit(struct imap_cmd *cmd, struct msg_job *j)
{
	imap_job(cmd->client, job_run, msg_done, job_free, j);
}

/* APPEND mailbox [(flags)] [date-time] literal */
static void cmd_append(struct imap_cmd *cmd)
{
	const char *name, *error, *date;
	unsigned int i = 1;
	if (cmd->args_count < 2 || !imap_arg_get_astring(&cmd->args[0], &name))
		goto bad;
	struct msg_job *j = job_new(cmd, OP_APPEND);
	const char **flags = NULL;
	if (cmd->args[i].type == IMAP_ARG_LIST) {
		if (parse_flags(cmd, &cmd->args[i++], &flags, &j->append.flags_count) < 0) {
			job_free(j);
			goto bad;
		}
		j->append.flags = flags;
	}
	if (i < cmd->args_count && cmd->args[i].type == IMAP_ARG_STRING) {
		if (!imap_arg_get_string(&cmd->args[i++], &date) ||
		    parse_date_time(date, &j->append.idate) < 0) {
			job_free(j);
			imap_cmd_done(cmd, "BAD Invalid date-time");
			return;
		}
	}
	if (i + 1 != cmd->args_count || cmd->args[i].type != IMAP_ARG_LITERAL) {
		job_free(j);
		goto bad;
	}
	const char *path = imap_mailbox_from_client(cmd->client, cmd->pool, name, &error);
	if (path == NULL) {
		job_free(j);
		imap_cmd_donef(cmd, "NO %s", error);
		return;
	}
	j->dst_path = xstrdup(path);
	j->raw = (const unsigned char *)cmd->args[i].str;
	j->raw_len = cmd->args[i].len;
	j->append.append_flags = STORE_APPEND_CHECK_QUOTA;
	if (j->raw_len == 0) {
		job_free(j);
		imap_cmd_done(cmd, "NO Empty messages are not stored");
		return;
	}
	submit(cmd, j);
	return;
bad:
	imap_cmd_done(cmd, "BAD APPEND expects a mailbox, optional flags and date, and a literal");
}

static bool resolve_set(struct imap_cmd *cmd, struct msg_job *j, const struct imap_arg *arg)
{
	const char *set, *error;
	if (!imap_arg_get_atom(arg, &set)) {
		imap_cmd_donef(cmd, "BAD %s expects a sequence set", cmd->name);
		return false;
	}
	if (imap_view_ranges(cmd, set, &j->ranges, &j->ranges_count, &error) < 0) {
		imap_cmd_donef(cmd, "BAD %s", error);
		return false;
	}
	return true;
}

/* STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags */
static void cmd_store(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	struct msg_job *j = job_new(cmd, OP_STORE);
	unsigned int i = 1;
	const char *item;
	const char **flags;
	if (cmd->args_count < 3 || !resolve_set(cmd, j, &cmd->args[0]))
		goto fail;
	const struct imap_arg *mods;
	unsigned int n;
	if (imap_arg_get_list(&cmd->args[i], &mods, &n)) {
		const char *v;
		char *end;
		if (n != 2 || !imap_arg_atom_equals(&mods[0], "UNCHANGEDSINCE") ||
		    !imap_arg_get_atom(&mods[1], &v) ||
		    (j->update.unchanged_since = strtoull(v, &end, 10), *end != '\0')) {
			imap_cmd_done(cmd, "BAD Invalid STORE modifier");
			goto fail;
		}
		c->condstore = true;
		i++;
	}
	if (i + 2 != cmd->args_count || !imap_arg_get_atom(&cmd->args[i], &item))
		goto bad;
	const char *op = item;
	j->update.op = *op == '+' ? STORE_FLAGS_ADD : *op == '-' ? STORE_FLAGS_REMOVE : STORE_FLAGS_SET;
	if (*op == '+' || *op == '-')
		op++;
	if (strcasecmp(op, "FLAGS.SILENT") == 0)
		j->silent = true;
	else if (strcasecmp(op, "FLAGS") != 0)
		goto bad;
	if (parse_flags(cmd, &cmd->args[i + 1], &flags, &j->update.flags_count) < 0)
		goto bad;
	j->update.flags = flags;
	if (c->view->readonly) {
		imap_cmd_done(cmd, "NO [READ-ONLY] The mailbox is read-only (EXAMINE)");
		goto fail;
	}
	if (j->ranges_count == 0) {
		imap_cmd_done(cmd, "OK STORE completed (no messages)");
		goto fail;
	}
	submit(cmd, j);
	return;
bad:
	imap_cmd_done(cmd, "BAD STORE expects a set, FLAGS, +FLAGS or -FLAGS (.SILENT) and flags");
fail:
	job_free(j);
}

static void cmd_copy(struct imap_cmd *cmd)
{
	struct msg_job *j = job_new(cmd, OP_COPY);
	const char *name, *error;
	j->move = strcmp(cmd->name, "MOVE") == 0;
	if (cmd->args_count != 2 || !imap_arg_get_astring(&cmd->args[1], &name)) {
		imap_cmd_donef(cmd, "BAD %s expects a set and a mailbox", cmd->name);
		goto fail;
	}
	if (!resolve_set(cmd, j, &cmd->args[0]))
		goto fail;
	const char *path = imap_mailbox_from_client(cmd->client, cmd->pool, name, &error);
	if (path == NULL) {
		imap_cmd_donef(cmd, "NO %s", error);
		goto fail;
	}
	if (j->move && cmd->client->view->readonly) {
		imap_cmd_done(cmd, "NO [READ-ONLY] The mailbox is read-only (EXAMINE)");
		goto fail;
	}
	if (j->ranges_count == 0) {
		imap_cmd_donef(cmd, "OK %s completed (no messages)", cmd->name);
		goto fail;
	}
	j->dst_path = xstrdup(path);
	submit(cmd, j);
	return;
fail:
	job_free(j);
}

static void cmd_expunge(struct imap_cmd *cmd)
{
	struct msg_job *j = job_new(cmd, OP_EXPUNGE);
	if (cmd->client->view->readonly) {
		imap_cmd_done(cmd, "NO [READ-ONLY] The mailbox is read-only (EXAMINE)");
		job_free(j);
		return;
	}
	if (cmd->uid) {
		if (cmd->args_count != 1 || !resolve_set(cmd, j, &cmd->args[0])) {
			if (cmd->args_count != 1)
				imap_cmd_done(cmd, "BAD UID EXPUNGE expects a UID set");
			job_free(j);
			return;
		}
		if (j->ranges_count == 0) {
			imap_cmd_done(cmd, "OK EXPUNGE completed (no messages)");
			job_free(j);
			return;
		}
	} else if (cmd->args_count != 0) {
		imap_cmd_done(cmd, "BAD EXPUNGE takes no arguments");
		job_free(j);
		return;
	}
	submit(cmd, j);
}

const struct imap_command imap_message_commands[] = {
	{ "APPEND", cmd_append, IMAP_CMD_AUTH },
	{ "STORE", cmd_store, IMAP_CMD_SELECTED | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ "COPY", cmd_copy, IMAP_CMD_SELECTED | IMAP_CMD_UID },
	{ "MOVE", cmd_copy, IMAP_CMD_SELECTED | IMAP_CMD_UID },
	{ "EXPUNGE", cmd_expunge, IMAP_CMD_SELECTED | IMAP_CMD_UID },
	{ NULL, NULL, 0 },
};
