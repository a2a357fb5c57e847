/* Mailboxes: /users/:user/mailboxes[/:mailbox]. */
#include "api.h"

#include "pool.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct api_field mailbox_create_fields[] = {
	{ "path", API_STRING, true, 1, 1024, NULL, false },
	{ "hidden", API_BOOL, false, 0, 0, NULL, false },
	{ "retention", API_INT, false, 0, 1LL << 40, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field mailbox_update_fields[] = {
	{ "path", API_STRING, false, 1, 1024, NULL, false },
	{ "subscribed", API_BOOL, false, 0, 0, NULL, false },
	{ "hidden", API_BOOL, false, 0, 0, NULL, false },
	{ "retention", API_INT, false, 0, 1LL << 40, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

struct store_mailbox *api_mailbox_load(struct store *store, struct api_req *r,
				       const char *param, struct pool *pool)
{
	const char *id = param != NULL ? param : api_param(r, "mailbox");
	struct store_mailbox *mb;
	const char *error;
	if (id == NULL || !api_id_valid(id)) {
		api_error(r, 400, "InputValidationError", "mailbox must be a 24-digit hex id");
		return NULL;
	}
	if (store_mailbox_get(store, id, pool, &mb, &error) < 0) {
		api_store_error(r, store, error, "NoSuchMailbox");
		return NULL;
	}
	if (strcmp(mb->user, api_param(r, "user")) != 0) {
		api_error(r, 404, "NoSuchMailbox", "No such mailbox");
		return NULL;
	}
	return mb;
}

static json_t *mailbox_json(struct store *store, const struct store_mailbox *mb)
{
	const char *slash = strrchr(mb->path, '/');
	const char *special = store_special_use_name(mb->special_use);
	json_t *path = json_string(mb->path);
	json_t *name = json_string(slash != NULL ? slash + 1 : mb->path);
	json_t *out = json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:b, s:b}", "id", mb->id,
				"name", name != NULL ? name : json_string(""), "path",
				path != NULL ? path : json_string(""), "specialUse",
				special != NULL && mb->special_use != STORE_SPECIAL_INBOX ?
					json_string(special) : json_null(),
				"modifyIndex", (json_int_t)mb->modify_index, "uidNext",
				(json_int_t)mb->uid_next, "subscribed", mb->subscribed,
				"hidden", false);
	struct store_mailbox_counts c;
	const char *error;
	if (store_mailbox_counts(store, mb->id, &c, &error) == 0) {
		json_object_set_new(out, "total", json_integer(c.messages));
		json_object_set_new(out, "unseen", json_integer(c.unseen));
		json_object_set_new(out, "size", json_integer((json_int_t)c.size));
	}
	return out;
}

static void mailbox_list(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	struct store_mailbox *mbs;
	unsigned int count;
	const char *error;
	struct store_user *u;
	if (store_user_get(store, api_param(r, "user"), pool, &u, &error) < 0 ||
	    store_mailbox_list(store, api_param(r, "user"), pool, &mbs, &count, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		json_t *results = json_array();
		/* INBOX first, then by path, as WildDuck lists them */
		for (int pass = 0; pass < 2; pass++)
			for (unsigned int i = 0; i < count; i++)
				if ((mbs[i].special_use == STORE_SPECIAL_INBOX) == (pass == 0))
					json_array_append_new(results, mailbox_json(store, &mbs[i]));
		api_ok(r, json_pack("{s:o}", "results", results));
	}
	pool_destroy(&pool);
}

static void mailbox_get(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_mailbox *mb = api_mailbox_load(store, r, NULL, pool);
	if (mb != NULL)
		api_ok(r, mailbox_json(store, mb));
	pool_destroy(&pool);
}

static bool path_ok(struct api_req *r, const char *path)
{
	if (!api_mailbox_path_valid(path)) {
		api_error(r, 400, "InputValidationError", "Invalid mailbox path");
		return false;
	}
	if (strcasecmp(path, "INBOX") == 0) {
		api_error(r, 400, "InputValidationError", "INBOX is reserved");
		return false;
	}
	return true;
}

static void mailbox_create(struct store *store, struct api_req *r)
{
	const char *path = api_json_str(r->body, "path"), *error;
	if (!path_ok(r, path))
		return;
	struct pool *pool = pool_create(512);
	struct store_user *u;
	char id[STORE_ID_SIZE];
	if (store_user_get(store, api_param(r, "user"), pool, &u, &error) < 0 ||
	    store_mailbox_create(store, api_param(r, "user"), path, STORE_SPECIAL_NONE, id,
				 &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
	} else {
		api_changed(r, api_param(r, "user"));
		api_ok(r, json_pack("{s:s}", "id", id));
	}
	pool_destroy(&pool);
}

static void mailbox_update(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_mailbox *mb = api_mailbox_load(store, r, NULL, pool);
	const char *error;
	const char *path = api_json_str(r->body, "path");
	if (mb == NULL)
		goto out;
	if (path != NULL) {
		if (!path_ok(r, path))
			goto out;
		if (mb->special_use == STORE_SPECIAL_INBOX) {
			api_error(r, 400, "NotPermitted", "INBOX can not be renamed");
			goto out;
		}
		if (store_mailbox_rename(store, mb->id, path, &error) < 0) {
			api_store_error(r, store, error, "NoSuchMailbox");
			goto out;
		}
	}
	if (api_json_has(r->body, "subscribed") &&
	    store_mailbox_subscribe(store, mb->id, api_json_bool(r->body, "subscribed", true),
				    &error) < 0) {
		api_store_error(r, store, error, "NoSuchMailbox");
		goto out;
	}
	api_changed(r, api_param(r, "user"));
	api_ok(r, NULL);
out:
	pool_destroy(&pool);
}

static void mailbox_delete(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_mailbox *mb = api_mailbox_load(store, r, NULL, pool);
	const char *error;
	if (mb == NULL)
		goto out;
	if (mb->special_use != STORE_SPECIAL_NONE) {
		api_error(r, 400, "DisallowedMailboxMethod",
			  "INBOX and special-use mailboxes can not be deleted");
		goto out;
	}
	if (store_mailbox_delete(store, mb->id, &error) < 0) {
		api_store_error(r, store, error, "NoSuchMailbox");
		goto out;
	}
	api_changed(r, api_param(r, "user"));
	api_ok(r, NULL);
out:
	pool_destroy(&pool);
}

const struct api_route api_routes_mailboxes[] = {
	{ EVHTTP_REQ_GET, "/users/:user/mailboxes", mailbox_list, NULL, 0, NULL,
	  "List mailboxes with counters" },
	{ EVHTTP_REQ_POST, "/users/:user/mailboxes", mailbox_create, NULL, 0,
	  mailbox_create_fields, "Create a mailbox" },
	{ EVHTTP_REQ_GET, "/users/:user/mailboxes/:mailbox", mailbox_get, NULL, 0, NULL,
	  "Get a mailbox" },
	{ EVHTTP_REQ_PUT, "/users/:user/mailboxes/:mailbox", mailbox_update, NULL, 0,
	  mailbox_update_fields, "Rename or (un)subscribe a mailbox" },
	{ EVHTTP_REQ_DELETE, "/users/:user/mailboxes/:mailbox", mailbox_delete, NULL, 0, NULL,
	  "Delete a mailbox" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
