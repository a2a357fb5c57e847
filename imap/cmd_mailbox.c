/* Mailbox management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
 * LIST (with LIST-EXTENDED selection and return options), LSUB, STATUS,
 * GETQUOTA and GETQUOTAROOT. One store job per command. */
#include "imap_client.h"
#include "log.h"
#include "mem.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum mbox_op { OP_CREATE, OP_DELETE, OP_RENAME, OP_SUBSCRIBE, OP_UNSUBSCRIBE,
	       OP_LIST, OP_STATUS, OP_QUOTA };

enum list_flags {
	LIST_LSUB = 1 << 0,
	LIST_SELECT_SUBSCRIBED = 1 << 1,
	LIST_SELECT_SPECIAL = 1 << 2,
	LIST_RETURN_SUBSCRIBED = 1 << 3,
	LIST_RETURN_CHILDREN = 1 << 4,
	LIST_RETURN_SPECIAL = 1 << 5,
};

struct mbox_job {
	struct imap_job_status st;
	struct imap_cmd *cmd;
	enum mbox_op op;
	char user[STORE_ID_SIZE];
	char *path, *path2;            /* from the client, in store form */
	enum store_special_use use;    /* CREATE ... (USE (\Sent)) */
	struct pool *pool;             /* results */
	struct store_mailbox *mailboxes;
	unsigned int count;
	struct store_mailbox_counts counts;
	struct store_mailbox *mailbox;
	struct store_user *owner;
};

/* Creates path and any missing parents (RFC 3501: "foo/bar" makes "foo"). */
static int create_with_parents(struct store *store, const char *user, char *path,
			       enum store_special_use use, const char **error_r)
{
	char id[STORE_ID_SIZE];
	for (char *p = strchr(path, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		int r = store_mailbox_create(store, user, path, STORE_SPECIAL_NONE, id, error_r);
		*p = '/';
		if (r < 0 && store_last_error(store) != STORE_ERR_EXISTS)
			return -1;
	}
	return store_mailbox_create(store, user, path, use, id, error_r);
}

/* RFC 3501: renaming INBOX moves its messages to a new mailbox. */
static int rename_inbox(struct store *store, struct mbox_job *j, const char **error_r)
{
	struct store_mailbox *inbox;
	char id[STORE_ID_SIZE];
	struct store_copy_result res;
	struct store_uid_range all = { 1, UINT32_MAX };
	if (store_mailbox_get_by_path(store, j->user, "INBOX", j->pool, &inbox, error_r) < 0 ||
	    create_with_parents(store, j->user, j->path2, STORE_SPECIAL_NONE, error_r) < 0 ||
	    store_mailbox_get_by_path(store, j->user, j->path2, j->pool, &j->mailbox, error_r) < 0)
		return -1;
	(void)id;
	return store_message_copy(store, inbox->id, &all, 1, j->mailbox->id, STORE_COPY_MOVE,
				  j->pool, &res, error_r);
}

static int mbox_run_op(struct store *store, struct mbox_job *j, const char **error)
{
	struct store_mailbox *mb;
	switch (j->op) {
	case OP_CREATE:
		return create_with_parents(store, j->user, j->path, j->use, error);
	case OP_DELETE:
		return store_mailbox_get_by_path(store, j->user, j->path, j->pool, &mb, error) < 0 ? -1 :
			store_mailbox_delete(store, mb->id, error);
	case OP_RENAME:
		if (strcmp(j->path, "INBOX") == 0)
			return rename_inbox(store, j, error);
		return store_mailbox_get_by_path(store, j->user, j->path, j->pool, &mb, error) < 0 ? -1 :
			store_mailbox_rename(store, mb->id, j->path2, error);
	case OP_SUBSCRIBE:
	case OP_UNSUBSCRIBE:
		return store_mailbox_get_by_path(store, j->user, j->path, j->pool, &mb, error) < 0 ? -1 :
			store_mailbox_subscribe(store, mb->id, j->op == OP_SUBSCRIBE, error);
	case OP_LIST:
		return store_mailbox_list(store, j->user, j->pool, &j->mailboxes, &j->count, error);
	case OP_STATUS:
		return store_mailbox_get_by_path(store, j->user, j->path, j->pool, &j->mailbox, error) < 0
			? -1 : store_mailbox_counts(store, j->mailbox->id, &j->counts, error);
	case OP_QUOTA:
		return store_user_get(store, j->user, j->pool, &j->owner, error);
	}
	return -1;
}

static void mbox_run(struct store *store, void *arg)
{
	struct mbox_job *j = arg;
	const char *error = NULL;
	if (mbox_run_op(store, j, &error) < 0)
		imap_job_failed(&j->st, store, error);
}

static void mbox_free(void *arg)
{
	struct mbox_job *j = arg;
	pool_destroy(&j->pool);
	free(j);
}

static struct mbox_job *mbox_job_new(struct imap_cmd *cmd, enum mbox_op op)
{
	struct mbox_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->op = op;
	j->pool = pool_create(4096);
	memcpy(j->user, cmd->client->user_id, STORE_ID_SIZE);
	return j;
}

/* Reads the first n (1 or 2) arguments as mailbox names into j->path and
 * j->path2. When one is unusable it answers NO/BAD, frees j and returns
 * false: the caller must not touch j then. */
static bool mailbox_args(struct imap_cmd *cmd, struct mbox_job *j, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		const char *name, *error, *path = NULL;
		if (i >= cmd->args_count || !imap_arg_get_astring(&cmd->args[i], &name))
			imap_cmd_donef(cmd, "BAD %s expects a mailbox name", cmd->name);
		else if ((path = imap_mailbox_from_client(cmd->client, j->pool, name, &error)) == NULL)
			imap_cmd_donef(cmd, "NO %s", error);
		if (path == NULL) {
			mbox_free(j);
			return false;
		}
		*(i == 0 ? &j->path : &j->path2) = (char *)path;
	}
	return true;
}

/* IMAP LIST wildcards: '*' matches anything, '%' anything but '/'. */
static bool pattern_match(const char *pat, const char *name)
{
	for (; *pat != '\0'; pat++, name++) {
		if (*pat == '*' || *pat == '%') {
			for (const char *n = name;; n++) {
				if (pattern_match(pat + 1, n))
					return true;
				if (*n == '\0' || (*pat == '%' && *n == '/'))
					return false;
			}
		}
		if (*name != *pat)
			return false;
	}
	return *name == '\0';
}

static bool has_children(const struct mbox_job *j, const char *path)
{
	size_t len = strlen(path);
	for (unsigned int i = 0; i < j->count; i++)
		if (strncmp(j->mailboxes[i].path, path, len) == 0 && j->mailboxes[i].path[len] == '/')
			return true;
	return false;
}

struct list_req {
	unsigned int flags;
	const char **patterns; /* reference + pattern, store form */
	unsigned int npatterns;
};

static void list_one(struct imap_client *c, const struct mbox_job *j, const struct list_req *req,
		     const struct store_mailbox *mb, struct buffer *out)
{
	bool lsub = req->flags & LIST_LSUB;
	if ((lsub || (req->flags & LIST_SELECT_SUBSCRIBED)) && !mb->subscribed)
		return;
	if ((req->flags & LIST_SELECT_SPECIAL) &&
	    (mb->special_use == STORE_SPECIAL_NONE || mb->special_use == STORE_SPECIAL_INBOX))
		return;
	bool match = false;
	for (unsigned int i = 0; i < req->npatterns && !match; i++) {
		const char *pat = req->patterns[i];
		/* INBOX matches without case */
		if (strncasecmp(pat, "INBOX", 5) == 0 && (pat[5] == '\0' || pat[5] == '/'))
			pat = pool_printf(j->pool, "INBOX%s", pat + 5);
		match = pattern_match(pat, mb->path);
	}
	if (!match)
		return;
	buffer_printf(out, "* %s (", lsub ? "LSUB" : "LIST");
	size_t start = out->len;
	bool children = has_children(j, mb->path);
	if (!lsub)
		buffer_append_str(out, children ? "\\HasChildren" : "\\HasNoChildren");
	if (mb->special_use != STORE_SPECIAL_NONE && mb->special_use != STORE_SPECIAL_INBOX &&
	    !lsub && !(req->flags & LIST_LSUB))
		buffer_printf(out, "%s%s", out->len > start ? " " : "", store_special_use_name(mb->special_use));
	if ((req->flags & (LIST_RETURN_SUBSCRIBED | LIST_SELECT_SUBSCRIBED)) && mb->subscribed)
		buffer_printf(out, "%s\\Subscribed", out->len > start ? " " : "");
	buffer_append_str(out, ") \"/\" ");
	imap_mailbox_to_client(c, mb->path, out);
	buffer_append_str(out, "\r\n");
}

static void list_done(struct imap_cmd *cmd, struct mbox_job *j)
{
	struct list_req *req = cmd->ctx;
	struct buffer out = BUFFER_INIT;
	for (unsigned int i = 0; i < j->count; i++)
		list_one(cmd->client, j, req, &j->mailboxes[i], &out);
	imap_write(cmd->client, out.data, out.len);
	buffer_free(&out);
	imap_cmd_donef(cmd, "OK %s completed", cmd->name);
}

static void status_done(struct imap_cmd *cmd, struct mbox_job *j)
{
	const struct imap_arg *items = cmd->ctx;
	struct buffer out = BUFFER_INIT;
	buffer_append_str(&out, "* STATUS ");
	imap_mailbox_to_client(cmd->client, j->mailbox->path, &out);
	buffer_append_str(&out, " (");
	for (unsigned int i = 0; items[i].type != IMAP_ARG_EOL; i++) {
		const char *name;
		imap_arg_get_atom(&items[i], &name);
		unsigned long long v = 0;
		if (strcasecmp(name, "MESSAGES") == 0) v = j->counts.messages;
		else if (strcasecmp(name, "RECENT") == 0) v = 0;
		else if (strcasecmp(name, "UIDNEXT") == 0) v = j->counts.uid_next;
		else if (strcasecmp(name, "UIDVALIDITY") == 0) v = j->counts.uid_validity;
		else if (strcasecmp(name, "UNSEEN") == 0) v = j->counts.unseen;
		else if (strcasecmp(name, "HIGHESTMODSEQ") == 0) v = j->counts.highest_modseq;
		else if (strcasecmp(name, "SIZE") == 0) v = j->counts.size;
		buffer_printf(&out, "%s%s %llu", i ? " " : "", name, v);
	}
	buffer_append_str(&out, ")\r\n");
	imap_write(cmd->client, out.data, out.len);
	buffer_free(&out);
	imap_cmd_done(cmd, "OK STATUS completed");
}

static void quota_done(struct imap_cmd *cmd, struct mbox_job *j)
{
	struct imap_client *c = cmd->client;
	if (strcmp(cmd->name, "GETQUOTAROOT") == 0) {
		struct buffer out = BUFFER_INIT;
		buffer_append_str(&out, "* QUOTAROOT ");
		imap_mailbox_to_client(c, j->path, &out);
		buffer_append_str(&out, " \"\"\r\n");
		imap_write(c, out.data, out.len);
		buffer_free(&out);
	}
	/* RFC 9208 STORAGE is in units of 1024 octets */
	if (j->owner->quota > 0)
		imap_printf(c, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
			    (unsigned long long)(j->owner->storage_used + 1023) / 1024,
			    (unsigned long long)j->owner->quota / 1024);
	else
		imap_printf(c, "* QUOTA \"\" ()\r\n");
	imap_cmd_donef(cmd, "OK %s completed", cmd->name);
}

static void mbox_done(void *arg)
{
	struct mbox_job *j = arg;
	struct imap_cmd *cmd = j->cmd;
	bool changes = j->op == OP_CREATE || j->op == OP_DELETE || j->op == OP_RENAME;
	if (j->st.error != STORE_OK) {
		const char *what = j->st.error == STORE_ERR_NOT_FOUND ? "Mailbox does not exist" :
			j->st.error == STORE_ERR_EXISTS ? "Mailbox already exists" : j->st.error_text;
		imap_cmd_store_error(cmd, j->st.error, what);
	} else if (j->op == OP_LIST) {
		list_done(cmd, j);
	} else if (j->op == OP_STATUS) {
		status_done(cmd, j);
	} else if (j->op == OP_QUOTA) {
		quota_done(cmd, j);
	} else {
		if (changes)
			imap_notify_changed(cmd->client->user_id);
		imap_cmd_donef(cmd, "OK %s completed", cmd->name);
	}
	mbox_free(j);
}

static void submit(struct imap_cmd *cmd, struct mbox_job *j)
{
	imap_job(cmd->client, mbox_run, mbox_done, mbox_free, j);
}

/* RFC 6154 CREATE-SPECIAL-USE: "(USE (\Sent))". */
static int parse_create_use(struct imap_cmd *cmd, struct mbox_job *j)
{
	static const struct { const char *name; enum store_special_use use; } uses[] = {
		{ "\\Sent", STORE_SPECIAL_SENT }, { "\\Drafts", STORE_SPECIAL_DRAFTS },
		{ "\\Trash", STORE_SPECIAL_TRASH }, { "\\Junk", STORE_SPECIAL_JUNK },
		{ "\\Archive", STORE_SPECIAL_ARCHIVE },
	};
	const struct imap_arg *params, *list;
	unsigned int n, m;
	if (!imap_arg_get_list(&cmd->args[1], &params, &n) || n != 2 ||
	    !imap_arg_atom_equals(&params[0], "USE") || !imap_arg_get_list(&params[1], &list, &m) ||
	    m != 1) {
		imap_cmd_done(cmd, "BAD CREATE parameters must be (USE (one-attribute))");
		return -1;
	}
	for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++) {
		if (imap_arg_atom_equals(&list[0], uses[i].name)) {
			j->use = uses[i].use;
			return 0;
		}
	}
	imap_cmd_done(cmd, "NO [USEATTR] Unsupported special-use attribute");
	return -1;
}

static void cmd_create(struct imap_cmd *cmd)
{
	struct mbox_job *j = mbox_job_new(cmd, OP_CREATE);
	if (!mailbox_args(cmd, j, 1))
		return;
	if (cmd->args_count == 2 && parse_create_use(cmd, j) < 0) {
		mbox_free(j);
		return;
	}
	if (cmd->args_count > 2) {
		imap_cmd_done(cmd, "BAD CREATE expects a mailbox name and optional parameters");
		mbox_free(j);
		return;
	}
	if (strcmp(j->path, "INBOX") == 0) {
		imap_cmd_done(cmd, "NO [ALREADYEXISTS] INBOX always exists");
		mbox_free(j);
		return;
	}
	submit(cmd, j);
}

static void cmd_delete(struct imap_cmd *cmd)
{
	struct mbox_job *j = mbox_job_new(cmd, OP_DELETE);
	if (!mailbox_args(cmd, j, 1))
		return;
	struct imap_client *c = cmd->client;
	if (strcmp(j->path, "INBOX") == 0) {
		imap_cmd_done(cmd, "NO [CANNOT] INBOX cannot be deleted");
		mbox_free(j);
		return;
	}
	if (c->view != NULL && strcmp(c->view->path, j->path) == 0) {
		imap_cmd_done(cmd, "NO [CANNOT] Deselect the mailbox before deleting it");
		mbox_free(j);
		return;
	}
	submit(cmd, j);
}

static void cmd_rename(struct imap_cmd *cmd)
{
	struct mbox_job *j = mbox_job_new(cmd, OP_RENAME);
	if (!mailbox_args(cmd, j, 2))
		return;
	if (strcmp(j->path2, "INBOX") == 0) {
		imap_cmd_done(cmd, "NO [ALREADYEXISTS] INBOX always exists");
		mbox_free(j);
		return;
	}
	submit(cmd, j);
}

static void cmd_subscribe(struct imap_cmd *cmd)
{
	struct mbox_job *j = mbox_job_new(cmd, strcmp(cmd->name, "SUBSCRIBE") == 0 ? OP_SUBSCRIBE
					  : OP_UNSUBSCRIBE);
	if (mailbox_args(cmd, j, 1))
		submit(cmd, j);
}

static bool list_options(const struct imap_arg *arg, unsigned int *flags, bool selection)
{
	const struct imap_arg *list;
	unsigned int n;
	if (!imap_arg_get_list(arg, &list, &n))
		return false;
	for (unsigned int i = 0; i < n; i++) {
		if (imap_arg_atom_equals(&list[i], "SUBSCRIBED"))
			*flags |= selection ? LIST_SELECT_SUBSCRIBED : LIST_RETURN_SUBSCRIBED;
		else if (imap_arg_atom_equals(&list[i], "SPECIAL-USE"))
			*flags |= selection ? LIST_SELECT_SPECIAL : LIST_RETURN_SPECIAL;
		else if (imap_arg_atom_equals(&list[i], "CHILDREN") && !selection)
			*flags |= LIST_RETURN_CHILDREN;
		else if (!imap_arg_atom_equals(&list[i], "REMOTE") &&
			 !imap_arg_atom_equals(&list[i], "RECURSIVEMATCH"))
			return false;
	}
	return true;
}

/* Collects reference + pattern(s) in store form into req. */
static bool list_patterns(struct imap_cmd *cmd, struct list_req *req, const char *ref,
			  const struct imap_arg *arg)
{
	const struct imap_arg *list = arg;
	unsigned int n = 1;
	if (arg->type == IMAP_ARG_LIST && !imap_arg_get_list(arg, &list, &n))
		return false;
	req->patterns = pool_alloc(cmd->pool, (n + 1) * sizeof(char *));
	for (unsigned int i = 0; i < n; i++) {
		const char *pat, *error;
		if (!imap_arg_get_astring(&list[i], &pat))
			return false;
		char *full = pool_printf(cmd->pool, "%s%s", ref, pat);
		const char *path = full[0] == '\0' ? "" :
			imap_mailbox_from_client(cmd->client, cmd->pool, full, &error);
		req->patterns[req->npatterns++] = path != NULL ? path : full;
	}
	return true;
}

static void cmd_list(struct imap_cmd *cmd)
{
	struct list_req *req = pool_alloc(cmd->pool, sizeof(*req));
	unsigned int i = 0;
	const char *ref;
	if (strcmp(cmd->name, "LSUB") == 0)
		req->flags |= LIST_LSUB;
	else if (cmd->args_count > 0 && cmd->args[0].type == IMAP_ARG_LIST &&
		 !list_options(&cmd->args[i++], &req->flags, true))
		goto bad;
	if (cmd->args_count < i + 2 || !imap_arg_get_astring(&cmd->args[i], &ref))
		goto bad;
	const struct imap_arg *pattern = &cmd->args[i + 1];
	i += 2;
	if (i < cmd->args_count) {
		if (!imap_arg_atom_equals(&cmd->args[i], "RETURN") || i + 2 != cmd->args_count ||
		    !list_options(&cmd->args[i + 1], &req->flags, false))
			goto bad;
	}
	const char *single;
	if (imap_arg_get_astring(pattern, &single) && single[0] == '\0') {
		/* the hierarchy delimiter and root (RFC 3501 6.3.8) */
		imap_printf(cmd->client, "* %s (\\Noselect) \"/\" \"\"\r\n", cmd->name);
		imap_cmd_donef(cmd, "OK %s completed", cmd->name);
		return;
	}
	if (!list_patterns(cmd, req, ref, pattern))
		goto bad;
	struct mbox_job *j = mbox_job_new(cmd, OP_LIST);
	cmd->ctx = req;
	submit(cmd, j);
	return;
bad:
	imap_cmd_donef(cmd, "BAD Invalid %s arguments", cmd->name);
}

static void cmd_status(struct imap_cmd *cmd)
{
	static const char *const known[] = { "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY",
					     "UNSEEN", "HIGHESTMODSEQ", "SIZE", NULL };
	const struct imap_arg *items;
	unsigned int n;
	if (cmd->args_count != 2 || !imap_arg_get_list(&cmd->args[1], &items, &n) || n == 0) {
		imap_cmd_done(cmd, "BAD STATUS expects a mailbox and a list of items");
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		bool ok = false;
		for (const char *const *k = known; *k != NULL && !ok; k++)
			ok = imap_arg_atom_equals(&items[i], *k);
		if (!ok) {
			imap_cmd_done(cmd, "BAD Unknown STATUS item");
			return;
		}
	}
	struct mbox_job *j = mbox_job_new(cmd, OP_STATUS);
	if (!mailbox_args(cmd, j, 1))
		return;
	cmd->ctx = (void *)items;
	submit(cmd, j);
}

static void cmd_getquota(struct imap_cmd *cmd)
{
	struct mbox_job *j = mbox_job_new(cmd, OP_QUOTA);
	const char *root;
	if (strcmp(cmd->name, "GETQUOTAROOT") == 0) {
		if (!mailbox_args(cmd, j, 1))
			return;
	} else if (cmd->args_count != 1 || !imap_arg_get_astring(&cmd->args[0], &root) ||
		   root[0] != '\0') {
		imap_cmd_done(cmd, "NO [NONEXISTENT] The only quota root is \"\"");
		mbox_free(j);
		return;
	}
	submit(cmd, j);
}

const struct imap_command imap_mailbox_commands[] = {
	{ "CREATE", cmd_create, IMAP_CMD_AUTH },
	{ "DELETE", cmd_delete, IMAP_CMD_AUTH },
	{ "RENAME", cmd_rename, IMAP_CMD_AUTH },
	{ "SUBSCRIBE", cmd_subscribe, IMAP_CMD_AUTH },
	{ "UNSUBSCRIBE", cmd_subscribe, IMAP_CMD_AUTH },
	{ "LIST", cmd_list, IMAP_CMD_AUTH },
	{ "LSUB", cmd_list, IMAP_CMD_AUTH },
	{ "STATUS", cmd_status, IMAP_CMD_AUTH },
	{ "GETQUOTA", cmd_getquota, IMAP_CMD_AUTH },
	{ "GETQUOTAROOT", cmd_getquota, IMAP_CMD_AUTH },
	{ NULL, NULL, 0 },
};
