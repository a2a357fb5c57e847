/* API input validation: see api_json.h. Every check here fails closed
 * with a short message naming the field, never with a crash. */
#include "api_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#define STRING_ITEM_MAX 1024

static void fail(char *error, size_t size, const char *fmt, const char *name)
{
	snprintf(error, size, fmt, name);
}

bool api_text_valid(const char *s, bool multiline)
{
	size_t len = strlen(s);
	if (u8_check((const uint8_t *)s, len) != NULL)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0x7f)
			return false;
		if (c < 0x20 && !(multiline && (c == '\r' || c == '\n' || c == '\t')))
			return false;
	}
	return true;
}

static int check_string(json_t *v, const struct api_field *f, bool multiline, char *error,
			size_t size)
{
	if (!json_is_string(v)) {
		fail(error, size, "%s must be a string", f->name);
		return -1;
	}
	size_t len = json_string_length(v);
	const char *s = json_string_value(v);
	if (strlen(s) != len || !api_text_valid(s, multiline)) {
		fail(error, size, "%s holds characters that are not allowed", f->name);
		return -1;
	}
	if ((long long)len < f->min || (f->max > 0 && (long long)len > f->max)) {
		fail(error, size, "%s has a bad length", f->name);
		return -1;
	}
	return 0;
}

static int check_field(json_t *v, const struct api_field *f, int depth, char *error,
		       size_t size)
{
	if (json_is_null(v)) {
		if (f->nullable && !f->required)
			return 0;
		fail(error, size, "%s must not be null", f->name);
		return -1;
	}
	switch (f->type) {
	case API_STRING:
		return check_string(v, f, false, error, size);
	case API_TEXT:
		return check_string(v, f, true, error, size);
	case API_BOOL:
		if (!json_is_boolean(v)) {
			fail(error, size, "%s must be true or false", f->name);
			return -1;
		}
		return 0;
	case API_INT:
		if (!json_is_integer(v) || json_integer_value(v) < f->min ||
		    json_integer_value(v) > f->max) {
			fail(error, size, "%s must be an integer in range", f->name);
			return -1;
		}
		return 0;
	case API_STRING_ARRAY: {
		if (!json_is_array(v) || (long long)json_array_size(v) < f->min ||
		    (long long)json_array_size(v) > f->max) {
			fail(error, size, "%s must be a list of strings", f->name);
			return -1;
		}
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			struct api_field itemf = { f->name, API_STRING, true, 1, STRING_ITEM_MAX,
						   NULL, false };
			if (check_string(item, &itemf, false, error, size) < 0)
				return -1;
		}
		return 0;
	}
	case API_OBJECT:
		if (!json_is_object(v)) {
			fail(error, size, "%s must be an object", f->name);
			return -1;
		}
		return api_json_check(v, f->sub, depth + 1, error, size);
	case API_OBJECT_ARRAY: {
		if (!json_is_array(v) || (long long)json_array_size(v) < f->min ||
		    (long long)json_array_size(v) > f->max) {
			fail(error, size, "%s must be a list of objects", f->name);
			return -1;
		}
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			if (!json_is_object(item)) {
				fail(error, size, "%s must be a list of objects", f->name);
				return -1;
			}
			if (api_json_check(item, f->sub, depth + 2, error, size) < 0)
				return -1;
		}
		return 0;
	}
	case API_STRING_OR_OBJECT:
		if (json_is_string(v))
			return check_string(v, f, false, error, size);
		if (!json_is_object(v)) {
			fail(error, size, "%s must be a string or an object", f->name);
			return -1;
		}
		return api_json_check(v, f->sub, depth + 1, error, size);
	}
	return -1;
}

int api_json_check(json_t *obj, const struct api_field *fields, int depth, char *error,
		   size_t size)
{
	if (depth > API_JSON_MAX_DEPTH) {
		snprintf(error, size, "input nested too deeply");
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		const struct api_field *f = fields;
		while (f != NULL && f->name != NULL && strcmp(f->name, key) != 0)
			f++;
		if (f == NULL || f->name == NULL) {
			char name[64];
			/* the key is client input: show a safe prefix only */
			size_t n = 0;
			for (; key[n] != '\0' && n < sizeof(name) - 1; n++)
				name[n] = (key[n] >= 0x20 && key[n] < 0x7f && key[n] != '"') ?
					key[n] : '?';
			name[n] = '\0';
			fail(error, size, "unknown field \"%s\"", name);
			return -1;
		}
		if (check_field(v, f, depth, error, size) < 0)
			return -1;
	}
	for (const struct api_field *f = fields; f != NULL && f->name != NULL; f++) {
		if (f->required && json_object_get(obj, f->name) == NULL) {
			fail(error, size, "%s is required", f->name);
			return -1;
		}
	}
	return 0;
}

json_t *api_json_parse(const char *body, size_t len, const struct api_field *fields,
		       char *error, size_t size)
{
	json_t *obj;
	if (len == 0) {
		obj = json_object();
	} else {
		json_error_t jerr;
		obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (obj == NULL) {
			snprintf(error, size, "invalid JSON at line %d column %d: %s", jerr.line,
				 jerr.column, jerr.text);
			return NULL;
		}
	}
	if (!json_is_object(obj)) {
		snprintf(error, size, "the body must be a JSON object");
		json_decref(obj);
		return NULL;
	}
	if (api_json_check(obj, fields, 0, error, size) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

const char *api_json_str(json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

bool api_json_has(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	return v != NULL && !json_is_null(v);
}

bool api_json_bool(json_t *obj, const char *name, bool def)
{
	json_t *v = json_object_get(obj, name);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

long long api_json_int(json_t *obj, const char *name, long long def)
{
	json_t *v = json_object_get(obj, name);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

bool api_id_valid(const char *s)
{
	if (s == NULL || strlen(s) != 24)
		return false;
	for (size_t i = 0; i < 24; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
			return false;
	return true;
}

bool api_uint_parse(const char *s, uint64_t min, uint64_t max, uint64_t *value_r)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 19 || (s[0] == '0' && s[1] != '\0'))
		return false;
	uint64_t v = 0;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return false;
	*value_r = v;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *api_url_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	if (out == NULL)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi = i + 1 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			out[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (s[i] == '\0') {
			free(out);
			return NULL;
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	if (u8_check((const uint8_t *)out, n) != NULL) {
		free(out);
		return NULL;
	}
	return out;
}

bool api_mailbox_path_valid(const char *path)
{
	size_t len = strlen(path);
	if (len == 0 || len > 1024 || !api_text_valid(path, false))
		return false;
	const char *p = path;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (slash == NULL)
			return true;
		p = slash + 1;
	}
}
