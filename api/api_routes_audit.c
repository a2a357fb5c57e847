/* Audits (root only, WildDuck's /audit): POST /audit starts copying the
 * new mail of a user within [start, end] into an audit store kept until
 * expires (lib/audit.h), and copies the messages already stored in that
 * period at once; GET shows an audit, export.mbox hands out the copies as
 * mboxrd (the bytes of `wdctl export-mbox`), DELETE removes the audit with
 * its copies. Expired audits are removed by wd-lmtp when it reloads its
 * list of audits, and here when a request meets one. */
#include "api.h"

#include "audit.h"
#include "log.h"
#include "mbox.h"
#include "mem.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct api_field audit_fields[] = {
	{ "user", API_STRING, true, 24, 24, NULL, false },
	{ "start", API_STRING, false, 0, 64, NULL, true },
	{ "end", API_STRING, false, 0, 64, NULL, true },
	{ "expires", API_STRING, true, 1, 64, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

/* An ISO date (api_time_parse()) after 1970, or absent. */
static int parse_date(const char *s, int64_t *t_r)
{
	if (api_time_parse(s, t_r) < 0)
		return -1;
	return s == NULL || s[0] == '\0' || *t_r > 0 ? 0 : -1;
}

static json_t *date_json(int64_t t)
{
	if (t == 0)
		return json_false();
	char iso[32];
	api_time_iso(t, iso);
	return json_string(iso);
}

/* The audit of the :audit parameter; 404 (and removed) if it expired. */
static int audit_load(struct store *store, struct api_req *r, struct audit *a)
{
	const char *id = api_param(r, "audit"), *error;
	if (id == NULL || !api_id_valid(id)) {
		api_error(r, 400, "InputValidationError", "audit must be a 24-digit hex id");
		return -1;
	}
	struct pool *pool = pool_create(1024);
	struct store_object *o;
	int ret = store_object_get(store, AUDIT_KIND, id, pool, &o, &error);
	if (ret < 0)
		api_store_error(r, store, error, "AuditNotFound");
	else if ((ret = audit_from_object(o, a)) < 0)
		api_error(r, 500, "InternalError", "Corrupt audit");
	pool_destroy(&pool);
	if (ret == 0 && a->expires <= (int64_t)time(NULL)) {
		if (audit_remove(store, a, &error) < 0)
			log_warn("event=audit_expire_failed audit=%s error=\"%s\"", a->id, error);
		api_error(r, 404, "AuditNotFound", "The audit has expired");
		return -1;
	}
	return ret;
}

static void audit_create_route(struct store *store, struct api_req *r)
{
	struct audit a;
	memset(&a, 0, sizeof(a));
	const char *user = api_json_str(r->body, "user"), *error;
	int64_t now = (int64_t)time(NULL);
	if (!api_id_valid(user)) {
		api_error(r, 400, "InputValidationError", "user must be a 24-digit hex id");
		return;
	}
	if (parse_date(api_json_str(r->body, "start"), &a.start) < 0 ||
	    parse_date(api_json_str(r->body, "end"), &a.end) < 0 ||
	    parse_date(api_json_str(r->body, "expires"), &a.expires) < 0) {
		api_error(r, 400, "InputValidationError", "start, end and expires must be ISO dates");
		return;
	}
	if (a.start != 0 && a.end != 0 && a.end < a.start) {
		api_error(r, 400, "InputValidationError", "end is before start");
		return;
	}
	if (a.expires <= now) {
		api_error(r, 400, "InputValidationError", "expires must be in the future");
		return;
	}
	(void)audit_purge_expired(store, now);
	memcpy(a.user, user, STORE_ID_SIZE);
	if (audit_create(store, &a, &error) < 0) {
		api_store_error(r, store, error, "UserNotFound");
		return;
	}
	/* after the object exists, so what arrives from now on is wd-lmtp's to
	 * copy once it reloads its list (settings_cache) */
	unsigned int copied = 0, failed = 0;
	if (audit_copy_existing(store, &a, 0, &copied, &failed, &error) < 0)
		log_warn("event=audit_import_failed audit=%s error=\"%s\"", a.id, error);
	log_info("event=audit_created audit=%s user=%s copied=%u failed=%u", a.id, a.user,
		 copied, failed);
	api_ok(r, json_pack("{s:s, s:{s:I, s:I}}", "id", a.id, "import",
			    "copied", (json_int_t)copied, "failed", (json_int_t)failed));
}

static int count_cb(const struct store_message *msg, void *context)
{
	(void)msg;
	(*(json_int_t *)context)++;
	return 0;
}

static void audit_get(struct store *store, struct api_req *r)
{
	struct audit a;
	if (audit_load(store, r, &a) < 0)
		return;
	char inbox[STORE_ID_SIZE];
	json_int_t messages = 0;
	const char *error;
	if (audit_inbox(store, &a, inbox, &error) < 0 ||
	    store_message_list(store, inbox, NULL, 0, count_cb, &messages, &error) < 0) {
		api_store_error(r, store, error, "AuditNotFound");
		return;
	}
	api_ok(r, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I}", "id", a.id, "user", a.user,
			    "start", date_json(a.start), "end", date_json(a.end),
			    "expires", date_json(a.expires), "created", date_json(a.created),
			    "messages", messages));
}

static int buffer_write(const unsigned char *data, size_t len, void *context)
{
	buffer_append(context, data, len);
	return 0;
}

static void audit_export(struct store *store, struct api_req *r)
{
	struct audit a;
	if (audit_load(store, r, &a) < 0)
		return;
	char inbox[STORE_ID_SIZE];
	size_t count;
	const char *error;
	if (audit_inbox(store, &a, inbox, &error) < 0 ||
	    mbox_export_mailbox(store, inbox, buffer_write, &r->raw_reply, &count, &error) < 0) {
		buffer_truncate(&r->raw_reply, 0);
		api_store_error(r, store, error, "AuditNotFound");
		return;
	}
	r->status = 200;
	r->content_type = xstrdup("application/mbox");
	char disposition[64];
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"audit-%s.mbox\"", a.id);
	r->disposition = xstrdup(disposition);
}

static void audit_delete(struct store *store, struct api_req *r)
{
	struct audit a;
	const char *error;
	if (audit_load(store, r, &a) < 0)
		return;
	if (audit_remove(store, &a, &error) < 0)
		api_store_error(r, store, error, "AuditNotFound");
	else
		api_ok(r, NULL);
}

const struct api_route api_routes_audit[] = {
	{ EVHTTP_REQ_POST, "/audit", audit_create_route, NULL, API_ROOT, audit_fields,
	  "Start an audit: copy a user's mail of a period into an audit store" },
	{ EVHTTP_REQ_GET, "/audit/:audit", audit_get, NULL, API_ROOT, NULL,
	  "Show an audit" },
	{ EVHTTP_REQ_GET, "/audit/:audit/export.mbox", audit_export, NULL, API_ROOT, NULL,
	  "Export the audited messages as mboxrd" },
	{ EVHTTP_REQ_DELETE, "/audit/:audit", audit_delete, NULL, API_ROOT, NULL,
	  "Delete an audit and its copies" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
