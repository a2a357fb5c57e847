/* libFuzzer target for the API's input and output edges: JSON request
 * bodies against nested field tables (what passes must have the declared
 * types), path segment decoding, mailbox path checks, the ENVELOPE reader
 * behind message listings and the HTML sanitiser (no script, style, frame
 * or on* handler survives), and composing a message from an accepted body. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "api_message.h"
#include "html_sanitize.h"

static const struct api_field addr[] = {
	{ "name", API_STRING, false, 0, 64, NULL, true },
	{ "address", API_STRING, true, 3, 64, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static const struct api_field fields[] = {
	{ "username", API_STRING, false, 1, 32, NULL, false },
	{ "quota", API_INT, false, 0, 1000, NULL, false },
	{ "flag", API_BOOL, false, 0, 0, NULL, true },
	{ "tags", API_STRING_ARRAY, false, 0, 4, NULL, false },
	{ "from", API_STRING_OR_OBJECT, false, 3, 64, addr, false },
	{ "to", API_OBJECT_ARRAY, false, 0, 4, addr, false },
	{ "subject", API_STRING, false, 0, 128, NULL, false },
	{ "text", API_TEXT, false, 0, 4096, NULL, false },
	{ "html", API_TEXT, false, 0, 4096, NULL, false },
	{ NULL, 0, false, 0, 0, NULL, false },
};

static void check_types(json_t *obj)
{
	json_t *v;
	if ((v = json_object_get(obj, "username")) != NULL && !json_is_string(v))
		abort();
	if ((v = json_object_get(obj, "quota")) != NULL &&
	    (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000))
		abort();
	if ((v = json_object_get(obj, "tags")) != NULL && json_array_size(v) > 4)
		abort();
	const char *key;
	json_object_foreach(obj, key, v) {
		bool known = false;
		for (const struct api_field *f = fields; f->name != NULL; f++)
			known |= strcmp(f->name, key) == 0;
		if (!known)
			abort();
	}
}

/* A start tag of that element: "<name" then a blank, '/' or '>'. */
static bool has_tag(const char *lower, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = lower; (p = strstr(p, name)) != NULL; p++) {
		char c = p[n];
		if (p > lower && p[-1] == '<' &&
		    (c == '\0' || c == '>' || c == '/' || isspace((unsigned char)c)))
			return true;
	}
	return false;
}

/* Every '<' of the output starts a tag the sanitiser wrote, in its own
 * grammar: "<name" then " attr" or " attr=\"value\"" (a value holds no
 * '"', it is escaped) and an optional " /". Walk the attributes by name:
 * refuse on* handlers and javascript: in a URL attribute. The name is the
 * whole token after the blank, so "stylhref" is not "href". */
static void check_attrs(const char *lower)
{
	static const char *const url_names[] = { "href", "src", "action", "formaction",
						 "xlink:href", "background", "poster", NULL };
	for (const char *p = strchr(lower, '<'); p != NULL; p = strchr(p + 1, '<')) {
		const char *q = p + 1;
		while (*q != '\0' && *q != ' ' && *q != '>')
			q++;
		while (*q == ' ') {
			const char *name = ++q;
			while (*q != '\0' && *q != '=' && *q != ' ' && *q != '>')
				q++;
			size_t nlen = (size_t)(q - name);
			if (nlen >= 2 && name[0] == 'o' && name[1] == 'n')
				abort();
			if (*q != '=')
				continue;
			if (q[1] != '"')
				abort();
			const char *v = q + 2, *e = strchr(v, '"');
			if (e == NULL)
				abort();
			bool url = false;
			for (const char *const *u = url_names; *u != NULL; u++)
				url |= strlen(*u) == nlen && strncmp(*u, name, nlen) == 0;
			while (url && v < e && (unsigned char)*v <= ' ')
				v++;
			if (url && strncmp(v, "javascript:", 11) == 0)
				abort();
			q = e + 1;
		}
		if (*q != '>' && !(q[0] == '/' && q[1] == '>'))
			abort();
	}
}

static void check_html(const char *out)
{
	size_t n = strlen(out);
	char *lower = malloc(n + 1);
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)out[i]);
	if (has_tag(lower, "script") || has_tag(lower, "style") || has_tag(lower, "iframe"))
		abort();
	check_attrs(lower);
	free(lower);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char error[256];
	json_t *obj = api_json_parse((const char *)data, size, fields, error, sizeof(error));
	if (obj != NULL) {
		check_types(obj);
		struct buffer msg = BUFFER_INIT;
		const char *err;
		(void)api_message_compose(obj, "fuzz.test", &msg, &err);
		buffer_free(&msg);
		json_decref(obj);
	}
	char *seg = api_url_decode((const char *)data, size);
	if (seg != NULL) {
		(void)api_mailbox_path_valid(seg);
		if (api_mailbox_path_valid(seg) && (strstr(seg, "/../") != NULL ||
						    strncmp(seg, "../", 3) == 0))
			abort();
		free(seg);
	}
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	json_t *env = api_envelope_json(text);
	json_decref(env);
	struct buffer html = BUFFER_INIT;
	html_sanitize((const char *)data, size, &html);
	check_html(buffer_cstr(&html));
	free(text);
	buffer_free(&html);
	return 0;
}
