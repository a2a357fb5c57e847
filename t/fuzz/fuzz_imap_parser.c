/* libFuzzer target for the IMAP command parser.  The first two bytes pick
 * the settings and how literals are handled; the rest is fed once in chunk
 * sizes derived from the input and once all at once.  Oracles: no crash,
 * consumed bytes never exceed the input, NEED_MORE consumes everything, the
 * pool stays bounded, and both feedings give the same results. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "imap_parser.h"
#include "pool.h"

static void digest_args(struct buffer *d, const struct imap_arg *args, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		buffer_printf(d, "<%d %zu %d%d%d ", (int)a->type, a->len, a->literal8,
			      a->nonsync, a->streamed);
		if (a->str != NULL)
			buffer_append(d, a->str, a->len);
		if (a->type == IMAP_ARG_LIST) {
			if (a->list[a->list_count].type != IMAP_ARG_EOL)
				abort();
			digest_args(d, a->list, a->list_count);
		}
		buffer_append_c(d, '>');
	}
}

static void digest(struct buffer *d, int ret, const struct imap_parser_result *res,
		   const char *error)
{
	buffer_printf(d, "[%d %s %s ", ret, res->tag ? res->tag : "-", res->name ? res->name : "-");
	if (ret == IMAP_PARSE_ERROR)
		buffer_printf(d, "%d %d %s", (int)res->error_code, res->fatal, error);
	else if (ret == IMAP_PARSE_LITERAL)
		buffer_printf(d, "%llu %d", (unsigned long long)res->literal_size, res->literal_sync);
	else
		digest_args(d, res->args, res->args_count);
	buffer_append_c(d, ']');
}

static void run(const uint8_t *ctl, const uint8_t *data, size_t size, bool chunked,
		struct buffer *d)
{
	struct imap_parser_settings set;
	imap_parser_settings_init(&set);
	set.max_line_length = 4096;
	set.max_literal_size = 8192;
	set.max_swallow_size = 16384;
	set.max_args = 256;
	set.stream_threshold = (ctl[0] & 3) == 0 ? 0 : 64;
	set.nonsync = (enum imap_parser_nonsync)((ctl[0] >> 2) % 3);
	set.literal_minus_max = 100;
	set.utf8 = (ctl[0] & 0x20) != 0;
	unsigned int seed = ctl[1];

	struct imap_parser *p = imap_parser_create(&set);
	struct pool *pool = pool_create(1024);
	size_t pos = 0, end = 0, chunk = 1;
	uint64_t stream_left = 0;
	unsigned int literals = 0;
	for (;;) {
		if (pos == end) {
			if (end == size)
				break;
			seed = seed * 1103515245u + 12345u;
			chunk = chunked ? (seed >> 16) % 17 + 1 : size;
			end = size - end < chunk ? size : end + chunk;
		}
		if (stream_left > 0) {
			size_t n = end - pos < stream_left ? end - pos : (size_t)stream_left;
			pos += n;
			if ((stream_left -= n) == 0)
				imap_parser_literal_done(p);
			continue;
		}
		struct imap_parser_result res;
		const char *error;
		size_t used;
		int ret = imap_parser_read(p, pool, data + pos, end - pos, &used, &res, &error);
		if (used > end - pos)
			abort();
		pos += used;
		if (pool_used(pool) > 2 * 1024 * 1024)
			abort();
		if (ret == IMAP_PARSE_NEED_MORE) {
			if (pos != end)
				abort();
			continue;
		}
		digest(d, ret, &res, error);
		if (ret == IMAP_PARSE_LITERAL) {
			unsigned int how = (ctl[0] >> 6) ^ (literals++ & 1);
			if (how == 0) {
				imap_parser_literal_reject(p);
			} else if (how == 1) {
				imap_parser_literal_accept(p, true);
				stream_left = res.literal_size;
				if (stream_left == 0)
					imap_parser_literal_done(p);
			} else {
				imap_parser_literal_accept(p, false);
			}
		} else if (ret == IMAP_PARSE_ERROR) {
			if (error == NULL)
				abort();
			pool_clear(pool);
			if (res.fatal)
				break;
		} else if (ret == IMAP_PARSE_COMMAND) {
			if (res.tag == NULL || res.name == NULL ||
			    res.args[res.args_count].type != IMAP_ARG_EOL)
				abort();
			pool_clear(pool);
		} else {
			abort();
		}
	}
	/* an error left pending (refused literal) surfaces on the next read */
	struct imap_parser_result res;
	const char *error;
	size_t used;
	if (stream_left == 0) {
		int ret = imap_parser_read(p, pool, data, 0, &used, &res, &error);
		if (ret != IMAP_PARSE_NEED_MORE)
			digest(d, ret, &res, error);
	}
	imap_parser_destroy(&p);
	pool_destroy(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct buffer a = BUFFER_INIT, b = BUFFER_INIT;
	run(data, data + 2, size - 2, true, &a);
	run(data, data + 2, size - 2, false, &b);
	if (a.len != b.len || (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
		abort();
	buffer_free(&a);
	buffer_free(&b);
	return 0;
}
