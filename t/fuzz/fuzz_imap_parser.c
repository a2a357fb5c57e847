/* libFuzzer target for the IMAP command parser.  The first two bytes pick
 * the settings and how literals are handled; the rest is fed in chunk sizes
 * derived from the input.  Oracles: no crash, consumed bytes never exceed
 * the input, NEED_MORE consumes everything, and the pool stays bounded. */
#include <stdint.h>
#include <stdlib.h>

#include "imap_parser.h"
#include "pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct imap_parser_settings set;
	imap_parser_settings_init(&set);
	set.max_line_length = 4096;
	set.max_literal_size = 8192;
	set.max_swallow_size = 16384;
	set.max_args = 256;
	set.stream_threshold = (data[0] & 3) == 0 ? 0 : 64;
	set.nonsync = (enum imap_parser_nonsync)((data[0] >> 2) % 3);
	set.literal_minus_max = 100;
	set.utf8 = (data[0] & 0x20) != 0;
	unsigned int seed = data[1];
	data += 2;
	size -= 2;

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
			chunk = (seed >> 16) % 17 + 1;
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
		switch (ret) {
		case IMAP_PARSE_NEED_MORE:
			if (pos != end)
				abort();
			break;
		case IMAP_PARSE_LITERAL: {
			unsigned int how = (data[0] >> 6) ^ (literals++ & 1);
			if (how == 0)
				imap_parser_literal_reject(p);
			else if (how == 1 && res.literal_size > 0) {
				imap_parser_literal_accept(p, true);
				stream_left = res.literal_size;
			} else if (how == 1)
				imap_parser_literal_accept(p, true), imap_parser_literal_done(p);
			else
				imap_parser_literal_accept(p, false);
			break;
		}
		case IMAP_PARSE_ERROR:
			if (error == NULL)
				abort();
			pool_clear(pool);
			if (res.fatal)
				goto out;
			break;
		case IMAP_PARSE_COMMAND:
			if (res.tag == NULL || res.name == NULL ||
			    res.args[res.args_count].type != IMAP_ARG_EOL)
				abort();
			pool_clear(pool);
			break;
		default:
			abort();
		}
	}
out:
	imap_parser_destroy(&p);
	pool_destroy(&pool);
	return 0;
}
