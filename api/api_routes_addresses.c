/* Addresses across users (root only): forwarded addresses
 * (/addresses/forwarded, WildDuck's "forwarded" address type kept by
 * store_forwarded_*) and the domain-wide listing GET /addresses, which
 * merges the user addresses of store_address_page() with the forwarded
 * ones in one address order. Not for: a user's own addresses
 * (/users/:user/addresses, api_routes_users.c). */
#include "api.h"

#include "address.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>

#define TARGETS_MAX 100

static const struct api_field forwarded_create_fields[] = {
	{ "address", API_STRING, true, 3, 320, NULL, false },
	{ "targets", API_STRING_ARRAY, true, 1, TARGETS_MAX, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field forwarded_update_fields[] = {
	{ "targets", API_STRING_ARRAY, true, 1, TARGETS_MAX, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

/* The body's targets, each a valid address (normalised); NULL with a 400
 * reply when one is not. */
static const char *const *body_targets(struct api_req *r, struct pool *pool,
				       unsigned int *count_r)
{
	json_t *arr = json_object_get(r->body, "targets");
	size_t n = json_array_size(arr);
	const char **targets = pool_alloc(pool, (n + 1) * sizeof(*targets));
	for (size_t i = 0; i < n; i++) {
		const char *t = json_string_value(json_array_get(arr, i)), *error;
		if (t == NULL || address_normalize(pool, t, 0, &targets[i], &error) < 0) {
			api_error(r, 400, "InputValidationError", "Invalid target %s: %s",
				  t != NULL ? t : "", t != NULL ? error : "not a string");
			return NULL;
		}
	}
	if (n == 0) {
		api_error(r, 400, "InputValidationError", "No targets");
		return NULL;
	}
	*count_r = (unsigned int)n;
	return targets;
}

static json_t *targets_json(const char *const *targets, unsigned int count)
{
	json_t *arr = json_array();
	for (unsigned int i = 0; i < count; i++) {
		json_t *t = json_string(targets[i]);
		if (t != NULL)
			json_array_append_new(arr, t);
	}
	return arr;
}

static void forwarded_create(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(2048);
	const char *address, *error;
	unsigned int count;
	const char *const *targets;
	struct store_address_resolved res;
	char id[STORE_ID_SIZE];
	if (address_normalize(pool, api_json_str(r->body, "address"), 0, &address, &error) < 0) {
		api_error(r, 400, "InputValidationError", "Invalid address: %s", error);
		goto out;
	}
	if ((targets = body_targets(r, pool, &count)) == NULL)
		goto out;
	/* a user's own address (with or without dots and +label) wins at
	 * delivery, so forwarding it would do nothing: refuse it. Wildcards
	 * and domain aliases do not count, a real address is more specific. */
	if (store_address_resolve(store, address, pool, &res, &error) == 0) {
		if (!res.via_domain_alias && (res.match == STORE_ADDRESS_MATCH_EXACT ||
					      res.match == STORE_ADDRESS_MATCH_NORMALIZED)) {
			api_error(r, 409, "AddressExistsError",
				  "This address is already a user's address");
			goto out;
		}
	} else if (store_last_error(store) != STORE_ERR_NOT_FOUND) {
		api_store_error(r, store, error, "AddressNotFound");
		goto out;
	}
	if (store_forwarded_add(store, address, targets, count, id, &error) < 0) {
		if (store_last_error(store) == STORE_ERR_EXISTS)
			api_error(r, 409, "AddressExistsError",
				  "This address is already forwarded");
		else
			api_store_error(r, store, error, "AddressNotFound");
		goto out;
	}
	api_ok(r, json_pack("{s:s}", "id", id));
	api_webhook_event(store, NULL, "address.forwarded.created",
			  json_pack("{s:s, s:s}", "id", id, "address", address));
out:
	pool_destroy(&pool);
}

static void forwarded_get(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(2048);
	struct store_forwarded fwd;
	const char *error;
	if (store_forwarded_get_id(store, api_param(r, "id"), pool, &fwd, &error) < 0) {
		api_store_error(r, store, error, "AddressNotFound");
	} else {
		char created[32];
		api_time_iso(fwd.created, created);
		json_t *addr = json_string(fwd.address);
		api_ok(r, json_pack("{s:s, s:o, s:o, s:b, s:s}", "id", fwd.id, "address",
				    addr != NULL ? addr : json_string(""), "targets",
				    targets_json(fwd.targets, fwd.count), "forwarded", true,
				    "created", created));
	}
	pool_destroy(&pool);
}

static void forwarded_update(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(2048);
	const char *error;
	unsigned int count;
	const char *const *targets = body_targets(r, pool, &count);
	if (targets == NULL)
		goto out;
	if (store_forwarded_update_id(store, api_param(r, "id"), targets, count, &error) < 0)
		api_store_error(r, store, error, "AddressNotFound");
	else
		api_ok(r, NULL);
out:
	pool_destroy(&pool);
}

static void forwarded_delete(struct store *store, struct api_req *r)
{
	struct pool *pool = pool_create(1024);
	struct store_forwarded fwd;
	const char *error, *id = api_param(r, "id");
	if (store_forwarded_get_id(store, id, pool, &fwd, &error) < 0 ||
	    store_forwarded_delete_id(store, id, &error) < 0) {
		api_store_error(r, store, error, "AddressNotFound");
	} else {
		api_ok(r, NULL);
		api_webhook_event(store, NULL, "address.forwarded.deleted",
				  json_pack("{s:s, s:s}", "id", id, "address", fwd.address));
	}
	pool_destroy(&pool);
}

/* ---- GET /addresses ---- */

/* One row of a page: a user address or a forwarded one. */
struct row {
	const char *address;
	const struct store_address *user;
	const struct store_forwarded *fwd;
};

/* The cursor is the hex of the last address shown: opaque, and nothing in
 * it ('+', '%', non-ASCII) depends on how a client encodes a query. */
static const char *cursor_encode(struct pool *pool, const char *address)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(address);
	char *out = pool_alloc(pool, len * 2 + 1);
	for (size_t i = 0; i < len; i++) {
		out[i * 2] = hex[(unsigned char)address[i] >> 4];
		out[i * 2 + 1] = hex[(unsigned char)address[i] & 15];
	}
	out[len * 2] = '\0';
	return out;
}

static const char *cursor_decode(struct pool *pool, const char *cursor)
{
	size_t len = strlen(cursor);
	if (len == 0 || len % 2 != 0 || len > 2048)
		return NULL;
	char *out = pool_alloc(pool, len / 2 + 1);
	for (size_t i = 0; i < len / 2; i++) {
		int v = 0;
		for (size_t j = 0; j < 2; j++) {
			char c = cursor[i * 2 + j];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (d < 0)
				return NULL;
			v = v * 16 + d;
		}
		if (v == 0)
			return NULL;
		out[i] = (char)v;
	}
	out[len / 2] = '\0';
	return out;
}

static const char *lower(struct pool *pool, const char *s)
{
	size_t len = 0;
	uint8_t *l = u8_tolower((const uint8_t *)s, strlen(s), NULL, UNINORM_NFC, NULL, &len);
	if (l == NULL)
		return NULL;
	char *out = pool_strndup(pool, (const char *)l, len);
	free(l);
	return out;
}

/* Whether a forwarded address belongs in the listing: the filters, and
 * beyond the cursor in the page's direction. */
static bool fwd_wanted(struct pool *pool, const struct store_forwarded *f, const char *domain,
		       const char *query, const char *cursor, bool backwards)
{
	if (cursor != NULL) {
		int c = strcmp(f->address, cursor);
		if (backwards ? c >= 0 : c <= 0)
			return false;
	}
	if (domain != NULL) {
		const char *at = strrchr(f->address, '@');
		if (at == NULL || strcmp(at + 1, domain) != 0)
			return false;
	}
	if (query != NULL) {
		const char *low = lower(pool, f->address);
		if (low == NULL || strstr(low, query) == NULL)
			return false;
	}
	return true;
}

static json_t *row_json(const struct row *row)
{
	char created[32];
	json_t *addr = json_string(row->address);
	if (addr == NULL)
		addr = json_string("");
	if (row->user != NULL) {
		api_time_iso(row->user->created, created);
		return json_pack("{s:s, s:o, s:s, s:b, s:b, s:s}", "id", row->user->id, "address",
				 addr, "user", row->user->user, "main", row->user->main,
				 "forwarded", false, "created", created);
	}
	api_time_iso(row->fwd->created, created);
	return json_pack("{s:s, s:o, s:b, s:o, s:s}", "id", row->fwd->id, "address", addr,
			 "forwarded", true, "targets",
			 targets_json(row->fwd->targets, row->fwd->count), "created", created);
}

static void address_listing(struct store *store, struct api_req *r)
{
	unsigned int limit;
	const char *next, *previous, *error;
	if (api_page_params(r, &limit, &next, &previous) < 0)
		return;
	struct pool *pool = pool_create(16384);
	bool backwards = previous != NULL;
	const char *cursor = NULL;
	if ((next != NULL || previous != NULL) &&
	    (cursor = cursor_decode(pool, next != NULL ? next : previous)) == NULL) {
		api_error(r, 400, "InputValidationError", "bad cursor");
		goto out;
	}
	const char *domain = api_query(r, "domain"), *query = api_query(r, "query");
	if (domain != NULL && domain[0] == '\0')
		domain = NULL;
	if (query != NULL && query[0] == '\0')
		query = NULL;
	if (domain != NULL && address_normalize_domain(pool, domain, &domain, &error) < 0) {
		api_error(r, 400, "InputValidationError", "Invalid domain: %s", error);
		goto out;
	}
	if (query != NULL && (query = lower(pool, query)) == NULL) {
		api_error(r, 400, "InputValidationError", "Invalid query");
		goto out;
	}
	struct store_address *users;
	struct store_forwarded *fwds;
	unsigned int nusers, nfwds;
	if (store_address_page(store, domain, query, cursor, backwards, limit + 1, pool, &users,
			       &nusers, &error) < 0 ||
	    store_forwarded_list(store, pool, &fwds, &nfwds, &error) < 0) {
		api_store_error(r, store, error, "AddressNotFound");
		goto out;
	}
	/* merge both in the page's direction (users already are; forwarded
	 * ones come ascending), at most limit + 1 rows to see if more follow */
	struct row *rows = pool_alloc(pool, (limit + 1) * sizeof(*rows));
	unsigned int n = 0, ui = 0, fi = 0;
	while (n < limit + 1) {
		const struct store_forwarded *f = NULL;
		while (fi < nfwds) {
			const struct store_forwarded *c = &fwds[backwards ? nfwds - 1 - fi : fi];
			if (fwd_wanted(pool, c, domain, query, cursor, backwards)) {
				f = c;
				break;
			}
			fi++;
		}
		const struct store_address *u = ui < nusers ? &users[ui] : NULL;
		if (u == NULL && f == NULL)
			break;
		bool take_user = f == NULL ||
			(u != NULL && (backwards ? strcmp(u->address, f->address) > 0 :
					       strcmp(u->address, f->address) < 0));
		if (take_user) {
			rows[n++] = (struct row){ u->address, u, NULL };
			ui++;
		} else {
			rows[n++] = (struct row){ f->address, NULL, f };
			fi++;
		}
	}
	bool more = n > limit;
	if (more)
		n = limit;
	json_t *results = json_array();
	for (unsigned int i = 0; i < n; i++)
		json_array_append_new(results, row_json(&rows[backwards ? n - 1 - i : i]));
	/* as GET /users: the cursors are the first and last address shown */
	const char *first = n > 0 ? rows[backwards ? n - 1 : 0].address : NULL;
	const char *last = n > 0 ? rows[backwards ? 0 : n - 1].address : NULL;
	json_t *next_c, *prev_c;
	if (backwards) {
		next_c = last != NULL ? json_string(cursor_encode(pool, last)) : json_false();
		prev_c = more && first != NULL ? json_string(cursor_encode(pool, first)) :
			 json_false();
	} else {
		next_c = more && last != NULL ? json_string(cursor_encode(pool, last)) :
			 json_false();
		prev_c = next != NULL && first != NULL ?
			 json_string(cursor_encode(pool, first)) : json_false();
	}
	api_ok(r, json_pack("{s:o, s:o, s:o}", "nextCursor", next_c, "previousCursor", prev_c,
			    "results", results));
out:
	pool_destroy(&pool);
}

const struct api_route api_routes_addresses[] = {
	{ EVHTTP_REQ_GET, "/addresses", address_listing, NULL, API_ROOT, NULL,
	  "List all addresses (paged)" },
	{ EVHTTP_REQ_POST, "/addresses/forwarded", forwarded_create, NULL, API_ROOT,
	  forwarded_create_fields, "Create a forwarded address" },
	{ EVHTTP_REQ_GET, "/addresses/forwarded/:id", forwarded_get, NULL, API_ROOT, NULL,
	  "Get a forwarded address" },
	{ EVHTTP_REQ_PUT, "/addresses/forwarded/:id", forwarded_update, NULL, API_ROOT,
	  forwarded_update_fields, "Update a forwarded address's targets" },
	{ EVHTTP_REQ_DELETE, "/addresses/forwarded/:id", forwarded_delete, NULL, API_ROOT, NULL,
	  "Delete a forwarded address" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};
