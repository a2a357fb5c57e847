/* Store helper for the LMTP/POP3 end-to-end tests and the LMTP benchmark:
 * creates users, addresses, filters, autoreplies and forwarding targets
 * through lib/store.h, and reads back what was delivered.
 *   lmtp_tool DB user USERNAME ADDRESS [QUOTA [PASSWORD]]   prints the user id
 *   lmtp_tool DB address USERID ADDRESS
 *   lmtp_tool DB alias ALIAS DOMAIN
 *   lmtp_tool DB disable USERID
 *   lmtp_tool DB filter USERID key=value...   (from to subject listid text
 *        attachment size seen flag spam delete mailbox=PATH forward webhook)
 *   lmtp_tool DB autoreply USERID SUBJECT TEXT
 *   lmtp_tool DB targets USERID TARGET...
 *   lmtp_tool DB forwarded ADDRESS TARGET...
 *   lmtp_tool DB list USERID PATH        uid flags size id (one line each)
 *   lmtp_tool DB fetch USERID PATH UID   the raw message on stdout
 *   lmtp_tool DB webhooks                url event payload (one line each)
 *   lmtp_tool DB storage USERID          storage used in bytes
 *   lmtp_tool DB dbsize                  bytes of the database files */
#include "buffer.h"
#include "message.h"
#include "password.h"
#include "pool.h"
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct store *store;
static struct pool *pool;

static void die(const char *what, const char *error)
{
	fprintf(stderr, "lmtp_tool: %s: %s\n", what, error);
	exit(1);
}

static const char *mailbox_id(const char *user, const char *path)
{
	struct store_mailbox *mb;
	const char *error;
	if (store_mailbox_get_by_path(store, user, path, pool, &mb, &error) < 0)
		die("mailbox", error);
	return mb->id;
}

static int print_msg(const struct store_message *m, void *ctx)
{
	printf("%u", m->uid);
	printf(" %s", m->flags_count == 0 ? "-" : "");
	for (unsigned int i = 0; i < m->flags_count; i++)
		printf("%s%s", i > 0 ? "," : "", m->flags[i]);
	printf(" %llu %s\n", (unsigned long long)m->size, m->id);
	return 0;
}

static int tri(const char *v)
{
	return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *error;
	if (argc < 3)
		die("usage", "lmtp_tool DB COMMAND ARGS...");
	const char *cmd = argv[2];
	if (strcmp(cmd, "dbsize") == 0) {
		long long total = 0;
		const char *sfx[] = { "", "-wal" };
		for (int i = 0; i < 2; i++) {
			char p[4096];
			struct stat st;
			snprintf(p, sizeof(p), "%s%s", argv[1], sfx[i]);
			if (stat(p, &st) == 0)
				total += st.st_size;
		}
		printf("%lld\n", total);
		return 0;
	}
	struct store_settings set = { .driver = "sqlite", .path = argv[1] };
	if (store_open(&set, &store, &error) < 0)
		die("open", error);
	pool = pool_create(4096);
	int ret = 0;
	if (strcmp(cmd, "user") == 0 && argc >= 5) {
		struct store_user u = { .username = argv[3], .address = argv[4] };
		if (argc >= 6)
			u.quota = strtoull(argv[5], NULL, 10);
		if (argc >= 7) {
			struct password_settings ps = { .scheme = PASSWORD_BCRYPT, .bcrypt_cost = 4 };
			u.password_hash = password_hash(&ps, argv[6]);
		}
		char id[STORE_ID_SIZE];
		if (store_user_create(store, &u, id, &error) < 0)
			die("user", error);
		free((char *)u.password_hash);
		printf("%s\n", id);
	} else if (strcmp(cmd, "address") == 0 && argc == 5) {
		if (store_address_add(store, argv[3], argv[4], false, &error) < 0)
			die("address", error);
	} else if (strcmp(cmd, "alias") == 0 && argc == 5) {
		if (store_domain_alias_add(store, argv[3], argv[4], &error) < 0)
			die("alias", error);
	} else if (strcmp(cmd, "disable") == 0 && argc == 4) {
		struct store_user u = { .disabled = true };
		if (store_user_update(store, argv[3], STORE_USER_DISABLED, &u, &error) < 0)
			die("disable", error);
	} else if (strcmp(cmd, "filter") == 0 && argc >= 4) {
		struct store_filter f = { .has_attachment = -1, .seen = -1, .flag = -1, .spam = -1 };
		for (int i = 4; i < argc; i++) {
			char *eq = strchr(argv[i], '=');
			if (eq == NULL)
				die("filter", "key=value expected");
			*eq = '\0';
			const char *k = argv[i], *v = eq + 1;
			if (strcmp(k, "from") == 0) f.from = v;
			else if (strcmp(k, "to") == 0) f.to = v;
			else if (strcmp(k, "subject") == 0) f.subject = v;
			else if (strcmp(k, "listid") == 0) f.list_id = v;
			else if (strcmp(k, "text") == 0) f.text = v;
			else if (strcmp(k, "attachment") == 0) f.has_attachment = tri(v);
			else if (strcmp(k, "size") == 0) f.size = strtoll(v, NULL, 10);
			else if (strcmp(k, "seen") == 0) f.seen = tri(v);
			else if (strcmp(k, "flag") == 0) f.flag = tri(v);
			else if (strcmp(k, "spam") == 0) f.spam = tri(v);
			else if (strcmp(k, "delete") == 0) f.delete_message = tri(v);
			else if (strcmp(k, "mailbox") == 0) f.mailbox = mailbox_id(argv[3], v);
			else if (strcmp(k, "forward") == 0) f.forward = v;
			else if (strcmp(k, "webhook") == 0) f.webhook = v;
			else die("filter", k);
		}
		char id[STORE_ID_SIZE];
		if (store_filter_add(store, argv[3], &f, id, &error) < 0)
			die("filter", error);
		printf("%s\n", id);
	} else if (strcmp(cmd, "autoreply") == 0 && argc == 6) {
		struct store_autoreply ar = { .status = true, .subject = argv[4], .text = argv[5],
					      .name = "Vacation" };
		if (store_autoreply_set(store, argv[3], &ar, &error) < 0)
			die("autoreply", error);
	} else if (strcmp(cmd, "targets") == 0 && argc >= 4) {
		if (store_user_targets_set(store, argv[3], (const char *const *)argv + 4,
					   (unsigned int)(argc - 4), &error) < 0)
			die("targets", error);
	} else if (strcmp(cmd, "forwarded") == 0 && argc >= 4) {
		if (store_forwarded_set(store, argv[3], (const char *const *)argv + 4,
					(unsigned int)(argc - 4), &error) < 0)
			die("forwarded", error);
	} else if (strcmp(cmd, "list") == 0 && argc == 5) {
		if (store_message_list(store, mailbox_id(argv[3], argv[4]), NULL, 0, print_msg,
				       NULL, &error) < 0)
			die("list", error);
	} else if (strcmp(cmd, "fetch") == 0 && argc == 6) {
		struct store_message *m;
		struct buffer out = BUFFER_INIT;
		if (store_message_get(store, mailbox_id(argv[3], argv[4]),
				      (uint32_t)strtoul(argv[5], NULL, 10), pool, &m, &error) < 0 ||
		    message_rebuild(store, m->id, &out, &error) < 0)
			die("fetch", error);
		fwrite(out.data, 1, out.len, stdout);
		buffer_free(&out);
	} else if (strcmp(cmd, "storage") == 0 && argc == 4) {
		struct store_user *u;
		if (store_user_get(store, argv[3], pool, &u, &error) < 0)
			die("storage", error);
		printf("%llu\n", (unsigned long long)u->storage_used);
	} else if (strcmp(cmd, "webhooks") == 0) {
		sqlite3 *db;
		sqlite3_stmt *st;
		if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "SELECT url, event, payload FROM webhook_queue ORDER BY id",
				       -1, &st, NULL) != SQLITE_OK)
			die("webhooks", "sqlite");
		while (sqlite3_step(st) == SQLITE_ROW)
			printf("%s %s %s\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
			       sqlite3_column_text(st, 2));
		sqlite3_finalize(st);
		sqlite3_close(db);
	} else {
		die("usage", cmd);
	}
	pool_destroy(&pool);
	store_close(&store);
	return ret;
}
