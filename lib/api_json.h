/* Validation of HTTP API input: a JSON request body is checked against a
 * table of fields (types, ranges, lengths; unknown and duplicate fields
 * refused) before any route code sees it, and path segments and query
 * values are checked the same way. Shared by wd-api and its fuzz target;
 * it only reads input and never touches the store. */
#ifndef WD_API_JSON_H
#define WD_API_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of objects and arrays accepted in a body. */
#define API_JSON_MAX_DEPTH 8

enum api_field_type {
	API_STRING,		/* min/max: length in bytes */
	API_TEXT,		/* a string that may hold line breaks and tabs */
	API_BOOL,
	API_INT,		/* min/max: value */
	API_STRING_ARRAY,	/* min/max: items; each item 1..1024 bytes, one line */
	API_OBJECT,		/* sub: the fields of the object */
	API_OBJECT_ARRAY,	/* min/max: items; sub: the fields of each */
	API_STRING_OR_OBJECT,	/* a string (max bytes) or an object of sub */
};

struct api_field {
	const char *name;	/* NULL ends a table */
	enum api_field_type type;
	bool required;
	long long min, max;
	const struct api_field *sub;
	bool nullable;		/* JSON null is accepted (and means "unset") */
};

/* Parses a request body that must be one JSON object matching fields.
 * Returns the object (json_decref() it), or NULL with a message for the
 * client in error (at most error_size bytes). An empty body is an empty
 * object. */
json_t *api_json_parse(const char *body, size_t len, const struct api_field *fields,
		       char *error, size_t error_size);
/* Checks an already parsed value against fields (used by api_json_parse). */
int api_json_check(json_t *obj, const struct api_field *fields, int depth, char *error,
		   size_t error_size);

/* Getters that tolerate absent and null fields. */
const char *api_json_str(json_t *obj, const char *name);
bool api_json_has(json_t *obj, const char *name);
bool api_json_bool(json_t *obj, const char *name, bool def);
long long api_json_int(json_t *obj, const char *name, long long def);

/* A store id: 24 lowercase hex digits. */
bool api_id_valid(const char *s);
/* A decimal number without sign or leading zeros in [min, max]. */
bool api_uint_parse(const char *s, uint64_t min, uint64_t max, uint64_t *value_r);
/* Percent-decodes one path segment or query value into a new string
 * (free() it); NULL if it holds %00, a bad escape or invalid UTF-8. */
char *api_url_decode(const char *s, size_t len);
/* A mailbox path from a client: UTF-8, 1..1024 bytes, levels separated
 * by '/', none empty, "." or "..", no control characters. */
bool api_mailbox_path_valid(const char *path);
/* Text a client may store (UTF-8, no control characters except, with
 * multiline, CR, LF and TAB). */
bool api_text_valid(const char *s, bool multiline);

#endif
