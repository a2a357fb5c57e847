/* libFuzzer target for the LMTP/SMTP input parsers. Each input line goes
 * through the verb, MAIL and RCPT path parsers; the whole input through
 * the DATA reader, fed at once and byte by byte. Oracles: both feedings
 * agree, the output never holds a bare LF, and "." lines are unstuffed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "pool.h"
#include "smtp_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_create(1024);
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *save = NULL;
	for (char *line = strtok_r(text, "\r\n", &save); line != NULL;
	     line = strtok_r(NULL, "\r\n", &save)) {
		const char *args;
		struct smtp_path path;
		int code;
		const char *error;
		enum smtp_verb verb = smtp_command_parse(line, &args);
		if (verb == SMTP_VERB_MAIL || verb == SMTP_VERB_RCPT || (line[0] & 1)) {
			bool mail = verb == SMTP_VERB_MAIL || (verb != SMTP_VERB_RCPT && (line[0] & 2));
			if (smtp_path_parse(pool, args, mail ? "FROM" : "TO", mail, &path, &code,
					    &error) == 0) {
				if (path.address == NULL || (!mail && path.address[0] == '\0'))
					abort();
				(void)smtp_param_get(&path, "SIZE", NULL);
			} else if (code != 501 && code != 553 && code != 555) {
				abort();
			}
		}
		pool_clear(pool);
	}
	free(text);

	uint64_t max = size > 0 ? (uint64_t)data[0] * 16 : 0;
	struct buffer a = BUFFER_INIT, b = BUFFER_INIT;
	struct smtp_data da, db;
	smtp_data_init(&da, &a, max);
	smtp_data_init(&db, &b, max);
	size_t used_a = smtp_data_feed(&da, data, size), used_b = 0;
	while (used_b < size && !db.done)
		used_b += smtp_data_feed(&db, data + used_b, 1);
	if (used_a != used_b || da.done != db.done || da.size != db.size ||
	    da.too_big != db.too_big || a.len != b.len ||
	    (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
		abort();
	if (used_a > size || (!da.too_big && da.size != a.len) || (da.too_big && a.len != 0))
		abort();
	for (size_t i = 0; i < a.len; i++)
		if (a.data[i] == '\n' && (i == 0 || a.data[i - 1] != '\r'))
			abort();
	buffer_free(&a);
	buffer_free(&b);
	pool_destroy(&pool);
	return 0;
}
