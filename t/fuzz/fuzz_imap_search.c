/* libFuzzer target for SEARCH programs: the input is one command line
 * after "a SEARCH "; whatever the parser accepts goes to imap_search_parse.
 * Oracle: no crash, and a successful parse yields a tree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "imap_parser.h"
#include "imap_search.h"
#include "pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser *p = imap_parser_create(NULL);
	struct pool *pool = pool_create(1024);
	struct buffer line = BUFFER_INIT;
	buffer_append_str(&line, "a SEARCH ");
	buffer_append(&line, data, size);
	buffer_append_str(&line, "\r\n");
	struct imap_parser_result res;
	const char *error, *charset;
	size_t pos = 0, used;
	int ret;
	while ((ret = imap_parser_read(p, pool, line.data + pos, line.len - pos, &used, &res,
				       &error)) == IMAP_PARSE_LITERAL) {
		imap_parser_literal_accept(p, false);
		pos += used;
	}
	struct imap_search_key *root = NULL;
	if (ret == IMAP_PARSE_COMMAND &&
	    imap_search_parse(pool, res.args, res.args_count, &charset, &root, &error) == 0 &&
	    (root == NULL || root->type != IMAP_SEARCH_AND))
		abort();
	buffer_free(&line);
	imap_parser_destroy(&p);
	pool_destroy(&pool);
	return 0;
}
