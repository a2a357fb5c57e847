/* Audits: the audit object and its audit store (see audit.h), the copy of
 * mail already stored when an audit starts, and the per-process list of
 * active audits that wd-lmtp asks on every delivery. */
#include "audit.h"

#include "buffer.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "pool.h"
#include "settings.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int audit_from_object(const struct store_object *o, struct audit *a)
{
	memset(a, 0, sizeof(*a));
	json_t *doc = json_loads(o->doc, 0, NULL);
	const char *su = json_string_value(json_object_get(doc, "store"));
	json_t *start = json_object_get(doc, "start"), *end = json_object_get(doc, "end");
	json_t *expires = json_object_get(doc, "expires");
	int ret = -1;
	if (su != NULL && strlen(su) == STORE_ID_SIZE - 1 && o->key != NULL &&
	    strlen(o->key) == STORE_ID_SIZE - 1 && json_is_integer(start) &&
	    json_is_integer(end) && json_is_integer(expires)) {
		memcpy(a->id, o->id, STORE_ID_SIZE);
		memcpy(a->user, o->key, STORE_ID_SIZE);
		memcpy(a->store_user, su, STORE_ID_SIZE);
		a->start = (int64_t)json_integer_value(start);
		a->end = (int64_t)json_integer_value(end);
		a->expires = (int64_t)json_integer_value(expires);
		a->created = o->created;
		ret = 0;
	}
	json_decref(doc);
	return ret;
}

bool audit_covers(const struct audit *a, int64_t t)
{
	return (a->start == 0 || t >= a->start) && (a->end == 0 || t <= a->end);
}

bool audit_is_store_user(const char *user_settings)
{
	if (user_settings == NULL || strstr(user_settings, "auditStore") == NULL)
		return false;
	json_t *obj = json_loads(user_settings, 0, NULL);
	bool yes = json_is_true(json_object_get(obj, "auditStore"));
	json_decref(obj);
	return yes;
}

int audit_create(struct store *store, struct audit *a, const char **error_r)
{
	/* the name only has to be unique and tell what it is */
	struct pool *pool = pool_create(1024);
	struct store_user *owner;
	int found = store_user_get(store, a->user, pool, &owner, error_r);
	pool_destroy(&pool);
	if (found < 0)
		return -1;
	char name_id[STORE_ID_SIZE];
	store_id_generate(name_id);
	char username[64];
	snprintf(username, sizeof(username), "audit:%s", name_id);
	const char *tags[] = { "audit" };
	char settings[128];
	snprintf(settings, sizeof(settings), "{\"auditStore\":true,\"auditOf\":\"%s\"}", a->user);
	struct store_user u = {
		.username = username,
		.disabled = true,
		.tags = tags,
		.tags_count = 1,
		.settings = settings,
	};
	if (store_user_create(store, &u, a->store_user, error_r) < 0)
		return -1;
	json_t *doc = json_pack("{s:s, s:I, s:I, s:I}", "store", a->store_user,
				"start", (json_int_t)a->start, "end", (json_int_t)a->end,
				"expires", (json_int_t)a->expires);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	/* keyed by the user, not owned by it: the audit outlives the user
	 * (an owned object would go with it and leave the store behind) */
	int ret = store_object_add(store, AUDIT_KIND, NULL, a->user, text, false, a->id, error_r);
	free(text);
	if (ret < 0) {
		/* the delete overwrites the handle's error text: keep a copy */
		static __thread char why[256];
		snprintf(why, sizeof(why), "audit object: %s", *error_r);
		const char *ignored;
		(void)store_user_delete(store, a->store_user, &ignored);
		*error_r = why;
		return -1;
	}
	a->created = (int64_t)time(NULL);
	audit_invalidate();
	return 0;
}

int audit_inbox(struct store *store, const struct audit *a, char id_r[STORE_ID_SIZE],
		const char **error_r)
{
	struct pool *pool = pool_create(512);
	struct store_mailbox *mb;
	int ret = store_mailbox_get_by_path(store, a->store_user, "INBOX", pool, &mb, error_r);
	if (ret == 0)
		memcpy(id_r, mb->id, STORE_ID_SIZE);
	pool_destroy(&pool);
	return ret;
}

void audit_source_flag(const char *message_id, char flag_r[64])
{
	snprintf(flag_r, 64, AUDIT_SOURCE_FLAG "%s", message_id);
}

struct existing {
	const struct audit *audit;
	int64_t since;
	char (*ids)[STORE_ID_SIZE];
	int64_t *idates;
	size_t count;
};

/* The sources of the copies an audit store holds, sorted. */
struct sources {
	char (*ids)[STORE_ID_SIZE];
	size_t count;
};

static int sources_cb(const struct store_message *msg, void *context)
{
	struct sources *s = context;
	size_t plen = strlen(AUDIT_SOURCE_FLAG);
	for (unsigned int i = 0; i < msg->flags_count; i++) {
		const char *f = msg->flags[i];
		if (strncmp(f, AUDIT_SOURCE_FLAG, plen) != 0 ||
		    strlen(f + plen) != STORE_ID_SIZE - 1)
			continue;
		s->ids = xrealloc(s->ids, (s->count + 1) * sizeof(*s->ids));
		memcpy(s->ids[s->count++], f + plen, STORE_ID_SIZE);
	}
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int existing_cb(const struct store_message *msg, void *context)
{
	struct existing *e = context;
	if (!audit_covers(e->audit, msg->idate) || msg->idate < e->since)
		return 0;
	e->ids = xrealloc(e->ids, (e->count + 1) * sizeof(*e->ids));
	e->idates = xrealloc(e->idates, (e->count + 1) * sizeof(*e->idates));
	memcpy(e->ids[e->count], msg->id, STORE_ID_SIZE);
	e->idates[e->count] = msg->idate;
	e->count++;
	return 0;
}

int audit_copy_existing(struct store *store, const struct audit *a, int64_t since,
			unsigned int *copied_r, unsigned int *failed_r, const char **error_r)
{
	*copied_r = *failed_r = 0;
	char inbox[STORE_ID_SIZE];
	if (audit_inbox(store, a, inbox, error_r) < 0)
		return -1;
	struct sources have = { 0 };
	if (store_message_list(store, inbox, NULL, 0, sources_cb, &have, error_r) < 0) {
		free(have.ids);
		return -1;
	}
	if (have.count > 1)
		qsort(have.ids, have.count, sizeof(*have.ids), id_cmp);
	struct pool *pool = pool_create(4096);
	struct store_mailbox *boxes;
	unsigned int count;
	if (store_mailbox_list(store, a->user, pool, &boxes, &count, error_r) < 0) {
		pool_destroy(&pool);
		return -1;
	}
	/* every mailbox's list first: no store call inside a list callback */
	struct existing e = { .audit = a, .since = since };
	int ret = 0;
	for (unsigned int i = 0; i < count && ret == 0; i++)
		ret = store_message_list(store, boxes[i].id, NULL, 0, existing_cb, &e, error_r);
	struct buffer raw = BUFFER_INIT;
	for (size_t i = 0; i < e.count && ret == 0; i++) {
		const char *error;
		struct store_append_result res;
		if (have.count > 0 &&
		    bsearch(e.ids[i], have.ids, have.count, sizeof(*have.ids), id_cmp) != NULL)
			continue;
		char flag[64];
		audit_source_flag(e.ids[i], flag);
		const char *flags[1] = { flag };
		struct message_append_opts opts = { .idate = e.idates[i], .flags = flags,
						    .flags_count = 1 };
		buffer_truncate(&raw, 0);
		if (message_rebuild(store, e.ids[i], &raw, &error) < 0 ||
		    store_message_append_raw(store, inbox, raw.data, raw.len, &opts, &res,
					     &error) < 0) {
			/* deleted meanwhile, or a store failure: counted, not fatal */
			log_warn("event=audit_copy_failed audit=%s message=%s error=\"%s\"", a->id,
				 e.ids[i], error);
			(*failed_r)++;
		} else {
			(*copied_r)++;
		}
	}
	buffer_free(&raw);
	free(e.ids);
	free(e.idates);
	free(have.ids);
	pool_destroy(&pool);
	return ret;
}

int audit_remove(struct store *store, const struct audit *a, const char **error_r)
{
	if (store_user_delete(store, a->store_user, error_r) < 0 &&
	    store_last_error(store) != STORE_ERR_NOT_FOUND)
		return -1;
	if (store_object_delete(store, AUDIT_KIND, a->id, error_r) < 0 &&
	    store_last_error(store) != STORE_ERR_NOT_FOUND)
		return -1;
	audit_invalidate();
	return 0;
}

unsigned int audit_purge_expired(struct store *store, int64_t now)
{
	struct pool *pool = pool_create(2048);
	struct store_object *objs;
	unsigned int count, purged = 0;
	const char *error;
	if (store_object_list(store, AUDIT_KIND, NULL, NULL, pool, &objs, &count, &error) < 0)
		count = 0;
	for (unsigned int i = 0; i < count; i++) {
		struct audit a;
		if (audit_from_object(&objs[i], &a) < 0 || a.expires > now)
			continue;
		if (audit_remove(store, &a, &error) < 0) {
			log_warn("event=audit_expire_failed audit=%s error=\"%s\"", a.id, error);
			continue;
		}
		log_info("event=audit_expired audit=%s user=%s", a.id, a.user);
		purged++;
	}
	pool_destroy(&pool);
	return purged;
}

/* ---- the cached list of audits (wd-lmtp) ---- */

struct active {
	struct audit audit;
	char inbox[STORE_ID_SIZE];
};

static struct {
	pthread_mutex_t lock;
	int64_t loaded_at;		/* settings_now_msecs(); -1: never */
	struct active *items;
	unsigned int count;
} cache = { PTHREAD_MUTEX_INITIALIZER, -1, NULL, 0 };

void audit_invalidate(void)
{
	pthread_mutex_lock(&cache.lock);
	cache.loaded_at = -1;
	pthread_mutex_unlock(&cache.lock);
}

static bool seen_before(const char *id)
{
	bool seen = false;
	pthread_mutex_lock(&cache.lock);
	for (unsigned int i = 0; i < cache.count && !seen; i++)
		seen = strcmp(cache.items[i].audit.id, id) == 0;
	pthread_mutex_unlock(&cache.lock);
	return seen;
}

static int load(struct store *store, struct active **items_r, unsigned int *count_r)
{
	(void)audit_purge_expired(store, (int64_t)time(NULL));
	struct pool *pool = pool_create(2048);
	struct store_object *objs;
	unsigned int count, n = 0;
	const char *error;
	if (store_object_list(store, AUDIT_KIND, NULL, NULL, pool, &objs, &count, &error) < 0) {
		log_warn("event=audit_load_failed error=\"%s\"", error);
		pool_destroy(&pool);
		return -1;
	}
	struct active *items = xcalloc(count + 1, sizeof(*items));
	/* an audit older than this was in every list read since (or the
	 * process did not run yet): nothing to catch up */
	int64_t recent = (int64_t)time(NULL) - settings_cache_msecs() / 1000 - 60;
	for (unsigned int i = 0; i < count; i++) {
		if (audit_from_object(&objs[i], &items[n].audit) < 0)
			continue;
		if (audit_inbox(store, &items[n].audit, items[n].inbox, &error) < 0) {
			log_warn("event=audit_store_missing audit=%s error=\"%s\"", objs[i].id, error);
			continue;
		}
		/* new to this process: what it delivered (or others did) since
		 * the audit began, while its list did not hold it yet */
		const struct audit *a = &items[n].audit;
		unsigned int copied, failed;
		if (a->created >= recent && !seen_before(a->id) &&
		    audit_copy_existing(store, a, a->created - 1, &copied, &failed, &error) == 0 &&
		    copied + failed > 0)
			log_info("event=audit_catch_up audit=%s copied=%u failed=%u", a->id, copied,
				 failed);
		n++;
	}
	pool_destroy(&pool);
	*items_r = items;
	*count_r = n;
	return 0;
}

unsigned int audit_targets(struct store *store, const char *user_id, int64_t now,
			   char inboxes_r[AUDIT_MAX_TARGETS][STORE_ID_SIZE])
{
	int64_t mono = settings_now_msecs();
	int64_t ttl = settings_cache_msecs();
	pthread_mutex_lock(&cache.lock);
	bool fresh = cache.loaded_at >= 0 && mono - cache.loaded_at < ttl;
	pthread_mutex_unlock(&cache.lock);
	struct active *items;
	unsigned int count;
	if (!fresh) {
		/* on a failure the old list stays until the next try */
		int ret = load(store, &items, &count);
		pthread_mutex_lock(&cache.lock);
		if (ret == 0) {
			free(cache.items);
			cache.items = items;
			cache.count = count;
		}
		cache.loaded_at = mono;
		pthread_mutex_unlock(&cache.lock);
	}
	unsigned int n = 0;
	pthread_mutex_lock(&cache.lock);
	for (unsigned int i = 0; i < cache.count && n < AUDIT_MAX_TARGETS; i++) {
		const struct audit *a = &cache.items[i].audit;
		if (strcmp(a->user, user_id) == 0 && audit_covers(a, now) && now < a->expires)
			memcpy(inboxes_r[n++], cache.items[i].inbox, STORE_ID_SIZE);
	}
	pthread_mutex_unlock(&cache.lock);
	return n;
}
