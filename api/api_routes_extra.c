/* Routes for domain aliases (root only) and message submission: a message
 * composed from JSON is stored into the user's Sent mailbox and written to
 * the outbound spool that wd-lmtp uses for autoreplies (wd-lmtp(8)), for
 * the MTA's pickup job to send. wd-api never speaks SMTP. */
#include "api.h"

#include "log.h"
#include "mem.h"
#include "message.h"
#include "pool.h"
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- domain aliases ---- */

static const struct api_field alias_fields[] = {
	{ "alias", API_STRING, true, 1, 253, NULL, false },
	{ "domain", API_STRING, true, 1, 253, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

/* A DNS name as mail domains use it: labels of letters, digits and '-'
 * (UTF-8 allowed for IDNs), no empty label, no leading '-' or '.'. */
static bool domain_valid(const char *d)
{
	size_t len = strlen(d), label = 0;
	if (len == 0 || len > 253 || d[0] == '.' || d[len - 1] == '.')
		return false;
	for (const char *p = d; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || (c == '-' && label > 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static char *domain_lower(const char *d)
{
	char *s = xstrdup(d);
	for (char *p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

static void alias_create(struct store *store, struct api_req *r)
{
	const char *alias = api_json_str(r->body, "alias");
	const char *domain = api_json_str(r->body, "domain");
	if (!domain_valid(alias) || !domain_valid(domain)) {
		api_error(r, 400, "InputValidationError", "alias and domain must be domain names");
		return;
	}
	char *a = domain_lower(alias), *d = domain_lower(domain);
	const char *error;
	if (strcmp(a, d) == 0)
		api_error(r, 400, "InputValidationError", "a domain can not alias itself");
	else if (store_domain_alias_add(store, a, d, &error) < 0)
		api_store_error(r, store, error, "AliasNotFound");
	else
		api_ok(r, json_pack("{s:s}", "id", a));
	free(a);
	free(d);
}

/* The alias is its own id: the store keys aliases by name. */
static void alias_get(struct store *store, struct api_req *r)
{
	const char *alias = api_param(r, "alias");
	if (!domain_valid(alias)) {
		api_error(r, 400, "InputValidationError", "alias must be a domain name");
		return;
	}
	char *a = domain_lower(alias);
	struct pool *pool = pool_create(256);
	const char *domain, *error;
	if (store_domain_alias_get(store, a, pool, &domain, &error) < 0)
		api_store_error(r, store, error, "AliasNotFound");
	else
		api_ok(r, json_pack("{s:s, s:s, s:s}", "id", a, "alias", a, "domain", domain));
	pool_destroy(&pool);
	free(a);
}

static void alias_delete(struct store *store, struct api_req *r)
{
	const char *alias = api_param(r, "alias");
	if (!domain_valid(alias)) {
		api_error(r, 400, "InputValidationError", "alias must be a domain name");
		return;
	}
	char *a = domain_lower(alias);
	const char *error;
	if (store_domain_alias_delete(store, a, &error) < 0)
		api_store_error(r, store, error, "AliasNotFound");
	else
		api_ok(r, NULL);
	free(a);
}

/* ---- submission ---- */

static const struct api_field submit_address[] = {
	{ "name", API_STRING, false, 0, 256, NULL, true },
	{ "address", API_STRING, true, 3, 320, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field submit_header[] = {
	{ "key", API_STRING, true, 1, 128, NULL, false },
	{ "value", API_STRING, true, 0, 4096, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field submit_fields[] = {
	{ "from", API_STRING_OR_OBJECT, false, 3, 320, submit_address, false },
	{ "replyTo", API_STRING_OR_OBJECT, false, 3, 320, submit_address, false },
	{ "to", API_OBJECT_ARRAY, false, 0, 500, submit_address, false },
	{ "cc", API_OBJECT_ARRAY, false, 0, 500, submit_address, false },
	{ "bcc", API_OBJECT_ARRAY, false, 0, 500, submit_address, false },
	{ "subject", API_STRING, false, 0, 2048, NULL, false },
	{ "text", API_TEXT, false, 0, 32LL << 20, NULL, false },
	{ "html", API_TEXT, false, 0, 32LL << 20, NULL, false },
	{ "headers", API_OBJECT_ARRAY, false, 0, 100, submit_header, false },
	{ "date", API_STRING, false, 0, 64, NULL, false },
	{ "mailbox", API_STRING, false, 24, 24, NULL, false },
	{ "uploadOnly", API_BOOL, false, 0, 0, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

/* An envelope address: no blanks, controls, '<' or '>' (it goes between
 * angle brackets into the spool file) and one '@'. */
static bool envelope_address_ok(const char *a)
{
	const char *at = strchr(a, '@');
	if (at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return false;
	for (const unsigned char *p = (const unsigned char *)a; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>')
			return false;
	return true;
}

static int add_rcpts(json_t *body, const char *field, const char ***rcpts, unsigned int *count)
{
	json_t *arr = json_object_get(body, field), *item;
	size_t i;
	json_array_foreach(arr, i, item) {
		const char *a = api_json_str(item, "address");
		if (a == NULL || !envelope_address_ok(a))
			return -1;
		*rcpts = xrealloc(*rcpts, (*count + 1) * sizeof(**rcpts));
		(*rcpts)[(*count)++] = a;
	}
	return 0;
}

/* The message without its Bcc: header field (and its folded lines): the
 * copy in Sent keeps it, the copy that leaves does not. */
static void strip_bcc(const struct buffer *in, struct buffer *out)
{
	const char *p = (const char *)in->data, *end = p + in->len;
	bool skipping = false, in_head = true;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl != NULL ? nl + 1 : end;
		if (in_head) {
			if (*p == '\r' || *p == '\n')
				in_head = false;
			else if (*p == ' ' || *p == '\t')
				; /* a folded line: same field as before */
			else
				skipping = (size_t)(end - p) >= 4 && strncasecmp(p, "bcc:", 4) == 0;
		}
		if (!(in_head && skipping))
			buffer_append(out, p, (size_t)(next - p));
		p = next;
	}
}

/* Writes one spool file (lib/spool.h); the folders are made if wd-lmtp
 * has not made them yet. */
static int spool_submit(const char *spool, const char *sender, const char *const *rcpts,
			unsigned int count, const struct buffer *msg, char id_r[STORE_ID_SIZE],
			char *err, size_t err_size)
{
	char path[4096];
	const char *sub[] = { "", "/tmp", "/new" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", spool, sub[i]);
		if (mkdir(path, 0750) < 0 && errno != EEXIST) {
			snprintf(err, err_size, "mkdir(%s) failed: %s", path, strerror(errno));
			return -1;
		}
	}
	const char *error;
	if (spool_write(spool, sender, rcpts, count, NULL, 0, msg->data, msg->len, id_r,
			&error) < 0) {
		snprintf(err, err_size, "%s", error);
		return -1;
	}
	return 0;
}

/* The from address if it is one of the user's, else the main address
 * (as WildDuck does); NULL if the user has no address at all. */
static const char *sender_address(struct store *store, const char *user_id, json_t *from,
				  struct pool *pool, const char **error_r)
{
	const char *want = json_is_string(from) ? json_string_value(from) :
			   api_json_str(from, "address");
	struct store_address *addrs;
	unsigned int count;
	if (store_address_list(store, user_id, pool, &addrs, &count, error_r) < 0)
		return NULL;
	const char *main_addr = NULL;
	bool have_main = false;
	for (unsigned int i = 0; i < count; i++) {
		if (strchr(addrs[i].address, '*') != NULL)
			continue;
		if (want != NULL && strcasecmp(addrs[i].address, want) == 0)
			return addrs[i].address;
		if (!have_main) {
			main_addr = addrs[i].address;
			have_main = addrs[i].main;
		}
	}
	*error_r = "The user has no address to send from";
	return main_addr;
}

static void submit(struct store *store, struct api_req *r)
{
	const char *user_id = api_param(r, "user");
	const char *spool = api_config()->lmtp_settings.outbound_spool;
	bool upload_only = api_json_bool(r->body, "uploadOnly", false);
	struct pool *pool = pool_create(4096);
	struct buffer msg = BUFFER_INIT, out = BUFFER_INIT;
	const char **rcpts = NULL;
	unsigned int nrcpts = 0;
	const char *error;
	json_t *body = json_deep_copy(r->body);
	if (!upload_only && (spool == NULL || spool[0] == '\0')) {
		api_error(r, 503, "NoOutbound", "No outbound spool (lmtp.outbound_spool) is set");
		goto out;
	}
	if (add_rcpts(body, "to", &rcpts, &nrcpts) < 0 || add_rcpts(body, "cc", &rcpts, &nrcpts) < 0 ||
	    add_rcpts(body, "bcc", &rcpts, &nrcpts) < 0) {
		api_error(r, 400, "InputValidationError", "A recipient address is not valid");
		goto out;
	}
	if (nrcpts == 0 && !upload_only) {
		api_error(r, 400, "InputValidationError", "No recipients (to, cc or bcc)");
		goto out;
	}
	const char *sender = sender_address(store, user_id, json_object_get(body, "from"), pool,
					    &error);
	if (sender == NULL) {
		if (store_last_error(store) != STORE_OK &&
		    strcmp(error, "The user has no address to send from") != 0)
			api_store_error(r, store, error, "UserNotFound");
		else
			api_error(r, 400, "NoSenderAddress", "%s", error);
		goto out;
	}
	json_t *from = json_object_get(body, "from");
	const char *name = json_is_object(from) ? api_json_str(from, "name") : NULL;
	json_t *f = name != NULL ? json_pack("{s:s, s:s}", "name", name, "address", sender) :
				   json_pack("{s:s}", "address", sender);
	json_object_set_new(body, "from", f);
	json_object_del(body, "mailbox");
	json_object_del(body, "uploadOnly");
	json_object_del(body, "sess");
	json_object_del(body, "ip");
	char host[256];
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (api_message_compose(body, host, &msg, &error) < 0) {
		api_error(r, 400, "InputValidationError", "%s", error);
		goto out;
	}
	/* into Sent (or the given mailbox) first: quota and the mailbox are
	 * checked before anything leaves */
	const char *mailbox = api_json_str(r->body, "mailbox");
	struct store_mailbox *mb = NULL;
	if (mailbox != NULL) {
		mb = api_mailbox_load(store, r, mailbox, pool);
		if (mb == NULL)
			goto out;
	} else {
		struct store_mailbox *list;
		unsigned int count;
		if (store_mailbox_list(store, user_id, pool, &list, &count, &error) < 0) {
			api_store_error(r, store, error, "UserNotFound");
			goto out;
		}
		for (unsigned int i = 0; i < count && mb == NULL; i++)
			if (list[i].special_use == STORE_SPECIAL_SENT)
				mb = &list[i];
		if (mb == NULL) {
			api_error(r, 404, "NoSuchMailbox", "The user has no Sent mailbox");
			goto out;
		}
	}
	const char *flags[] = { "\\Seen" };
	struct message_append_opts opts = {
		.flags = flags,
		.flags_count = 1,
		.append_flags = STORE_APPEND_CHECK_QUOTA,
	};
	struct store_append_result res;
	if (store_message_append_raw(store, mb->id, msg.data, msg.len, &opts, &res, &error) < 0) {
		api_store_error(r, store, error, "NoSuchMailbox");
		goto out;
	}
	api_changed(r, user_id);
	json_t *m = json_pack("{s:I, s:s, s:I}", "id", (json_int_t)res.uid, "mailbox", mb->id,
			      "size", (json_int_t)msg.len);
	if (!upload_only) {
		char queue_id[STORE_ID_SIZE], err[4500];
		strip_bcc(&msg, &out);
		if (spool_submit(spool, sender, rcpts, nrcpts, &out, queue_id, err, sizeof(err)) < 0) {
			json_decref(m);
			api_error(r, 503, "QueueFailed", "The message is in %s but was not queued",
				  mb->path);
			log_error("event=api_submit_queue_failed error=\"%s\"", err);
			goto out;
		}
		json_object_set_new(m, "queueId", json_string(queue_id));
	}
	api_ok(r, json_pack("{s:o}", "message", m));
out:
	json_decref(body);
	free(rcpts);
	buffer_free(&msg);
	buffer_free(&out);
	pool_destroy(&pool);
}

const struct api_route api_routes_extra[] = {
	{ EVHTTP_REQ_POST, "/domainaliases", alias_create, NULL, API_ROOT, alias_fields,
	  "Create a domain alias" },
	{ EVHTTP_REQ_GET, "/domainaliases/resolve/:alias", alias_get, NULL, API_ROOT, NULL,
	  "Resolve a domain alias to its domain" },
	{ EVHTTP_REQ_GET, "/domainaliases/:alias", alias_get, NULL, API_ROOT, NULL,
	  "Get a domain alias (its id is its name)" },
	{ EVHTTP_REQ_DELETE, "/domainaliases/:alias", alias_delete, NULL, API_ROOT, NULL,
	  "Delete a domain alias" },
	{ EVHTTP_REQ_POST, "/users/:user/submit", submit, NULL, 0, submit_fields,
	  "Compose a message, store it into Sent and queue it for sending" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
