/* wdctl's mailbox commands, run on the store directly (wdctl.c opened it and
 * dropped to the service user): "mailbox list", "quota recalc" (a recount
 * that corrects the stored value), "import-maildir" (Maildir++
 * into mailboxes, byte-identical) and "export-mbox" (mboxrd to stdout).
 *
 * Re-running an import adds nothing new: a Maildir file is skipped when the
 * target mailbox already holds a message with the same Message-ID and size
 * (without a Message-ID: the same size and INTERNALDATE, which came from the
 * file's mtime). This needs no marker in the store and also skips messages
 * that reached the mailbox by other ways (an earlier IMAP APPEND, say); two
 * copies of one message in one Maildir folder are both imported the first
 * time and both skipped afterwards. */
#include "wdctl_import.h"

#include "buffer.h"
#include "mbox.h"
#include "mem.h"
#include "message.h"
#include "mime.h"
#include "mutf7.h"
#include "pool.h"
#include "store.h"
#include "store_quota.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int user_lookup(struct store *store, struct pool *pool, const char *name,
		       char id_r[STORE_ID_SIZE])
{
	struct store_user *u;
	const char *error;
	if (store_user_get_by_username(store, name, pool, &u, &error) < 0) {
		fprintf(stderr, "wdctl: user %s: %s\n", name, error);
		return -1;
	}
	memcpy(id_r, u->id, STORE_ID_SIZE);
	return 0;
}

/* ---- mailbox list ---- */

static int mailbox_list_command(struct store *store, struct pool *pool, const char *user)
{
	char uid[STORE_ID_SIZE];
	struct store_mailbox *boxes;
	unsigned int count;
	const char *error;
	if (user_lookup(store, pool, user, uid) < 0)
		return 1;
	if (store_mailbox_list(store, uid, pool, &boxes, &count, &error) < 0) {
		fprintf(stderr, "wdctl: mailbox list: %s\n", error);
		return 1;
	}
	printf("%-30s %-9s %9s %9s %12s\n", "PATH", "SPECIAL", "MESSAGES", "UNSEEN", "SIZE");
	for (unsigned int i = 0; i < count; i++) {
		struct store_mailbox_counts c;
		if (store_mailbox_counts(store, boxes[i].id, &c, &error) < 0) {
			fprintf(stderr, "wdctl: mailbox %s: %s\n", boxes[i].path, error);
			return 1;
		}
		const char *use = store_special_use_name(boxes[i].special_use);
		printf("%-30s %-9s %9u %9u %12llu\n", boxes[i].path, use != NULL ? use : "-",
		       c.messages, c.unseen, (unsigned long long)c.size);
	}
	return 0;
}

/* ---- quota recalc ---- */

/* Recounts, and corrects the stored value when it differs (only if no
 * delivery moved it meanwhile: store_quota_recalc()). */
static int quota_recalc_command(struct store *store, struct pool *pool, const char *user)
{
	char uid[STORE_ID_SIZE];
	struct store_quota_recount r;
	const char *error;
	if (user_lookup(store, pool, user, uid) < 0)
		return 1;
	if (store_quota_recalc(store, uid, pool, &r, &error) < 0) {
		fprintf(stderr, "wdctl: quota recalc: %s\n", error);
		return 1;
	}
	printf("quota %s: %llu bytes in %u messages in %u mailboxes, storage used %llu, "
	       "quota %llu%s\n", user, (unsigned long long)r.counted, r.messages, r.mailboxes,
	       (unsigned long long)r.used, (unsigned long long)r.quota,
	       r.quota == 0 ? " (unlimited)" : "");
	if (r.corrected)
		printf("quota %s: storage used corrected from %llu to %llu (%+lld bytes)\n", user,
		       (unsigned long long)r.previous, (unsigned long long)r.used,
		       (long long)(r.used - r.previous));
	return 0;
}

/* ---- import-maildir ---- */

/* The de-duplication key of a message (see the top of the file). */
static char *message_key(const char *msgid, uint64_t size, int64_t idate)
{
	struct buffer b = BUFFER_INIT;
	if (msgid != NULL && msgid[0] != '\0')
		buffer_printf(&b, "m\t%llu\t%s", (unsigned long long)size, msgid);
	else
		buffer_printf(&b, "d\t%llu\t%lld", (unsigned long long)size, (long long)idate);
	return buffer_steal(&b, NULL);
}

struct keyset {
	char **keys;
	size_t count;
};

static int keyset_cb(const struct store_message *msg, void *context)
{
	struct keyset *set = context;
	set->keys = xrealloc(set->keys, (set->count + 1) * sizeof(char *));
	set->keys[set->count++] = message_key(msg->msgid, msg->size, msg->idate);
	return 0;
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool keyset_has(const struct keyset *set, const char *key)
{
	return set->count > 0 &&
		bsearch(&key, set->keys, set->count, sizeof(char *), strp_cmp) != NULL;
}

static void keyset_free(struct keyset *set)
{
	for (size_t i = 0; i < set->count; i++)
		free(set->keys[i]);
	free(set->keys);
	set->keys = NULL;
	set->count = 0;
}

struct mfile {
	char *path, *name;
	int64_t mtime;
};

static int mfile_cmp(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Appends the regular files of dir (not dot files) to *files. */
static void collect_files(const char *dir, struct mfile **files, size_t *count)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		struct buffer p = BUFFER_INIT;
		buffer_printf(&p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(buffer_cstr(&p), &st) < 0 || !S_ISREG(st.st_mode)) {
			buffer_free(&p);
			continue;
		}
		*files = xrealloc(*files, (*count + 1) * sizeof(**files));
		(*files)[*count].path = buffer_steal(&p, NULL);
		(*files)[*count].name = xstrdup(e->d_name);
		(*files)[*count].mtime = (int64_t)st.st_mtime;
		(*count)++;
	}
	closedir(d);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The flags in a Maildir name's ":2," info. */
static unsigned int maildir_flags(const char *name, const char *flags_r[5])
{
	const char *info = strstr(name, ":2,");
	unsigned int n = 0;
	if (info == NULL)
		return 0;
	static const struct { char c; const char *flag; } map[] = {
		{ 'D', "\\Draft" }, { 'F', "\\Flagged" }, { 'R', "\\Answered" },
		{ 'S', "\\Seen" }, { 'T', "\\Deleted" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strchr(info + 3, map[i].c) != NULL)
			flags_r[n++] = map[i].flag;
	return n;
}

/* The mailbox path of a Maildir++ folder ".A.B" -> "A/B", each level
 * decoded from modified UTF-7; NULL if it does not decode. */
static char *folder_path(const char *folder)
{
	struct buffer out = BUFFER_INIT;
	const char *p = folder + 1, *error;
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (out.len > 0)
			buffer_append_c(&out, '/');
		if (len == 0 || mutf7_decode(p, len, &out, &error) < 0) {
			buffer_free(&out);
			return NULL;
		}
		p += len + (dot != NULL);
		if (dot != NULL && *p == '\0') {
			buffer_free(&out);
			return NULL;
		}
	}
	if (out.len == 0)
		return NULL;
	return buffer_steal(&out, NULL);
}

struct import_ctx {
	struct store *store;
	struct pool *pool;
	char user[STORE_ID_SIZE];
	bool tty;
	unsigned long imported, skipped, failed, created;
};

/* The mailbox id for a folder path: the special-use mailbox for Sent,
 * Drafts, Trash, Junk and Archive where the user has one, else the
 * mailbox of that path, created (with its parents) if missing. */
static int target_mailbox(struct import_ctx *ctx, const char *path, char id_r[STORE_ID_SIZE])
{
	static const struct { const char *name; enum store_special_use use; } special[] = {
		{ "Sent", STORE_SPECIAL_SENT }, { "Drafts", STORE_SPECIAL_DRAFTS },
		{ "Trash", STORE_SPECIAL_TRASH }, { "Junk", STORE_SPECIAL_JUNK },
		{ "Archive", STORE_SPECIAL_ARCHIVE },
	};
	struct store_mailbox *boxes;
	unsigned int count;
	const char *error;
	if (store_mailbox_list(ctx->store, ctx->user, ctx->pool, &boxes, &count, &error) < 0) {
		fprintf(stderr, "wdctl: import-maildir: %s\n", error);
		return -1;
	}
	for (size_t s = 0; s < sizeof(special) / sizeof(special[0]); s++) {
		if (strcmp(path, special[s].name) != 0)
			continue;
		for (unsigned int i = 0; i < count; i++)
			if (boxes[i].special_use == special[s].use) {
				memcpy(id_r, boxes[i].id, STORE_ID_SIZE);
				return 0;
			}
	}
	for (unsigned int i = 0; i < count; i++)
		if (strcmp(boxes[i].path, path) == 0 ||
		    (strcasecmp(path, "INBOX") == 0 && boxes[i].special_use == STORE_SPECIAL_INBOX)) {
			memcpy(id_r, boxes[i].id, STORE_ID_SIZE);
			return 0;
		}
	/* create the missing levels, parents first */
	char *copy = xstrdup(path);
	int ret = 0;
	for (char *slash = copy;; slash++) {
		slash = strchr(slash, '/');
		if (slash != NULL)
			*slash = '\0';
		bool have = false;
		for (unsigned int i = 0; i < count && !have; i++)
			have = strcmp(boxes[i].path, copy) == 0;
		if (!have) {
			if (store_mailbox_create(ctx->store, ctx->user, copy, STORE_SPECIAL_NONE, id_r,
						 &error) < 0) {
				fprintf(stderr, "wdctl: import-maildir: create %s: %s\n", copy, error);
				ret = -1;
				break;
			}
			ctx->created++;
		}
		if (slash == NULL)
			break;
		*slash = '/';
	}
	/* the last level made is path itself: id_r is its id */
	free(copy);
	return ret;
}

static int read_file(const char *path, struct buffer *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		unsigned char *p = buffer_reserve(out, 65536);
		ssize_t n = read(fd, p, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			close(fd);
			errno = e;
			return n < 0 ? -1 : 0;
		}
		out->len += (size_t)n;
	}
}

static char *raw_msgid(struct pool *pool, const unsigned char *raw, size_t len)
{
	struct mime_message *mime;
	(void)mime_parse(raw, len, &mime);
	const struct mime_part *root = mime->root;
	char *id = mime_header_get(pool, root->header, root->header_end - root->header_start,
				   "message-id");
	mime_message_free(&mime);
	return id;
}

/* Imports one Maildir folder (dir holding cur/ and new/) into path. */
static int import_folder(struct import_ctx *ctx, const char *dir, const char *path,
			 unsigned int folder_no, unsigned int folders)
{
	char mbox[STORE_ID_SIZE];
	const char *error;
	if (target_mailbox(ctx, path, mbox) < 0)
		return -1;
	struct keyset have = { 0 };
	if (store_message_list(ctx->store, mbox, NULL, 0, keyset_cb, &have, &error) < 0) {
		fprintf(stderr, "wdctl: import-maildir: %s: %s\n", path, error);
		keyset_free(&have);
		return -1;
	}
	if (have.count > 0)
		qsort(have.keys, have.count, sizeof(char *), strp_cmp);
	struct mfile *files = NULL;
	size_t count = 0;
	struct buffer sub = BUFFER_INIT;
	buffer_printf(&sub, "%s/cur", dir);
	collect_files(buffer_cstr(&sub), &files, &count);
	buffer_truncate(&sub, 0);
	buffer_printf(&sub, "%s/new", dir);
	collect_files(buffer_cstr(&sub), &files, &count);
	buffer_free(&sub);
	if (count > 0)
		qsort(files, count, sizeof(*files), mfile_cmp);
	int ret = 0;
	struct buffer raw = BUFFER_INIT;
	for (size_t i = 0; i < count; i++) {
		if (ctx->tty) {
			fprintf(stderr, "\rimport-maildir: folder %u/%u %s: %zu/%zu messages ",
				folder_no, folders, path, i + 1, count);
			fflush(stderr);
		}
		buffer_truncate(&raw, 0);
		if (read_file(files[i].path, &raw) < 0) {
			fprintf(stderr, "%swdctl: import-maildir: read %s: %s\n", ctx->tty ? "\n" : "",
				files[i].path, strerror(errno));
			ctx->failed++;
			continue;
		}
		struct pool *mp = pool_create(1024);
		char *key = message_key(raw_msgid(mp, raw.data, raw.len), raw.len, files[i].mtime);
		pool_destroy(&mp);
		if (keyset_has(&have, key)) {
			ctx->skipped++;
			free(key);
			continue;
		}
		free(key);
		const char *flags[5];
		struct message_append_opts opts = {
			.idate = files[i].mtime,
			.flags = flags,
			.flags_count = maildir_flags(files[i].name, flags),
		};
		struct store_append_result res;
		if (store_message_append_raw(ctx->store, mbox, raw.data, raw.len, &opts, &res,
					     &error) < 0) {
			fprintf(stderr, "%swdctl: import-maildir: %s: %s\n", ctx->tty ? "\n" : "",
				files[i].path, error);
			ctx->failed++;
			if (store_last_error(ctx->store) == STORE_ERR_TEMPORARY ||
			    store_last_error(ctx->store) == STORE_ERR_INTERNAL) {
				ret = -1;
				break;
			}
			continue;
		}
		ctx->imported++;
	}
	if (ctx->tty && count > 0)
		fputc('\n', stderr);
	buffer_free(&raw);
	for (size_t i = 0; i < count; i++) {
		free(files[i].path);
		free(files[i].name);
	}
	free(files);
	keyset_free(&have);
	return ret;
}

static int import_command(struct store *store, struct pool *pool, const char *user,
			  const char *dir)
{
	struct import_ctx ctx = { .store = store, .pool = pool, .tty = isatty(STDERR_FILENO) };
	if (user_lookup(store, pool, user, ctx.user) < 0)
		return 1;
	DIR *d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "wdctl: import-maildir: opendir(%s) failed: %s\n", dir,
			strerror(errno));
		return 1;
	}
	/* folders: "" is INBOX, ".A.B" is A/B */
	char **folders = NULL;
	unsigned int nfolders = 0;
	struct dirent *e;
	struct buffer p = BUFFER_INIT;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		buffer_truncate(&p, 0);
		buffer_printf(&p, "%s/%s", dir, e->d_name);
		if (!is_dir(buffer_cstr(&p)))
			continue;
		folders = xrealloc(folders, (nfolders + 1) * sizeof(char *));
		folders[nfolders++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (nfolders > 0)
		qsort(folders, nfolders, sizeof(char *), strp_cmp);
	int ret = 0;
	buffer_truncate(&p, 0);
	buffer_printf(&p, "%s/cur", dir);
	bool inbox = is_dir(buffer_cstr(&p));
	buffer_truncate(&p, 0);
	buffer_printf(&p, "%s/new", dir);
	inbox = inbox || is_dir(buffer_cstr(&p));
	unsigned int total = nfolders + (inbox ? 1 : 0), no = 0;
	if (inbox && import_folder(&ctx, dir, "INBOX", ++no, total) < 0)
		ret = 1;
	for (unsigned int i = 0; i < nfolders && ret == 0; i++) {
		char *path = folder_path(folders[i]);
		buffer_truncate(&p, 0);
		buffer_printf(&p, "%s/%s", dir, folders[i]);
		if (path == NULL) {
			fprintf(stderr, "wdctl: import-maildir: %s: not a valid folder name, skipped\n",
				folders[i]);
			ctx.failed++;
		} else if (import_folder(&ctx, buffer_cstr(&p), path, ++no, total) < 0) {
			ret = 1;
		}
		free(path);
	}
	for (unsigned int i = 0; i < nfolders; i++)
		free(folders[i]);
	free(folders);
	buffer_free(&p);
	printf("import-maildir %s: %lu imported, %lu already there, %lu failed, "
	       "%lu mailboxes created\n", user, ctx.imported, ctx.skipped, ctx.failed, ctx.created);
	return ret != 0 || ctx.failed > 0 ? 1 : 0;
}

/* ---- export-mbox ---- */

static int stdout_write(const unsigned char *data, size_t len, void *context)
{
	(void)context;
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

static int export_command(struct store *store, struct pool *pool, const char *user,
			  const char *path)
{
	char uid[STORE_ID_SIZE];
	const char *error;
	if (user_lookup(store, pool, user, uid) < 0)
		return 1;
	struct store_mailbox *mb;
	if (store_mailbox_get_by_path(store, uid, strcasecmp(path, "INBOX") == 0 ? "INBOX" : path,
				      pool, &mb, &error) < 0) {
		fprintf(stderr, "wdctl: export-mbox: mailbox %s: %s\n", path, error);
		return 1;
	}
	size_t count;
	int ret = 0;
	if (mbox_export_mailbox(store, mb->id, stdout_write, NULL, &count, &error) < 0) {
		fprintf(stderr, "wdctl: export-mbox: %s\n", error);
		ret = 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "wdctl: export-mbox: write failed: %s\n", strerror(errno));
		ret = 1;
	}
	if (ret == 0)
		fprintf(stderr, "export-mbox %s %s: %zu messages\n", user, path, count);
	return ret;
}

int wdctl_import_command(struct store *store, struct pool *pool, int argc, char **argv)
{
	if (strcmp(argv[0], "mailbox") == 0 && argc == 3 && strcmp(argv[1], "list") == 0)
		return mailbox_list_command(store, pool, argv[2]);
	if (strcmp(argv[0], "quota") == 0 && argc == 3 && strcmp(argv[1], "recalc") == 0)
		return quota_recalc_command(store, pool, argv[2]);
	if (strcmp(argv[0], "import-maildir") == 0 && argc == 3)
		return import_command(store, pool, argv[1], argv[2]);
	if (strcmp(argv[0], "export-mbox") == 0 && argc == 3)
		return export_command(store, pool, argv[1], argv[2]);
	return 2;
}
