/* DKIM keys (/dkim) and TLS certificates (/certs), root only, with
 * WildDuck's paths and fields. Both are store objects keyed by domain or
 * server name, one per key: posting again replaces. Private keys are kept
 * in the store as PEM (plain at rest, like TOTP secrets) and never
 * returned. Signing with the keys is the MTA's business; certificates are
 * also written to tls.certs_dir (lib/tls_dir.h), where the master, which
 * never opens the store, finds them at its next reload to serve by SNI. */
#include "api.h"

#include "api_cert.h"
#include "dkim.h"
#include "mem.h"
#include "pool.h"
#include "tls_dir.h"

#include <stdlib.h>
#include <string.h>

#define DKIM_KIND "dkim"
#define CERT_KIND "cert"

static char *lower_dup(const char *s)
{
	char *out = strdup(s);
	if (out == NULL)
		abort();
	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

/* Replaces the object of kind under key by doc (steals doc). */
static void object_put(struct store *store, struct api_req *r, const char *kind,
		       const char *key, json_t *doc, char id_r[STORE_ID_SIZE])
{
	struct pool *pool = pool_create(1024);
	struct store_object *old;
	unsigned int count;
	const char *error;
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	id_r[0] = '\0';
	if (store_object_list(store, kind, NULL, key, pool, &old, &count, &error) < 0)
		goto fail;
	for (unsigned int i = 0; i < count; i++)
		if (store_object_delete(store, kind, old[i].id, &error) < 0 &&
		    store_last_error(store) != STORE_ERR_NOT_FOUND)
			goto fail;
	if (store_object_add(store, kind, NULL, key, text, true, id_r, &error) < 0)
		goto fail;
	free(text);
	pool_destroy(&pool);
	return;
fail:
	id_r[0] = '\0';
	api_store_error(r, store, error, "NotFound");
	free(text);
	pool_destroy(&pool);
}

/* The object by :param id, or by key for the resolve routes. */
static struct store_object *object_find(struct store *store, struct api_req *r,
					const char *kind, const char *param, bool by_key,
					struct pool *pool, const char *not_found)
{
	const char *v = api_param(r, param), *error;
	if (by_key) {
		if (!dkim_name_valid(v) && !(v[0] == '*' && v[1] == '.' && dkim_name_valid(v + 2))) {
			api_error(r, 400, "InputValidationError", "%s must be a domain name", param);
			return NULL;
		}
		char *key = lower_dup(v);
		struct store_object *objs;
		unsigned int count;
		int ret = store_object_list(store, kind, NULL, key, pool, &objs, &count, &error);
		free(key);
		if (ret < 0) {
			api_store_error(r, store, error, not_found);
			return NULL;
		}
		if (count == 0) {
			api_error(r, 404, not_found, "Nothing stored for %s", v);
			return NULL;
		}
		return &objs[0];
	}
	struct store_object *o;
	if (!api_id_valid(v)) {
		api_error(r, 404, not_found, "No such %s", param);
		return NULL;
	}
	if (store_object_get(store, kind, v, pool, &o, &error) < 0) {
		api_store_error(r, store, error, not_found);
		return NULL;
	}
	return o;
}

static void object_delete(struct store *store, struct api_req *r, const char *kind,
			  const char *param, const char *not_found)
{
	const char *error;
	if (store_object_delete(store, kind, api_param(r, param), &error) < 0)
		api_store_error(r, store, error, not_found);
	else
		api_ok(r, NULL);
}

/* ---- DKIM ---- */

static const struct api_field dkim_fields[] = {
	{ "domain", API_STRING, true, 1, 253, NULL, false },
	{ "selector", API_STRING, true, 1, 63, NULL, false },
	{ "privateKey", API_TEXT, false, 1, 16384, NULL, false },
	{ "algorithm", API_STRING, false, 1, 16, NULL, false },
	{ "description", API_STRING, false, 0, 1024, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

/* The public view of a stored key (no private key). */
static json_t *dkim_json(const struct store_object *o, bool full)
{
	json_t *doc = json_loads(o->doc, 0, NULL);
	json_t *out = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:I}", "id", o->id,
				"domain", json_object_get(doc, "domain"),
				"selector", json_object_get(doc, "selector"),
				"description", json_object_get(doc, "description"),
				"algorithm", json_object_get(doc, "algorithm"),
				"fingerprint", json_object_get(doc, "fingerprint"),
				"created", (json_int_t)o->created);
	if (out != NULL && full) {
		char *name = xasprintf("%s._domainkey.%s",
				       json_string_value(json_object_get(doc, "selector")),
				       json_string_value(json_object_get(doc, "domain")));
		json_object_set(out, "publicKey", json_object_get(doc, "publicKey"));
		json_object_set_new(out, "dnsTxt", json_pack("{s:s, s:O}", "name", name, "value",
							     json_object_get(doc, "dnsTxt")));
		free(name);
	}
	json_decref(doc);
	return out != NULL ? out : json_object();
}

static void dkim_create(struct store *store, struct api_req *r)
{
	const char *domain = api_json_str(r->body, "domain");
	const char *selector = api_json_str(r->body, "selector");
	const char *pem = api_json_str(r->body, "privateKey");
	const char *algorithm = api_json_str(r->body, "algorithm");
	const char *description = api_json_str(r->body, "description");
	if (!dkim_name_valid(domain) || !dkim_name_valid(selector)) {
		api_error(r, 400, "InputValidationError", "domain and selector must be DNS names");
		return;
	}
	if (pem != NULL && algorithm != NULL) {
		api_error(r, 400, "InputValidationError", "give privateKey or algorithm, not both");
		return;
	}
	struct dkim_key key;
	const char *error;
	if ((pem != NULL ? dkim_key_from_pem(pem, &key, &error) :
			   dkim_key_generate(algorithm, &key, &error)) < 0) {
		api_error(r, 400, "InputValidationError", "%s", error);
		return;
	}
	char *d = lower_dup(domain), *s = lower_dup(selector), *txt = dkim_dns_txt(&key);
	json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "domain", d,
				"selector", s, "description", description != NULL ? description : "",
				"algorithm", key.algorithm, "privateKey", key.private_pem,
				"publicKey", key.public_pem, "fingerprint", key.fingerprint,
				"dnsTxt", txt);
	char id[STORE_ID_SIZE];
	object_put(store, r, DKIM_KIND, d, doc, id);
	if (id[0] != '\0') {
		struct pool *pool = pool_create(1024);
		struct store_object *o;
		if (store_object_get(store, DKIM_KIND, id, pool, &o, &error) < 0)
			api_store_error(r, store, error, "DkimNotFound");
		else
			api_ok(r, dkim_json(o, true));
		pool_destroy(&pool);
	}
	free(d);
	free(s);
	free(txt);
	dkim_key_free(&key);
}

static void dkim_list(struct store *store, struct api_req *r)
{
	const char *domain = api_query(r, "domain"), *error;
	if (domain != NULL && !dkim_name_valid(domain)) {
		api_error(r, 400, "InputValidationError", "domain must be a DNS name");
		return;
	}
	char *d = domain != NULL ? lower_dup(domain) : NULL;
	struct pool *pool = pool_create(4096);
	struct store_object *objs;
	unsigned int count;
	if (store_object_list(store, DKIM_KIND, NULL, d, pool, &objs, &count, &error) < 0) {
		api_store_error(r, store, error, "NotFound");
	} else {
		json_t *results = json_array();
		for (unsigned int i = 0; i < count; i++)
			json_array_append_new(results, dkim_json(&objs[i], false));
		api_ok(r, json_pack("{s:I, s:o}", "total", (json_int_t)count, "results", results));
	}
	free(d);
	pool_destroy(&pool);
}

static void dkim_get(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	bool by_key = api_param(r, "domain") != NULL;
	struct store_object *o = object_find(store, r, DKIM_KIND, by_key ? "domain" : "dkim",
					     by_key, pool, "DkimNotFound");
	if (o != NULL)
		api_ok(r, dkim_json(o, true));
	pool_destroy(&pool);
}

static void dkim_delete(struct store *store, struct api_req *r)
{
	object_delete(store, r, DKIM_KIND, "dkim", "DkimNotFound");
}

/* ---- certificates ---- */

static const struct api_field cert_fields[] = {
	{ "servername", API_STRING, true, 1, 253, NULL, false },
	{ "cert", API_TEXT, true, 1, 65536, NULL, false },
	{ "privateKey", API_TEXT, true, 1, 16384, NULL, false },
	{ "description", API_STRING, false, 0, 1024, NULL, false },
	{ "sess", API_STRING, false, 0, 256, NULL, false },
	{ "ip", API_STRING, false, 0, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static json_t *cert_json(const struct store_object *o)
{
	json_t *doc = json_loads(o->doc, 0, NULL);
	json_t *out = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:I}", "id", o->id,
				"servername", json_object_get(doc, "servername"),
				"description", json_object_get(doc, "description"),
				"fingerprint", json_object_get(doc, "fingerprint"),
				"subject", json_object_get(doc, "subject"),
				"altNames", json_object_get(doc, "altNames"),
				"expires", json_object_get(doc, "expires"),
				"created", (json_int_t)o->created);
	json_decref(doc);
	return out != NULL ? out : json_object();
}

static void cert_create(struct store *store, struct api_req *r)
{
	const char *servername = api_json_str(r->body, "servername");
	const char *description = api_json_str(r->body, "description");
	if (!dkim_name_valid(servername) &&
	    !(servername[0] == '*' && servername[1] == '.' && dkim_name_valid(servername + 2))) {
		api_error(r, 400, "InputValidationError", "servername must be a DNS name");
		return;
	}
	char *name = lower_dup(servername);
	struct api_cert_info info;
	const char *error;
	if (api_cert_check(api_json_str(r->body, "cert"), api_json_str(r->body, "privateKey"),
			   name, &info, &error) < 0) {
		api_error(r, 400, "InputValidationError", "%s", error);
		free(name);
		return;
	}
	char expires[32];
	api_time_iso(info.expires, expires);
	json_t *alt = json_array();
	for (char **p = info.alt_names; *p != NULL; p++)
		json_array_append_new(alt, json_string(*p));
	json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "servername", name,
				"description", description != NULL ? description : "",
				"cert", api_json_str(r->body, "cert"),
				"privateKey", api_json_str(r->body, "privateKey"),
				"fingerprint", info.fingerprint, "subject", info.subject,
				"altNames", alt, "expires", expires);
	char id[STORE_ID_SIZE];
	object_put(store, r, CERT_KIND, name, doc, id);
	if (id[0] != '\0' && tls_dir_write(api_config(), name, api_json_str(r->body, "cert"),
					    api_json_str(r->body, "privateKey"), &error) < 0) {
		/* stored, but no reload would serve it: say so */
		api_error(r, 500, "CertWriteFailed", "%s", error);
		id[0] = '\0';
	}
	if (id[0] != '\0') {
		struct pool *pool = pool_create(1024);
		struct store_object *o;
		if (store_object_get(store, CERT_KIND, id, pool, &o, &error) < 0)
			api_store_error(r, store, error, "CertNotFound");
		else
			api_ok(r, cert_json(o));
		pool_destroy(&pool);
	}
	api_cert_info_free(&info);
	free(name);
}

static void cert_list(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	struct store_object *objs;
	unsigned int count;
	const char *error;
	if (store_object_list(store, CERT_KIND, NULL, NULL, pool, &objs, &count, &error) < 0) {
		api_store_error(r, store, error, "NotFound");
	} else {
		json_t *results = json_array();
		for (unsigned int i = 0; i < count; i++)
			json_array_append_new(results, cert_json(&objs[i]));
		api_ok(r, json_pack("{s:I, s:o}", "total", (json_int_t)count, "results", results));
	}
	pool_destroy(&pool);
}

static void cert_get(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(4096);
	bool by_key = api_param(r, "servername") != NULL;
	struct store_object *o = object_find(store, r, CERT_KIND,
					     by_key ? "servername" : "cert", by_key, pool,
					     "CertNotFound");
	if (o != NULL)
		api_ok(r, cert_json(o));
	pool_destroy(&pool);
}

static void cert_delete(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_object *o = object_find(store, r, CERT_KIND, "cert", false, pool,
					     "CertNotFound");
	const char *error;
	if (o != NULL && o->key != NULL &&
	    tls_dir_remove(api_config(), o->key, &error) < 0)
		api_error(r, 500, "CertWriteFailed", "%s", error);
	else if (o != NULL)
		object_delete(store, r, CERT_KIND, "cert", "CertNotFound");
	pool_destroy(&pool);
}

const struct api_route api_routes_keys[] = {
	{ EVHTTP_REQ_GET, "/dkim", dkim_list, NULL, API_ROOT, NULL, "List DKIM keys" },
	{ EVHTTP_REQ_POST, "/dkim", dkim_create, NULL, API_ROOT, dkim_fields,
	  "Generate or upload the DKIM key of a domain" },
	{ EVHTTP_REQ_GET, "/dkim/resolve/:domain", dkim_get, NULL, API_ROOT, NULL,
	  "Get the DKIM key of a domain" },
	{ EVHTTP_REQ_GET, "/dkim/:dkim", dkim_get, NULL, API_ROOT, NULL, "Get a DKIM key" },
	{ EVHTTP_REQ_DELETE, "/dkim/:dkim", dkim_delete, NULL, API_ROOT, NULL,
	  "Delete a DKIM key" },
	{ EVHTTP_REQ_GET, "/certs", cert_list, NULL, API_ROOT, NULL, "List TLS certificates" },
	{ EVHTTP_REQ_POST, "/certs", cert_create, NULL, API_ROOT, cert_fields,
	  "Upload the TLS certificate and key of a server name" },
	{ EVHTTP_REQ_GET, "/certs/resolve/:servername", cert_get, NULL, API_ROOT, NULL,
	  "Get the TLS certificate of a server name" },
	{ EVHTTP_REQ_GET, "/certs/:cert", cert_get, NULL, API_ROOT, NULL,
	  "Get a TLS certificate" },
	{ EVHTTP_REQ_DELETE, "/certs/:cert", cert_delete, NULL, API_ROOT, NULL,
	  "Delete a TLS certificate" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
