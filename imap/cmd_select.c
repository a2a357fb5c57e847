/* SELECT, EXAMINE, CLOSE, UNSELECT, CHECK, NOOP and IDLE: entering and
 * leaving a mailbox, and waiting for changes. */
#include "imap_client.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IDLE_TIMEOUT_MS (30 * 60 * 1000)

struct select_job {
	struct imap_job_status st;
	struct imap_cmd *cmd;
	char user[STORE_ID_SIZE];
	char *path;
	struct store_mailbox mb;
	struct buffer keywords; /* " kw1 kw2" */
	uint32_t *uids, count, cap, first_unseen;
};

static int select_collect(const struct store_message *m, void *ctx)
{
	struct select_job *j = ctx;
	if (j->count == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 256;
		j->uids = xrealloc(j->uids, j->cap * sizeof(uint32_t));
	}
	j->uids[j->count++] = m->uid;
	if (!m->seen && j->first_unseen == 0)
		j->first_unseen = j->count;
	for (unsigned int i = 0; i < m->flags_count; i++) {
		const char *f = m->flags[i];
		if (f[0] == '\\')
			continue;
		/* few distinct keywords per mailbox: a linear check is fine */
		size_t fl = strlen(f);
		const char *k = strstr(buffer_cstr(&j->keywords), f);
		bool known = false;
		while (k != NULL && !known) {
			known = k[-1] == ' ' && (k[fl] == ' ' || k[fl] == '\0');
			k = strstr(k + 1, f);
		}
		if (!known && j->keywords.len < 8192)
			buffer_printf(&j->keywords, " %s", f);
	}
	return 0;
}

static void select_run(struct store *store, void *arg)
{
	struct select_job *j = arg;
	struct pool *pool = pool_create(1024);
	struct store_mailbox *mb;
	const char *error;
	if (store_mailbox_get_by_path(store, j->user, j->path, pool, &mb, &error) < 0) {
		imap_job_failed(&j->st, store, error);
	} else {
		j->mb = *mb;
		j->mb.path = NULL;
		if (store_message_list(store, mb->id, NULL, 0, select_collect, j, &error) < 0)
			imap_job_failed(&j->st, store, error);
	}
	pool_destroy(&pool);
}

static void select_free(void *arg)
{
	struct select_job *j = arg;
	free(j->uids);
	free(j->path);
	buffer_free(&j->keywords);
	free(j);
}

static void select_done(void *arg)
{
	struct select_job *j = arg;
	struct imap_cmd *cmd = j->cmd;
	struct imap_client *c = cmd->client;
	bool readonly = strcmp(cmd->name, "EXAMINE") == 0;
	if (j->st.error != STORE_OK) {
		imap_cmd_store_error(cmd, j->st.error, j->st.error == STORE_ERR_NOT_FOUND ?
				     "Mailbox does not exist" : j->st.error_text);
		select_free(j);
		return;
	}
	struct imap_view *v = xcalloc(1, sizeof(*v));
	memcpy(v->id, j->mb.id, STORE_ID_SIZE);
	v->path = j->path;
	j->path = NULL;
	v->readonly = readonly;
	v->uid_validity = j->mb.uid_validity;
	v->uid_next = j->mb.uid_next;
	v->highest_modseq = j->mb.modify_index;
	v->uids = j->uids;
	v->count = v->cap = j->count;
	j->uids = NULL;
	c->view = v;
	c->state = IMAP_STATE_SELECTED;
	c->changed = true; /* catch what happened between reading mailbox and list */
	imap_printf(c, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s)\r\n"
		    "* OK [PERMANENTFLAGS (%s)] Flags permitted\r\n"
		    "* %u EXISTS\r\n* 0 RECENT\r\n",
		    buffer_cstr(&j->keywords),
		    readonly ? "" : "\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*", v->count);
	if (j->first_unseen > 0)
		imap_printf(c, "* OK [UNSEEN %u] First unseen\r\n", j->first_unseen);
	imap_printf(c, "* OK [UIDVALIDITY %u] UIDs valid\r\n* OK [UIDNEXT %u] Predicted next UID\r\n"
		    "* OK [HIGHESTMODSEQ %llu] Highest\r\n", v->uid_validity, v->uid_next,
		    (unsigned long long)v->highest_modseq);
	imap_cmd_donef(cmd, "OK [%s] %s completed", readonly ? "READ-ONLY" : "READ-WRITE", cmd->name);
	select_free(j);
}

static void deselect(struct imap_client *c)
{
	imap_view_free(&c->view);
	c->state = IMAP_STATE_AUTH;
	c->changed = false;
}

static void cmd_select(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	const char *name, *error;
	if (cmd->args_count < 1 || !imap_arg_get_astring(&cmd->args[0], &name)) {
		imap_cmd_done(cmd, "BAD SELECT expects a mailbox name");
		return;
	}
	const struct imap_arg *params;
	unsigned int n;
	if (cmd->args_count == 2 && imap_arg_get_list(&cmd->args[1], &params, &n)) {
		for (unsigned int i = 0; i < n; i++) {
			if (!imap_arg_atom_equals(&params[i], "CONDSTORE")) {
				imap_cmd_done(cmd, "BAD Unknown SELECT parameter");
				return;
			}
			c->condstore = true;
		}
	} else if (cmd->args_count != 1) {
		imap_cmd_done(cmd, "BAD SELECT expects a mailbox name and optional parameters");
		return;
	}
	/* RFC 3501: a failed SELECT leaves no mailbox selected */
	if (c->state == IMAP_STATE_SELECTED) {
		deselect(c);
		imap_printf(c, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	const char *path = imap_mailbox_from_client(c, cmd->pool, name, &error);
	if (path == NULL) {
		imap_cmd_donef(cmd, "NO %s", error);
		return;
	}
	struct select_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	memcpy(j->user, c->user_id, STORE_ID_SIZE);
	j->path = xstrdup(path);
	imap_job(c, select_run, select_done, select_free, j);
}

/* CLOSE expunges silently (RFC 3501 6.4.2); UNSELECT does not. */
struct close_job {
	struct imap_job_status st;
	struct imap_cmd *cmd;
	char mailbox[STORE_ID_SIZE];
};

static void close_run(struct store *store, void *arg)
{
	struct close_job *j = arg;
	struct pool *pool = pool_create(1024);
	uint32_t *uids;
	unsigned int n;
	const char *error;
	if (store_message_expunge(store, j->mailbox, NULL, 0, pool, &uids, &n, &error) < 0)
		imap_job_failed(&j->st, store, error);
	pool_destroy(&pool);
}

static void close_done(void *arg)
{
	struct close_job *j = arg;
	struct imap_cmd *cmd = j->cmd;
	if (j->st.error != STORE_OK) {
		imap_cmd_store_error(cmd, j->st.error, j->st.error_text);
	} else {
		imap_notify_changed(cmd->client->user_id);
		imap_cmd_done(cmd, "OK CLOSE completed");
	}
	free(j);
}

static void cmd_close(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	bool expunge = strcmp(cmd->name, "CLOSE") == 0 && !c->view->readonly;
	char mailbox[STORE_ID_SIZE];
	memcpy(mailbox, c->view->id, STORE_ID_SIZE);
	deselect(c);
	if (!expunge) {
		imap_cmd_donef(cmd, "OK %s completed", cmd->name);
		return;
	}
	struct close_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	memcpy(j->mailbox, mailbox, STORE_ID_SIZE);
	imap_job(c, close_run, close_done, free, j);
}

static void noop_synced(void *ctx)
{
	struct imap_cmd *cmd = ctx;
	imap_cmd_donef(cmd, "OK %s completed", cmd->name);
}

/* NOOP and CHECK: the usual way to poll for changes. */
static void cmd_noop(struct imap_cmd *cmd)
{
	if (cmd->client->state == IMAP_STATE_SELECTED) {
		cmd->client->changed = false;
		imap_sync(cmd->client, true, noop_synced, cmd);
		return;
	}
	imap_cmd_donef(cmd, "OK %s completed", cmd->name);
}

static void cmd_idle(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	c->idle_cmd = cmd;
	conn_set_idle_timeout(c->conn, IDLE_TIMEOUT_MS);
	imap_printf(c, "+ idling\r\n");
	if (c->state == IMAP_STATE_SELECTED)
		imap_sync(c, true, NULL, NULL);
}

void imap_idle_line(struct imap_client *c, const char *line)
{
	struct imap_cmd *cmd = c->idle_cmd;
	conn_set_idle_timeout(c->conn, imap_config()->imap.idle_timeout);
	c->idle_cmd = NULL;
	if (strcasecmp(line, "DONE") == 0)
		imap_cmd_done(cmd, "OK IDLE terminated");
	else
		imap_cmd_done(cmd, "BAD Expected DONE");
}

const struct imap_command imap_select_commands[] = {
	{ "SELECT", cmd_select, IMAP_CMD_AUTH },
	{ "EXAMINE", cmd_select, IMAP_CMD_AUTH },
	{ "CLOSE", cmd_close, IMAP_CMD_SELECTED | IMAP_CMD_NO_ARGS },
	{ "UNSELECT", cmd_close, IMAP_CMD_SELECTED | IMAP_CMD_NO_ARGS },
	{ "CHECK", cmd_noop, IMAP_CMD_SELECTED | IMAP_CMD_NO_ARGS },
	{ "NOOP", cmd_noop, IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH | IMAP_CMD_NO_ARGS },
	{ "IDLE", cmd_idle, IMAP_CMD_AUTH | IMAP_CMD_NO_ARGS },
	{ NULL, NULL, 0 },
};
