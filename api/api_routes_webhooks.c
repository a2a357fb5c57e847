/* Webhooks (root only, WildDuck's /webhooks): registrations of a URL for
 * event types, optionally of one user, kept as store objects; and
 * api_webhook_event(), which queues an event for every registration that
 * matches. lib/webhook.c's sender thread makes the calls. */
#include "api.h"

#include "pool.h"
#include "webhook.h"

#include <stdlib.h>
#include <string.h>

#define WEBHOOK_KIND "webhook"

static const struct api_field webhook_fields[] = {
	{ "type", API_STRING_ARRAY, true, 1, 32, NULL, false },
	{ "user", API_STRING, false, 24, 24, NULL, false },
	{ "url", API_STRING, true, 8, 2048, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static bool url_ok(const char *url)
{
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return false;
	const char *host = url + (url[4] == 's' ? 8 : 7);
	if (*host == '\0' || *host == '/')
		return false;
	for (const unsigned char *p = (const unsigned char *)url; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static bool type_ok(const char *t)
{
	if (t[0] == '\0' || strlen(t) > 64)
		return false;
	for (const char *p = t; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' || *p == '*'))
			return false;
	return true;
}

static json_t *webhook_json(const struct store_object *o)
{
	json_t *doc = json_loads(o->doc, 0, NULL);
	json_t *type = json_object_get(doc, "type");
	json_t *url = json_object_get(doc, "url");
	json_t *out = json_pack("{s:s, s:O, s:O, s:o}", "id", o->id,
				"type", type != NULL ? type : json_array(),
				"url", url != NULL ? url : json_string(""),
				"user", o->user[0] != '\0' ? json_string(o->user) : json_null());
	json_decref(doc);
	return out;
}

static void webhook_create(struct store *store, struct api_req *r)
{
	const char *url = api_json_str(r->body, "url");
	const char *user = api_json_str(r->body, "user");
	json_t *types = json_object_get(r->body, "type"), *t;
	size_t i;
	if (!url_ok(url)) {
		api_error(r, 400, "InputValidationError", "url must be an http(s) URL");
		return;
	}
	if (user != NULL && !api_id_valid(user)) {
		api_error(r, 400, "InputValidationError", "user must be a 24-digit hex id");
		return;
	}
	json_array_foreach(types, i, t) {
		if (!type_ok(json_string_value(t))) {
			api_error(r, 400, "InputValidationError",
				  "type holds names of letters, digits, '.', '_', '-' or '*'");
			return;
		}
	}
	json_t *doc = json_pack("{s:O, s:s}", "type", types, "url", url);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	char id[STORE_ID_SIZE];
	const char *error;
	if (store_object_add(store, WEBHOOK_KIND, user, NULL, text, false, id, &error) < 0)
		api_store_error(r, store, error, "UserNotFound");
	else
		api_ok(r, json_pack("{s:s}", "id", id));
	free(text);
}

static void webhook_list(struct store *store, struct api_req *r)
{
	const char *user = api_query(r, "user"), *type = api_query(r, "type");
	if (user != NULL && !api_id_valid(user)) {
		api_error(r, 400, "InputValidationError", "user must be a 24-digit hex id");
		return;
	}
	struct pool *pool = pool_create(4096);
	struct store_object *objs;
	unsigned int count;
	const char *error;
	if (store_object_list(store, WEBHOOK_KIND, user, NULL, pool, &objs, &count, &error) < 0) {
		api_store_error(r, store, error, "NotFound");
		pool_destroy(&pool);
		return;
	}
	json_t *results = json_array();
	for (unsigned int i = 0; i < count; i++) {
		json_t *w = webhook_json(&objs[i]);
		bool keep = type == NULL;
		json_t *t;
		size_t k;
		json_array_foreach(json_object_get(w, "type"), k, t)
			keep |= type != NULL && json_is_string(t) &&
				webhook_type_matches(json_string_value(t), type);
		if (keep)
			json_array_append_new(results, w);
		else
			json_decref(w);
	}
	api_ok(r, json_pack("{s:I, s:o}", "total", (json_int_t)json_array_size(results),
			    "results", results));
	pool_destroy(&pool);
}

static void webhook_delete(struct store *store, struct api_req *r)
{
	const char *error;
	if (store_object_delete(store, WEBHOOK_KIND, api_param(r, "webhook"), &error) < 0)
		api_store_error(r, store, error, "WebhookNotFound");
	else
		api_ok(r, NULL);
}

void api_webhook_event(struct store *store, const char *user_id, const char *event,
		       json_t *data)
{
	struct pool *pool = pool_create(2048);
	struct store_object *objs;
	unsigned int count, queued = 0;
	const char *error;
	if (store_object_list(store, WEBHOOK_KIND, NULL, NULL, pool, &objs, &count, &error) < 0)
		count = 0;
	char *payload = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
	for (unsigned int i = 0; i < count; i++) {
		if (objs[i].user[0] != '\0' && (user_id == NULL || strcmp(objs[i].user, user_id) != 0))
			continue;
		json_t *doc = json_loads(objs[i].doc, 0, NULL), *t;
		const char *url = api_json_str(doc, "url");
		bool match = false;
		size_t k;
		json_array_foreach(json_object_get(doc, "type"), k, t)
			match |= json_is_string(t) && webhook_type_matches(json_string_value(t), event);
		/* the queue wants a user; an event of no user goes under the
		 * webhook's own id, which no user has */
		if (match && url != NULL &&
		    store_webhook_enqueue(store, user_id != NULL ? user_id : objs[i].id, url, event,
					  payload != NULL ? payload : "{}", &error) == 0)
			queued++;
		json_decref(doc);
	}
	free(payload);
	json_decref(data);
	pool_destroy(&pool);
	if (queued > 0)
		webhook_sender_wake(api_webhook_sender());
}

const struct api_route api_routes_webhooks[] = {
	{ EVHTTP_REQ_GET, "/webhooks", webhook_list, NULL, API_ROOT, NULL,
	  "List registered webhooks" },
	{ EVHTTP_REQ_POST, "/webhooks", webhook_create, NULL, API_ROOT, webhook_fields,
	  "Register a webhook URL for event types" },
	{ EVHTTP_REQ_DELETE, "/webhooks/:webhook", webhook_delete, NULL, API_ROOT, NULL,
	  "Delete a webhook" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
