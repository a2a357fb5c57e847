/* Flag lists for the store drivers: IMAP flags compare without case, and a
 * list is kept as one space-separated string (flags are atoms, so they
 * never contain a space). */
#include "store_driver.h"

#include "buffer.h"
#include "pool.h"

#include <string.h>
#include <strings.h>

bool store_flags_contains(const char *const *flags, unsigned int count, const char *flag)
{
	for (unsigned int i = 0; i < count; i++)
		if (strcasecmp(flags[i], flag) == 0)
			return true;
	return false;
}

void store_flags_split(struct pool *pool, const char *joined, const char *const **flags_r,
		       unsigned int *count_r)
{
	unsigned int count = 0;
	if (joined == NULL)
		joined = "";
	for (const char *p = joined; *p != '\0'; p++)
		if (*p != ' ' && (p == joined || p[-1] == ' '))
			count++;
	const char **flags = pool_alloc(pool, (count + 1) * sizeof(*flags));
	unsigned int n = 0;
	const char *p = joined;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		const char *end = strchrnul(p, ' ');
		if (end > p)
			flags[n++] = pool_strndup(pool, p, (size_t)(end - p));
		p = end;
	}
	*flags_r = flags;
	*count_r = n;
}

bool store_flags_has(const char *joined, const char *flag)
{
	size_t len = strlen(flag);
	const char *p = joined == NULL ? "" : joined;
	while (*p != '\0') {
		const char *end = strchrnul(p, ' ');
		if ((size_t)(end - p) == len && strncasecmp(p, flag, len) == 0)
			return true;
		p = *end == ' ' ? end + 1 : end;
	}
	return false;
}

static void join_add(struct buffer *out, const char *flag)
{
	if (store_flags_has(buffer_cstr(out), flag))
		return;
	if (out->len > 0)
		buffer_append_c(out, ' ');
	buffer_append_str(out, flag);
}

static const char *join_finish(struct pool *pool, struct buffer *out)
{
	const char *result = pool_strdup(pool, buffer_cstr(out));
	buffer_free(out);
	return result;
}

const char *store_flags_join(struct pool *pool, const char *const *flags, unsigned int count)
{
	struct buffer out = BUFFER_INIT;
	for (unsigned int i = 0; i < count; i++)
		join_add(&out, flags[i]);
	return join_finish(pool, &out);
}

const char *store_flags_apply(struct pool *pool, const char *current, enum store_flags_op op,
			      const char *const *flags, unsigned int count)
{
	if (op == STORE_FLAGS_SET)
		return store_flags_join(pool, flags, count);

	const char *const *cur;
	unsigned int cur_count;
	store_flags_split(pool, current, &cur, &cur_count);
	struct buffer out = BUFFER_INIT;
	for (unsigned int i = 0; i < cur_count; i++) {
		if (op == STORE_FLAGS_REMOVE && store_flags_contains(flags, count, cur[i]))
			continue;
		join_add(&out, cur[i]);
	}
	if (op == STORE_FLAGS_ADD) {
		for (unsigned int i = 0; i < count; i++)
			join_add(&out, flags[i]);
	}
	return join_finish(pool, &out);
}
