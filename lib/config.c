/* YAML config loader driven by config_options[]: rejects unknown and
 * duplicate keys, aliases and out-of-range values, naming FILE:LINE. */
#include "config.h"
#include "proxy.h"
#include "buffer.h"
#include "mem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct loader {
	const char *name;  /* file name for messages */
	char *dir;         /* folder of the file, for relative paths */
	yaml_document_t doc;
	struct config *config;
	bool *visited;     /* per node: a second visit means an alias */
	size_t node_count;
};

static char config_error[1024];

static int fail(const struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(const struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(config_error, sizeof(config_error), "%s:%zu: ", ld->name,
			 node != NULL ? node->start_mark.line + 1 : 1);
	va_start(ap, fmt);
	vsnprintf(config_error + n, sizeof(config_error) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *scalar(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

static const struct config_option *option_find(const char *name)
{
	for (size_t i = 0; i < config_option_count; i++)
		if (strcmp(config_options[i].name, name) == 0)
			return &config_options[i];
	return NULL;
}

/* True when some option's name starts with "prefix." (a section). */
static bool section_exists(const char *prefix)
{
	size_t len = strlen(prefix);
	for (size_t i = 0; i < config_option_count; i++)
		if (strncmp(config_options[i].name, prefix, len) == 0 &&
		    config_options[i].name[len] == '.')
			return true;
	return false;
}

static int parse_bool(const char *s, bool *r)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)
		*r = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)
		*r = false;
	else
		return -1;
	return 0;
}

/* Parses "123" followed by an optional unit out of units[] (name, factor). */
struct unit { const char *name; long long factor; };

static int parse_number(const char *s, const struct unit *units, long long bare_factor,
			long long *r)
{
	long long total = 0;
	bool any = false;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		char *end;
		long long v = strtoll(s, &end, 10);
		if (errno != 0)
			return -1;
		const char *u = end;
		while (isalpha((unsigned char)*end))
			end++;
		long long factor = bare_factor;
		if (end > u) {
			factor = 0;
			for (const struct unit *un = units; un != NULL && un->name != NULL; un++)
				if (strlen(un->name) == (size_t)(end - u) &&
				    strncasecmp(un->name, u, (size_t)(end - u)) == 0)
					factor = un->factor;
			if (factor == 0)
				return -1;
		} else if (*end != '\0' || any) {
			return -1; /* a bare number only stands alone */
		}
		if (v > LLONG_MAX / factor || total > LLONG_MAX - v * factor)
			return -1;
		total += v * factor;
		any = true;
		s = end;
	}
	if (!any)
		return -1;
	*r = total;
	return 0;
}

static const struct unit size_units[] = {
	{ "B", 1 }, { "K", 1024 }, { "KB", 1024 }, { "M", 1024 * 1024 }, { "MB", 1024 * 1024 },
	{ "G", 1024LL * 1024 * 1024 }, { "GB", 1024LL * 1024 * 1024 }, { NULL, 0 }
};
static const struct unit duration_units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 }, { NULL, 0 }
};

static char *resolve_path(const struct loader *ld, const char *s)
{
	if (s[0] == '/' || s[0] == '\0' || ld->dir == NULL)
		return xstrdup(s);
	return xasprintf("%s/%s", ld->dir, s);
}

static int set_scalar(struct loader *ld, const struct config_option *opt,
		      const yaml_node_t *node, void *field)
{
	if (node->type != YAML_SCALAR_NODE)
		return fail(ld, node, "%s: expected a single value", opt->name);
	const char *s = scalar(node);
	long long v = 0;
	switch (opt->type) {
	case CFG_BOOL:
		if (parse_bool(s, field) < 0)
			return fail(ld, node, "%s: expected true or false, got '%s'", opt->name, s);
		return 0;
	case CFG_INT:
		if (parse_number(s, NULL, 1, &v) < 0 || v < opt->min || v > opt->max)
			return fail(ld, node, "%s: expected a whole number from %lld to %lld, got '%s'",
				    opt->name, opt->min, opt->max, s);
		*(int *)field = (int)v;
		return 0;
	case CFG_SIZE:
		if (parse_number(s, size_units, 1, &v) < 0 || v < opt->min ||
		    (opt->max > 0 && v > opt->max))
			return fail(ld, node, "%s: expected a size such as 64M, got '%s'", opt->name, s);
		*(long long *)field = v;
		return 0;
	case CFG_DURATION:
		if (parse_number(s, duration_units, 1000, &v) < 0 || v < opt->min || v > opt->max)
			return fail(ld, node, "%s: expected a duration from %lldms to %llds "
				    "such as 30s or 5m37s, got '%s'", opt->name, opt->min,
				    opt->max / 1000, s);
		*(int *)field = (int)v;
		return 0;
	case CFG_ENUM:
		for (const char *const *e = opt->values; *e != NULL; e++) {
			if (strcmp(*e, s) == 0) {
				free(*(char **)field);
				*(char **)field = xstrdup(s);
				return 0;
			}
		}
		return fail(ld, node, "%s: '%s' is not one of the allowed values", opt->name, s);
	case CFG_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(s);
		return 0;
	case CFG_PATH:
		free(*(char **)field);
		*(char **)field = resolve_path(ld, s);
		return 0;
	default:
		return fail(ld, node, "%s: internal error: not a scalar option", opt->name);
	}
}

static int visit(struct loader *ld, int index, yaml_node_t **node_r)
{
	yaml_node_t *node = yaml_document_get_node(&ld->doc, index);
	if (node == NULL || (size_t)index > ld->node_count)
		return fail(ld, NULL, "broken YAML document");
	if (ld->visited[index - 1])
		return fail(ld, node, "YAML aliases are not allowed in the config");
	ld->visited[index - 1] = true;
	*node_r = node;
	return 0;
}

/* Calls fn for every key/value of a mapping node, rejecting duplicates. */
typedef int mapping_fn(struct loader *ld, const char *key, yaml_node_t *key_node,
		       yaml_node_t *value, void *ctx);

static int each_pair(struct loader *ld, yaml_node_t *map, const char *what,
		     mapping_fn *fn, void *ctx)
{
	if (map->type != YAML_MAPPING_NODE)
		return fail(ld, map, "%s: expected a mapping of key: value", what);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k, *v;
		if (visit(ld, p->key, &k) < 0 || visit(ld, p->value, &v) < 0)
			return -1;
		if (k->type != YAML_SCALAR_NODE)
			return fail(ld, k, "%s: keys must be plain names", what);
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *prev = yaml_document_get_node(&ld->doc, q->key);
			if (strcmp(scalar(prev), scalar(k)) == 0)
				return fail(ld, k, "%s: duplicate key '%s'", what, scalar(k));
		}
		if (fn(ld, scalar(k), k, v, ctx) < 0)
			return -1;
	}
	return 0;
}

struct item_ctx {
	const struct config_option *opt;
	size_t index;
	void *item;
};

static int listener_key(struct loader *ld, const char *key, yaml_node_t *k,
			yaml_node_t *v, void *ctx_)
{
	struct item_ctx *ctx = ctx_;
	struct config_listener *l = ctx->item;
	char what[128];
	snprintf(what, sizeof(what), "%s[%zu].%s", ctx->opt->name, ctx->index, key);
	if (v->type != YAML_SCALAR_NODE)
		return fail(ld, v, "%s: expected a single value", what);
	if (strcmp(key, "address") == 0) {
		free(l->address);
		const char *a = scalar(v);
		/* unix:relative/path is taken from the config file's folder */
		if (strncmp(a, "unix:", 5) == 0 && a[5] != '/' && a[5] != '\0' && ld->dir != NULL)
			l->address = xasprintf("unix:%s/%s", ld->dir, a + 5);
		else
			l->address = xstrdup(a);
	} else if (strcmp(key, "tls") == 0) {
		if (parse_bool(scalar(v), &l->tls) < 0)
			return fail(ld, v, "%s: expected true or false", what);
	} else if (strcmp(key, "proxy") == 0) {
		if (parse_bool(scalar(v), &l->proxy) < 0)
			return fail(ld, v, "%s: expected true or false", what);
	} else if (strcmp(key, "mode") == 0) {
		char *end;
		long mode = strtol(scalar(v), &end, 8);
		if (*end != '\0' || end == scalar(v) || mode < 0 || mode > 0777)
			return fail(ld, v, "%s: expected octal permissions such as 0660", what);
		l->mode = (int)mode;
	} else {
		return fail(ld, k, "%s: unknown key (expected address, tls, proxy or mode)", what);
	}
	return 0;
}

static int cert_key(struct loader *ld, const char *key, yaml_node_t *k,
		    yaml_node_t *v, void *ctx_)
{
	struct item_ctx *ctx = ctx_;
	struct config_cert *c = ctx->item;
	char what[128];
	snprintf(what, sizeof(what), "%s[%zu].%s", ctx->opt->name, ctx->index, key);
	if (v->type != YAML_SCALAR_NODE)
		return fail(ld, v, "%s: expected a file name", what);
	char **field = strcmp(key, "cert") == 0 ? &c->cert : strcmp(key, "key") == 0 ? &c->key : NULL;
	if (field == NULL)
		return fail(ld, k, "%s: unknown key (expected cert or key)", what);
	free(*field);
	*field = resolve_path(ld, scalar(v));
	return 0;
}

static void listeners_clear(struct config_listeners *ls)
{
	for (size_t i = 0; i < ls->count; i++)
		free(ls->items[i].address);
	XFREE(ls->items);
	ls->count = 0;
}

static void certs_clear(struct config_certs *cs)
{
	for (size_t i = 0; i < cs->count; i++) {
		free(cs->items[i].cert);
		free(cs->items[i].key);
	}
	XFREE(cs->items);
	cs->count = 0;
}

static int set_list(struct loader *ld, const struct config_option *opt,
		    yaml_node_t *node, void *field)
{
	if (node->type != YAML_SEQUENCE_NODE)
		return fail(ld, node, "%s: expected a list", opt->name);
	bool listeners = opt->type == CFG_LISTENERS;
	size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	size_t item_size = listeners ? sizeof(struct config_listener) : sizeof(struct config_cert);
	unsigned char *items = xcalloc(n, item_size);
	if (listeners) {
		listeners_clear(field);
		((struct config_listeners *)field)->items = (void *)items;
		((struct config_listeners *)field)->count = n;
	} else {
		certs_clear(field);
		((struct config_certs *)field)->items = (void *)items;
		((struct config_certs *)field)->count = n;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item;
		if (visit(ld, node->data.sequence.items.start[i], &item) < 0)
			return -1;
		struct item_ctx ctx = { opt, i, items + i * item_size };
		if (listeners)
			((struct config_listener *)ctx.item)->mode = 0660;
		char what[128];
		snprintf(what, sizeof(what), "%s[%zu]", opt->name, i);
		if (each_pair(ld, item, what, listeners ? listener_key : cert_key, &ctx) < 0)
			return -1;
		if (listeners && ((struct config_listener *)ctx.item)->address == NULL)
			return fail(ld, item, "%s: address is missing", what);
		if (!listeners && (((struct config_cert *)ctx.item)->cert == NULL ||
				   ((struct config_cert *)ctx.item)->key == NULL))
			return fail(ld, item, "%s: both cert and key are needed", what);
	}
	return 0;
}

static int set_option(struct loader *ld, const struct config_option *opt, yaml_node_t *node)
{
	void *field = (char *)ld->config + opt->offset;
	if (opt->type == CFG_LISTENERS || opt->type == CFG_CERTS)
		return set_list(ld, opt, node, field);
	return set_scalar(ld, opt, node, field);
}

static int walk_key(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	const char *prefix = ctx;
	char name[256];
	snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "", key);
	const struct config_option *opt = option_find(name);
	if (opt != NULL) {
		ld->config->seen[opt - config_options] = true;
		return set_option(ld, opt, v);
	}
	if (section_exists(name)) {
		if (v->type == YAML_SCALAR_NODE && scalar(v)[0] == '\0')
			return 0; /* an empty section: all defaults */
		return each_pair(ld, v, name, walk_key, name);
	}
	return fail(ld, k, "unknown option '%s'", name);
}

static int parse_document(struct loader *ld, const char *data, size_t len)
{
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	int ret = yaml_parser_load(&parser, &ld->doc);
	if (!ret) {
		snprintf(config_error, sizeof(config_error), "%s:%zu: YAML syntax error: %s",
			 ld->name, parser.problem_mark.line + 1,
			 parser.problem != NULL ? parser.problem : "unknown");
		if (parser.context != NULL) {
			size_t n = strlen(config_error);
			snprintf(config_error + n, sizeof(config_error) - n, " (%s)", parser.context);
		}
	}
	yaml_parser_delete(&parser);
	if (!ret)
		return -1;
	ld->node_count = (size_t)(ld->doc.nodes.top - ld->doc.nodes.start);
	ld->visited = xcalloc(ld->node_count + 1, sizeof(bool));
	return 0;
}

static void loader_done(struct loader *ld)
{
	yaml_document_delete(&ld->doc);
	XFREE(ld->visited);
}

/* Loads a YAML text into ld->config under the option prefix. */
static int load_text(struct loader *ld, const char *data, size_t len)
{
	if (parse_document(ld, data, len) < 0)
		return -1;
	int ret = 0;
	yaml_node_t *root = yaml_document_get_root_node(&ld->doc);
	if (root != NULL && !(root->type == YAML_SCALAR_NODE && scalar(root)[0] == '\0')) {
		ld->visited[0] = true;
		ret = each_pair(ld, root, "top level", walk_key, "");
	}
	loader_done(ld);
	return ret;
}

static int apply_defaults(struct config *config)
{
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *opt = &config_options[i];
		struct loader ld = { .name = "(default)", .config = config };
		if (parse_document(&ld, opt->def, strlen(opt->def)) < 0)
			return -1;
		yaml_node_t *root = yaml_document_get_root_node(&ld.doc);
		int ret = root == NULL ? -1 : set_option(&ld, opt, root);
		loader_done(&ld);
		if (ret < 0)
			return -1;
	}
	return 0;
}

static int validate_listener(const struct config_listener *l)
{
	const char *a = l->address;
	if (strncmp(a, "unix:", 5) == 0)
		return a[5] == '/' && !l->tls ? 0 : -1;
	const char *colon = strrchr(a, ':');
	if (colon == NULL || colon == a || colon[1] == '\0')
		return -1;
	if (a[0] == '[' && colon[-1] != ']')
		return -1;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 0 && port <= 65535 ? 0 : -1;
}

/* Checks that concern several options at once; errors name the file. */
static int validate(struct config *config, const char *name)
{
	if (config->restart_delay_min > config->restart_delay_max) {
		snprintf(config_error, sizeof(config_error),
			 "%s: restart_delay_min is larger than restart_delay_max", name);
		return -1;
	}
	for (const char *const *svc = config_service_names; *svc != NULL; svc++) {
		struct config_service *s = config_service(config, *svc);
		for (size_t i = 0; i < s->listen.count; i++) {
			const struct config_listener *l = &s->listen.items[i];
			if (validate_listener(l) < 0) {
				snprintf(config_error, sizeof(config_error),
					 "%s: %s.listen[%zu]: bad address '%s' (expected HOST:PORT, "
					 "[IPV6]:PORT or unix:/PATH, and no tls on unix sockets)",
					 name, *svc, i, l->address);
				return -1;
			}
			if (s->enabled && l->tls && config->tls.certificates.count == 0) {
				snprintf(config_error, sizeof(config_error),
					 "%s: %s.listen[%zu]: a TLS listener needs tls.certificates",
					 name, *svc, i);
				return -1;
			}
			/* wd-api hands its sockets to evhttp, which cannot read a header */
			if (l->proxy && (strcmp(*svc, "api") == 0 || strcmp(*svc, "auth") == 0)) {
				snprintf(config_error, sizeof(config_error),
					 "%s: %s.listen[%zu]: proxy is supported on imap, pop3 and "
					 "lmtp listeners only", name, *svc, i);
				return -1;
			}
		}
	}
	struct proxy_trusted *trusted;
	const char *perr;
	if (proxy_trusted_parse(config->proxy.trusted, &trusted, &perr) < 0) {
		snprintf(config_error, sizeof(config_error), "%s: proxy.trusted: %s", name, perr);
		return -1;
	}
	proxy_trusted_free(&trusted);
	if (config->store.sqlite_path[0] != '/') {
		char *p = xasprintf("%s/%s", config->data_dir, config->store.sqlite_path);
		free(config->store.sqlite_path);
		config->store.sqlite_path = p;
	}
	return 0;
}

struct config_service *config_service(struct config *config, const char *name)
{
	for (const struct config_service_def *d = config_services; d->name != NULL; d++)
		if (strcmp(d->name, name) == 0)
			return (struct config_service *)((char *)config + d->offset);
	return NULL;
}

int config_load_buffer(const char *name, const char *data, size_t len,
		       struct config **config_r, const char **error_r)
{
	struct config *config = xcalloc(1, sizeof(*config));
	config->seen = xcalloc(config_option_count, sizeof(bool));
	config->path = xstrdup(name);
	struct loader ld = { .name = name, .config = config };
	const char *slash = strrchr(name, '/');
	ld.dir = slash != NULL ? xstrndup(name, (size_t)(slash - name + (slash == name))) : NULL;

	int ret = apply_defaults(config);
	if (ret == 0)
		ret = load_text(&ld, data, len);
	if (ret == 0)
		ret = validate(config, name);
	free(ld.dir);
	if (ret < 0) {
		config_free(&config);
		*error_r = config_error;
		return -1;
	}
	*config_r = config;
	return 0;
}

int config_load_file(const char *path, struct config **config_r, const char **error_r)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(config_error, sizeof(config_error), "%s: cannot open: %s", path, strerror(errno));
		*error_r = config_error;
		return -1;
	}
	struct buffer text = BUFFER_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buffer_append(&text, chunk, n);
	bool failed = ferror(f);
	fclose(f);
	if (failed) {
		buffer_free(&text);
		snprintf(config_error, sizeof(config_error), "%s: read failed", path);
		*error_r = config_error;
		return -1;
	}
	char *abs = realpath(path, NULL);
	int ret = config_load_buffer(abs != NULL ? abs : path, buffer_cstr(&text), text.len,
				     config_r, error_r);
	free(abs);
	buffer_free(&text);
	return ret;
}

void config_free(struct config **configp)
{
	struct config *config = *configp;
	if (config == NULL)
		return;
	for (size_t i = 0; i < config_option_count; i++) {
		const struct config_option *opt = &config_options[i];
		void *field = (char *)config + opt->offset;
		switch (opt->type) {
		case CFG_STRING: case CFG_PATH: case CFG_ENUM:
			free(*(char **)field);
			break;
		case CFG_LISTENERS:
			listeners_clear(field);
			break;
		case CFG_CERTS:
			certs_clear(field);
			break;
		default:
			break;
		}
	}
	free(config->seen);
	free(config->path);
	free(config);
	*configp = NULL;
}
